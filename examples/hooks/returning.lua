-- returning.lua — returning visitors get a survey of their own (README: Lua targeting hooks).
--
-- A hook may return the name of another declared cx_survey to offer it
-- instead of the location's one.  Here visitors with 5 or more touchpoint
-- visits (this one included) get "csat_returning"; everybody else gets the
-- survey of the cx_prompt line.
--
--   cx_survey csat_returning { type csat; question "Welcome back! How are we doing?"; }
--
--   location / {
--       cx_touchpoint browse stage=consideration;
--       cx_prompt nps1;
--       cx_target_by_lua_file cx/returning.lua;
--   }

local MIN_VISITS = 5

return function(cx)
  if cx.visitor.visits >= MIN_VISITS then
    return "csat_returning"                  -- must be declared with cx_survey
  end

  return true                                -- the cx_prompt line's survey
end
