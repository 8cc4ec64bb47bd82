-- business_hours.lua — offer the survey only while the support desk is
-- open, Monday to Friday 09:00-17:30 at UTC+03:00 (README: Lua targeting hooks).
--
-- cx.now is the decision time (Unix seconds); cx.util.within_hours works
-- at a fixed UTC offset, whatever the server's time zone.  The window is
-- half-open: 09:00:00 is inside, 17:30:00 is not.
--
--   location /support/ {
--       cx_touchpoint support stage=usage;
--       cx_prompt csat_support;
--       cx_target_by_lua_file cx/business_hours.lua;
--   }

local util = require "cx.util"

local WEEKDAYS = { 1, 2, 3, 4, 5 }          -- ISO: 1 = Monday ... 7 = Sunday

return function(cx)
  return util.within_hours(cx.now, "09:00", "17:30", "+03:00", WEEKDAYS)
end
