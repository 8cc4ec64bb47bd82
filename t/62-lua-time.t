#!/usr/bin/perl
# Lua targeting hooks, bounded in time (README: Lua targeting hooks; issue 10,
# part 2): a hook that loops over C string functions must not hold its
# worker, and every other request on it, for seconds.
#
# Before: only instructions and pattern steps counted, and LuaJIT's string
# functions ran unmetered inside one instruction: `big:upper()` on 4 MB in
# a loop held a worker for 57 s, `:reverse()` 38 s, a 4 MB table.concat
# 3.8 s, static files on the same worker waiting with it.
#
# Now (src/ngx_cx_lua_bytes.c, src/ngx_http_cx_lua.c):
#   - each call of rep, upper, lower, reverse, sub, format, concat, sort,
#     insert and remove charges the bytes it touches to the instruction
#     budget (64 bytes an instruction) and checks the deadline;
#   - patterns look at the deadline every 65536 steps, and a plain find
#     counts the bytes it compares as steps;
#   - cx_lua_time (default 10ms): a wall-clock deadline per call, checked by
#     the count hook every 1000 instructions and by those functions;
#   - a string.rep larger than cx_lua_memory is refused before any work.
#
# Each hostile hook runs in two servers, one worker each: with the default
# budget (the bytes stop it: "instruction budget exceeded (in a string
# function)") and with the largest budget, cx_lua_budget 100000000 (only
# the deadline stops it: "time budget exceeded (cx_lua_time)"). While the
# hooked request runs, a static file is asked of the same worker; it must
# be answered within $BOUND seconds. The worst wait is printed (note).
#
# Also: nginx -t for cx_lua_time; the byte budget lets an ordinary hook
# through.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

plan skip_all => 'ngx_cx module not built (run make)' unless cx_have_module();

my $PAGE   = "<html><head><title>t</title></head><body>\n<p>page</p>\n</body></html>\n";
my $STATIC = "static file\n" x 100;
# after the message: maybe "(more lines suppressed)", then nginx's " while ..."
my $END    = qr/(?: \(more lines suppressed\))?(?: while |$)/;
# seconds a static request may wait behind a hook: fixed, 10-65 ms; unbounded
# (the guard broken on purpose), 0.5 s and more; 57 s before any of it
my $BOUND  = 0.4;
my $ROUNDS = 8;      # hooked requests per hook and server, each with a static one

