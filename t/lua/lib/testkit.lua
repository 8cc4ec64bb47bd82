-- The Lua tests' bookkeeping (t/lua/test_util.lua, t/lua/test_env.lua):
-- ok, eq (deep, for tables), show, and done, which prints "N passed, N
-- failed" and raises an error if anything failed. A module has no print,
-- so the test hands in its own:
--
--   local tk = require("testkit").new(print)

local function show(v)
    if type(v) == "string" then                  -- on one line, printable
        return "\"" .. v:gsub("[%c\"\\\128-\255]", function(c)
            return string.format("\\%d", c:byte())
        end) .. "\""
    end
    if type(v) ~= "table" then return tostring(v) end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do
        local val = v[k]
        if val == nil then val = v[tonumber(k)] end
        parts[#parts + 1] = k .. "=" .. show(val)
    end
    return "{" .. table.concat(parts, ", ") .. "}"
end

local function same(a, b)
    if type(a) ~= "table" or type(b) ~= "table" then return a == b end
    for k, v in pairs(a) do if not same(v, b[k]) then return false end end
    for k in pairs(b) do if a[k] == nil then return false end end
    return true
end

return {
    new = function(print)
        local passed, failed = 0, 0
        local T = { show = show }

        function T.ok(cond, name)
            if cond then
                passed = passed + 1
            else
                failed = failed + 1
                print("FAIL " .. name)
            end
        end

        function T.eq(got, want, name)
            if same(got, want) then
                passed = passed + 1
            else
                failed = failed + 1
                print("FAIL " .. name .. ": got " .. show(got) .. ", want " .. show(want))
            end
        end

        function T.done()
            print(passed .. " passed, " .. failed .. " failed")
            if failed > 0 then error(failed .. " test(s) failed", 0) end
        end

        return T
    end,
}
