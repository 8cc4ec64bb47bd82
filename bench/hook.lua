-- A typical targeting hook for the benchmark: examples/hooks/high_value.lua
-- (the order total the application put in a response header, through a
-- cx.util helper, stored as an attribute) and then some: a request header,
-- the visitor's state, a second attribute.
local util = require "cx.util"

return function(cx)
  local ua = cx.request.headers["user-agent"] or ""
  if ua:find("bot", 1, true) then
    return false
  end
  local total = util.number(cx.response.headers["x-order-total"], 0)
  return total >= 100, { order_total = total, visits = cx.visitor.visits }
end
