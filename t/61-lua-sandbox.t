#!/usr/bin/perl
# Lua targeting hooks, the sandbox (README: Lua targeting hooks; issue 4): what a hook
# cannot reach, what it cannot break, and what happens when it errors, loops
# or runs out of memory. The rest of the hooks is in t/60-lua.t.
#
# Each escape is a hook file whose line 2 tries it:
#
#     return function(cx)
#       <attempt>
#       return true
#     end
#
# and is refused when the page is served normally (200, body byte-identical,
# no prompt) and the error log has ONE line
#     cx: hook "<abs path>" failed, nothing offered: <abs path>:2: <message>
# with the message of that refusal. Every failure also leaves the worker
# alive (same pid) and the other hooks working.
#
# Covered:
#   - what the sandbox gives (base functions, string/table/math, os.time/date/
#     clock, require) and what it does not (io, os.execute/getenv/exit/remove,
#     debug, ffi, jit, package, load, loadstring, loadfile, dofile,
#     string.dump, setfenv/getfenv, print, collectgarbage, newproxy);
#   - read-only library tables (assignment, setmetatable; rawset in an nginx
#     of its own, since a success would poison every later hook), the string
#     metatable, a hook's globals invisible to another hook, cx read-only,
#     a cx table kept from an earlier call reading only the current call;
#   - the instruction budget: an infinite loop, a loop inside pcall, a caught
#     budget error, a million pcalls, the budget per call (40000 iterations
#     pass every time, 400000 do not); xpcall whose handler loops (in an nginx
#     of its own, since a hang takes the worker); patterns that backtrack
#     (find, gsub, and inside pcall) stopped by the same budget, while an
#     ordinary pattern over a 4 KB header passes;
#   - runtime errors (index, arithmetic, error(), error({}), stack overflow);
#   - one line per second per hook: the second failure in a second is not
#     logged, the next line says "(more lines suppressed)"; two hooks log
#     independently; "returned more attributes than are kept" the same way
#     (it was logged on every request);
#   - 3000 requests through a hook that allocates: the worker's VmRSS does
#     not grow by 5 MB between request 500 and 3000;
#   - the memory cap (cx_lua_budget 100000000, cx_lua_memory 2m): table and
#     string bombs end with "not enough memory (cx_lua_memory)" and the VM
#     recovers; a hook that fills the VM inside pcall, or keeps growing
#     across calls, must not take the worker down;
#   - patterns (find, gsub, a pattern inside pcall) stopped by the budget.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use JSON::PP ();
use Time::HiRes qw(time sleep);

plan skip_all => 'ngx_cx module not built (run make)' unless cx_have_module();

my $JSON = JSON::PP->new->utf8->canonical;

my $PAGE = "<html><head><title>t</title></head><body>\n<p>page</p>\n</body></html>\n";

# ---- helpers ---------------------------------------------------------------





# GET path: served normally, no prompt, one log line matching $re (file:line).
sub refused_ok {
    my ($ng, $path, $file, $re, $what) = @_;
    my $from = $ng->log_size;
    my @pids = $ng->worker_pids;
    my $r = $ng->req(method => 'GET', path => $path, timeout => 5);
    is $r->{status}, 200, "$what: 200";
    is $r->{body}, $PAGE, "$what: page byte-identical, no prompt";
    my @l;
    wait_for { @l = $ng->hook_lines($file, $from) } 2;
    is scalar(@l), 1, "$what: one log line";
    my $p = $ng->prefix;
    like $l[0] // '', qr/\[error\] .*cx: hook "\Q$p\E\/conf\/hooks\/\Q$file\E" failed, nothing offered: $re/,
        "$what: the line" or diag "log: @l";
    is_deeply [ $ng->worker_pids ], \@pids, "$what: the worker is still the same";
    return $r;
}

# ---- hooks --------------------------------------------------------------------

# the usual messages after "nothing offered: " (PATH: the hook's file)
sub nil_called  { qr/PATH:2: attempt to call $_[0] '$_[1]' \(a nil value\)/ }
sub nil_indexed { qr/PATH:2: attempt to index global '$_[0]' \(a nil value\)/ }
sub no_module   { qr/PATH:2: module "$_[0]" not found/ }
my $READ_ONLY = qr/PATH:2: attempt to change a read-only library table/;

