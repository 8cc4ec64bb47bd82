-- A typical targeting hook for the benchmark (like examples/hooks/
-- high_value.lua): a helper from cx.util, a header, the visitor's state,
-- an attribute stored with the answer.
local util = require "cx.util"

return function(cx)
  local ua = cx.request.headers["user-agent"] or ""
  if ua:find("bot", 1, true) then
    return false
  end
  local total = util.number(cx.request.headers["x-order-total"], 150)
  return total >= 100, { order_total = total, visits = cx.visitor.visits }
end
