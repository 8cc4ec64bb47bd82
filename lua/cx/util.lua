--- cx.util — small tools for ngx_cx targeting hooks (README: Lua targeting hooks).
--
-- Pure Lua 5.1 (LuaJIT 2.1).  It needs nothing beyond what the hook sandbox
-- offers: no io, no debug, no ffi, no `bit`, no host time zone.  It defines
-- no globals and keeps no state between calls.
--
--     local util = require "cx.util"
--     return function(cx)
--       if not util.within_hours(cx.now, "09:00", "17:30", "+03:00",
--                                {1, 2, 3, 4, 5}) then
--         return false
--       end
--       return util.in_sample(cx.visitor.id, "spring-campaign", 20)
--     end
--
-- Conventions
--
-- * Time zones are fixed UTC offsets: `"+03:00"`, `"-05:30"`, `"+0300"`,
--   `"+03"`, `"Z"`, `"UTC"`, `"GMT"`; `nil` or `""` mean UTC.  There are no
--   daylight-saving rules: a hook that needs them picks the offset itself.
-- * Weekdays are ISO numbers: 1 = Monday … 7 = Sunday.
-- * A malformed *argument written by the hook author* (a bad offset, "9h",
--   "2026-13-01") raises an error naming the caller's line, so the hook fails
--   loudly (it offers nothing and nginx logs file:line).  Malformed *request
--   data* (cookies, headers, query strings, numbers) never raises: it is
--   skipped or replaced by a default.
--
-- @module cx.util

local floor = math.floor
local byte, find, sub, gsub, gmatch, match, char =
    string.byte, string.find, string.sub, string.gsub, string.gmatch,
    string.match, string.char
local concat = table.concat
local type, tostring, tonumber, error = type, tostring, tonumber, error

local util = {}

--- Version of this library.
util.version = "1.0.0"


-- ---------------------------------------------------------------- time ---

--- Parses a fixed UTC offset.
-- Accepts `"Z"`, `"UTC"`, `"GMT"` (any case), `nil` or `""` (all UTC), and
-- `±HH:MM`, `±HHMM` or `±HH` within ±14:00 (minutes 00..59).
-- @tparam ?string tz the offset
-- @treturn ?number seconds east of UTC (`"+03:00"` → 10800), or `nil`
-- @treturn ?string why, when the offset is not understood
function util.parse_offset(tz)
    if tz == nil or tz == "" then return 0 end
    if type(tz) ~= "string" then return nil, "time zone must be a string" end
    local u = tz:upper()
    if u == "Z" or u == "UTC" or u == "GMT" then return 0 end
    local sign, h, m = match(tz, "^([+-])(%d%d):?(%d%d)$")
    if not sign then
        sign, h = match(tz, "^([+-])(%d%d)$")
        m = "00"
    end
    if not sign then return nil, "bad time zone offset \"" .. tz .. "\"" end
    h, m = tonumber(h), tonumber(m)
    if m > 59 or h * 60 + m > 14 * 60 then
        return nil, "time zone offset out of range \"" .. tz .. "\""
    end
    local s = h * 3600 + m * 60
    return sign == "-" and -s or s
end

-- The offset or an error at the hook's line (level 3: our caller's caller).
local function offset_of(tz)
    local off, err = util.parse_offset(tz)
    if not off then error("cx.util: " .. err, 3) end
    return off
end

-- Days since 1970-01-01 -> year, month, day (proleptic Gregorian; H. Hinnant's
-- civil_from_days, valid for any integer day count).
local function civil_from_days(z)
    z = z + 719468
    local era = floor(z / 146097)
    local doe = z - era * 146097
    local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524)
                       - floor(doe / 146096)) / 365)
    local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
    local mp = floor((5 * doy + 2) / 153)
    local d = doy - floor((153 * mp + 2) / 5) + 1
    local m = mp < 10 and mp + 3 or mp - 9
    local y = yoe + era * 400
    if m <= 2 then y = y + 1 end
    return y, m, d
