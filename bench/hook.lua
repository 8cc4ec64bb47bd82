-- A busier targeting hook for the benchmark (variant d): what
-- examples/hooks/high_value.lua does (the order total the application put
-- in a response header, read with cx.util.number, stored as an attribute;
-- variant e) and then some: a bot filter on a request header, the
-- visitor's state, a second attribute.
local util = require "cx.util"

return function(cx)
  local ua = cx.request.headers["user-agent"] or ""
  if ua:find("bot", 1, true) then
    return false
  end
  local total = util.number(cx.response.headers["x-order-total"], 0)
  return total >= 100, { order_total = total, visits = cx.visitor.visits }
end