# name => [ line 2, expected message after "nothing offered: " ]
my %escape = (
    io_open        => [ 'local f = io.open("/etc/passwd")',          nil_indexed('io') ],
    io_require     => [ 'local io = require "io"',                   no_module('io') ],
    os_execute     => [ 'os.execute("touch %%PREFIX%%/pwned")',      nil_called(field => 'execute') ],
    os_getenv      => [ 'local p = os.getenv("PATH")',               nil_called(field => 'getenv') ],
    os_exit        => [ 'os.exit(3)',                                nil_called(field => 'exit') ],
    os_remove      => [ 'os.remove("%%PREFIX%%/html/index.html")',   nil_called(field => 'remove') ],
    debug_getinfo  => [ 'local i = debug.getinfo(1)',                nil_indexed('debug') ],
    debug_require  => [ 'local d = require "debug"',                 no_module('debug') ],
    ffi_require    => [ 'local ffi = require "ffi"',                 no_module('ffi') ],
    ffi_global     => [ 'local c = ffi.C',                           nil_indexed('ffi') ],
    jit_require    => [ 'local jit = require "jit"',                 no_module('jit') ],
    jit_global     => [ 'jit.on()',                                  nil_indexed('jit') ],
    loadstring     => [ 'local f = loadstring("return 1")',          nil_called(global => 'loadstring') ],
    load           => [ 'local f = load(function() return nil end)', nil_called(global => 'load') ],
    loadfile       => [ 'local f = loadfile("/etc/passwd")',         nil_called(global => 'loadfile') ],
    dofile         => [ 'dofile("/etc/passwd")',                     nil_called(global => 'dofile') ],
    string_dump    => [ 'local b = string.dump(function() end)',     nil_called(field => 'dump') ],
    method_dump    => [ 'local b = ("").dump(function() end)',       nil_called(field => 'dump') ],
    package_loadlib => [ 'local f = package.loadlib("libc.so.6", "system")', nil_indexed('package') ],
    setfenv        => [ 'setfenv(1, {})',                            nil_called(global => 'setfenv') ],
    getfenv        => [ 'local e = getfenv(0)',                      nil_called(global => 'getfenv') ],
    print          => [ 'print("hello")',                            nil_called(global => 'print') ],
    collectgarbage => [ 'collectgarbage("stop")',                    nil_called(global => 'collectgarbage') ],
    newproxy       => [ 'local u = newproxy(true)',                  nil_called(global => 'newproxy') ],
    string_assign  => [ 'string.format = function() return "pwned" end', $READ_ONLY ],
    table_assign   => [ 'table.insert = nil',                        $READ_ONLY ],
    math_assign    => [ 'math.floor = nil',                          $READ_ONLY ],
    os_assign      => [ 'os.time = function() return 0 end',         $READ_ONLY ],
    native_assign  => [ 'cx_native.number = tostring',             $READ_ONLY ],
    string_mt      => [ 'local idx = getmetatable("").__index',      qr/PATH:2: attempt to index a boolean value/ ],
    string_setmt   => [ 'setmetatable(string, nil)',                 qr/PATH:2: cannot change a protected metatable/ ],
    cx_assign      => [ 'cx.survey = "other"',                       qr/PATH:2: attempt to change cx, which is read-only/ ],
    cx_deep_assign => [ 'cx.request.headers["x-a"] = "b"',           qr/PATH:2: attempt to change cx, which is read-only/ ],
    cx_setmt       => [ 'setmetatable(cx.visitor, nil)',             qr/PATH:2: cannot change a protected metatable/ ],
    cx_getmt       => [ 'local i = getmetatable(cx).__index',        qr/PATH:2: attempt to index a boolean value/ ],
);

my %hook;
for my $name (keys %escape) {
    $hook{"esc_$name"} = "return function(cx)\n  $escape{$name}[0]\n  return true\nend\n";
}

# the base every hook has, as t/lua/test_env.lua checks it of the test runner
my $BASE_HAS = do {
    my $f = cx_repo_root() . '/t/lua/lib/sandbox_base.lua';
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    <$fh>;
};

