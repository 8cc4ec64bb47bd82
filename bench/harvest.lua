-- wrk -s bench/harvest.lua URL -- FILE: appends "token cookie" of every
-- prompted page (a new visitor each time: no cookie is sent) to FILE, for
-- cxload -T (an intake load: each token displayed, then answered).
local f
init = function(args)
  f = assert(io.open(args[1], "a"))
end
response = function(status, headers, body)
  local tok = body:match('"token":"([^"]*)"')
  local set = headers["Set-Cookie"] or headers["set-cookie"]
  local cookie = set and set:match("cx=([^;]*)")
  if tok and cookie then
    f:write(tok, " ", cookie, "\n")
  end
end