end

-- year, month, day -> days since 1970-01-01 (inverse of civil_from_days).
local function days_from_civil(y, m, d)
    if m <= 2 then y = y - 1 end
    local era = floor(y / 400)
    local yoe = y - era * 400
    local mp = m > 2 and m - 3 or m + 9
    local doy = floor((153 * mp + 2) / 5) + d - 1
    local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
    return era * 146097 + doe - 719468
end

local function leap(y)
    return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
end

local month_days = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

--- Local calendar time at a fixed UTC offset.
-- Computed arithmetically from the Unix time; the host's time zone plays no
-- part.  Fractions of a second are dropped.
-- @tparam number now Unix time in seconds (`cx.now`)
-- @tparam ?string tz offset, see `parse_offset`; default UTC
-- @treturn table `{year, month, day, hour, min, sec, wday, yday}` with
--   `wday` 1 = Monday … 7 = Sunday and `yday` 1 … 366
function util.local_time(now, tz)
    if type(now) ~= "number" then error("cx.util: now must be a number", 2) end
    local t = floor(now) + offset_of(tz)
    local days = floor(t / 86400)
    local s = t - days * 86400
    local y, m, d = civil_from_days(days)
    return {
        year = y, month = m, day = d,
        hour = floor(s / 3600), min = floor(s / 60) % 60, sec = s % 60,
        wday = (days + 3) % 7 + 1,               -- 1970-01-01 was a Thursday
        yday = days - days_from_civil(y, 1, 1) + 1,
    }
end

-- "HH:MM" or "HH:MM:SS" -> seconds since midnight; "24:00" allowed.
local function clock_of(s)
    local h, m, sec = match(type(s) == "string" and s or "",
                            "^(%d%d?):(%d%d)$")
    if not h then
        h, m, sec = match(type(s) == "string" and s or "",
                          "^(%d%d?):(%d%d):(%d%d)$")
    end
    h, m, sec = tonumber(h), tonumber(m), tonumber(sec or 0)
    if not h or m > 59 or sec > 59 or h > 24
       or (h == 24 and (m > 0 or sec > 0)) then
        error("cx.util: bad time of day \"" .. tostring(s)
              .. "\" (want HH:MM)", 3)
    end
    return h * 3600 + m * 60 + sec
end

--- Is the local time within a daily window?
-- The window is half-open, `[from, to)`: `"09:00"`–`"17:30"` includes 09:00:00
-- and ends before 17:30:00.  When `to` is earlier than `from` the window
-- crosses midnight (`"22:00"`–`"06:00"`); when they are equal it is the whole
-- day.  `"24:00"` may be used as `to`.
--
-- `days`, if given, lists the weekdays (1 = Monday … 7 = Sunday) on which the
-- window *opens*: with `{5}` and `"22:00"`–`"06:00"`, Friday 23:00 and
-- Saturday 02:00 are inside, Friday 02:00 is not.
-- @tparam number now Unix time (`cx.now`)
-- @tparam string from `"HH:MM"` (or `"HH:MM:SS"`)
-- @tparam string to `"HH:MM"` (or `"HH:MM:SS"`)
-- @tparam ?string tz offset, see `parse_offset`; default UTC
-- @tparam ?{int,...} days weekdays the window opens on; default every day
-- @treturn boolean
function util.within_hours(now, from, to, tz, days)
    if type(now) ~= "number" then error("cx.util: now must be a number", 2) end
    local a, b = clock_of(from), clock_of(to)
    local t = floor(now) + offset_of(tz)
    local day = floor(t / 86400)
    local s = t - day * 86400
    local inside
    if a < b then
        inside = s >= a and s < b
    elseif a > b then
        if s >= a then
            inside = true
        elseif s < b then
            inside, day = true, day - 1          -- opened yesterday
        end
    else
        inside = true
    end
    if not inside then return false end
    if days == nil then return true end
    if type(days) ~= "table" then
        error("cx.util: days must be a list of weekdays 1..7", 2)
    end
    local wday = (day + 3) % 7 + 1
    for i = 1, #days do
        if days[i] == wday then return true end
    end
    return false
