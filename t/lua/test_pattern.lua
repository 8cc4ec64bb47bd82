-- test_pattern.lua — the sandbox's string.find/match/gmatch/gsub
-- (src/ngx_cx_lua_pattern.c, with a step budget in nginx) against
-- LuaJIT's own (luajit_string, given by the runner for this test): the
-- same results and the same errors, on hand-picked and on random patterns.

local passed, failed = 0, 0

local function show(v)
    if type(v) == "string" then return string.format("%q", v) end
    return tostring(v)
end

-- every result of f(...), or the error message without its position
local function run(f, ...)
    local r = { pcall(f, ...) }
    if not r[1] then
        local msg = tostring(r[2]):gsub("^[^:]*:%d+: ", "")
        return { "error", msg }
    end
    return r
end

local function same(a, b)
    if #a ~= #b then return false end
    for i = 1, #a do
        if a[i] ~= b[i] and not (a[i] ~= a[i] and b[i] ~= b[i]) then return false end
    end
    return true
end

local function flat(t)
    local out = {}
    for i = 1, #t do out[i] = show(t[i]) end
    return table.concat(out, ", ")
end

local shown = 0
local function check(what, ours, theirs)
    if same(ours, theirs) then
        passed = passed + 1
    else
        failed = failed + 1
        if shown < 2000 then
            shown = shown + 1
            print("not ok - " .. what .. "\n#   ours:   " .. flat(ours)
                  .. "\n#   luajit: " .. flat(theirs))
        end
    end
end

local function gmatch_all(lib, s, p)
    local out = {}
    for a, b, c in lib.gmatch(s, p) do
        out[#out + 1] = show(a) .. "|" .. show(b) .. "|" .. show(c)
        if #out > 200 then break end
    end
    return table.concat(out, " ")
end

local repl_table = { a = "A", ["1"] = "one", x = false, ab = 7 }
local function repl_function(a, b) if a == "b" then return nil end return "<" .. tostring(a) .. tostring(b) .. ">" end

local function compare(s, p, init)
    local what = show(s) .. " " .. show(p) .. " " .. tostring(init)
    check("find " .. what, run(string.find, s, p, init), run(luajit_string.find, s, p, init))
    check("find plain " .. what, run(string.find, s, p, init, true),
          run(luajit_string.find, s, p, init, true))
    check("match " .. what, run(string.match, s, p, init), run(luajit_string.match, s, p, init))
    check("gmatch " .. what, run(gmatch_all, string, s, p), run(gmatch_all, luajit_string, s, p))
    for _, r in ipairs({ "<%0>", "%1-%1", "%%", "x%", "%a", repl_table, repl_function }) do
        check("gsub " .. what .. " " .. show(r), run(string.gsub, s, p, r),
              run(luajit_string.gsub, s, p, r))
    end
    check("gsub max " .. what, run(string.gsub, s, p, "#", 2), run(luajit_string.gsub, s, p, "#", 2))
end

-- ------------------------------------------------------------ hand-picked ---

local subjects = {
    "", "a", "hello world", "  x = 12.5; y=-3  ", "aaa", "abcabc", "(foo(bar))baz",
    "THE (quick) fox", "key=value&k2=v2", "\0a\0", "x\ty\nz", "Mozilla/5.0 (X11; Linux) bot",
    "129.90", "über", "[]^$%", "a.b.c", "--", "%%", "THE END",
}

local patterns = {
    "", "a", ".", "%a+", "%A+", "%d+", "%D", "%l%u", "%s*", "%S+", "%w+", "%W", "%x+", "%p",
    "%c", "%g+", "%z", "%%", "[abc]", "[^abc]+", "[a-z]+", "[%a_][%w_]*", "[]]", "[^]]+",
    "[a-]", "[-a]", "[%]]", "^a", "^h.-o", "o$", "^$", "a*", "a+", "a-", "a?", ".-", ".*",
    "(a)", "(a)(b)", "()a()", "(a+)%1", "(%w+)=(%w+)", "%b()", "%bxy", "%f[%w]%w+",
    "%f[%W]", "^(%s*)(.-)(%s*)$", "(h)(e)(l)(l)(o)", "[%d.]+", "%.", "a.c", "x$y",
    "(", ")", "%", "[a", "%b", "%bx", "%f", "%fx", "%1", "(a)%2", "((a)", "(()", "%g",
    "b-o", "[%a-z]", "[a-%d]", "^", "$", "^^", "$$", "%$", "[$]", "(.-)%s", "%s(.-)$",
}

for _, s in ipairs(subjects) do
    for _, p in ipairs(patterns) do
        compare(s, p, nil)
    end
    for _, init in ipairs({ 1, 2, -1, -3, 0, 100, -100 }) do
        compare(s, "%a", init)
        compare(s, "", init)
    end
end

-- ---------------------------------------------------------------- random ---

local pieces = {
    "a", "b", ".", "%a", "%d", "%s", "%W", "[ab]", "[^a]", "[a-c]", "*", "+", "-", "?",
    "(", ")", "()", "^", "$", "%b()", "%f[%a]", "%1", "%%", "x",
}
local letters = { "a", "b", "c", "(", ")", " ", "1", "x", "." }

local seed = 20261124
local function rand(n)
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n + 1
end

for _ = 1, 3000 do
    local p, s = {}, {}
    for i = 1, rand(6) do p[i] = pieces[rand(#pieces)] end
    for i = 1, rand(12) - 1 do s[i] = letters[rand(#letters)] end
    compare(table.concat(s), table.concat(p), nil)
end

-- ------------------------------------------------------- method syntax ---

check('("abc"):find uses the sandbox\'s', { ("xay"):find("a", 1, true) }, { 2, 2 })
check("gmatch keeps its place", run(function()
    local out = {}
    for w in ("one two  three"):gmatch("%a+") do out[#out + 1] = w end
    return table.concat(out, ",")
end), { true, "one,two,three" })

print(passed .. " passed, " .. failed .. " failed")
if failed > 0 then error("pattern functions differ from LuaJIT's") end
