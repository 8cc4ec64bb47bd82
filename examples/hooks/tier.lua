-- tier.lua — tag every answer with the customer's tier, for the dashboard's
-- Segment by (README: Reports, Segments). Asks everyone; only adds a fact.
--
-- The site sets a cookie "tier" when a customer signs in ("gold",
-- "silver", ...); without it the visitor is a "guest".  The tier is stored
-- with the answer as the hidden attribute "tier": segments.json?by=attr.tier
-- then gives NPS per tier.
--
--   location /account/orders/ {
--       cx_touchpoint order_status stage=usage;
--       cx_prompt ces_order_status;
--       cx_target_by_lua_file cx/tier.lua;
--   }

local KNOWN = { gold = true, silver = true, bronze = true }

return function(cx)
  local tier = cx.request.cookies["tier"]

  if not KNOWN[tier] then
    tier = "guest"
  end

  return true, { tier = tier }
end
