-- What every hook has: the base functions and the string, table, math and
-- os functions of the sandbox (src/ngx_cx_lua_sandbox.c). One list for
-- t/61-lua-sandbox.t (its "allowed" hook has this file spliced in, so the
-- checks run in a hook's own environment) and t/lua/test_env.lua (through
-- require: a module's environment is a hook's). Calls want(name, value,
-- type) for each.

return function(want)
  for _, n in ipairs({ "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
                       "tonumber", "tostring", "type", "unpack", "rawequal",
                       "rawget", "setmetatable", "getmetatable", "require" }) do
    want(n, ({ assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
               pcall = pcall, select = select, tonumber = tonumber, tostring = tostring,
               type = type, unpack = unpack, rawequal = rawequal,
               rawget = rawget, setmetatable = setmetatable,
               getmetatable = getmetatable, require = require })[n], "function")
  end
  want("_VERSION", _VERSION, "string")
  for _, n in ipairs({ "format", "rep", "sub", "find", "gsub", "gmatch", "match", "byte",
                       "char", "lower", "upper", "len", "reverse" }) do
    want("string." .. n, string[n], "function")
  end
  for _, n in ipairs({ "concat", "insert", "remove", "sort" }) do want("table." .. n, table[n], "function") end
  for _, n in ipairs({ "floor", "ceil", "max", "min", "abs", "random", "fmod" }) do want("math." .. n, math[n], "function") end
  for _, n in ipairs({ "time", "date", "clock" }) do want("os." .. n, os[n], "function") end
end
