#!/usr/bin/perl
# Lua targeting hooks (README: Lua targeting hooks; issue 4): cx_target_by_lua_file.
#
# A hook is a Lua file returning a function; it is called with the cx table
# once the built-in conditions of a cx_prompt line have passed, and answers
# true/false/nil, or the name of another survey, plus an optional table of
# attributes that travel encrypted in the token and are stored with the
# answer. Sandbox, budget and memory are in t/61-lua-sandbox.t.
#
# How things are checked:
#   - the offer: the injected <script id="cx-prompt"> JSON (survey, type,
#     question) or the byte-identical page when nothing is offered;
#   - the cx fields and the attributes: hooks that echo fields as attributes,
#     then the prompt is answered (POST /cx/r) and the stored record of the
#     "responses" DB is decoded from `mdb_dump` (src/ngx_cx_record.h: the
#     attrs blob is u8 klen, key, u16le vlen, value, repeated);
#   - the attributes are not in the page: neither in the HTML nor in the
#     token payload in clear (the token payload is base64url, the attrs in
#     it are encrypted; src/ngx_cx_token.h);
#   - failures: the error log line `cx: hook "<abs path>" failed, nothing
#     offered: <abs path>:<line>: <message>`.
#
# Covered:
#   - the four examples of examples/hooks/ (high_value with add_header and
#     behind proxy_pass, business_hours with the test clock, segment,
#     returning), each on its edges;
#   - every field of cx from a real request: survey touchpoint stage now,
#     visitor.id visits first_seen touchpoints[] last_score last_prompt_at,
#     request.method uri args headers[] (any case, repeated joined) cookies[],
#     var(), response.status headers[] (content-type, any case, repeated);
#   - each return form: true, false, nil, no value, the prompt's own name,
#     another survey (offered with its own type and question, answered on
#     its scale, then held back by its `every`), an undeclared name, "",
#     a number, a table; several cx_prompt lines each calling the hook;
#   - attributes: stored exactly; numbers as Lua prints them; keys allowed
#     [A-Za-z0-9_.-]{1,64} only; 16 pairs kept, the 17th dropped with a log
#     line; 256 encoded bytes kept, 257 dropped with a log line; a value too
#     long; ignored when nothing is offered or the second value is no table;
#     carried with another survey;
#   - require: cx.util without cx_lua_package_path; <prefix>/lua; modules
#     under cx_lua_package_path (relative and absolute) searched first;
#     missing module, module with a syntax error, bad module names, a
#     module's globals not leaking into the hook;
#   - configuration: a syntax error fails `nginx -t` with file:line, a
#     bytecode file is refused, a missing file, duplicate directive, bounds of
#     cx_lua_budget / cx_lua_memory; at worker start a file that errors when
#     loaded or returns no function: logged, no prompt, other hooks work;
#   - reload: a changed hook file is read again by every worker; a syntax
#     error refuses the reload and the workers keep the last good code.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use JSON::PP ();
use File::Temp ();

plan skip_all => 'ngx_cx module not built (run make)' unless cx_have_module();
plan skip_all => 'mdb_dump (lmdb-utils) not installed' unless -x '/usr/bin/mdb_dump';

my $JSON = JSON::PP->new->utf8->canonical;
my $REPO = cx_repo_root();

my $PAGE = "<html><head><title>t</title></head><body>\n<p>page</p>\n</body></html>\n";

# 2030-01-01T00:00:00Z (a Tuesday), far from the real clock.
my $T0  = 1893456000;
my $DAY = 86400;

# ---- helpers ---------------------------------------------------------------


