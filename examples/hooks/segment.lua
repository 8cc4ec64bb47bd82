-- segment.lua — survey only the "gold" and "silver" customers (README: Lua targeting hooks).
--
-- The site sets a cookie "segment" (e.g. "segment=gold"); any other value,
-- or no cookie, means no survey.  The segment is stored with the answer as
-- the hidden attribute "segment", so reports can be split by it.
--
--   location /account/ {
--       cx_touchpoint account stage=loyalty;
--       cx_prompt nps_loyalty;
--       cx_target_by_lua_file cx/segment.lua;
--   }

local WANTED = { gold = true, silver = true }

return function(cx)
  local segment = cx.request.cookies["segment"]   -- nil when absent

  if not WANTED[segment] then
    return false
  end

  return true, { segment = segment }
end