%hook = (%hook,
    # what a hook has: the base list (t/lua/lib/sandbox_base.lua, spliced
    # in so that it runs in this hook's environment), then more
    allowed => "local base_has = (function()\n$BASE_HAS\nend)()\n" . <<'LUA',
return function(cx)
  local bad = {}
  local function want(name, v, t) if type(v) ~= t then bad[#bad + 1] = name .. ":" .. type(v) end end
  base_has(want)
  want("math.huge", math.huge, "number")
  want("os.time()", os.time(), "number")
  want("os.date()", os.date("!%Y-%m-%d"), "string")
  want("os.clock()", os.clock(), "number")
  for _, n in ipairs({ "execute", "getenv", "exit", "remove", "rename", "tmpname", "setlocale" }) do
    want("os." .. n, os[n], "nil")
  end
  want("string.dump", string.dump, "nil")
  want("getmetatable('')", getmetatable(""), "boolean")
  -- no global of these names
  local env = { io = io, debug = debug, ffi = ffi, jit = jit, package = package, load = load,
                loadstring = loadstring, loadfile = loadfile, dofile = dofile, print = print,
                collectgarbage = collectgarbage, getfenv = getfenv, setfenv = setfenv,
                newproxy = newproxy, module = module, gcinfo = gcinfo }
  for k, v in pairs(env) do bad[#bad + 1] = k .. ":" .. type(v) end
  if #bad > 0 then error("sandbox differs: " .. table.concat(bad, " ")) end
  return true
end
LUA
    check_libs => <<'LUA',
return function(cx)
  local f = string.format("%d-%s", 7, "x")
  if f ~= "7-x" then error("string.format is not the real one: " .. tostring(f)) end
  if ("%d"):format(8) ~= "8" then error("(''):format is not the real one") end
  if math.floor(2.5) ~= 2 then error("math.floor is not the real one") end
  if cx_native.number(" 129.90 ") ~= 129.9 or cx_native.number("1e3") ~= nil then
    error("cx_native.number is not the real one")
  end
  return true
end
LUA
    glob_set => <<'LUA',
return function(cx)
  shared_secret = "from glob_set"
  require = function() return "hijacked" end
  tostring = function() return "hijacked" end
  return true
end
LUA
    glob_check => <<'LUA',
return function(cx)
  if shared_secret ~= nil then error("sees another hook's global: " .. shared_secret) end
  if tostring(1) ~= "1" then error("sees another hook's tostring") end
  if type(require("cx.util")) ~= "table" then error("sees another hook's require") end
  return true
end
LUA
    stale => <<'LUA',
local saved, saved_req, saved_hdrs
return function(cx)
  if saved == nil then
    saved, saved_req, saved_hdrs = cx, cx.request, cx.request.headers
    if saved_hdrs["x-probe"] ~= "one" then error("the first call reads another request") end
    return false
  end
  -- kept from the first call: they read this call, never the first one
  if saved_hdrs["x-probe"] ~= "two" then error("kept headers read " .. tostring(saved_hdrs["x-probe"])) end
  if saved_req.cookies["flavor"] ~= "b" then error("kept cookies read the first request") end
  if saved_req.args ~= "2" then error("kept request reads the first request") end
  if saved.visitor.id ~= cx.visitor.id then error("kept visitor reads another visitor") end
  return true
end
LUA
    # the instruction budget
    loop          => "return function(cx)\n  while true do end\nend\n",
    loop_pcall    => "return function(cx)\n  local n = 0\n  while true do\n    pcall(function() while true do n = n + 1 end end)\n  end\nend\n",
    loop_catch    => "return function(cx)\n  local ok = pcall(function() while true do end end)\n  return true\nend\n",
    loop_repcall  => "return function(cx)\n  for i = 1, 1000000 do pcall(error, 'x') end\n  return true\nend\n",
    budget_light  => "return function(cx)\n  local n = 0\n  for i = 1, 40000 do n = n + i end\n  return n > 0\nend\n",
    budget_heavy  => "return function(cx)\n  local n = 0\n  for i = 1, 400000 do n = n + i end\n  return n > 0\nend\n",
    # runtime errors
    err_index     => "return function(cx)\n  local y = cx.nothing.field\n  return true\nend\n",
    err_arith     => "return function(cx)\n  local n = cx.survey + 1\n  return true\nend\n",
    err_error     => "return function(cx)\n  error(\"custom failure \" .. cx.survey)\n  return true\nend\n",
    err_table     => "return function(cx)\n  error({ code = 1 })\n  return true\nend\n",
    err_stack     => "local function f(n) return 1 + f(n + 1) end\nreturn function(cx)\n  return f(1) > 0\nend\n",
    err_util      => "local util = require \"cx.util\"\nreturn function(cx)\n  local open = util.within_hours(cx.now, \"9h\", \"17:00\")\n  return open\nend\n",
    # rate limiting
    rl   => "return function(cx)\n  error(\"rl \" .. cx.request.args)\nend\n",
    rl_a => "return function(cx)\n  error(\"rl_a\")\nend\n",
    rl_b => "return function(cx)\n  error(\"rl_b\")\nend\n",
    # more attributes than are kept: the prompt goes out, a warning is logged
    many_attrs => "return function(cx)\n  local a = {}\n  for i = 1, 20 do a[\"k\" .. i] = i end\n"
                  . "  return true, a\nend\n",
    # many requests
    alloc => <<'LUA',
return function(cx)
  local t = {}
  for i = 1, 200 do
    t[i] = { i, tostring(i), cx.request.uri .. i, { n = i } }
  end
  local s = {}
  for i = 1, 50 do s[#s + 1] = string.format("%05d", i) end
  return #t == 200, { n = #t, s = table.concat(s, ""):sub(1, 20) }
end
LUA
    # patterns count their steps against the budget
    slow_pattern => "return function(cx)\n  local r = string.rep(\"a\", 300):find(\"a-a-a-b\")\n  return true\nend\n",
    slow_gsub    => "return function(cx)\n  local r = string.gsub(string.rep(\"(\", 5000), \"%b()\", \"\")\n  return true\nend\n",
    slow_caught  => "return function(cx)\n  local ok = pcall(string.match, string.rep(\"a\", 2000), \"(.-)(.-)(.-)b\")\n  return true\nend\n",
    fast_pattern => "return function(cx)\n  local ua = \"Mozilla/5.0 (X11; Linux x86_64) \" .. string.rep(\"x\", 4000)\n"
        . "  return not ua:find(\"[Bb]ot\") and ua:match(\"^Mozilla/(%d+)\") == \"5\"\nend\n",
    ok => "return function(cx)\n  return true\nend\n",
);

# The hooks here end by their instruction budget or memory cap; the time
# limit is t/62-lua-time.t's, and a loaded test machine must not cut the
# healthy but busy ones (the allocating hook below runs 3000 times).
my $ng = hooks_nginx(\%hook, "cx_test_clock on;\n    cx_lua_time 200ms;");

my $P = $ng->prefix;

# ---- what there is ------------------------------------------------------------

subtest 'the sandbox gives what the README says, and nothing more' => sub {
    my $from = $ng->log_size;
    my $r = $ng->get('/allowed/');
    is cx_offered($r), 's1', 'every check passed (the hook offers)'
        or diag join "\n", $ng->hook_lines('allowed.lua', $from);
    is cx_offered($ng->get('/check_libs/')), 's1', 'the libraries are the real ones';
    is cx_offered($ng->get('/ok/')), 's1', 'a plain hook offers';
};

# ---- escapes -------------------------------------------------------------------

subtest 'escapes are refused, each with its line' => sub {
    for my $name (sort keys %escape) {
        my $re = $escape{$name}[1];
        my $path = "$P/conf/hooks/esc_$name.lua";
        my $src = "$re";
        $src =~ s/PATH/\Q$path\E/;
        refused_ok($ng, "/esc_$name/", "esc_$name.lua", qr/$src/, $name);
    }
    ok !-e "$P/pwned", 'os.execute ran nothing';
    ok -e "$P/html/index.html", 'os.remove removed nothing';
};

subtest 'assignments to library tables change nothing for another hook' => sub {
    my $from = $ng->log_size;
    $ng->get("/$_/") for qw(esc_string_assign esc_table_assign esc_math_assign esc_os_assign esc_string_setmt
                            esc_native_assign);
    is cx_offered($ng->get('/check_libs/')), 's1', 'another hook still sees the real string.format and math.floor'
        or diag join "\n", $ng->hook_lines('check_libs.lua', $from);
    is cx_offered($ng->get('/allowed/')), 's1', 'and the whole sandbox as before'
        or diag join "\n", $ng->hook_lines('allowed.lua', $from);
};

subtest "a hook's globals are its own" => sub {
    my $from = $ng->log_size;
    is cx_offered($ng->get('/glob_set/')), 's1', 'glob_set: sets globals (its own), offers';
    is cx_offered($ng->get('/glob_check/')), 's1', 'glob_check: sees none of them'
        or diag join "\n", $ng->hook_lines('glob_check.lua', $from);
    is cx_offered($ng->get('/glob_set/')), 's1', 'glob_set again';
    is cx_offered($ng->get('/check_libs/')), 's1', 'check_libs: tostring/require untouched';
};

subtest 'a cx table kept from an earlier call reads only the current call' => sub {
    my $from = $ng->log_size;
    is cx_offered($ng->get('/stale/?1', Cookie => 'flavor=a', 'X-Probe' => 'one')), '', 'first call keeps cx';
    is scalar($ng->hook_lines('stale.lua', $from)), 0, 'it read its own request';
    is cx_offered($ng->get('/stale/?2', Cookie => 'flavor=b', 'X-Probe' => 'two')), 's1',
        'second call: the kept tables read the second request'
        or diag join "\n", $ng->hook_lines('stale.lua', $from);
};

# ---- the instruction budget ---------------------------------------------------------

subtest 'instruction budget' => sub {
    my $t = time;
    refused_ok($ng, '/loop/', 'loop.lua', qr/\Q$P\E\/conf\/hooks\/loop\.lua:2: instruction budget exceeded/,
        'while true do end');
    cmp_ok time - $t, '<', 2, 'an infinite loop ends at once';
    refused_ok($ng, '/loop_pcall/', 'loop_pcall.lua',
        qr/\Q$P\E\/conf\/hooks\/loop_pcall\.lua:\d+: instruction budget exceeded/, 'a loop inside pcall, in a loop');
    refused_ok($ng, '/loop_catch/', 'loop_catch.lua',
        qr/\Q$P\E\/conf\/hooks\/loop_catch\.lua:\d+: instruction budget exceeded/, 'the budget error caught by pcall');
    # an error thrown and caught costs a microsecond or more: the 10ms of
    # cx_lua_time may run out before the instructions do (t/62-lua-time.t)
    refused_ok($ng, '/loop_repcall/', 'loop_repcall.lua',
        qr/\Q$P\E\/conf\/hooks\/loop_repcall\.lua:\d+: (?:instruction budget exceeded|time budget exceeded \(cx_lua_time\))/,
        'a million pcalls');
    cmp_ok time - $t, '<', 5, 'all of them in a few seconds';

    for my $i (1 .. 5) {
        is cx_offered($ng->get('/budget_light/')), 's1', "40000 iterations, call $i: within the budget";
    }
    refused_ok($ng, '/budget_heavy/', 'budget_heavy.lua',
        qr/\Q$P\E\/conf\/hooks\/budget_heavy\.lua:3: instruction budget exceeded/, '400000 iterations');
    is cx_offered($ng->get('/budget_light/')), 's1', 'the budget is per call: light hook fine afterwards';
    is cx_offered($ng->get('/ok/')), 's1', 'other hooks fine afterwards';
};

# ---- runtime errors ---------------------------------------------------------------

subtest 'runtime errors' => sub {
    refused_ok($ng, '/err_index/', 'err_index.lua',
        qr/\Q$P\E\/conf\/hooks\/err_index\.lua:2: attempt to index field 'nothing' \(a nil value\)/, 'index nil');
    refused_ok($ng, '/err_arith/', 'err_arith.lua',
        qr/\Q$P\E\/conf\/hooks\/err_arith\.lua:2: attempt to perform arithmetic on .*string/, 'arithmetic on a string');
    refused_ok($ng, '/err_error/', 'err_error.lua',
        qr/\Q$P\E\/conf\/hooks\/err_error\.lua:2: custom failure s1$|\Q$P\E\/conf\/hooks\/err_error\.lua:2: custom failure s1 while/, 'error("...")');
    refused_ok($ng, '/err_table/', 'err_table.lua', qr/error object is not a string/, 'error({})');
    refused_ok($ng, '/err_stack/', 'err_stack.lua', qr/\Q$P\E\/conf\/hooks\/err_stack\.lua:1: stack overflow/,
        'endless recursion');
    refused_ok($ng, '/err_util/', 'err_util.lua',
        qr/\Q$P\E\/conf\/hooks\/err_util\.lua:3: cx\.util: bad time of day "9h"/,
        'cx.util blames the hook line for a bad argument');
    is cx_offered($ng->get('/ok/')), 's1', 'other hooks fine afterwards';
};

# ---- one line per second --------------------------------------------------------------

# The limiter counts the request's own time, so the test clock steps the
# seconds (cx_test_clock, X-CX-Test-Now): no sleeping, nothing to race.
sub at { ('X-CX-Test-Now' => $_[0]) }

subtest 'one line per second per hook, then "(more lines suppressed)"' => sub {
    my $t0 = 1900000000;
    my $from = $ng->log_size;
    my $r1 = $ng->get('/rl/?first', at($t0));
    my $r2 = $ng->get('/rl/?second', at($t0));
    is_deeply [ map { cx_offered($_) } $r1, $r2 ], [ '', '' ], 'two failures, no prompt';
    my @l = $ng->hook_lines('rl.lua', $from);
    is scalar(@l), 1, 'two failures in the same second: one line';
    like $l[0] // '', qr/rl\.lua:2: rl first(?! \(more)/, 'it is the first one';

    my $r3 = $ng->get('/rl/?later', at($t0 + 1));
    is $r3->{body}, $PAGE, 'third failure: page served';
    @l = $ng->hook_lines('rl.lua', $from);
    is scalar(@l), 2, 'a second later: a new line';
    like $l[1] // '', qr/rl\.lua:2: rl later \(more lines suppressed\)/, 'it says lines were suppressed';

    $ng->get('/rl/?quiet', at($t0 + 2));
    @l = $ng->hook_lines('rl.lua', $from);
    is scalar(@l), 3, 'another second later: a line';
    unlike $l[2] // '', qr/suppressed/, 'nothing suppressed since';

    $from = $ng->log_size;
    $ng->get('/rl_a/', at($t0 + 3));
    $ng->get('/rl_b/', at($t0 + 3));
    is scalar($ng->hook_lines('rl_a.lua', $from)) + scalar($ng->hook_lines('rl_b.lua', $from)), 2,
        'two hooks failing in the same second: one line each';
};

subtest '"more attributes than are kept": one line per second per hook, not per request' => sub {
    my $t0 = 1900000100;
    my $from = $ng->log_size;
    my @r = map { $ng->get('/many_attrs/', at($t0)) } 1 .. 5;
    is_deeply [ map { cx_offered($_) } @r ], [ ('s1') x 5 ], 'five requests: the prompt offered every time';
    my @l = grep { /more attributes than are kept/ } $ng->hook_lines('many_attrs.lua', $from);
    is scalar(@l), 1, 'five requests in the same second: one line';
    like $l[0] // '', qr/\[warn\] .*many_attrs\.lua" returned more attributes than are kept \(16, 256 bytes in all\): the rest are dropped(?: while |$)/,
        'the line, nothing said suppressed';

    $ng->get('/many_attrs/', at($t0 + 1)) for 1 .. 3;
    @l = grep { /more attributes than are kept/ } $ng->hook_lines('many_attrs.lua', $from);
    is scalar(@l), 2, 'a second later, three more: one more line';
    like $l[1] // '', qr/the rest are dropped \(more lines suppressed\)(?: while |$)/, 'it says lines were suppressed';

    $ng->get('/many_attrs/', at($t0 + 2));
    $ng->get('/many_attrs/', at($t0 + 3));
    @l = grep { /more attributes than are kept/ } $ng->hook_lines('many_attrs.lua', $from);
    is scalar(@l), 4, 'one request in each of the next two seconds: a line each';
    like $l[2] // '', qr/\(more lines suppressed\)/, 'the first says the two of its second before were';
    unlike $l[3] // '', qr/suppressed/, 'the second: nothing suppressed since';
};

# ---- many requests -------------------------------------------------------------------

sub vm_rss {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+) kB/ }
    return undef;
}

subtest '3000 requests through an allocating hook: VmRSS stays flat' => sub {
    plan skip_all => 'no /proc' unless -r "/proc/$$/status";
    my ($pid) = $ng->worker_pids;
    my $cookie;
    my ($rss500, $bad) = (undef, 0);
    for my $i (1 .. 3000) {
        my $r = $ng->get('/alloc/', defined $cookie ? (Cookie => "cx=$cookie") : ());
        $cookie //= cx_cookie_from($r, 'cx');
        $bad++ unless $r->{status} == 200 && cx_offered($r) eq 's1';
        $rss500 = vm_rss($pid) if $i == 500;
    }
    my $rss3000 = vm_rss($pid);
    is $bad, 0, 'every response offered the prompt';
    is_deeply [ $ng->worker_pids ], [ $pid ], 'the same worker all along';
    ok defined $rss500 && defined $rss3000, "VmRSS read ($rss500 kB, $rss3000 kB)";
    SKIP: {
        skip "make asan: ASan's quarantine keeps freed memory, RSS grows", 1 if $ENV{CX_ASAN};
        cmp_ok $rss3000 - $rss500, '<', 5 * 1024, 'VmRSS growth between request 500 and 3000 < 5 MB';
    }
};

# ---- patterns count their steps --------------------------------------------------------

subtest 'a backtracking pattern is stopped by the budget, also inside pcall' => sub {
    my $t = time;
    refused_ok($ng, '/slow_pattern/', 'slow_pattern.lua',
        qr/\Q$P\E\/conf\/hooks\/slow_pattern\.lua:2: instruction budget exceeded \(in a pattern\)/,
        'a-a-a-b over 300 characters');
    refused_ok($ng, '/slow_gsub/', 'slow_gsub.lua',
        qr/\Q$P\E\/conf\/hooks\/slow_gsub\.lua:2: instruction budget exceeded \(in a pattern\)/,
        '%b() over 5000 open parentheses, in gsub');
    refused_ok($ng, '/slow_caught/', 'slow_caught.lua',
        qr/\Q$P\E\/conf\/hooks\/slow_caught\.lua:\d+: instruction budget exceeded/,
        'a pattern inside pcall: the budget is spent all the same');
    cmp_ok time - $t, '<', 2, 'all of them at once';
    is cx_offered($ng->get('/fast_pattern/')), 's1', 'an ordinary pattern over a 4 KB header offers';
    is cx_offered($ng->get('/ok/')), 's1', 'other hooks fine afterwards';
};

# ---- rawset on the library tables (own nginx: a success would poison the others) ----

subtest 'rawset on a library table: refused, or at least invisible to another hook' => sub {
    my $n = hooks_nginx({
        string_rawset => "return function(cx)\n  rawset(string, \"format\", function() return \"pwned\" end)\n  return true\nend\n",
        math_rawset   => "return function(cx)\n  rawset(math, \"floor\", function() return 12345 end)\n  return true\nend\n",
        check_libs    => $hook{check_libs},
    });
    my $np = $n->prefix;
    is cx_offered($n->get('/check_libs/')), 's1', 'before: check_libs offers';
    refused_ok($n, '/string_rawset/', 'string_rawset.lua', qr/\Q$np\E\/conf\/hooks\/string_rawset\.lua:2: /,
        'rawset(string, "format", f)');
    refused_ok($n, '/math_rawset/', 'math_rawset.lua', qr/\Q$np\E\/conf\/hooks\/math_rawset\.lua:2: /,
        'rawset(math, "floor", f)');
    my $from = $n->log_size;
    is cx_offered($n->get('/check_libs/')), 's1', 'after: another hook sees the real string.format and math.floor'
        or diag join "\n", $n->hook_lines('check_libs.lua', $from);
};

# ---- xpcall whose handler loops (own nginx: a hang takes the worker) ----------------

subtest 'xpcall with a looping error handler' => sub {
    my $n = hooks_nginx({
        loop_xpcall => "return function(cx)\n  xpcall(function() while true do end end, function(e) while true do end end)\n  return true\nend\n",
        xpcall_handler_loop => "return function(cx)\n  xpcall(function() error(\"x\") end, function(e) while true do end end)\n  return true\nend\n",
        ok => $hook{ok},
    });
    my $np = $n->prefix;
    my $t = time;
    refused_ok($n, '/xpcall_handler_loop/', 'xpcall_handler_loop.lua',
        qr/\Q$np\E\/conf\/hooks\/xpcall_handler_loop\.lua:\d+: /, 'error(), then a handler that loops');
    refused_ok($n, '/loop_xpcall/', 'loop_xpcall.lua', qr/\Q$np\E\/conf\/hooks\/loop_xpcall\.lua:\d+: /,
        'a loop, then a handler that loops');
    cmp_ok time - $t, '<', 4, 'both end at once';
    my $r = $n->req(method => 'GET', path => '/ok/', timeout => 3);
    is cx_offered($r), 's1', 'the worker still serves (another hook offers)';
};

# ---- the memory cap ----------------------------------------------------------------------

my %mhook = (
    bomb_table  => "return function(cx)\n  local t, i = {}, 0\n  while true do i = i + 1; t[i] = { i, i, i } end\nend\n",
    bomb_string => "return function(cx)\n  local s = string.rep(\"x\", 4 * 1024 * 1024)\n  return true\nend\n",
    bomb_concat => "return function(cx)\n  local s = \"x\"\n  while true do s = s .. s end\nend\n",
    ok          => "return function(cx)\n  return true\nend\n",
    # a hook that drops about 400 KB of garbage on every call: the collector's
    # pause is sized to the cap, so that garbage never fills it
    churn       => "return function(cx)\n  local t = {}\n  for i = 1, 3000 do t[i] = string.rep(\"c\", 100) .. i end\n  return true\nend\n",
    # a hook that keeps what it allocates, a little more on every call
    grow        => "local keep = {}\nreturn function(cx)\n  keep[#keep + 1] = string.rep(\"g\", 100 * 1024) .. #keep\n  return true\nend\n",
    # a hook that fills the VM to the last byte, catching every memory error
    fill        => <<'LUA',
local keep = {}
return function(cx)
  local function add(size) keep[#keep + 1] = string.rep("f", size) .. #keep end
  for _, size in ipairs({ 65536, 4096, 256, 16, 1 }) do
    while pcall(add, size) do end
  end
  return true
end
LUA
);

# An nginx with one location /NAME/ per hook (survey s1), plus extra http-level lines.
sub hooks_nginx {
    my ($hooks, $extra) = @_;
    return cx_hooks_nginx($hooks, page => $PAGE, extra => $extra);
}

# the budgets out of the way (a table bomb near the cap can take longer than
# the default 10ms of cx_lua_time): the memory cap is what stops these
sub memory_nginx { hooks_nginx(\%mhook, "cx_lua_budget 100000000;\n    cx_lua_memory 2m;\n    cx_lua_time 1s;") }

subtest 'memory bombs end with "not enough memory (cx_lua_memory)", the VM recovers' => sub {
    my $m = memory_nginx();
    my $mp = $m->prefix;
    for my $name (qw(bomb_table bomb_string bomb_concat bomb_table)) {
        my $t = time;
        refused_ok($m, "/$name/", "$name.lua", qr/.*not enough memory \(cx_lua_memory\)/, $name);
        cmp_ok time - $t, '<', 5, "$name: ends in seconds";
        my ($line) = reverse $m->hook_lines("$name.lua");
        # a bomb that fills memory within a few instructions leaves no line
        # to report (memory errors carry none): the file is named then
        like $line // '', qr/nothing offered: \Q$mp\E\/conf\/hooks\/\Q$name\E\.lua(?::\d+)?: /,
            "$name: the line has the file (and the line when known)";
        is cx_offered($m->get('/ok/')), 's1', "after $name: another hook offers";
        sleep 1.05;    # the next bomb of the same hook is logged too
    }
};

subtest 'a hook that drops 400 KB of garbage a call, under a 2 MB cap: always offers' => sub {
    my $m = memory_nginx();
    my $offers = 0;
    for my $i (1 .. 60) {
        $offers++ if cx_offered($m->get('/churn/')) eq 's1';
    }
    is $offers, 60, '60 calls, 60 offers: the garbage never filled the cap';
    is scalar($m->hook_lines('churn.lua')), 0, 'no hook failure logged';
};

subtest 'a hook whose kept data grows on every call: pages served, worker alive' => sub {
    my $m = memory_nginx();
    my @pids = $m->worker_pids;
    my ($bad, $offers, $fails) = (0, 0, 0);
    for my $i (1 .. 40) {
        my $r = $m->get('/grow/');
        if ($r->{status} != 200 || $r->{error}) { $bad++; next }
        cx_offered($r) eq 's1' ? $offers++ : $fails++;
        $bad++ unless cx_offered($r) eq 's1' || $r->{body} eq $PAGE;
    }
    is $bad, 0, '40 calls: every page served (200, intact)';
    cmp_ok $offers, '>', 5, "offered while memory lasts ($offers)";
    cmp_ok $fails, '>', 0, "then nothing offered ($fails)";
    ok((grep { /grow\.lua" failed, nothing offered: .*not enough memory/ } split /\n/, $m->error_log),
        'the memory failure logged');
    is_deeply [ $m->worker_pids ], \@pids, 'the same worker (no crash)';
    unlike $m->error_log, qr/PANIC|exited on signal|exited with code/, 'no Lua panic, no worker exit';
    my $r = $m->get('/ok/');
    is $r->{status}, 200, 'another hook: page served';
};

subtest 'a hook that fills the VM inside pcall: pages served, worker alive' => sub {
    my $m = memory_nginx();
    my @pids = $m->worker_pids;
    my @res = map { $m->get('/fill/') } 1 .. 2;
    push @res, $m->get('/ok/');
    is_deeply [ map { $_->{status} } @res ], [ 200, 200, 200 ], 'fill, fill, ok: all 200';
    ok !(grep { $_->{error} } @res), 'no connection cut';
    is_deeply [ $m->worker_pids ], \@pids, 'the same worker (no crash)';
    unlike $m->error_log, qr/PANIC|exited on signal|exited with code/, 'no Lua panic, no worker exit';
};

done_testing;