# name => [ hook, line of the error, message under the default budget ]
my %hostile = (
    upper   => [ "return function(cx)\n  local big = string.rep(\"y\", 4e6)\n"
                 . "  for i = 1, 1e9 do local s = big:upper() end\n  return true\nend\n", 3 ],
    reverse => [ "return function(cx)\n  local big = string.rep(\"y\", 4e6)\n"
                 . "  for i = 1, 1e9 do local s = big:reverse() end\n  return true\nend\n", 3 ],
    concat  => [ "return function(cx)\n  local t = {}\n  for i = 1, 64 do t[i] = string.rep(\"z\", 65536) end\n"
                 . "  for i = 1, 1e9 do local s = table.concat(t) end\n  return true\nend\n", 4 ],
    sub     => [ "return function(cx)\n  local big = string.rep(\"y\", 4e6)\n"
                 . "  for i = 1, 1e9 do local s = big:sub(2) end\n  return true\nend\n", 3 ],
    format  => [ "return function(cx)\n  local big = string.rep(\"y\", 4e6)\n"
                 . "  for i = 1, 1e9 do local s = string.format(\"%s\", big) end\n  return true\nend\n", 3 ],
    rep     => [ "return function(cx)\n  for i = 1, 1e9 do local s = string.rep(\"x\", 4e6) end\n"
                 . "  return true\nend\n", 2 ],
    sort    => [ "local t = {}\nfor i = 1, 20000 do t[i] = (i * 7919) % 20000 end\n"
                 . "return function(cx)\n  for i = 1, 1e9 do table.sort(t) end\n  return true\nend\n", 4 ],
    insert  => [ "local t = {}\nfor i = 1, 20000 do t[i] = i end\n"
                 . "return function(cx)\n  for i = 1, 1e9 do table.insert(t, 1, i); table.remove(t, 1) end\n"
                 . "  return true\nend\n", 4 ],
    # one instruction that copies 4 MB into a new string every time
    cat_new => [ "return function(cx)\n  local big = string.rep(\"y\", 4e6)\n"
                 . "  for i = 1, 1e9 do local s = big .. i end\n  return true\nend\n", 3 ],
    cat_same => [ "return function(cx)\n  local big = string.rep(\"y\", 4e6)\n"
                 . "  for i = 1, 1e9 do local s = big .. \"a\" end\n  return true\nend\n", 3 ],
    # one call: a plain find of "aaa...ab" over 4 MB of "a" compares 4e9 bytes
    find_plain => [ "return function(cx)\n  local big = string.rep(\"a\", 4e6)\n"
                 . "  local r = big:find(string.rep(\"a\", 1000) .. \"b\", 1, true)\n  return true\nend\n", 3 ],
    # one call: a pattern that backtracks (2000^3 steps)
    backtrack => [ "return function(cx)\n  local s = string.rep(\"a\", 2000)\n"
                 . "  local r = s:match(\"(.-)(.-)(.-)b\")\n  return true\nend\n", 3 ],
    # one instruction that compares two 4 MB strings (no C function, no allocation)
    cmp_lt => [ "return function(cx)\n  local a, b = string.rep(\"y\", 4e6) .. \"a\", string.rep(\"y\", 4e6) .. \"b\"\n"
                 . "  for i = 1, 1e9 do local s = a < b end\n  return true\nend\n", 3 ],
    # the control: no C function at all
    loop    => [ "return function(cx)\n  while true do end\nend\n", 2 ],
);

my %benign = (
    # a huge rep: refused before any work, the memory error at its line
    rep_huge => "return function(cx)\n  local s = string.rep(\"x\", 2^30)\n  return true\nend\n",
    # an ordinary hook that uses the wrapped functions: within every budget
    ordinary => <<'LUA',
local util = require "cx.util"
return function(cx)
  local ua = (cx.request.headers["user-agent"] or ""):lower()
  local parts = {}
  for i = 1, 200 do parts[#parts + 1] = string.format("%03d", i):reverse():upper() end
  table.sort(parts)
  table.insert(parts, 1, "first")
  local s = table.concat(parts, ","):sub(1, 40) .. string.rep("-", 1000)
  local c = util.parse_cookies("a=1; b=" .. string.rep("v", 3000) .. "; c=3")
  return #s == 1040 and c.c == "3" and not ua:find("bot", 1, true), { s = s:sub(1, 20) }
end
LUA
    ok => "return function(cx)\n  return true\nend\n",
);

# An nginx with one location /NAME/ per hook, hostile and benign, and the
# static file, plus extra http-level lines.
sub server {
    my ($extra) = @_;
    return cx_hooks_nginx({ (map { ($_ => $hostile{$_}[0]) } keys %hostile), %benign },
        page => $PAGE, extra => $extra, files => { 'html/static.txt' => $STATIC },
        locations => "        location = /static.txt { }\n");
}

sub offered {
    my ($r) = @_;
    return '' unless $r->{status} == 200;
    return $r->{body} =~ /id="cx-prompt"/ ? 's1' : '';
}

# Sends GET path (HTTP/1.0, so no chunking) and returns the socket unread.
sub send_get {
    my ($ng, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ng->port,
        Proto => 'tcp', Timeout => 5) or die "connect: $!";
    binmode $s;
    syswrite $s, "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    return $s;
}

# Reads the whole response (until the server closes), at most $timeout s.
sub read_response {
    my ($s, $timeout) = @_;
    my ($raw, $deadline, $sel) = ('', time + $timeout, IO::Select->new($s));
    while (1) {
        my $left = $deadline - time;
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread $s, my $buf, 65536;
        last unless $n;
        $raw .= $buf;
    }
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d{3})};
    return { status => $status // 0, body => $body // '' };
}

