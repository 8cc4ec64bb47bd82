#!/usr/bin/perl
#
# The Lua test runner (build/luarun, t/lua/runner.c) runs tests in the
# hooks' own sandbox (src/ngx_cx_lua_sandbox.c), not in a copy of it:
#
#   - t/lua/test_env.lua passes: the environment is the one
#     t/61-lua-sandbox.t asserts in nginx; in particular no xpcall and no
#     rawset, in the test file and in the modules it requires;
#   - the runner's limits are the sandbox's: an endless loop inside pcall
#     ends with "instruction budget exceeded" (-b), a loop of string
#     comparisons with "time budget exceeded (cx_lua_time)" (-t), a growing
#     table with a memory error (-m), a string.rep beyond the cap with
#     "not enough memory (cx_lua_memory)".

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use File::Temp qw(tempdir);

my $root = cx_repo_root();
my $LUARUN = "$root/build/luarun";

plan skip_all => "build/luarun not built (make $LUARUN)" unless -x $LUARUN;

# runs luarun with @opts on the Lua source $src: (exit status, stderr+stdout)
my $dir = tempdir('cx63-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $n = 0;

sub luarun {
    my ($src, @opts) = @_;
    my $file = "$dir/t" . ++$n . ".lua";
    open my $fh, '>', $file or die "$file: $!";
    print $fh $src;
    close $fh;
    my $out = qx{$LUARUN @opts $root $file 2>&1};
    return ($? >> 8, $out);
}

my ($rc, $out) = (0, '');

$out = qx{$LUARUN $root $root/t/lua/test_env.lua 2>&1};
is $? >> 8, 0, 't/lua/test_env.lua passes: the runner gives the hooks\' environment'
    or diag $out;

($rc, $out) = luarun("assert(xpcall == nil and rawset == nil, 'xpcall or rawset')\n"
                   . "local m = require 'cx.util'\nprint('ok')\n");
is $rc, 0, 'no xpcall, no rawset, require works' or diag $out;

($rc, $out) = luarun("for i = 1, 3 do pcall(function() while true do end end) end\nprint('went on')\n",
                     '-b', 100000);
is $rc, 1, 'a loop inside pcall: the test fails';
like $out, qr/t\d+\.lua:1: instruction budget exceeded/, 'with the budget\'s error, at its line';
unlike $out, qr/went on/, 'pcall did not swallow it';

($rc, $out) = luarun("local a, b = ('x'):rep(4e6) .. 'a', ('x'):rep(4e6) .. 'b'\n"
                   . "while true do pcall(function() return a == b end) end\n",
                     '-t', 50);
is $rc, 1, 'a loop past the deadline: the test fails';
like $out, qr/time budget exceeded \(cx_lua_time\)/, 'with the time budget\'s error';

($rc, $out) = luarun("local t = {}\nfor i = 1, 1e8 do t[i] = { i } end\n", '-m', 16);
is $rc, 1, 'beyond the memory cap: the test fails';
like $out, qr/not enough memory/, 'with a memory error';

($rc, $out) = luarun("local s = ('x'):rep(32 * 1024 * 1024)\n", '-m', 16);
is $rc, 1, 'a string.rep beyond the cap: the test fails';
like $out, qr/t\d+\.lua:1: not enough memory \(cx_lua_memory\)/, 'refused before any work, at its line';

done_testing();
