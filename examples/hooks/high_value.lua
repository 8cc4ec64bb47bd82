-- high_value.lua — survey only the buyers of large orders (README: Lua targeting hooks).
--
-- The application reports the order total in the response header
-- X-Order-Total (from the upstream, or `add_header` in nginx).  Orders of
-- 100 or more get the survey; the total is stored with the answer as the
-- hidden attribute "order_total" (encrypted in the token, never shown to the
-- browser).  A missing or unreadable header ("", "1,234.50", "$99") means
-- no survey.
--
--   location = /checkout/done {
--       cx_touchpoint checkout stage=purchase;
--       cx_prompt nps_purchase;
--       cx_target_by_lua_file cx/high_value.lua;
--       proxy_pass http://shop;
--   }

local util = require "cx.util"

local THRESHOLD = 100

return function(cx)
  -- util.number is strict: "129.90" is 129.9; "0x200", "1e3" or junk give 0
  local total = util.number(cx.response.headers["x-order-total"], 0)

  if total < THRESHOLD then
    return false
  end

  return true, { order_total = total }
end
