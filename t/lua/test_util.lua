-- Tests for lua/cx/util.lua, run in the hook sandbox by t/lua/runner.c:
--
--   build/luarun . t/lua/test_util.lua
--
-- Uses only what a hook has, plus print.  One line per failure, then
-- "N passed, N failed"; raises an error at the end if anything failed.

local util = require "cx.util"

local tk = require("testkit").new(print)
local ok, eq, show = tk.ok, tk.eq, tk.show

-- The call must raise an error whose message contains `text` and names
-- this file (the hook author's line, not the library's).
local function raises(text, name, f, ...)
    local good, err = pcall(function(...)
        local r = f(...)                         -- not a tail call: keep
        return r                                 -- this file's frame
    end, ...)
    err = tostring(err)
    ok(not good and err:find(text, 1, true) ~= nil
       and err:find("test_util.lua", 1, true) ~= nil,
       name .. " raises \"" .. text .. "\" at the caller (got "
       .. (good and "no error" or err) .. ")")
end

-- Unix time of a UTC calendar time, counted the slow way (years >= 1970).
local MDAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local function is_leap(y) return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0 end
local function utc(y, mo, d, h, mi, s)
    local days = 0
    for yy = 1970, y - 1 do days = days + (is_leap(yy) and 366 or 365) end
    for mm = 1, mo - 1 do
        days = days + MDAYS[mm] + ((mm == 2 and is_leap(y)) and 1 or 0)
    end
    days = days + d - 1
    return ((days * 24 + (h or 0)) * 60 + (mi or 0)) * 60 + (s or 0)
end

-- Unix time of a local calendar time at a fixed offset in hours.
local function at(off_hours, y, mo, d, h, mi, s)
    return utc(y, mo, d, h, mi, s) - off_hours * 3600
end


-- ------------------------------------------------------------ version ---

ok(type(util.version) == "string" and util.version:find("^%d+%.%d+%.%d+$"),
   "version is a x.y.z string")
ok(require "cx.util" == util, "require returns the same table twice")


-- ------------------------------------------------------- parse_offset ---

eq(util.parse_offset("+03:00"), 10800, "parse_offset +03:00")
eq(util.parse_offset("-05:30"), -19800, "parse_offset -05:30")
eq(util.parse_offset("+0530"), 19800, "parse_offset +0530")
eq(util.parse_offset("-08"), -28800, "parse_offset -08")
eq(util.parse_offset("+14:00"), 50400, "parse_offset +14:00")
eq(util.parse_offset("-00:00"), 0, "parse_offset -00:00")
for _, z in ipairs({ "Z", "z", "UTC", "utc", "GMT", "" }) do
    eq(util.parse_offset(z), 0, "parse_offset " .. z)
end
eq(util.parse_offset(nil), 0, "parse_offset nil")
for _, bad in ipairs({ "+3:00", "03:00", "+03:60", "+14:01", "+15", "+03:00 ",
                       "EST", "+03:0", "++03:00", "CET" }) do
    local v, err = util.parse_offset(bad)
    ok(v == nil and type(err) == "string", "parse_offset rejects " .. show(bad))
end
ok(util.parse_offset(3) == nil, "parse_offset rejects a number")


-- --------------------------------------------------------- local_time ---

local T = 1795563000                             -- 2026-11-24T23:30:00Z
eq(utc(2026, 11, 24, 23, 30, 0), T, "test helper agrees with date(1)")
eq(util.local_time(T, "+03:00"),
   { year = 2026, month = 11, day = 25, hour = 2, min = 30, sec = 0,
     wday = 3, yday = 329 },
   "2026-11-24T23:30Z at +03:00 is Wednesday 2026-11-25 02:30")
eq(util.local_time(T, "-05:30"),
   { year = 2026, month = 11, day = 24, hour = 18, min = 0, sec = 0,
     wday = 2, yday = 328 },
   "2026-11-24T23:30Z at -05:30 is Tuesday 18:00")
eq(util.local_time(T),
   { year = 2026, month = 11, day = 24, hour = 23, min = 30, sec = 0,
     wday = 2, yday = 328 },
   "local_time defaults to UTC")