end

-- "YYYY-MM-DD" -> days since 1970-01-01, or an error at the hook's line.
local function date_of(s)
    local y, m, d = match(type(s) == "string" and s or "",
                          "^(%d%d%d%d)-(%d%d)-(%d%d)$")
    y, m, d = tonumber(y), tonumber(m), tonumber(d)
    if not y or m < 1 or m > 12 or d < 1
       or d > ((m == 2 and leap(y)) and 29 or month_days[m]) then
        error("cx.util: bad date \"" .. tostring(s)
              .. "\" (want YYYY-MM-DD)", 3)
    end
    return days_from_civil(y, m, d)
end

--- Is the local date within a range of days, both ends included?
-- `between_dates(now, "2026-12-01", "2026-12-24", "+01:00")` is true from
-- 2026-12-01 00:00:00 to 2026-12-24 23:59:59 at +01:00.  Either end may be
-- `nil` for an open range.
-- @tparam number now Unix time (`cx.now`)
-- @tparam ?string first `"YYYY-MM-DD"`, first day included
-- @tparam ?string last `"YYYY-MM-DD"`, last day included
-- @tparam ?string tz offset, see `parse_offset`; default UTC
-- @treturn boolean
function util.between_dates(now, first, last, tz)
    if type(now) ~= "number" then error("cx.util: now must be a number", 2) end
    local lo = first ~= nil and date_of(first) or nil
    local hi = last ~= nil and date_of(last) or nil
    local day = floor((floor(now) + offset_of(tz)) / 86400)
    return (lo == nil or day >= lo) and (hi == nil or day <= hi)
end


-- ------------------------------------------------------------- buckets ---

local TWO32 = 4294967296