# Runs the hook $ROUNDS times, each time with a static request sent right
# behind it; returns the worst static wait and the worst hooked request.
sub hostile_ok {
    my ($ng, $name, $re, $what) = @_;
    my $from = $ng->log_size;
    my @pids = $ng->worker_pids;
    my ($worst, $worst_hook, $bad_static, $bad_hook) = (0, 0, 0, 0);
    for my $round (1 .. $ROUNDS) {
        my $t0 = time;
        my $h = send_get($ng, "/$name/");
        my $ts = time;
        my $r = $ng->req(method => 'GET', path => '/static.txt', timeout => 30);
        my $wait = time - $ts;
        $worst = $wait if $wait > $worst;
        $bad_static++ unless $r->{status} == 200 && $r->{body} eq $STATIC;
        my $hr = read_response($h, 30);
        my $took = time - $t0;
        $worst_hook = $took if $took > $worst_hook;
        $bad_hook++ unless $hr->{status} == 200 && $hr->{body} eq $PAGE;
    }
    is $bad_static, 0, "$what: every static request answered (200, intact)";
    cmp_ok $worst, '<', $BOUND, "$what: static requests waited < ${BOUND}s behind the hook";
    is $bad_hook, 0, "$what: the hooked page served every time (200, byte-identical, no prompt)";
    note sprintf "%-32s worst static wait %6.1f ms, worst hooked request %6.1f ms",
        $what, $worst * 1000, $worst_hook * 1000;
    my @l;
    wait_for { @l = $ng->hook_lines("$name.lua", $from) } 2;
    cmp_ok scalar(@l), '>=', 1, "$what: logged";
    my $p = $ng->prefix;
    my @wrong = grep { !/\[error\] .*cx: hook "\Q$p\E\/conf\/hooks\/\Q$name\E\.lua" failed, nothing offered: $re/ } @l;
    is scalar(@wrong), 0, "$what: every line names file:line and the budget" or diag join "\n", @wrong;
    is_deeply [ $ng->worker_pids ], \@pids, "$what: the same worker";
    return $worst;
}

my %worst;

# ---- nginx -t ---------------------------------------------------------------------------

subtest 'cx_lua_time: nginx -t' => sub {
    my $files = { 'conf/hooks/ok.lua' => $benign{ok} };
    my $conf = sub {
        my ($extra) = @_;
        return <<"CONF";
    cx_store %%PREFIX%%/cxdata;
    cx_survey s1 { type nps; question "Q?"; }
    $extra
    server {
        listen 127.0.0.1:%%PORT%%;
        location /cx/ { cx_endpoint; }
        location / { cx_touchpoint t; cx_prompt s1; cx_target_by_lua_file hooks/ok.lua; }
    }
CONF
    };
    for my $c ([ 'cx_lua_time 1ms;', 1 ], [ 'cx_lua_time 10ms;', 1 ], [ 'cx_lua_time 1;', 1 ],
               [ 'cx_lua_time 1s;', 1 ], [ 'cx_lua_time 1000ms;', 1 ],
               [ 'cx_lua_time 0;', 0 ], [ 'cx_lua_time 0ms;', 0 ], [ 'cx_lua_time 1001ms;', 0 ],
               [ 'cx_lua_time 2s;', 0 ], [ 'cx_lua_time 250;', 0 ], [ 'cx_lua_time fast;', 0 ], [ 'cx_lua_time -5ms;', 0 ]) {
        my ($line, $want) = @$c;
        my ($ok, $out) = cx_test_config($conf->($line), files => $files);
        is $ok ? 1 : 0, $want, "$line: nginx -t " . ($want ? 'passes' : 'fails') or diag $out;
        if (!$want) {
            my ($v) = $line =~ /cx_lua_time (\S+);/;
            like $out, qr/\[emerg\] .*cx_lua_time "\Q$v\E" is not a time from 1ms to 1s in \S+nginx\.conf:\d+/,
                "$line: said so, with the file and line";
        }
    }
    my ($ok, $out) = cx_test_config($conf->("cx_lua_time 5ms;\n    cx_lua_time 6ms;"), files => $files);
    ok !$ok, 'cx_lua_time twice: nginx -t fails';
    like $out, qr/"cx_lua_time" directive is duplicate/, 'duplicate: said so';
};