eq(util.local_time(0, "Z"),
   { year = 1970, month = 1, day = 1, hour = 0, min = 0, sec = 0,
     wday = 4, yday = 1 },
   "epoch is Thursday 1970-01-01")
eq(util.local_time(-1, "UTC"),
   { year = 1969, month = 12, day = 31, hour = 23, min = 59, sec = 59,
     wday = 3, yday = 365 },
   "one second before the epoch")
eq(util.local_time(utc(2024, 2, 29, 12), "UTC").yday, 60, "leap day yday")
eq(util.local_time(utc(2024, 12, 31, 23, 59, 59), "UTC").yday, 366,
   "last day of a leap year")
eq(util.local_time(utc(2024, 12, 31, 23, 0, 0), "+01:00"),
   { year = 2025, month = 1, day = 1, hour = 0, min = 0, sec = 0,
     wday = 3, yday = 1 },
   "new year reached through the offset")
eq(util.local_time(utc(2100, 3, 1), "-00:30").day, 28,
   "2100 is not a leap year: 2100-03-01 minus 30 min is Feb 28")
eq(util.local_time(utc(2000, 3, 1), "-00:30").day, 29,
   "2000 is a leap year: 2000-03-01 minus 30 min is Feb 29")
eq(util.local_time(T + 0.9, "Z").sec, 0, "fractions of a second dropped")

