-- route_alert.lua — decide who owns an alert (README: Alerts).
--
-- Called before each delivery of a cx_alert rule with the alert and its
-- response: { alert, level, survey, type, score, band, comment, touchpoint,
-- stage, attributes }.  Answers submitted by the shop's own testers (a
-- comment starting with "test:") raise no alert; the others get an owner,
-- chosen by where the customer was, and a priority from the order total
-- that high_value.lua stored.  The payload then carries
-- "fields": {"owner": ..., "priority": ...}.
--
--   cx_alert unhappy_big_order {
--       survey      nps_after_purchase;
--       when        band=detractor;
--       by_lua_file cx/route_alert.lua;
--       notify      https://hooks.example.com/cx  secret=cx-hook.key;
--       escalate    15m  https://hooks.example.com/manager  secret=cx-hook.key;
--   }

local util = require "cx.util"

local OWNERS = {
  purchase = "orders-team",
  support  = "support-desk",
}

return function(a)
  if (a.comment or ""):lower():sub(1, 5) == "test:" then
    return false
  end

  local total = util.number((a.attributes or {}).order_total, 0)

  return true, {
    owner    = OWNERS[a.touchpoint] or "cx-team",
    priority = total >= 500 and "high" or "normal",
  }
end
