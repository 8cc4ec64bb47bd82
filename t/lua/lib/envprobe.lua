-- A module for t/lua/test_env.lua, found by require through the runner's
-- second directory (ROOT/t/lua/lib): what a module loaded by require sees,
-- which must be exactly a hook's environment, without the test file's
-- extras (print, luajit_string, luajit_table) or its globals.

probe_global = "set by envprobe"            -- its own environment's

return {
    xpcall = xpcall, rawset = rawset, print = print,
    luajit_string = luajit_string, luajit_table = luajit_table,
    from_test = from_test,
    require = require, pcall = pcall, string = string, cx_native = cx_native,
    own = probe_global,
}