-- Against os.date("!*t"), over ~1900..2100 and many offsets.
do
    local bad = 0
    local offsets = { "Z", "+03:00", "-05:30", "+14:00", "-12:00", "+05:45" }
    local t = -2208988800                        -- 1900-01-01
    for i = 1, 3000 do
        local tz = offsets[i % #offsets + 1]
        local d = os.date("!*t", t + util.parse_offset(tz))
        local l = util.local_time(t, tz)
        if l.year ~= d.year or l.month ~= d.month or l.day ~= d.day
           or l.hour ~= d.hour or l.min ~= d.min or l.sec ~= d.sec
           or l.yday ~= d.yday or l.wday ~= (d.wday + 5) % 7 + 1 then
            bad = bad + 1
            if bad <= 3 then
                print("  local_time(" .. t .. ", " .. tz .. ") = " .. show(l))
            end
        end
        t = t + 2103277                          -- ~24 days and odd hours
    end
    eq(bad, 0, "local_time agrees with os.date(\"!*t\") on 3000 instants")
end

raises("bad time zone offset", "local_time with \"+3\"",
       util.local_time, T, "+3")
raises("now must be a number", "local_time without now", util.local_time, nil)


-- ------------------------------------------------------- within_hours ---

local function wh(...) return util.within_hours(...) end

-- 09:00-17:30 at +03:00, on Wednesday 2026-11-25.
ok(wh(at(3, 2026, 11, 25, 9, 0, 0), "09:00", "17:30", "+03:00"),
   "09:00:00 opens the window")
ok(not wh(at(3, 2026, 11, 25, 8, 59, 59), "09:00", "17:30", "+03:00"),
   "08:59:59 is before it")
ok(wh(at(3, 2026, 11, 25, 17, 29, 59), "09:00", "17:30", "+03:00"),
   "17:29:59 is inside")
ok(not wh(at(3, 2026, 11, 25, 17, 30, 0), "09:00", "17:30", "+03:00"),
   "17:30:00 closes the window")
ok(wh(at(3, 2026, 11, 25, 12, 0, 0), "09:00", "17:30", "+03:00"),
   "noon at +03:00")
ok(not wh(at(3, 2026, 11, 25, 12, 0, 0), "09:00", "17:30", "-05:00"),
   "the same instant is 04:00 at -05:00")
ok(wh(T, "02:00", "03:00", "+03:00"), "23:30Z is 02:30 at +03:00")
ok(wh(T, "23:00", "24:00"), "\"24:00\" ends the day (UTC default)")
ok(wh(at(0, 2026, 11, 25, 9, 5, 30), "09:05:30", "09:05:31"),
   "HH:MM:SS bounds")

-- Crossing midnight: 22:00-06:00 at -05:30.
local night = {
    { 21, 59, 59, false }, { 22, 0, 0, true }, { 23, 0, 0, true },
    { 0, 0, 0, true }, { 2, 0, 0, true }, { 5, 59, 59, true },
    { 6, 0, 0, false }, { 12, 0, 0, false },
}
for _, c in ipairs(night) do
    local t = at(-5.5, 2026, 11, 25, c[1], c[2], c[3])
    eq(wh(t, "22:00", "06:00", "-05:30"), c[4],
       string.format("22:00-06:00 at %02d:%02d:%02d", c[1], c[2], c[3]))
end
ok(wh(T, "10:00", "10:00"), "equal bounds are the whole day")

-- Weekday filters: 2026-11-27 is a Friday.  Each row: the time (UTC
-- offset, day of November 2026, hour there), the window, its zone, its
-- days, whether the time is inside, and what the row shows.
local weekdays = { 1, 2, 3, 4, 5 }
local fri = { 5 }
for _, c in ipairs({
    { 3, 27, 10, "09:00", "17:30", "+03:00", weekdays, true,  "Friday is a weekday" },
    { 3, 28, 10, "09:00", "17:30", "+03:00", weekdays, false, "Saturday is not" },
    { 3, 29, 10, "09:00", "17:30", "+03:00", weekdays, false, "Sunday is not" },
    { 3, 30, 10, "09:00", "17:30", "+03:00", weekdays, true,  "Monday is" },
    { 0, 29, 22, "00:00", "24:00", "+03:00", { 1 },    true,  "Sunday 22:00Z is Monday 01:00 at +03:00" },
    { 0, 29, 22, "00:00", "24:00", "Z",      { 1 },    false, "... and still Sunday in UTC" },
    { 3, 27, 10, "09:00", "17:30", "+03:00", {},       false, "an empty day list never matches" },
    -- A night window belongs to the day it opens on.
    { 1, 27, 23, "22:00", "06:00", "+01:00", fri,      true,  "Friday 23:00 in Friday's night" },
    { 1, 28, 2,  "22:00", "06:00", "+01:00", fri,      true,  "Saturday 02:00 in Friday's night" },
    { 1, 27, 2,  "22:00", "06:00", "+01:00", fri,      false, "Friday 02:00 is Thursday's night" },
    { 1, 28, 23, "22:00", "06:00", "+01:00", fri,      false, "Saturday 23:00 is Saturday's night" },
    { 1, 30, 1,  "22:00", "06:00", "+01:00", { 7 },    true,  "Monday 01:00 in Sunday's night (weekday wraps 1 -> 7)" },
}) do
    local inside = wh(at(c[1], 2026, 11, c[2], c[3]), c[4], c[5], c[6], c[7])
    ok(not inside == not c[8], c[9])
end

raises("bad time of day", "within_hours \"9h\"", wh, T, "9h", "17:00")
raises("bad time of day", "within_hours \"25:00\"", wh, T, "09:00", "25:00")
raises("bad time of day", "within_hours \"24:30\"", wh, T, "09:00", "24:30")
raises("bad time of day", "within_hours \"09:60\"", wh, T, "09:60", "10:00")
raises("bad time of day", "within_hours nil", wh, T, nil, "10:00")
raises("bad time zone offset", "within_hours \"+3\"",
       wh, T, "09:00", "10:00", "+3")
raises("days must be a list", "within_hours days=5",
       wh, T, "00:00", "24:00", nil, 5)


-- ------------------------------------------------------ between_dates ---

local function bd(...) return util.between_dates(...) end
local DEC = { "2026-12-01", "2026-12-24", "+03:00" }
local dec_cases = {
    { utc(2026, 11, 30, 20, 59, 59), false, "Nov 30 23:59:59 local" },
    { utc(2026, 11, 30, 21, 0, 0), true, "Dec 1 00:00:00 local" },
    { 1796072400, true, "Dec 1 00:00:00 local, by date(1)" },
    { utc(2026, 12, 24, 20, 59, 59), true, "Dec 24 23:59:59 local" },
    { utc(2026, 12, 24, 21, 0, 0), false, "Dec 25 00:00:00 local" },
    { 1798146000, false, "Dec 25 00:00:00 local, by date(1)" },
    { utc(2026, 12, 10), true, "mid December" },
    { utc(2027, 12, 10), false, "a year later" },
}
for _, c in ipairs(dec_cases) do
    eq(bd(c[1], DEC[1], DEC[2], DEC[3]), c[2], "between_dates " .. c[3])
end
ok(bd(utc(2026, 12, 1), "2026-12-01", "2026-12-01"), "a one-day range (UTC)")
ok(not bd(utc(2026, 12, 1) - 1, "2026-12-01", "2026-12-01"),
   "the second before it")
ok(bd(utc(2030, 1, 1), "2026-12-01", nil), "open end")
ok(bd(utc(2000, 1, 1), nil, "2026-12-01"), "open start")
ok(not bd(utc(2026, 12, 2), nil, "2026-12-01"), "after an open-start range")
ok(bd(utc(2024, 2, 29), "2024-02-29", "2024-02-29"), "leap day range")
ok(not bd(utc(2026, 12, 10), "2026-12-24", "2026-12-01"),
   "an inverted range is empty")
raises("bad date", "between_dates 2026-02-29", bd, T, "2026-02-29", nil)
raises("bad date", "between_dates 2026-1-01", bd, T, "2026-1-01", nil)
raises("bad date", "between_dates 2026-13-01", bd, T, nil, "2026-13-01")
raises("bad date", "between_dates 2026-04-31", bd, T, nil, "2026-04-31")
raises("bad time zone offset", "between_dates \"CET\"",
       bd, T, "2026-01-01", "2026-12-31", "CET")


-- ------------------------------------------------------------- fnv1a32 ---

local fnv_vectors = {
    { "", 2166136261 }, { "a", 3826002220 }, { "b", 3876335077 },
    { "foo", 2851307223 }, { "foobar", 3214735720 },
    { "\255\128\0\127", 3119028115 }, { "chongo was here!\n", 3566809301 },
}
for _, v in ipairs(fnv_vectors) do
    eq(util.fnv1a32(v[1]), v[2], "fnv1a32 " .. show(v[1]))
end


-- ------------------------------------------------------------- buckets ---

-- Pinned values (computed independently): changing them reshuffles every
-- running experiment.
eq(util.percent_bucket("5f3a9c0e1b2d4e6f7a8b9c0d", "spring-campaign"), 42,
   "pinned bucket 1")
eq(util.percent_bucket("000000000000000000000000"), 29, "pinned bucket 2")
eq(util.percent_bucket("ffffffffffffffffffffffff", "x"), 81, "pinned bucket 3")
eq(util.percent_bucket("ffffffffffffffffffffffff", "x"),
   util.percent_bucket("ffffffffffffffffffffffff", "x"), "stable")

local HEX = "0123456789abcdef"
local function hex_id(n)                          -- 24 hex chars
    local s = {}
    for i = 24, 1, -1 do
        local d = n % 16
        s[i] = HEX:sub(d + 1, d + 1)
        n = (n - d) / 16
    end
    return table.concat(s)
end

local seed = 12345
local function random_id()                        -- 24 hex chars, LCG
    local s = {}
    for i = 1, 24 do
        seed = (seed * 1103515245 + 12345) % 2147483648
        local d = math.floor(seed / 65536) % 16
        s[i] = HEX:sub(d + 1, d + 1)
    end
    return table.concat(s)
end

local function spread(name, make_id, salt)
    local deciles = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
    local out_of_range = 0
    for i = 1, 10000 do
        local b = util.percent_bucket(make_id(i), salt)
        if type(b) ~= "number" or b < 0 or b > 99 or b ~= math.floor(b) then
            out_of_range = out_of_range + 1
        else
            local k = math.floor(b / 10) + 1
            deciles[k] = deciles[k] + 1
        end
    end
    eq(out_of_range, 0, name .. ": buckets are integers 0..99")
    local lo, hi = 10000, 0
    for k = 1, 10 do
        lo, hi = math.min(lo, deciles[k]), math.max(hi, deciles[k])
    end
    ok(lo >= 800 and hi <= 1200,
       name .. ": each decile holds 8-12% (" .. table.concat(deciles, " ") .. ")")
end
spread("sequential ids", hex_id, "spring-campaign")
spread("sequential ids, no salt", hex_id, nil)
spread("random ids", function() return random_id() end, "exp-7")
do  -- salts vary, id fixed: the salt is the input that changes
    local deciles = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
    for i = 1, 10000 do
        local b = util.percent_bucket("5f3a9c0e1b2d4e6f7a8b9c0d", "exp-" .. i)
        deciles[math.floor(b / 10) + 1] = deciles[math.floor(b / 10) + 1] + 1
    end
    local lo, hi = math.min(unpack(deciles)), math.max(unpack(deciles))
    ok(lo >= 800 and hi <= 1200,
       "many salts: each decile 8-12% (" .. table.concat(deciles, " ") .. ")")
end

-- Different salts are independent: halves split into even quarters.
do
    local q = { 0, 0, 0, 0 }
    for i = 1, 10000 do
        local id = hex_id(i * 7919)
        local a = util.percent_bucket(id, "a") < 50 and 1 or 0
        local b = util.percent_bucket(id, "b") < 50 and 1 or 0
        q[a * 2 + b + 1] = q[a * 2 + b + 1] + 1
    end
    ok(math.min(unpack(q)) >= 2250 and math.max(unpack(q)) <= 2750,
       "salts are independent (" .. table.concat(q, " ") .. ")")
end

-- in_sample
do
    local n20, n0, n100, grew = 0, 0, 0, true
    for i = 1, 10000 do
        local id = hex_id(i)
        if util.in_sample(id, "s", 20) then n20 = n20 + 1 end
        if util.in_sample(id, "s", 0) then n0 = n0 + 1 end
        if util.in_sample(id, "s", 100) then n100 = n100 + 1 end
        if util.in_sample(id, "s", 20) and not util.in_sample(id, "s", 30) then
            grew = false
        end
    end
    ok(n20 >= 1800 and n20 <= 2200, "in_sample 20% takes ~2000 of 10000 ("
       .. n20 .. ")")
    eq(n0, 0, "in_sample 0% takes nobody")
    eq(n100, 10000, "in_sample 100% takes everybody")
    ok(grew, "raising the percent only adds visitors")
end
eq(util.in_sample("abc", "s", 50), util.percent_bucket("abc", "s") < 50,
   "in_sample is percent_bucket < percent")
eq(util.percent_bucket(12345, "s"), util.percent_bucket("12345", "s"),
   "a number id is its string")
raises("id must be a string", "percent_bucket(nil)", util.percent_bucket, nil)
raises("id must be a string", "in_sample(nil)", util.in_sample, nil, "s", 10)
raises("percent must be a number", "in_sample without percent",
       util.in_sample, "abc", "s")


-- ----------------------------------------------------------- cookies ---

local pc = util.parse_cookies
eq(pc(nil), {}, "parse_cookies nil")
eq(pc(""), {}, "parse_cookies empty")
eq(pc("a=1; b=2"), { a = "1", b = "2" }, "parse_cookies two pairs")
eq(pc("  a = 1 ;b=2;;  "), { a = "1", b = "2" }, "parse_cookies trims")
eq(pc("a=1; a=2"), { a = "1" }, "parse_cookies first wins")
eq(pc("novalue; =x; c=3; d"), { c = "3" }, "parse_cookies skips malformed")
eq(pc("a b=1; c,d=2; ok=3"), { ok = "3" }, "parse_cookies skips bad names")
eq(pc("t=a=b=="), { t = "a=b==" }, "parse_cookies keeps = in values")
eq(pc("e=; f=\"\""), { e = "", f = "" }, "parse_cookies empty values")
eq(pc("q=\"x y\"; r=\"; s=\"u"), { q = "x y", r = "\"", s = "\"u" },
   "parse_cookies unquotes only a pair of quotes")
eq(pc("sid=%41%42"), { sid = "%41%42" }, "parse_cookies does not URL-decode")
eq(pc("\ta=1\t;\tb=2"), { a = "1", b = "2" }, "parse_cookies trims tabs")
eq(pc({ "a=1; b=2", "a=3; c=4" }), { a = "1", b = "2", c = "4" },
   "parse_cookies reads repeated Cookie headers as one")
eq(pc(42), {}, "parse_cookies ignores a non-string")


-- ------------------------------------------------------- header_list ---

local hl = util.header_list
eq(hl(" gzip, br ,,deflate"), { "gzip", "br", "deflate" }, "header_list")
eq(hl(nil), {}, "header_list nil")
eq(hl(" , ,"), {}, "header_list only commas")
eq(hl("\tone\t"), { "one" }, "header_list trims tabs")
eq(hl("text/html;q=0.9, */*"), { "text/html;q=0.9", "*/*" },
   "header_list keeps parameters")
eq(hl({ "a, b", "c" }), { "a", "b", "c" }, "header_list repeated headers")


-- ---------------------------------------------------------- parse_qs ---

local qs = util.parse_qs
eq(qs("a=1&b=x+y&c=%2F&d&e=&=z&a=9"),
   { a = "1", b = "x y", c = "/", d = "", e = "" }, "parse_qs mixed")
eq(qs("?q=%e2%82%AC"), { q = "\226\130\172" }, "parse_qs leading ? and UTF-8")
eq(qs("x%20y=%41%42"), { ["x y"] = "AB" }, "parse_qs decodes names")
eq(qs("p=100%&r=%zz&s=%4"), { p = "100%", r = "%zz", s = "%4" },
   "parse_qs keeps broken escapes")
eq(qs("a=%2B+%26"), { a = "+ &" }, "parse_qs %2B is a plus, + a space")
eq(qs("&&a=1&&"), { a = "1" }, "parse_qs empty pairs")
eq(qs(nil), {}, "parse_qs nil")
eq(qs(""), {}, "parse_qs empty")
eq(util.unescape("a+b%20c%"), "a b c%", "unescape")


-- ------------------------------------------------------------ number ---

local num = util.number
local good_numbers = {
    { "42", 42 }, { "-3", -3 }, { "+5", 5 }, { "1234.50", 1234.5 },
    { ".5", 0.5 }, { "7.", 7 }, { " 12 ", 12 }, { "007", 7 }, { "0", 0 },
    { 99.5, 99.5 }, { -1, -1 }, { "\t129.90\t", 129.9 }, { "-.5", -0.5 },
}
local bad_numbers = {
    "1,234.50", "$12", "12 EUR", "1e3", "0x10", "inf", "-inf", "nan", "",
    " ", ".", "-", "1.2.3", "--1", "1 2", "12abc", string.rep("9", 400),
    "\n12\n", "+", "+.", "-.", "1 .5", "12.5x", "x12.5",
}
-- util.number is cx_native.number where the host gives it (nginx and this
-- runner); util._number_lua, the pure-Lua one, must keep the same rules
ok(num == cx_native.number, "number: the host's C function is util.number")
for name, f in pairs({ C = num, Lua = util._number_lua }) do
    for _, c in ipairs(good_numbers) do
        eq(f(c[1], "dflt"), c[2], name .. " number(" .. show(c[1]) .. ")")
    end
    for _, v in ipairs(bad_numbers) do
        eq(f(v, "dflt"), "dflt", name .. " number(" .. show(v) .. ") is the default")
    end
    eq(f(nil, 0), 0, name .. " number(nil)")
    eq(f(true, 0), 0, name .. " number(true)")
    eq(f({}, 0), 0, name .. " number({})")
    eq(f(1 / 0, 0), 0, name .. " number(inf)")
    eq(f(-1 / 0, 0), 0, name .. " number(-inf)")
    eq(f(0 / 0, 0), 0, name .. " number(nan)")
    eq(f("x"), nil, name .. " number without default is nil")
    eq(select("#", f("x")), 1, name .. " number gives one value")
    eq(f("12", 0, "extra"), 12, name .. " number ignores a third argument")
end
-- the fast way ("129.90" as 12990 / 100) gives what tonumber gives
local seed, same = 12345, true
for i = 1, 20000 do
    seed = (seed * 1103515245 + 12345) % 2147483648
    local places = seed % 9
    local s = tostring(seed % 100000000) .. "." .. tostring(seed % (10 ^ places))
    if seed % 3 == 0 then s = "-" .. s end
    if num(s) ~= tonumber(s) then same = false; print("# differs: " .. s) break end
end
ok(same, "number: 20000 random decimals read exactly as tonumber reads them")
ok(1 / num("-0.0") < 0 and 1 / num("0.00") > 0, "number: the sign of zero kept")

-- nginx reads strings in C (cx_native.number, as this runner does); the
-- pure-Lua reader, used where there is none, agrees with it everywhere
local lua_read, c_read = util._read_decimal, cx_native.number
ok(type(c_read) == "function", "the runner gives cx_native.number, as nginx does")
local agree, tried = true, 0
local function same(s)
    tried = tried + 1
    local a, b = lua_read(s), c_read(s)
    if a ~= b or (a == 0 and 1 / a ~= 1 / b) then
        agree = false
        print("# readers differ on " .. show(s) .. ": " .. tostring(a) .. " " .. tostring(b))
    end
end
for _, c in ipairs(good_numbers) do if type(c[1]) == "string" then same(c[1]) end end
for _, v in ipairs(bad_numbers) do same(v) end
local alphabet = { "0", "1", "5", "9", ".", "-", "+", " ", "\t", "e", "x", "," }
for i = 1, 30000 do
    seed = (seed * 1103515245 + 12345) % 2147483648
    local t, len = {}, seed % 12
    for j = 1, len do
        seed = (seed * 1103515245 + 12345) % 2147483648
        t[j] = alphabet[seed % #alphabet + 1]
    end
    same(table.concat(t))
end
same(string.rep(" ", 255) .. "7")
same(string.rep(" ", 256) .. "7")
same(string.rep("1", 20) .. "." .. string.rep("3", 20))
ok(agree, "number: the C and Lua readers agree on " .. tried .. " strings")


-- ---------------------------------------------------- a hook, end to end ---

do
    local hook = function(cx)
        if not util.within_hours(cx.now, "09:00", "17:30", "+03:00",
                                 { 1, 2, 3, 4, 5 }) then
            return false
        end
        local total = util.number(cx.response.headers["x-order-total"], 0)
        local ck = util.parse_cookies(cx.request.headers["cookie"])
        return util.percent_bucket(cx.visitor.id, "spring-campaign") < 50
               and total >= 100 and ck.lang == "fi",
               { order_total = total }
    end
    local cx = {
        now = at(3, 2026, 11, 25, 10),            -- Wednesday 10:00 +03:00
        visitor = { id = "5f3a9c0e1b2d4e6f7a8b9c0d" },   -- bucket 42
        request = { headers = { cookie = "cx=abc; lang=fi" } },
        response = { headers = { ["x-order-total"] = "120.00" } },
    }
    local offer, attrs = hook(cx)
    eq(offer, true, "example hook offers in hours, in sample")
    eq(attrs, { order_total = 120 }, "example hook attributes")
    cx.now = at(3, 2026, 11, 28, 10)              -- Saturday
    eq(hook(cx), false, "example hook is quiet on Saturday")
end


-- ---------------------------------------------------------- sandbox ---

ok(io == nil and debug == nil and package == nil and loadstring == nil
   and string.dump == nil and os.getenv == nil and os.execute == nil,
   "the runner's world is the hook sandbox")
ok(not pcall(function() math.floor = nil end) and math.floor ~= nil,
   "library tables are read-only")
ok(getmetatable("") == false and ("x"):rep(2) == "xx",
   "the string metatable is locked and still works")


tk.done()