# The token payload (version 2): ... path_len(2) path attrs_len(2) attrs.
sub token_payload {
    my ($token) = @_;
    my $b = cx_signed_payload($token // '');
    return undef unless defined $b && length $b > 27;
    my %t;
    my $off = 0;
    ($t{version}, $t{issued_at}) = unpack 'C N', $b;
    $off = 1 + 4 + 12 + 8 + 1;
    for my $f (qw(survey touchpoint lang)) {
        my $l = unpack "x$off C", $b;
        $t{$f} = substr($b, $off + 1, $l);
        $off += 1 + $l;
    }
    my $pl = unpack "x$off n", $b;
    $t{path} = substr($b, $off + 2, $pl);
    $off += 2 + $pl;
    if ($off + 2 <= length $b) {
        my $al = unpack "x$off n", $b;
        $t{attrs_len} = $al;
        $t{attrs} = substr($b, $off + 2, $al);
        $off += 2 + $al;
    }
    $t{raw} = $b;
    $t{trailing} = length($b) - $off;
    return \%t;
}





# A visit as cx_browser $b, at the hooks' clock T0 unless now => says.
sub visit_at_t0 {
    my ($ng, $b, $path, %o) = @_;
    return $ng->visit($b, $path, %o, now => $o{now} // $T0);
}

# POST /cx/r for the browser's last prompt.
sub event {
    my ($ng, $b, $event, %o) = @_;
    my $p = $o{prompt} || $b->{last_prompt} || {};
    return $ng->answer(token => $p->{token}, jar => $b, event => $event,
        score => $o{score}, now => $o{now} // $T0);
}

sub varint {
    my ($b, $off) = @_;
    my ($v, $mul) = (0, 1);
    while (1) {
        return undef if $$off >= length $b;
        my $c = ord substr($b, $$off++, 1);
        $v += ($c & 0x7f) * $mul;
        last unless $c & 0x80;
        $mul *= 128;
    }
    return $v;
}

# One record of the responses DB (src/ngx_cx_record.h, version 1).
sub decode_record {
    my ($b) = @_;
    my %r;
    @r{qw(version flags type stage score)} = unpack 'C5', $b;
    $r{visitor} = unpack 'H24', substr($b, 5, 12);
    my $off = 17;
    $r{$_} = varint($b, \$off) for qw(issued displayed answered commented dismissed);
    for my $f (qw(survey touchpoint lang path comment attrs)) {
        my $l = varint($b, \$off) // 0;
        $r{$f} = substr($b, $off, $l);
        $off += $l;
    }
    my (@pairs, $bad);
    my $a = $r{attrs};
    my $o = 0;
    while ($o < length $a) {
        my $kl = ord substr($a, $o, 1);
        if ($o + 1 + $kl + 2 > length $a) { $bad = 1; last }
        my $k = substr($a, $o + 1, $kl);
        my $vl = unpack 'v', substr($a, $o + 1 + $kl, 2);
        if ($o + 3 + $kl + $vl > length $a) { $bad = 1; last }
        push @pairs, [ $k, substr($a, $o + 3 + $kl, $vl) ];
        $o += 3 + $kl + $vl;
    }
    $r{pairs} = \@pairs;
    $r{attr} = { map { @$_ } @pairs };
    $r{attrs_bad} = $bad;
    return \%r;
}

# Every record of the responses DB, decoded.
sub records {
    my ($ng) = @_;
    my $dir = $ng->prefix . '/cxdata';
    my $out = `mdb_dump -s responses '$dir' 2>&1`;
    return () if $?;
    $out =~ s/\A.*?^HEADER=END\n//ms or return ();
    $out =~ s/^DATA=END\n.*//ms;
    my @l = map { (my $x = $_) =~ s/^ //; $x } grep { length } split /\n/, $out;
    my @recs;
    while (@l >= 2) {
        my ($k, $v) = splice @l, 0, 2;
        my $rec = decode_record(pack 'H*', $v);
        $rec->{key} = $k;
        push @recs, $rec;
    }
    return @recs;
}

# The stored record of the prompt issued for path (the token's path).
sub record_for {
    my ($ng, $path) = @_;
    my @r = grep { $_->{path} eq $path } records($ng);
    return @r == 1 ? $r[0] : { error => scalar(@r) . " records for $path" };
}

# Offer on path to a new browser, answer it, return (record, response, browser).
sub answered_record {
    my ($ng, $path, %o) = @_;
    my $b = $o{browser} || cx_browser();
    my $r = visit_at_t0($ng, $b, $path, %o);
    return ({ error => "no prompt on $path: $r->{status}" }, $r, $b) unless $r->{prompt};
    my $a = event($ng, $b, 'answer', score => $o{score} // 7, now => ($o{now} // $T0) + 1);
    return ({ error => "answer on $path: $a->{status} $a->{body}" }, $r, $b)
        unless $a->{status} == 204;
    (my $p = $path) =~ s/\?.*//;
    return (record_for($ng, $p), $r, $b);
}



# ---- hooks used by this file (conf/hooks/NAME.lua) ----------------------------

my %hook = (
    # every field of cx, echoed as attributes (a record has 256 bytes at most)
    echo_visitor => <<'LUA',
return function(cx)
  local v = cx.visitor
  return true, {
    survey = cx.survey, touchpoint = cx.touchpoint, stage = cx.stage,
    now = cx.now, id = v.id, visits = v.visits, first_seen = v.first_seen,
    tp_home = v.touchpoints["home"], tp_none = v.touchpoints["nosuch"],
    last_score = tostring(v.last_score), last_prompt_at = tostring(v.last_prompt_at),
  }
end
LUA
    echo_types => <<'LUA',
return function(cx)
  local v, rq, rs = cx.visitor, cx.request, cx.response
  return true, {
    t1 = type(cx.survey) .. type(cx.touchpoint) .. type(cx.stage) .. type(cx.now),
    t2 = type(v.id) .. type(v.visits) .. type(v.first_seen) .. type(v.touchpoints),
    t3 = type(rq.method) .. type(rq.uri) .. type(rq.args) .. type(rq.headers) .. type(rq.cookies),
    t4 = type(cx.var) .. type(rs.status) .. type(rs.headers),
    tp_self = v.touchpoints[cx.touchpoint],
    tp_upper = tostring(v.touchpoints["HOME"]),
    -- a function returning "nil" returns one value, like any Lua function
    var_nil_count = select("#", cx.var("no_such_variable")),
  }
end
LUA
    echo_request => <<'LUA',
return function(cx)
  local rq = cx.request
  return true, {
    method = rq.method, uri = rq.uri, args = rq.args,
    h = rq.headers["x-probe"], hc = rq.headers["X-PROBE"], hm = rq.headers["x-multi"],
    hn = tostring(rq.headers["x-absent"]),
    ck = rq.cookies["flavor"], cn = tostring(rq.cookies["absent"]),
    v = cx.var("arg_q"), vs = cx.var("tier"), vu = cx.var("REQUEST_METHOD"),
    vn = tostring((cx.var("no_such_variable"))),
  }
end
LUA
    echo_response => <<'LUA',
return function(cx)
  local rs = cx.response
  return true, {
    status = rs.status, ct = rs.headers["content-type"], ctu = rs.headers["Content-Type"],
    tot = rs.headers["x-order-total"], totu = rs.headers["X-ORDER-TOTAL"],
    two = rs.headers["x-two"], none = tostring(rs.headers["x-none"]),
  }
end
LUA
    # return forms
    rf_true      => "return function(cx)\n  return true\nend\n",
    rf_false     => "return function(cx)\n  return false\nend\n",
    rf_nil       => "return function(cx)\n  return nil\nend\n",
    rf_none      => "return function(cx)\nend\n",
    rf_self      => "return function(cx)\n  return cx.survey\nend\n",
    rf_other     => "return function(cx)\n  return \"s_other\"\nend\n",
    rf_unknown   => "return function(cx)\n  return \"s_nosuch\"\nend\n",
    rf_empty     => "return function(cx)\n  return \"\"\nend\n",
    rf_number    => "return function(cx)\n  return 42\nend\n",
    rf_table     => "return function(cx)\n  return {}\nend\n",
    rf_false_attrs => "return function(cx)\n  return false, { secret_attr = \"zq-hidden\" }\nend\n",
    rf_lines     => "return function(cx)\n  return cx.survey == \"line_b\"\nend\n",
    # attributes
    at_16 => <<'LUA',
return function(cx)
  local a = {}
  for i = 1, 16 do a[string.format("k%02d", i)] = string.format("v%02d", i) end
  return true, a
end
LUA
    at_17 => <<'LUA',
return function(cx)
  local a = {}
  for i = 1, 17 do a[string.format("k%02d", i)] = string.format("v%02d", i) end
  return true, a
end
LUA
    at_256 => "return function(cx)\n  return true, { k = string.rep(\"x\", 252) }\nend\n",
    at_257 => "return function(cx)\n  return true, { k = string.rep(\"x\", 253) }\nend\n",
    # a number's mark takes 3 bytes of the 256: 250 + 5 + 3 do not fit, 247 + 5 + 3 do
    at_num => "return function(cx)\n  return true, { k = string.rep(\"x\", 246), n = 5 }\nend\n",
    at_numfit => "return function(cx)\n  return true, { k = string.rep(\"x\", 243), n = 5 }\nend\n",
    at_long => "return function(cx)\n  return true, { big = string.rep(\"y\", 300) }\nend\n",
    at_sum => <<'LUA',
return function(cx)
  -- four pairs of 1 + 2 + 2 + 60 = 65 bytes: three fit in 256, not four
  return true, { a1 = string.rep("a", 60), a2 = string.rep("b", 60),
                 a3 = string.rep("c", 60), a4 = string.rep("d", 60) }
end
LUA
    at_keys => <<'LUA',
return function(cx)
  local a = {
    ["ok.key-1_X"] = "good", ["bad key"] = "1", ["bad/key"] = "2", [""] = "3",
    [string.rep("k", 64)] = "64", [string.rep("m", 65)] = "65",
    flag = true, tbl = {}, fn = function() end,
  }
  a[1] = "index"
  a[2.5] = "float key"
  return true, a
end
LUA
    at_nums => "return function(cx)\n  return true, { i = 42, f = 1.5, n = -7, big = 1893456000, s = \"\",\n"
        . "    d = 129.9, nd = -0.25, third = 1 / 3, tiny = 0.00005, huge = 2 ^ 60 }\nend\n",
    at_other => "return function(cx)\n  return \"s_other\", { via = \"other-hook\" }\nend\n",
    at_nontable => "return function(cx)\n  return true, \"order_total=5\"\nend\n",
    # require
    req_util => <<'LUA',
local util = require "cx.util"
return function(cx)
  return util.version == "1.0.0" and util.in_sample(cx.visitor.id, "t", 100)
end
LUA
    req_prefix => <<'LUA',
local helper = require "site.helper"
return function(cx)
  return true, { from = helper.where }
end
LUA
    req_missing => "return function(cx)\n  local m = require \"no.such.module\"\n  return true\nend\n",
    req_syntax  => "return function(cx)\n  local m = require \"site.broken\"\n  return true\nend\n",
    req_badname => "return function(cx)\n  local m = require \"../../etc/passwd\"\n  return true\nend\n",
    req_leak => <<'LUA',
local m = require "site.leaky"
return function(cx)
  return leaked_global == nil and m.ok == true
end
LUA
    # worker start
    start_error => "local x = 1\nerror(\"boom at load\")\nreturn function(cx) return true end\n",
    start_notfn => "return 42\n",
);

my %files = (
    'html/index.html' => $PAGE,
    'lua/site/helper.lua' => "return { where = \"prefix-lua\" }\n",
    'lua/site/broken.lua' => "local x = 1\nlocal y = = 2\nreturn {}\n",
    'lua/site/leaky.lua'  => "leaked_global = 1\nreturn { ok = true }\n",
);
$files{"conf/hooks/$_.lua"} = $hook{$_} for keys %hook;

my @dirs = qw(high hp hours seg ret echo/v echo/v2 echo/v3 echo/r echo/s echo/t home lines);
push @dirs, map { /^(rf|at|req|start)_(.+)$/ ? "$1/$2" : () } keys %hook;
$files{"html/$_/index.html"} = $PAGE for @dirs;
$files{'html/echo/r/page.html'} = $PAGE;
$files{'html/echo/s/page.html'} = $PAGE;

# One location per hook of the families rf_, at_, req_, start_.
my $family_locations = '';
for my $name (sort keys %hook) {
    my ($fam, $rest) = $name =~ /^(rf|at|req|start)_(.+)$/ or next;
    my $survey = $name eq 'rf_lines' ? "cx_prompt line_a; cx_prompt line_b;" : "cx_prompt s_main;";
    $family_locations .= "        location /$fam/$rest/ { cx_touchpoint ${fam}_$rest; $survey "
        . "cx_target_by_lua_file hooks/$name.lua; }\n";
}

my $conf = <<'CONF';
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_test_clock on;

    cx_survey s_main         { type nps;  question "Main?"; }
    cx_survey s_other        { type csat; question "Other survey?"; }
    cx_survey nps_purchase   { type nps;  question "Purchase?"; }
    cx_survey s_hours        { type nps;  question "Hours?"; }
    cx_survey s_segment      { type nps;  question "Segment?"; }
    cx_survey nps1           { type nps;  question "Browse?"; }
    cx_survey csat_returning { type csat; question "Welcome back?"; }
    cx_survey ev1 { type nps; question "Echo 1?"; }
    cx_survey ev2 { type nps; question "Echo 2?"; }
    cx_survey ev3 { type nps; question "Echo 3?"; }
    cx_survey er  { type nps; question "Echo request?"; }
    cx_survey es  { type nps; question "Echo response?"; }
    cx_survey et  { type nps; question "Echo types?"; }
    cx_survey line_a { type nps; question "Line A?"; }
    cx_survey line_b { type nps; question "Line B?"; }

    server {
        %%CX_SITE%%
        location /home/     { cx_touchpoint home stage=awareness; }

        location /high/ {
            cx_touchpoint checkout stage=purchase;
            cx_prompt nps_purchase;
            cx_target_by_lua_file %%REPO%%/examples/hooks/high_value.lua;
            add_header X-Order-Total $arg_total;
        }
        location /hp/ {
            cx_touchpoint checkout_proxied stage=purchase;
            cx_prompt nps_purchase;
            cx_target_by_lua_file %%REPO%%/examples/hooks/high_value.lua;
            proxy_pass http://127.0.0.1:%%PORT1%%;
        }
        location /hours/ {
            cx_touchpoint support stage=usage;
            cx_prompt s_hours;
            cx_target_by_lua_file %%REPO%%/examples/hooks/business_hours.lua;
        }
        location /seg/ {
            cx_touchpoint account stage=loyalty;
            cx_prompt s_segment;
            cx_target_by_lua_file %%REPO%%/examples/hooks/segment.lua;
        }
        location /ret/ {
            cx_touchpoint browse stage=consideration;
            cx_prompt nps1;
            cx_target_by_lua_file %%REPO%%/examples/hooks/returning.lua;
        }

        location /echo/v/ {
            cx_touchpoint echo_v stage=consideration;
            cx_prompt ev1;
            cx_target_by_lua_file hooks/echo_visitor.lua;
        }
        location /echo/v2/ {
            cx_touchpoint echo_v2;
            cx_prompt ev2;
            cx_target_by_lua_file hooks/echo_visitor.lua;
        }
        location /echo/v3/ {
            cx_touchpoint echo_v3 stage=advocacy;
            cx_prompt ev3;
            cx_target_by_lua_file hooks/echo_visitor.lua;
        }
        location /echo/r/ {
            set $tier gold;
            cx_touchpoint echo_r stage=usage;
            cx_prompt er;
            cx_target_by_lua_file hooks/echo_request.lua;
        }
        location /echo/s/ {
            cx_touchpoint echo_s stage=usage;
            cx_prompt es;
            cx_target_by_lua_file hooks/echo_response.lua;
            add_header X-Order-Total 129.90;
            add_header X-Two one;
            add_header X-Two two;
        }
        location /echo/t/ {
            cx_touchpoint echo_t stage=usage;
            cx_prompt et;
            cx_target_by_lua_file hooks/echo_types.lua;
        }
CONF
$conf .= $family_locations . <<'CONF';
    }

    # the "application" behind /hp/: it reports the order total
    server {
        listen 127.0.0.1:%%PORT1%%;
        default_type text/html;
        location / {
            add_header X-Order-Total $arg_total;
            return 200 "<html><body>\n<p>order done</p>\n</body></html>\n";
        }
    }
CONF

my $ng = cx_nginx(ports => 2, files => \%files, conf => $conf);

# Lines logged at worker start (the start_ hooks), kept for later; the
# worker may still be loading its hooks when nginx already listens.
wait_for { my $log = $ng->error_log; $log =~ /start_error\.lua/ && $log =~ /start_notfn\.lua/ } 5;
my $START_LOG = $ng->error_log;

# ---- high_value.lua ------------------------------------------------------------

subtest 'example high_value.lua: X-Order-Total >= 100, order_total stored' => sub {
    my @cases = (
        [ '',                 '',             'no header' ],
        [ '?total=99.99',     '',             '99.99' ],
        [ '?total=100',       'nps_purchase', '100 (the threshold)' ],
        [ '?total=129.90',    'nps_purchase', '129.90' ],
        [ '?total=1%2C234.50', '',            '"1,234.50" (unreadable)' ],
        [ '?total=0x200',     '',             '"0x200" (not decimal)' ],
        [ '?total=-500',      '',             '-500' ],
        [ '?total=abc',       '',             '"abc"' ],
    );
    for my $c (@cases) {
        my ($q, $want, $what) = @$c;
        my $r = visit_at_t0($ng, cx_browser(), "/high/$q");
        is $r->{status}, 200, "total $what: 200";
        is cx_offered($r), $want, "total $what: " . ($want ? 'offered' : 'no prompt');
        is $r->{body}, $PAGE, "total $what: page byte-identical" unless $want;
    }

    my ($rec, $r) = answered_record($ng, '/high/?total=129.90', now => $T0 + 100);
    is $rec->{error}, undef, 'answered the offer of a 129.90 order';
    is_deeply $rec->{pairs}, [ [ order_total => '129.9' ] ],
        'stored record: attrs order_total = "129.9" (the number, as Lua prints it)';
    is $rec->{survey}, 'nps_purchase', 'stored record: survey';
    is $rec->{touchpoint}, 'checkout', 'stored record: touchpoint';

    unlike $r->{body}, qr/order_total/, 'page: no "order_total" in clear';
    unlike $r->{body}, qr/129\.9/, 'page: no order total in clear';
    my $t = token_payload($r->{prompt}{token});
    is $t->{version}, 3, 'token payload version 3';
    is $t->{attrs_len}, 3 + 1 + 11 + 2 + 5,
        'token carries 22 bytes of attributes: which were numbers (3), the pair (19)';
    is $t->{trailing}, 0, 'token payload fully decoded';
    unlike $t->{raw}, qr/order_total|129\.9/, 'token payload: attributes encrypted, not in clear';
    isnt $t->{attrs}, "\x0border_total\x05\x00129.9", 'token attrs bytes are not the plaintext';
};

subtest 'example high_value.lua behind proxy_pass (header from the upstream)' => sub {
    my $r = visit_at_t0($ng, cx_browser(), '/hp/?total=250');
    is $r->{status}, 200, 'proxied 200';
    is cx_offered($r), 'nps_purchase', 'upstream X-Order-Total: 250 -> offered';
    like $r->{body}, qr{<p>order done</p>}, 'the upstream body';
    $r = visit_at_t0($ng, cx_browser(), '/hp/?total=20');
    is cx_offered($r), '', 'upstream X-Order-Total: 20 -> no prompt';
    is $r->{body}, "<html><body>\n<p>order done</p>\n</body></html>\n", 'upstream body byte-identical';
    my ($rec) = answered_record($ng, '/hp/?total=250', now => $T0 + 200);
    is_deeply $rec->{pairs}, [ [ order_total => '250' ] ], 'stored: order_total = "250"';
};

# ---- business_hours.lua ----------------------------------------------------------

subtest 'example business_hours.lua: Mon-Fri 09:00-17:30 at +03:00' => sub {
    my $mon = $T0 + 6 * $DAY;            # 2030-01-07, a Monday, 00:00 UTC
    my $h = 3600;
    my @cases = (
        # UTC time                       local (+03:00)
        [ $mon + 6 * $h - 1,        0, 'Monday 08:59:59' ],
        [ $mon + 6 * $h,            1, 'Monday 09:00:00' ],
        [ $mon + 8 * $h,            1, 'Monday 11:00 (08:00 UTC)' ],
        [ $mon + 14 * $h + 1799,    1, 'Monday 17:29:59' ],
        [ $mon + 14 * $h + 1800,    0, 'Monday 17:30:00' ],
        [ $mon + 15 * $h,           0, 'Monday 18:00 (15:00 UTC, inside in UTC)' ],
        [ $mon + 4 * $DAY + 9 * $h, 1, 'Friday 12:00' ],
        [ $mon + 4 * $DAY + 17 * $h, 0, 'Friday 20:00 (17:00 UTC)' ],
        [ $mon + 5 * $DAY + 9 * $h, 0, 'Saturday 12:00' ],
        [ $mon + 6 * $DAY + 9 * $h, 0, 'Sunday 12:00' ],
        [ $mon + 10 * $h,           1, 'Monday 13:00' ],
        [ $mon - 2 * $h,            0, 'Monday 01:00 (Sunday 22:00 UTC)' ],
        [ $mon + 6 * $DAY + 22 * $h, 0, 'Monday 01:00 next week (Sunday UTC)' ],
    );
    for my $c (@cases) {
        my ($now, $want, $what) = @$c;
        my $r = visit_at_t0($ng, cx_browser(), '/hours/', now => $now);
        is $r->{status}, 200, "$what: 200";
        is cx_offered($r), $want ? 's_hours' : '', "$what: " . ($want ? 'offered' : 'no prompt');
    }
};

# ---- segment.lua -------------------------------------------------------------------

subtest 'example segment.lua: cookie segment gold or silver' => sub {
    my @cases = (
        [ undef,                       '', 'no cookie' ],
        [ 'segment=bronze',            '', 'bronze' ],
        [ 'segment=gold',              's_segment', 'gold' ],
        [ 'segment=silver',            's_segment', 'silver' ],
        [ 'segment=Gold',              '', 'Gold (case matters)' ],
        [ 'segment=',                  '', 'empty' ],
        [ 'a=1; segment=silver; b=2',  's_segment', 'silver among other cookies' ],
        [ 'xsegment=gold',             '', 'xsegment=gold (another cookie)' ],
        [ 'segment=golden',            '', 'golden' ],
    );
    for my $c (@cases) {
        my ($cookie, $want, $what) = @$c;
        my $r = visit_at_t0($ng, cx_browser(), '/seg/', defined $cookie ? (cookie => $cookie) : ());
        is cx_offered($r), $want, "$what: " . ($want ? 'offered' : 'no prompt');
    }
    my ($rec, $r) = answered_record($ng, '/seg/', cookie => 'segment=gold', now => $T0 + 300);
    is_deeply $rec->{pairs}, [ [ segment => 'gold' ] ], 'stored: segment = "gold"';
    unlike $r->{body}, qr/"segment"|gold/, 'page: the segment is not in clear';
};

# ---- returning.lua -------------------------------------------------------------------

subtest 'example returning.lua: 5 visits or more get csat_returning' => sub {
    my $b = cx_browser();
    my $t = $T0 + 2 * $DAY;
    for my $n (1 .. 4) {
        my $r = visit_at_t0($ng, $b, '/ret/', now => $t + $n);
        is cx_offered($r), 'nps1', "visit $n: the location's survey (nps1)";
    }
    my $r = visit_at_t0($ng, $b, '/ret/', now => $t + 5);
    is cx_offered($r), 'csat_returning', 'visit 5: csat_returning instead';
    is $r->{prompt}{type}, 'csat', 'csat_returning: type csat';
    is $r->{prompt}{question}, 'Welcome back?', "csat_returning: its own question";
    my $a = event($ng, $b, 'answer', score => 5, now => $t + 6);
    is $a->{status}, 204, 'answer 5 (csat scale) accepted';
    my $rec = record_for($ng, '/ret/');
    is $rec->{survey}, 'csat_returning', 'stored under csat_returning';
    is $rec->{type}, 2, 'stored with type csat';
    is $rec->{score}, 5, 'score 5';

    # visits elsewhere count too
    my $c = cx_browser();
    visit_at_t0($ng, $c, '/home/', now => $t + $_) for 1 .. 4;
    is cx_offered(visit_at_t0($ng, $c, '/ret/', now => $t + 10)), 'csat_returning',
        'four visits at home + this one: csat_returning';
};

# ---- every field of cx ----------------------------------------------------------------

subtest 'cx.survey touchpoint stage now and cx.visitor.*' => sub {
    my $b = cx_browser();
    my $t = $T0 + 3 * $DAY;
    visit_at_t0($ng, $b, '/home/', now => $t);
    my $id = cx_visitor_of($b->{cookie});
    like $id, qr/^[0-9a-f]{24}\z/, 'visitor id from the cookie';

    my $r = visit_at_t0($ng, $b, '/echo/v/', now => $t + 10);
    is cx_offered($r), 'ev1', 'echo 1 offered';
    is event($ng, $b, 'display', now => $t + 11)->{status}, 204, 'display';
    is event($ng, $b, 'answer', score => 9, now => $t + 12)->{status}, 204, 'answer 9';

    $r = visit_at_t0($ng, $b, '/echo/v2/', now => $t + 20);
    is cx_offered($r), 'ev2', 'echo 2 offered';
    is event($ng, $b, 'answer', score => 3, now => $t + 21)->{status}, 204, 'answer 3';

    $r = visit_at_t0($ng, $b, '/echo/v3/', now => $t + 30);
    is cx_offered($r), 'ev3', 'echo 3 offered';
    is event($ng, $b, 'dismiss', now => $t + 31)->{status}, 204, 'dismiss';

    my $r1 = record_for($ng, '/echo/v/');
    is_deeply $r1->{attr}, {
        survey => 'ev1', touchpoint => 'echo_v', stage => 'consideration',
        now => $t + 10, id => $id, visits => 2, first_seen => $t,
        tp_home => 1, tp_none => 0, last_score => 'nil', last_prompt_at => 'nil',
    }, 'first call: every field (no answer, no display yet)';
    is $r1->{visitor}, $id, 'record visitor = cx.visitor.id';

    my $r2 = record_for($ng, '/echo/v2/');
    is_deeply $r2->{attr}, {
        survey => 'ev2', touchpoint => 'echo_v2', stage => '',
        now => $t + 20, id => $id, visits => 3, first_seen => $t,
        tp_home => 1, tp_none => 0, last_score => 9, last_prompt_at => $t + 11,
    }, 'second call: last_score 9, last_prompt_at = the display, no stage ""';

    my $r3 = record_for($ng, '/echo/v3/');
    is_deeply $r3->{attr}, {
        survey => 'ev3', touchpoint => 'echo_v3', stage => 'advocacy',
        now => $t + 30, id => $id, visits => 4, first_seen => $t,
        tp_home => 1, tp_none => 0, last_score => 3, last_prompt_at => $t + 11,
    }, 'third call: last_score is the latest answer (3)';
};

subtest 'types of the cx fields; touchpoints[] of the current one; names are exact' => sub {
    my $b = cx_browser();
    visit_at_t0($ng, $b, '/home/', now => $T0 + 4 * $DAY);
    my ($rec) = answered_record($ng, '/echo/t/', browser => $b, now => $T0 + 4 * $DAY + 5);
    is_deeply $rec->{attr}, {
        t1 => 'stringstringstringnumber',
        t2 => 'stringnumbernumbertable',
        t3 => 'stringstringstringtabletable',
        t4 => 'functionnumbertable',
        tp_self => 1,
        tp_upper => 0,
        var_nil_count => 1,
    }, 'types; the current visit counted in touchpoints[]; "HOME" is not "home"; '
        . 'cx.var("unknown") returns one nil (select("#", ...) == 1)';
};

subtest 'cx.request.* and cx.var()' => sub {
    my ($rec) = answered_record($ng, '/echo/r/page.html?q=1&x=%41+b',
        now => $T0 + 5 * $DAY,
        cookie => 'flavor=vanilla; other=1',
        headers => [ 'X-Probe' => 'probe-1', 'X-Multi' => 'a', 'X-Multi' => 'b' ]);
    is $rec->{error}, undef, 'answered';
    is_deeply $rec->{attr}, {
        method => 'GET', uri => '/echo/r/page.html', args => 'q=1&x=%41+b',
        h => 'probe-1', hc => 'probe-1', hm => 'a, b', hn => 'nil',
        ck => 'vanilla', cn => 'nil',
        v => '1', vs => 'gold', vu => 'GET', vn => 'nil',
    }, 'method uri args (raw), headers any case, repeated joined, cookies, var()';
    is $rec->{path}, '/echo/r/page.html', 'stored path: no query string';
};

subtest 'cx.response.*' => sub {
    my ($rec) = answered_record($ng, '/echo/s/page.html', now => $T0 + 6 * $DAY);
    is $rec->{error}, undef, 'answered';
    is_deeply $rec->{attr}, {
        status => 200, ct => 'text/html', ctu => 'text/html',
        tot => '129.90', totu => '129.90', two => 'one, two', none => 'nil',
    }, 'status, content-type, add_header headers (any case, repeated joined)';
};

# ---- return forms ---------------------------------------------------------------

subtest 'return forms' => sub {
    my $from = $ng->log_size;
    my @cases = (
        [ true   => 's_main',  'true' ],
        [ self   => 's_main',  'its own survey name' ],
        [ false  => '',        'false' ],
        [ nil    => '',        'nil' ],
        [ none   => '',        'no value' ],
        [ false_attrs => '',   'false with attributes' ],
    );
    for my $c (@cases) {
        my ($name, $want, $what) = @$c;
        my $r = visit_at_t0($ng, cx_browser(), "/rf/$name/", now => $T0 + 7 * $DAY);
        is $r->{status}, 200, "$what: 200";
        is cx_offered($r), $want, "$what: " . ($want ? "offers $want" : 'no prompt');
        is $r->{body}, $PAGE, "$what: page byte-identical" unless $want;
        is_deeply [ $ng->hook_lines("rf_$name.lua", $from) ], [], "$what: nothing logged";
    }

    my $b = cx_browser();
    my $r = visit_at_t0($ng, $b, '/rf/other/', now => $T0 + 7 * $DAY);
    is cx_offered($r), 's_other', 'another survey name: that survey offered';
    is $r->{prompt}{type}, 'csat', 'its type (csat)';
    is $r->{prompt}{question}, 'Other survey?', 'its question';
    my $t = token_payload($r->{prompt}{token});
    is $t->{survey}, 's_other', 'token: survey s_other';
    is $t->{touchpoint}, 'rf_other', "token: the location's touchpoint";
    is event($ng, $b, 'answer', score => 11, now => $T0 + 7 * $DAY + 1)->{status}, 400,
        'score 11 refused (csat scale, not nps)';
    is event($ng, $b, 'answer', score => 4, now => $T0 + 7 * $DAY + 2)->{status}, 204,
        'score 4 accepted';
    is record_for($ng, '/rf/other/')->{survey}, 's_other', 'stored under s_other';
    is cx_offered(visit_at_t0($ng, $b, '/rf/other/', now => $T0 + 8 * $DAY)), '',
        's_other answered: not offered again (its every)';
    is cx_offered(visit_at_t0($ng, $b, '/rf/true/', now => $T0 + 8 * $DAY)), 's_main',
        's_main (not answered) still offered to that visitor';
    # the offer is counted under the survey offered, not the cx_prompt line's
    my $offered_other = sub {
        my ($s) = grep { $_->{name} eq 's_other' } @{ $ng->report_json('touchpoint=rf_other')->{surveys} || [] };
        return $s ? $s->{offered} : 0;
    };
    ok wait_for(sub { $offered_other->() >= 1 }), 'report.json: the offer of s_other counted under s_other'
        or diag 'offered: ' . $offered_other->();

    for my $c ([ unknown => 'not declared with cx_survey', 'an undeclared survey name' ],
               [ empty   => 'not declared with cx_survey', 'an empty string' ],
               [ number  => 'must return true, false or a survey name', 'a number' ],
               [ table   => 'must return true, false or a survey name', 'a table' ]) {
        my ($name, $msg, $what) = @$c;
        my $from2 = $ng->log_size;
        my $r = visit_at_t0($ng, cx_browser(), "/rf/$name/", now => $T0 + 7 * $DAY);
        is $r->{status}, 200, "$what: 200";
        is cx_offered($r), '', "$what: no prompt";
        is $r->{body}, $PAGE, "$what: page byte-identical";
        my @l = $ng->hook_lines("rf_$name.lua", $from2);
        is scalar(@l), 1, "$what: one error line";
        like $l[0] // '', qr/\[error\].*cx: hook "\Q${\ $ng->prefix}\E\/conf\/hooks\/rf_$name\.lua" failed, nothing offered: .*\Q$msg\E/,
            "$what: the line says why";
        like $l[0] // '', qr/"s_nosuch"/, "$what: the line names the survey returned"
            if $name eq 'unknown';
    }
};

subtest 'several cx_prompt lines: the hook runs for each, with cx.survey' => sub {
    my $r = visit_at_t0($ng, cx_browser(), '/rf/lines/');
    is cx_offered($r), 'line_b', 'false for line_a, true for line_b: line_b offered';
};

# ---- attributes -----------------------------------------------------------------

subtest 'attributes: 16 pairs kept, the 17th dropped with a log line' => sub {
    my $from = $ng->log_size;
    my ($rec) = answered_record($ng, '/at/16/', now => $T0 + 9 * $DAY);
    is_deeply $rec->{attr}, { map { (sprintf("k%02d", $_) => sprintf("v%02d", $_)) } 1 .. 16 },
        '16 pairs stored';
    is_deeply [ $ng->hook_lines('at_16.lua', $from) ], [], '16 pairs: nothing logged';

    my $r;
    ($rec, $r) = answered_record($ng, '/at/17/', now => $T0 + 9 * $DAY);
    is cx_offered($r), 's_main', '17 pairs: still offered';
    is scalar(@{ $rec->{pairs} }), 16, '17 pairs: 16 stored';
    my %all = map { (sprintf("k%02d", $_) => sprintf("v%02d", $_)) } 1 .. 17;
    is scalar(grep { ($all{ $_->[0] } // '') ne $_->[1] } @{ $rec->{pairs} }), 0,
        '17 pairs: the stored ones are pairs of the hook';
    my @l = $ng->hook_lines('at_17.lua', $from);
    is scalar(@l), 1, '17 pairs: one log line';
    like $l[0] // '', qr/\[warn\].*cx: hook "\Q${\ $ng->prefix}\E\/conf\/hooks\/at_17\.lua" returned more attributes than are kept/,
        '17 pairs: the line names the hook and says so';
    unlike $l[0] // '', qr/nothing offered/,
        '17 pairs: the line does not claim "nothing offered" (the prompt was offered)';
};

subtest 'attributes: 256 encoded bytes kept, 257 not' => sub {
    my $from = $ng->log_size;
    my ($rec) = answered_record($ng, '/at/256/', now => $T0 + 10 * $DAY);
    is_deeply $rec->{pairs}, [ [ k => 'x' x 252 ] ], '1 + 1 + 2 + 252 = 256 bytes: stored';
    is_deeply [ $ng->hook_lines('at_256.lua', $from) ], [], '256: nothing logged';

    my $r;
    ($rec, $r) = answered_record($ng, '/at/257/', now => $T0 + 10 * $DAY);
    is cx_offered($r), 's_main', '257 bytes: still offered';
    is_deeply $rec->{pairs}, [], '257 bytes: not stored';
    is scalar($ng->hook_lines('at_257.lua', $from)), 1, '257 bytes: one log line';

    ($rec, $r) = answered_record($ng, '/at/numfit/', now => $T0 + 10 * $DAY);
    is_deeply [ sort { $a->[0] cmp $b->[0] } @{ $rec->{pairs} } ], [ [ k => 'x' x 243 ], [ n => '5' ] ],
        'a number among them: 247 + 5 + its mark 3 = 255 bytes: both stored';
    is_deeply [ $ng->hook_lines('at_numfit.lua', $from) ], [], '... nothing logged';
    ($rec, $r) = answered_record($ng, '/at/num/', now => $T0 + 10 * $DAY);
    is scalar(@{ $rec->{pairs} }), 1, '250 + 5 + 3 = 258 bytes: one pair dropped';
    is scalar($ng->hook_lines('at_num.lua', $from)), 1, '... one log line';

    ($rec, $r) = answered_record($ng, '/at/long/', now => $T0 + 10 * $DAY);
    is cx_offered($r), 's_main', 'a 300-byte value: still offered';
    is_deeply $rec->{pairs}, [], 'a 300-byte value: not stored';
    is scalar($ng->hook_lines('at_long.lua', $from)), 1, 'a 300-byte value: one log line';
    unlike $r->{body}, qr/yyyyyyyy/, 'a 300-byte value: not in the page';

    ($rec, $r) = answered_record($ng, '/at/sum/', now => $T0 + 10 * $DAY);
    is scalar(@{ $rec->{pairs} }), 3, 'four pairs of 65 bytes: three stored';
    my $len = 0;
    $len += 3 + length($_->[0]) + length($_->[1]) for @{ $rec->{pairs} };
    is $len, 195, 'three pairs: 195 bytes';
    is scalar($ng->hook_lines('at_sum.lua', $from)), 1, 'four pairs of 65 bytes: one log line';
};

subtest 'attributes: keys, values, numbers' => sub {
    my ($rec) = answered_record($ng, '/at/keys/', now => $T0 + 11 * $DAY);
    is_deeply $rec->{attr}, { 'ok.key-1_X' => 'good', ('k' x 64) => '64' },
        'only string keys of [A-Za-z0-9_.-]{1,64} with string/number values';
    ok !$rec->{attrs_bad}, 'attrs blob well formed';

    ($rec) = answered_record($ng, '/at/nums/', now => $T0 + 11 * $DAY);
    is_deeply $rec->{attr}, { i => '42', f => '1.5', n => '-7', big => '1893456000', s => '',
                              d => '129.9', nd => '-0.25', third => '0.33333333333333',
                              tiny => '5e-05', huge => '1.1529215046068e+18' },
        'numbers as Lua prints them; an empty string value kept';

    ($rec) = answered_record($ng, '/at/other/', now => $T0 + 11 * $DAY, score => 4);
    is $rec->{survey}, 's_other', 'another survey with attributes: stored under it';
    is_deeply $rec->{pairs}, [ [ via => 'other-hook' ] ], '... with the attributes';

    my $r;
    ($rec, $r) = answered_record($ng, '/at/nontable/', now => $T0 + 11 * $DAY);
    is cx_offered($r), 's_main', 'second value not a table: offered';
    is_deeply $rec->{pairs}, [], '... and no attributes';

    my $b = cx_browser();
    $r = visit_at_t0($ng, $b, '/rf/false_attrs/', now => $T0 + 11 * $DAY);
    is cx_offered($r), '', 'false with attributes: nothing offered';
    unlike $r->{body}, qr/zq-hidden/, '... and nothing of them in the page';
};

# ---- require ---------------------------------------------------------------------

subtest 'require: cx.util built in, <prefix>/lua, errors' => sub {
    my $from = $ng->log_size;
    is cx_offered(visit_at_t0($ng, cx_browser(), '/req/util/')), 's_main',
        'require "cx.util" without cx_lua_package_path';
    my ($rec) = answered_record($ng, '/req/prefix/', now => $T0 + 12 * $DAY);
    is_deeply $rec->{pairs}, [ [ from => 'prefix-lua' ] ], 'a module under <prefix>/lua';

    my $p = $ng->prefix;
    my @err = (
        [ missing => qr/nothing offered: \Q$p\E\/conf\/hooks\/req_missing\.lua:2: .*module "no\.such\.module" not found/,
          'a missing module' ],
        [ syntax  => qr/nothing offered: .*\Q$p\E\/lua\/site\/broken\.lua:2: .*near '='/,
          'a module with a syntax error (its file:line)' ],
        [ badname => qr/nothing offered: \Q$p\E\/conf\/hooks\/req_badname\.lua:2: bad module name/,
          'a module name with "/" and ".."' ],
    );
    for my $c (@err) {
        my ($name, $re, $what) = @$c;
        my $r = visit_at_t0($ng, cx_browser(), "/req/$name/");
        is cx_offered($r), '', "$what: no prompt";
        is $r->{body}, $PAGE, "$what: page byte-identical";
        my @l = $ng->hook_lines("req_$name.lua", $from);
        is scalar(@l), 1, "$what: one line";
        like $l[0] // '', $re, "$what: the line (file:line of the require)";
    }
    is cx_offered(visit_at_t0($ng, cx_browser(), '/req/leak/')), 's_main',
        "a module's globals stay in the module";
};

# ---- worker start ------------------------------------------------------------------

subtest 'a hook file that fails at worker start' => sub {
    my $p = $ng->prefix;
    my @l = grep { /start_error\.lua/ } split /\n/, $START_LOG;
    is scalar(@l), 1, 'top-level error: one line at start';
    like $l[0] // '', qr/\[error\].*cx: hook "\Q$p\E\/conf\/hooks\/start_error\.lua" .*nothing offered: \Q$p\E\/conf\/hooks\/start_error\.lua:2: boom at load/,
        'top-level error: file:line and the message';
    @l = grep { /start_notfn\.lua/ } split /\n/, $START_LOG;
    is scalar(@l), 1, 'returns 42: one line at start';
    like $l[0] // '', qr/must return a function/, 'returns 42: the line says a function is needed';

    for my $name (qw(error notfn)) {
        my $r = visit_at_t0($ng, cx_browser(), "/start/$name/");
        is $r->{status}, 200, "start_$name: 200";
        is cx_offered($r), '', "start_$name: no prompt";
        is $r->{body}, $PAGE, "start_$name: page byte-identical";
    }
    is cx_offered(visit_at_t0($ng, cx_browser(), '/rf/true/')), 's_main', 'the other hooks still run';
};

# ---- configuration ------------------------------------------------------------------

sub conf_hook {
    my ($file, $extra) = @_;
    return <<"CONF";
    cx_store %%PREFIX%%/cxdata;
    cx_survey s1 { type nps; question "Q?"; }
    ${\ ($extra // '') }
    server {
        listen 127.0.0.1:%%PORT%%;
        location /cx/ { cx_endpoint; }
        location / { cx_touchpoint t; cx_prompt s1; cx_target_by_lua_file $file; }
    }
CONF
}

subtest 'nginx -t: syntax errors with file:line, bytecode, missing file' => sub {
    my ($ok, $out) = cx_test_config(conf_hook('hooks/bad.lua'), files => {
        'conf/hooks/bad.lua' => "return function(cx)\n  local a = 1\n  if then\n  end\nend\n" });
    ok !$ok, 'syntax error: nginx -t fails';
    like $out, qr{\[emerg\].*cx_target_by_lua_file: /\S+/conf/hooks/bad\.lua:3: .*near 'then' in /\S+/conf/nginx\.conf:\d+},
        'syntax error: "cx_target_by_lua_file: <abs path>:3: <message> in <conf>:<line>"';

    ($ok, $out) = cx_test_config(conf_hook('hooks/unfinished.lua'), files => {
        'conf/hooks/unfinished.lua' => "return function(cx)\n  return true\n" });
    ok !$ok, 'unfinished function: nginx -t fails';
    like $out, qr{cx_target_by_lua_file: /\S+/conf/hooks/unfinished\.lua:\d+: .*'end' expected},
        "unfinished function: 'end' expected with file:line";

    my $bc;
    my $luajit = (grep { -x "$_/luajit" } split /:/, $ENV{PATH} // '')[0];
    if ($luajit) {
        my $dir = File::Temp::tempdir(CLEANUP => 1);
        open my $fh, '>', "$dir/h.lua" or die;
        print {$fh} "return function(cx) return true end\n";
        close $fh;
        system("$luajit/luajit", '-b', "$dir/h.lua", "$dir/h.out") == 0 or undef $luajit;
        $bc = do { local $/; open my $in, '<', "$dir/h.out" or die; binmode $in; <$in> } if $luajit;
    }
    # a LuaJIT 2.1 bytecode header (ESC 'L' 'J', version 2, flags) and a body
    $bc //= "\x1bLJ\x02\x0a\x00\x00\x00\x00\x00";
    ($ok, $out) = cx_test_config(conf_hook('hooks/bc.lua'), files => { 'conf/hooks/bc.lua' => $bc });
    ok !$ok, 'bytecode file (' . ($luajit ? 'luajit -b' : 'crafted header') . '): nginx -t fails';
    like $out, qr{\[emerg\].*cx_target_by_lua_file: .*(?:binary|mode|bytecode).* in /\S+/conf/nginx\.conf:\d+}i,
        'bytecode file: refused as such, at the directive';

    ($ok, $out) = cx_test_config(conf_hook('hooks/nosuch.lua'));
    ok !$ok, 'missing file: nginx -t fails';
    like $out, qr{cx_target_by_lua_file: cannot read "/\S+/conf/hooks/nosuch\.lua"}, 'missing file: named';

    ($ok, $out) = cx_test_config(conf_hook('hooks/good.lua'), files => {
        'conf/hooks/good.lua' => "return function(cx) return true end\n" });
    ok $ok, 'a good file, relative to nginx.conf\'s directory: nginx -t passes' or diag $out;

    # resolved as include resolves: against nginx.conf's directory, not the
    # prefix (Debian's prefix is /usr/share/nginx, its configuration /etc/nginx)
    ($ok, $out) = cx_test_config(conf_hook('hooks/good.lua'), files => {
        'hooks/good.lua' => "return function(cx) return true end\n" });
    ok !$ok, 'a relative file under the prefix, not beside nginx.conf: nginx -t fails';
    like $out, qr{cannot read "/\S+/conf/hooks/good\.lua"}, '... naming the path beside nginx.conf';

    ($ok, $out) = cx_test_config(conf_hook('%%PREFIX%%/conf/hooks/good.lua'), files => {
        'conf/hooks/good.lua' => "return function(cx) return true end\n" });
    ok $ok, 'the same, absolute: nginx -t passes' or diag $out;
};

subtest 'nginx -t: duplicate directive, budget and memory bounds' => sub {
    my $files = { 'conf/hooks/good.lua' => "return function(cx) return true end\n" };
    my ($ok, $out) = cx_test_config(<<'CONF', files => $files);
    cx_store %%PREFIX%%/cxdata;
    cx_survey s1 { type nps; question "Q?"; }
    server {
        listen 127.0.0.1:%%PORT%%;
        location /cx/ { cx_endpoint; }
        location / { cx_touchpoint t; cx_prompt s1;
                     cx_target_by_lua_file hooks/good.lua;
                     cx_target_by_lua_file hooks/good.lua; }
    }
CONF
    ok !$ok, 'two cx_target_by_lua_file in a location: nginx -t fails';
    like $out, qr/"cx_target_by_lua_file" directive is duplicate/, 'duplicate: said so';

    for my $c ([ 'cx_lua_budget 999;', 0 ], [ 'cx_lua_budget 1000;', 1 ],
               [ 'cx_lua_budget 100000000;', 1 ], [ 'cx_lua_budget 100000001;', 0 ],
               [ 'cx_lua_memory 1m;', 1 ], [ 'cx_lua_memory 1023k;', 0 ],
               [ 'cx_lua_memory 1024m;', 1 ], [ 'cx_lua_memory 1025m;', 0 ],
               [ 'cx_lua_memory 1g;', 1 ], [ 'cx_lua_memory 2g;', 0 ]) {
        my ($line, $want) = @$c;
        ($ok, $out) = cx_test_config(conf_hook('hooks/good.lua', $line), files => $files);
        is $ok ? 1 : 0, $want, "$line: nginx -t " . ($want ? 'passes' : 'fails') or diag $out;
    }
};

# ---- cx_lua_package_path ------------------------------------------------------------

subtest 'cx_lua_package_path: searched first, relative and absolute' => sub {
    my $files = {
        cx_pages($PAGE, qw(a b c d)),
        'conf/site_lua/shop/rules.lua'  => "return { threshold = 50 }\n",
        'site_lua2/shop/extra.lua' => "return { name = \"extra\" }\n",
        # the same name in the package path and in <prefix>/lua: the first wins
        'conf/site_lua/dup.lua' => "return { where = \"package-path\" }\n",
        'lua/dup.lua'      => "return { where = \"prefix-lua\" }\n",
        # shadowing the built-in cx.util
        'conf/site_lua/cx/util.lua' => "return { version = \"shadow\" }\n",
        'conf/hooks/a.lua' => "local r = require \"shop.rules\"\nreturn function(cx) return r.threshold == 50, { t = r.threshold } end\n",
        'conf/hooks/b.lua' => "local e = require \"shop.extra\"\nreturn function(cx) return true, { n = e.name } end\n",
        'conf/hooks/c.lua' => "local d = require \"dup\"\nreturn function(cx) return true, { w = d.where } end\n",
        'conf/hooks/d.lua' => "local u = require \"cx.util\"\nreturn function(cx) return true, { v = u.version } end\n",
    };
    my $n2 = cx_nginx(files => $files, conf => <<'CONF');
    cx_store %%PREFIX%%/cxdata;
    cx_lua_package_path site_lua %%PREFIX%%/site_lua2/;
    cx_survey s1 { type nps; question "Q?"; }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%PREFIX%%/html;
        location /cx/ { cx_endpoint; }
        location /a/ { cx_touchpoint a; cx_prompt s1; cx_target_by_lua_file hooks/a.lua; }
        location /b/ { cx_touchpoint b; cx_prompt s1; cx_target_by_lua_file hooks/b.lua; }
        location /c/ { cx_touchpoint c; cx_prompt s1; cx_target_by_lua_file hooks/c.lua; }
        location /d/ { cx_touchpoint d; cx_prompt s1; cx_target_by_lua_file hooks/d.lua; }
    }
CONF
    my %want = (a => [ t => '50' ], b => [ n => 'extra' ], c => [ w => 'package-path' ],
                d => [ v => 'shadow' ]);
    my %what = (a => 'a module under a relative cx_lua_package_path',
                b => 'a module under the second (absolute, trailing /) directory',
                c => 'cx_lua_package_path before <prefix>/lua',
                d => 'cx_lua_package_path before the built-in lua/ (cx.util shadowed)');
    for my $k (sort keys %want) {
        my ($rec, $r) = answered_record($n2, "/$k/", now => $T0);
        is cx_offered($r), 's1', "$what{$k}: offered";
        is_deeply $rec->{pairs}, [ $want{$k} ], "$what{$k}: the module's value";
    }
    unlike $n2->error_log, qr/cx: hook/, 'nothing logged';
};

# ---- reload --------------------------------------------------------------------------

subtest 'reload: a changed hook file is read again; a broken one is refused' => sub {
    my $conf = <<'CONF';
    cx_store %%PREFIX%%/cxdata;
    cx_survey s1 { type nps; question "Q?"; }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%PREFIX%%/html;
        location /cx/ { cx_endpoint; }
        location /r/ { cx_touchpoint r; cx_prompt s1; cx_target_by_lua_file hooks/r.lua; }
    }
CONF
    my $n = cx_nginx(workers => 2, conf => $conf, files => {
        'html/r/index.html' => $PAGE,
        'conf/hooks/r.lua'  => "return function(cx)\n  return false\nend\n",
    });
    my @o = map { cx_offered(visit_at_t0($n, cx_browser(), '/r/')) } 1 .. 6;
    is_deeply \@o, [ ('') x 6 ], 'returns false: nothing offered (two workers)';

    $n->write_file('conf/hooks/r.lua', "return function(cx)\n  return true\nend\n");
    @o = map { cx_offered(visit_at_t0($n, cx_browser(), '/r/')) } 1 .. 6;
    is_deeply \@o, [ ('') x 6 ], 'file changed, no reload: still the loaded code';

    ok $n->reload, 'reload';
    @o = map { cx_offered(visit_at_t0($n, cx_browser(), '/r/')) } 1 .. 6;
    is_deeply \@o, [ ('s1') x 6 ], 'after reload: the new code in every worker';

    my $from = $n->log_size;
    $n->write_file('conf/hooks/r.lua', "return function(cx)\n  return (\nend\n");
    ok !$n->reload(may_fail => 1), 'reload with a syntax error in the hook: refused';
    like substr($n->error_log, $from), qr{\[emerg\].*cx_target_by_lua_file: /\S+/conf/hooks/r\.lua:3: .* in /\S+/conf/nginx\.conf:\d+},
        'the [emerg] line names the file and line';
    @o = map { cx_offered(visit_at_t0($n, cx_browser(), '/r/')) } 1 .. 6;
    is_deeply \@o, [ ('s1') x 6 ], 'the running workers keep the last good code';
};

done_testing;
