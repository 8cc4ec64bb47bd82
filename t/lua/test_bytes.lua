-- The string and table functions that charge their work
-- (src/ngx_cx_lua_bytes.c) against LuaJIT's own (luajit_string and
-- luajit_table, given by the runner for this test): the same results and
-- the same errors, message included, for the same arguments.
--
--   build/luarun . t/lua/test_bytes.lua

local passed, failed = 0, 0

local function show(v)
    if type(v) == "string" then
        return "\"" .. (#v > 60 and v:sub(1, 60) .. "..." or v) .. "\""
    end
    return tostring(v)
end

-- results as a string; an error message without its position (the tests
-- below check it) and with the function's name masked, since LuaJIT names
-- a function by how it was called.  (Where LuaJIT's error has no position,
-- as a comparison error inside sort, the wrapper gives the caller's line.)
local function run(f, ...)
    local r = { pcall(function(...) local t = { f(...) } return t end, ...) }
    if not r[1] then
        local msg = tostring(r[2]):gsub("^[^:]*:%d+: ", "")
        return "error: " .. msg:gsub("to '[^']*'", "to 'F'"):gsub("for '[^']*'", "for 'F'")
    end
    local out = {}
    for i = 1, table.maxn(r[2]) do out[#out + 1] = show(r[2][i]) end
    return "#" .. table.maxn(r[2]) .. " " .. table.concat(out, " ")
end

local function check(what, got, want)
    if got == want then
        passed = passed + 1
    else
        failed = failed + 1
        print("FAIL " .. what .. ": got " .. got .. ", LuaJIT " .. want)
    end
end

local strs = { "", "a", "Hello, World", "\0\1\255 mixed\tCASE", 12.5, 7, true, nil, {} }
local nums = { nil, 0, 1, -1, 2, 3, -3, 100, 2.7, -2.7, "2", "x", 1e10, -1e10, 0/0 }

for _, name in ipairs({ "upper", "lower", "reverse" }) do
    for i = 1, #strs + 1 do
        local s = strs[i]
        check(name .. "(" .. show(s) .. ")", run(string[name], s), run(luajit_string[name], s))
    end
    check(name .. "()", run(string[name]), run(luajit_string[name]))
end

for i = 1, #strs + 1 do
    for j = 1, #nums + 1 do
        local s, n = strs[i], nums[j]
        if not (type(n) == "number" and n > 1e6) then
            check("rep(" .. show(s) .. ", " .. show(n) .. ")",
                  run(string.rep, s, n), run(luajit_string.rep, s, n))
            check("rep(" .. show(s) .. ", " .. show(n) .. ", \"-\")",
                  run(string.rep, s, n, "-"), run(luajit_string.rep, s, n, "-"))
        end
        for k = 1, #nums + 1 do
            check("sub(" .. show(s) .. ", " .. show(n) .. ", " .. show(nums[k]) .. ")",
                  run(string.sub, s, n, nums[k]), run(luajit_string.sub, s, n, nums[k]))
        end
    end
end

local formats = {
    { "%d-%s", 7, "x" }, { "%5.2f|%-5d|%x|%X|%o", 3.14159, 42, 255, 255, 8 },
    { "%q", "a\"b\\\n\0c" }, { "%s %s", 1, true }, { "%c%c", 72, 105 },
    { "%d", nil }, { "%d", "x" }, { "%y", 1 }, { "%s" }, { "%%" }, { "%g %e", 1e300, 0.5 },
    { "%10s|%-10s|", "ab", "cd" }, { "%.3s", "abcdef" }, { nil }, { 12 },
}
for i, f in ipairs(formats) do
    check("format #" .. i, run(string.format, unpack(f, 1, 3)), run(luajit_string.format, unpack(f, 1, 3)))
end

local tables = { {}, { "a" }, { "a", "b", "c" }, { 1, 2.5, "x" }, { "a", {}, "c" }, { "a", nil, "c" } }
local seps = { nil, "", ", ", 5 }
for i, t in ipairs(tables) do
    for j = 1, #seps + 1 do
        check("concat #" .. i .. " sep " .. show(seps[j]),
              run(table.concat, t, seps[j]), run(luajit_table.concat, t, seps[j]))
        for _, r in ipairs({ { 1, 2 }, { 2, 3 }, { 3, 1 }, { 0, 1 }, { 2, 5 }, { "1", "2" } }) do
            check("concat #" .. i .. " sep " .. show(seps[j]) .. " " .. r[1] .. ".." .. r[2],
                  run(table.concat, t, seps[j] or "", r[1], r[2]),
                  run(luajit_table.concat, t, seps[j] or "", r[1], r[2]))
        end
    end
end
check("concat(nil)", run(table.concat), run(luajit_table.concat))
check("concat(\"x\")", run(table.concat, "x"), run(luajit_table.concat, "x"))

-- sort, insert, remove change the table: each on a fresh copy
local function copy(t) local c = {} for k, v in pairs(t) do c[k] = v end return c end
local function after(f, t, ...)
    local c = copy(t)
    local r = run(f, c, ...)
    local parts = {}
    for i = 1, table.maxn(c) do parts[#parts + 1] = show(c[i]) end
    return r .. " -> {" .. table.concat(parts, ",") .. "}"
end

local lists = { {}, { 3 }, { 3, 1, 2 }, { "b", "a", "c", "a" }, { 5, 4, 3, 2, 1, 0, -1, 9, 8, 7 }, { 1, "a" } }
for i, t in ipairs(lists) do
    check("sort #" .. i, after(table.sort, t), after(luajit_table.sort, t))
    check("sort > #" .. i, after(table.sort, t, function(a, b) return a > b end),
          after(luajit_table.sort, t, function(a, b) return a > b end))
    check("insert #" .. i, after(table.insert, t, "v"), after(luajit_table.insert, t, "v"))
    for _, pos in ipairs({ 1, 2, #t, #t + 1, 0, -1, #t + 2 }) do
        check("insert #" .. i .. " at " .. pos, after(table.insert, t, pos, "v"),
              after(luajit_table.insert, t, pos, "v"))
        check("remove #" .. i .. " at " .. pos, after(table.remove, t, pos), after(luajit_table.remove, t, pos))
    end
    check("remove #" .. i, after(table.remove, t), after(luajit_table.remove, t))
    check("insert #" .. i .. " 3 args", after(table.insert, t, 1, 2, 3), after(luajit_table.insert, t, 1, 2, 3))
end
check("sort(nil)", run(table.sort), run(luajit_table.sort))
check("sort bad order", run(table.sort, { 3, 2, 1, 5, 4, 7, 8, 6, 9, 10, 11, 12 }, function(a, b) return true end),
      run(luajit_table.sort, { 3, 2, 1, 5, 4, 7, 8, 6, 9, 10, 11, 12 }, function(a, b) return true end))
check("sort comparator error", run(table.sort, { 2, 1 }, function(a, b) error("cmp", 0) end),
      run(luajit_table.sort, { 2, 1 }, function(a, b) error("cmp", 0) end))
check("sort mixed", run(table.sort, { 1, "a", 2 }), run(luajit_table.sort, { 1, "a", 2 }))

-- the position a direct call's error has: the caller's line, as LuaJIT's
local function where(f, ...)
    local ok, e = pcall(function(...) local x = f(...) return x end, ...)
    return tostring(e):match("^[^:]*:%d+:") or "none"
end
check("upper error position", where(string.upper), where(luajit_string.upper))
check("rep error position", where(string.rep, "x"), where(luajit_string.rep, "x"))
check("format error position", where(string.format, "%d", "x"), where(luajit_string.format, "%d", "x"))
check("concat error position", where(table.concat, { {} }), where(luajit_table.concat, { {} }))
check("insert error position", where(table.insert, {}, 1, 2, 3), where(luajit_table.insert, {}, 1, 2, 3))

-- methods go through the wrappers too
check("method upper", run(function() return ("abc"):upper() end), "#1 \"ABC\"")
check("wrapped", tostring(("").upper == string.upper), "true")

print(passed .. " passed, " .. failed .. " failed")
if failed > 0 then error(failed .. " failed") end