# ---- the default budget: the bytes stop the hooks ------------------------------------------

my $ng = server('');
my $P = $ng->prefix;

subtest 'ordinary hooks: within every budget' => sub {
    for (1 .. 3) {
        my $from = $ng->log_size;
        is offered($ng->get('/ordinary/', 'User-Agent' => 'Mozilla/5.0')), 's1', 'ordinary hook offers'
            or diag join "\n", $ng->hook_lines('ordinary.lua', $from);
    }
};

subtest 'default budget: each hostile hook is stopped, static files are served meanwhile' => sub {
    for my $name (sort keys %hostile) {
        my $line = $hostile{$name}[1];
        my $re = $name eq 'loop'
            ? qr/\Q$P\E\/conf\/hooks\/loop\.lua:2: instruction budget exceeded/
            : qr/\Q$P\E\/conf\/hooks\/\Q$name\E\.lua:(?:$line: instruction budget exceeded(?: \(in a (?:string function|pattern)\))?|\d+: time budget exceeded \(cx_lua_time\))$END/;
        $worst{"default budget: $name"} = hostile_ok($ng, $name, $re, "default budget: $name");
    }
    is offered($ng->get('/ok/')), 's1', 'another hook offers afterwards';
};

subtest 'string.rep larger than cx_lua_memory: refused before any work, with its line' => sub {
    my $from = $ng->log_size;
    my $t = time;
    my $r = $ng->get('/rep_huge/');
    my $took = time - $t;
    is $r->{status}, 200, 'status 200';
    is $r->{body}, $PAGE, 'page byte-identical, no prompt';
    cmp_ok $took, '<', $BOUND, 'at once';
    my @l;
    wait_for { @l = $ng->hook_lines('rep_huge.lua', $from) } 2;
    is scalar(@l), 1, 'one line';
    like $l[0] // '', qr/failed, nothing offered: \Q$P\E\/conf\/hooks\/rep_huge\.lua:2: not enough memory \(cx_lua_memory\)$END/,
        'the line: file:line, not enough memory (cx_lua_memory)';
};

# ---- the largest budget: only the deadline stops them ----------------------------------------

my $nt = server('cx_lua_budget 100000000;');
my $PT = $nt->prefix;

subtest 'cx_lua_budget 100000000: the deadline (cx_lua_time, 10ms) stops each hostile hook' => sub {
    is offered($nt->get('/ordinary/', 'User-Agent' => 'Mozilla/5.0')), 's1', 'ordinary hook offers';
    for my $name (sort keys %hostile) {
        my $line = $hostile{$name}[1];
        my $re = qr/\Q$PT\E\/conf\/hooks\/\Q$name\E\.lua:\d+: time budget exceeded \(cx_lua_time\)$END/;
        $worst{"deadline: $name"} = hostile_ok($nt, $name, $re, "deadline: $name");
    }
    is offered($nt->get('/ok/')), 's1', 'another hook offers afterwards';
};

subtest 'the deadline inside pcall: caught once, raised again' => sub {
    my $n = cx_hooks_nginx({
        caught => "return function(cx)\n  local big = string.rep(\"y\", 4e6)\n"
            . "  while true do pcall(function() while true do local s = big:upper() end end) end\nend\n",
    }, page => $PAGE, extra => "cx_lua_budget 100000000;\n    cx_lua_time 20ms;",
        files => { 'html/static.txt' => $STATIC }, locations => "        location = /static.txt { }\n");
    my $np = $n->prefix;
    $worst{'deadline 20ms: upper in pcall'} = hostile_ok($n, 'caught',
        qr/\Q$np\E\/conf\/hooks\/caught\.lua:3: time budget exceeded \(cx_lua_time\)$END/,
        'deadline 20ms: upper in pcall');
};

diag sprintf "worst static wait behind a hostile hook: %s",
    join ', ', map { sprintf '%s %.1f ms', $_, $worst{$_} * 1000 } sort keys %worst
    if $ENV{CX_TIME_REPORT};

done_testing;