-- XOR without the bit library: a 16x16 table of nibble XORs, built once by
-- x(a, b) = 2 * x(a // 2, b // 2) + (low bits differ).
local XOR4 = {}
for a = 0, 15 do
    for b = 0, 15 do
        local hi = (a + b > 0) and XOR4[floor(a / 2) * 16 + floor(b / 2)] or 0
        XOR4[a * 16 + b] = hi * 2 + ((a % 2 ~= b % 2) and 1 or 0)
    end
end

-- XOR of two bytes (0..255).
local function xor8(a, b)
    local ah, bh = floor(a / 16), floor(b / 16)
    return XOR4[ah * 16 + bh] * 16 + XOR4[(a - ah * 16) * 16 + (b - bh * 16)]
end

-- XOR of two 32-bit unsigned integers, a byte at a time.
local function xor32(a, b)
    local r, p = 0, 1
    for _ = 1, 4 do
        local ab, bb = a % 256, b % 256
        r = r + xor8(ab, bb) * p
        a, b, p = (a - ab) / 256, (b - bb) / 256, p * 256
    end
    return r
end

-- (a * c) mod 2^32 for 32-bit a and c, exact in doubles: each partial
-- product stays below 2^48.
local function mul32(a, c)
    local ch = floor(c / 65536)
    local cl = c - ch * 65536
    return (a * cl + ((a * ch) % 65536) * 65536) % TWO32
end

--- 32-bit FNV-1a of a string.
-- `fnv1a32("")` is 2166136261, `fnv1a32("a")` is 3826002220.
-- @tparam string s
-- @treturn int 0 … 2^32 - 1
function util.fnv1a32(s)
    local h = 2166136261
    for i = 1, #s do
        local lo = h % 256
        h = h - lo + xor8(lo, byte(s, i))
        -- h * 16777619 = h * 2^24 + h * 403; mod 2^32 only the low byte
        -- of h survives the 2^24 term, so nothing exceeds 2^42.
        h = (h * 403 + (h % 256) * 16777216) % TWO32
    end
    return h
end

-- MurmurHash3's 32-bit finaliser: every input bit reaches every output bit
-- (FNV alone mixes its low bits poorly).
local function fmix32(h)
    h = xor32(h, floor(h / 65536))
    h = mul32(h, 0x85ebca6b)
    h = xor32(h, floor(h / 8192))
    h = mul32(h, 0xc2b2ae35)
    return xor32(h, floor(h / 65536))
end

--- A visitor's bucket, 0 … 99, for one experiment.
-- Deterministic (the same id and salt always give the same bucket, in every
-- worker and after restarts) and evenly spread; different salts give
-- independent buckets.  It is `fmix32(fnv1a32(salt .. ":" .. id))` scaled
-- to 0..99 by its high bits.
-- @tparam string id visitor id (`cx.visitor.id`); numbers are converted
-- @tparam ?string salt names the experiment; default `""`
-- @treturn int 0 … 99
function util.percent_bucket(id, salt)
    local ti = type(id)
    if ti ~= "string" and ti ~= "number" then
        error("cx.util: id must be a string", 2)
    end
    local h = fmix32(util.fnv1a32(tostring(salt or "") .. ":" .. id))
    return floor(h * 100 / TWO32)
end

--- Is a visitor in the first `percent` percent of an experiment?
-- `in_sample(id, salt, 20)` is `percent_bucket(id, salt) < 20`: 0 is never,
-- 100 always, and raising the percent only adds visitors.
-- @tparam string id visitor id
-- @tparam ?string salt names the experiment
-- @tparam number percent 0 … 100
-- @treturn boolean
function util.in_sample(id, salt, percent)
    if type(percent) ~= "number" then
        error("cx.util: percent must be a number", 2)
    end
    local ti = type(id)
    if ti ~= "string" and ti ~= "number" then
        error("cx.util: id must be a string", 2)
    end
    return util.percent_bucket(id, salt) < percent
end


-- ------------------------------------------------- headers and cookies ---

-- A header value as a string: repeated headers (a list) are joined by sep.
local function header_text(v, sep)
    if type(v) == "string" then return v end
    if type(v) == "table" then
        local parts = {}
        for i = 1, #v do
            if type(v[i]) == "string" then parts[#parts + 1] = v[i] end
        end
        return concat(parts, sep)
    end
    return ""
end

local function trim(s)
    return match(s, "^[ \t]*(.-)[ \t]*$")
end

--- Parses a Cookie header.
-- Pairs are separated by `;`; names and values are trimmed of spaces and
-- tabs; a value wrapped in double quotes loses them; values are not
-- URL-decoded (see `unescape`).  A pair without `=` or whose name is not an
-- HTTP token is skipped.  When a name repeats the first one wins (that is
-- the most specific path, as browsers send them).  A list of Cookie headers
-- is read as one.
-- @tparam ?string|{string,...} value `cx.request.headers["cookie"]`
-- @treturn table name → value (empty for `nil`)
function util.parse_cookies(value)
    local jar = {}
    for pair in gmatch(header_text(value, ";"), "[^;]+") do
        local eq = find(pair, "=", 1, true)
        if eq then
            local name = trim(sub(pair, 1, eq - 1))
            local v = trim(sub(pair, eq + 1))
            if find(name, "^[%w!#$%%&'*+%-.^_`|~]+$")
               and jar[name] == nil then
                if #v >= 2 and byte(v, 1) == 34 and byte(v, -1) == 34 then
                    v = sub(v, 2, -2)
                end
                jar[name] = v
            end
        end
    end
    return jar
end

--- Splits a comma-separated header into trimmed, non-empty items.
-- `header_list(" gzip, br ,,deflate")` is `{"gzip", "br", "deflate"}`.
-- Commas inside quoted strings are not special-cased.
-- @tparam ?string|{string,...} value a header value, or a list of them
-- @treturn {string,...}
function util.header_list(value)
    local list = {}
    for item in gmatch(header_text(value, ","), "[^,]+") do
        item = trim(item)
        if item ~= "" then list[#list + 1] = item end
    end
    return list
end

--- URL-decodes a string: `+` becomes a space and `%XX` its byte.
-- A `%` not followed by two hex digits is kept as it is.
-- @tparam string s
-- @treturn string
function util.unescape(s)
    s = gsub(s, "+", " ")
    s = gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end)
    return s
end

--- Parses a query string (`cx.request.args`).
-- A leading `?` is ignored; pairs are separated by `&`; names and values are
-- URL-decoded (see `unescape`); a name without `=` gets `""`; empty names
-- are skipped; when a name repeats the first one wins.
-- @tparam ?string args `"a=1&b=x+y&c=%2F"`
-- @treturn table name → value (`{a = "1", b = "x y", c = "/"}`)
function util.parse_qs(args)
    local q = {}
    if type(args) ~= "string" then return q end
    args = gsub(args, "^%?", "")
    for pair in gmatch(args, "[^&]+") do
        local eq = find(pair, "=", 1, true)
        local name = util.unescape(eq and sub(pair, 1, eq - 1) or pair)
        if name ~= "" and q[name] == nil then
            q[name] = eq and util.unescape(sub(pair, eq + 1)) or ""
        end
    end
    return q
end

-- 10^1 .. 10^15, each exact in a double
local POW10 = { 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
                1e13, 1e14, 1e15 }

-- The reader behind util.number where the host gives no C one: a string
-- as a number, or nil.
local function read_decimal(value)
    if #value > 256 then return nil end
    -- one pass: tonumber then sees only a sign and digits ("" and "-" give
    -- nil)
    local int, frac = match(value, "^[ \t]*([+-]?%d*)%.?(%d*)[ \t]*$")
    if int == nil then return nil end
    local n, places = nil, #frac
    if places == 0 then
        n = tonumber(int)
    elseif #int + places <= 15 then
        -- "129.90" as 12990 / 100: both exact, so the division rounds once,
        -- to what tonumber("129.90") gives, without LuaJIT's slow decimal
        -- scanner
        n = tonumber(int .. frac)
        if n then n = n / POW10[places] end
    else
        n = tonumber(int .. "." .. frac)
    end
    if n == nil or n - n ~= 0 then return nil end   -- "+5" in 5.1; huge
    return n
end

--- The pure-Lua reader of `number`, for tests (nginx uses a C one with the
-- same rules). Returns a number or nil.
util._read_decimal = read_decimal

--- Reads a decimal number strictly.
-- Accepts a finite Lua number, or a string of at most 256 bytes that is,
-- after trimming spaces and tabs, an optional sign and decimal digits with
-- at most one decimal point (`"42"`, `"-3"`, `"1234.50"`, `".5"`, `"7."`).
-- Anything else gives `default`: thousands separators (`"1,234.50"`),
-- currency signs (`"$12"`), exponents (`"1e3"`), hex (`"0x10"`), `"inf"`,
-- `"nan"`, empty strings, `nil`.  Unlike `tonumber` it never reads
-- `"0x1A"` or `"1e999"`.  The value is the one `tonumber` gives.
-- @param value a header value, cookie, argument …
-- @param[opt] default returned when `value` is not such a number
-- @treturn number|any
function util.number(value, default)
    if type(value) == "string" then
        local n = read_decimal(value)
        if n == nil then return default end
        return n
    end
    if type(value) == "number" then
        if value == value and value - value == 0 then return value end
        return default                          -- nan, inf
    end
    return default
end

--- The pure-Lua `number` above, for tests: where the host gives
-- `cx_native.number` (nginx and the test runner do), `util.number` is that
-- C function, with the same rules in one call (src/ngx_cx_lua_native.c):
-- reading a header as a number is a hook's commonest work.
util._number_lua = util.number
if cx_native and cx_native.number then
    util.number = cx_native.number
end

return util
