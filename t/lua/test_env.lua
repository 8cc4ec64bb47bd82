-- The runner's environment is the hooks' (src/ngx_cx_lua_sandbox.c, the
-- one sandbox): what t/61-lua-sandbox.t asserts inside nginx, asserted
-- here of the runner, so that a test can never lean on something a hook
-- does not have (as xpcall and rawset once were).
--
--   build/luarun . t/lua/test_env.lua

local tk = require("testkit").new(print)
local ok = tk.ok

local function want(name, v, t)
    ok(type(v) == t, name .. " is a " .. t .. " (" .. type(v) .. ")")
end

-- what a hook has (t/lua/lib/sandbox_base.lua, t/61-lua-sandbox.t's list too)
require("sandbox_base")(want)
want("cx_native.number", cx_native.number, "function")

-- what it has not: xpcall (its handler would run outside the budget) and
-- rawset (it would write through the read-only tables) above all
want("xpcall", xpcall, "nil")
want("rawset", rawset, "nil")
for _, n in ipairs({ "execute", "getenv", "exit", "remove", "rename", "tmpname", "setlocale" }) do
    want("os." .. n, os[n], "nil")
end
want("string.dump", string.dump, "nil")
want("(''):dump", ("").dump, "nil")
want("getmetatable('')", getmetatable(""), "boolean")
local absent = { io = io, debug = debug, ffi = ffi, jit = jit, package = package, load = load,
                 loadstring = loadstring, loadfile = loadfile, dofile = dofile,
                 collectgarbage = collectgarbage, getfenv = getfenv, setfenv = setfenv,
                 newproxy = newproxy, module = module, gcinfo = gcinfo, coroutine = coroutine,
                 _G = _G, bit = bit }
for k, v in pairs(absent) do ok(false, k .. " is absent (" .. type(v) .. ")") end

-- the library tables are read-only, and nothing writes through them
ok(not pcall(function() string.upper = nil end) and type(string.upper) == "function",
   "string is read-only")
ok(not pcall(function() table.kept = 1 end) and table.kept == nil, "table is read-only")
ok(not pcall(setmetatable, math, nil), "math's metatable is locked")
ok(getmetatable(os) == false, "os's metatable is hidden")

-- a chunk's globals are its own; new ones are allowed, as in nginx
from_test = "set by the test"
ok(from_test == "set by the test", "a new global")

-- a module sees exactly a hook's environment: not the test's extras
local probe = require "envprobe"
ok(probe.xpcall == nil and probe.rawset == nil, "a module has no xpcall, no rawset")
ok(probe.print == nil and probe.luajit_string == nil and probe.luajit_table == nil,
   "a module has no print, luajit_string, luajit_table")
ok(probe.from_test == nil, "a module does not see the test's globals")
ok(probe_global == nil and probe.own == "set by envprobe", "nor the test the module's")
ok(probe.require == require and probe.string == string and probe.cx_native == cx_native,
   "a module shares the base")
ok(require "envprobe" == probe, "a module is loaded once")
ok(not pcall(function() probe.own = 1 end), "a module's table is read-only")
ok(select(2, pcall(require, "../x")):find("bad module name", 1, true) ~= nil,
   "require refuses a bad name")
ok(select(2, pcall(require, "no.such")):find('module "no.such" not found', 1, true) ~= nil,
   "require says what is missing")

tk.done()
