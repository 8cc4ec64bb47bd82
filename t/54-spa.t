#!/usr/bin/perl
# Single-page applications (README: Single-page applications; issue 17
# item 3): GET <endpoint>p?touchpoint=NAME&path=ROUTE runs a page's
# targeting for the touchpoint's location in this server and answers the
# prompt JSON (200) or 204. Same counting (a visit event, the cookie), quiet
# period, sampling and hooks as a page; the token carries the route's path.
# Every bad request is refused with its reason and stores nothing.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;

plan skip_all => "module not built" unless cx_have_module();

my $J = $CXTest::JSON;
my $T0 = 1_790_000_000;

my $ng = cx_nginx(ports => 2, files => {
    cx_pages("<html><body><p>app</p></body></html>\n", qw(app orders)),
    'conf/hooks/vip.lua' => <<'LUA',
return function(cx)
  -- the route, not /cx/p; and no arguments of ours
  if cx.request.args ~= "" then return false end
  return cx.request.uri:find("^/app/vip/") ~= nil
end
LUA
}, conf => <<'CONF');
    cx_store %%PREFIX%%/cxdata max_size=16m;
    cx_test_clock on;
    cx_quiet_period 1h;
    cx_survey csat_orders { type csat; question "How was it?"; color 0b6e4f; }
    cx_survey nps_vip { type nps; question "Recommend us?"; }
    cx_survey never { type ces; question "Easy?"; }
    server {
        %%CX_SITE%%
        location /app/ { cx_touchpoint home stage=awareness; }
        # the same touchpoint, no prompt: the location with prompts is used
        location /old-orders/ { cx_touchpoint order_status stage=usage; }
        location /orders/ { cx_touchpoint order_status stage=usage;
                            cx_prompt csat_orders trigger=idle:5s; }
        location /vip/ { cx_touchpoint vip stage=loyalty; cx_prompt nps_vip;
                         cx_target_by_lua_file hooks/vip.lua; }
        location /sampled/ { cx_touchpoint sampled; cx_prompt never sample=0%; }
    }
    server {
        listen 127.0.0.1:%%PORT1%%;
        location /cx/ { cx_endpoint; }
        location /elsewhere/ { cx_touchpoint elsewhere; cx_prompt never; }
    }
CONF

sub touch {
    my ($b, $query, %o) = @_;
    return $ng->visit($b, "/cx/p?$query", now => $o{now} // $T0, %o);
}

sub visits {
    my ($name) = @_;
    my $rep = $ng->report_json;
    my ($tp) = grep { $_->{name} eq $name } @{ $rep->{touchpoints} || [] };
    return $tp ? $tp->{visits} : 0;
}

# --- a route with a prompt ---
my $b = cx_browser('spa');
my $r = touch($b, 'touchpoint=order_status&path=%2Fapp%2Forders%2F7%3Femail%3Dx%40y.z');
is $r->{status}, 200, 'a due prompt: 200';
like $r->{headers}{'content-type'}, qr{^application/json}, '... JSON';
is $r->{headers}{'cache-control'}, 'no-store', '... never cached';
ok defined $b->{cookie}, '... the visitor cookie is set';
my $p = eval { $J->decode($r->{body}) };
is ref $p, 'HASH', 'the body is the prompt JSON' or diag $r->{body};
is $p->{survey}, 'csat_orders', 'the prompt of the location with cx_prompt';
is $p->{endpoint}, '/cx/', 'the endpoint';
is $p->{color}, '#0b6e4f', 'the survey\'s look';
is $p->{trigger}, 'idle', 'the prompt line\'s trigger';
ok length $p->{token} > 40, 'a token';
unlike $r->{body}, qr/<script|w\.js/, 'no script elements around it';

# the page's own prompt JSON is the same object
my $page = $ng->visit(cx_browser('page'), '/orders/', now => $T0);
is_deeply [sort keys %{ $page->{prompt} }], [sort keys %$p], 'the same members as a page\'s #cx-prompt';

# answered: stored at the touchpoint and stage, with the route's path only
is $ng->answer(event => 'display', token => $p->{token}, jar => $b, now => $T0 + 5)->{status}, 204, 'display';
is $ng->answer(event => 'answer', token => $p->{token}, score => 5, jar => $b, now => $T0 + 9)->{status}, 204, 'answer';
my $nd = $ng->get('/cx-admin/responses.ndjson');
my ($row) = map { $J->decode($_) } grep { /\S/ } split /\n/, $nd->{body};
is $row->{touchpoint}, 'order_status', 'stored: the touchpoint';
is $row->{stage}, 'usage', '... its stage';
is $row->{path}, '/app/orders/7', '... the route\'s path, without its query';
is $row->{score}, 5, '... the score';

# the quiet period after the display: the next route asks nothing, counts a visit
my $before = visits('order_status');
$r = touch($b, 'touchpoint=order_status&path=/app/orders/8', now => $T0 + 60);
is $r->{status}, 204, 'within the quiet period: 204';
is $r->{body}, '', '... no body';
ok((wait_for { visits('order_status') == $before + 1 } 5), '... the visit is counted');

# --- a route without a prompt: 204, the visit counted ---
my $c = cx_browser('home');
$r = touch($c, 'touchpoint=home&path=/app/');
is $r->{status}, 204, 'a touchpoint without cx_prompt: 204';
ok defined $c->{cookie}, '... the cookie carries the visit';
ok((wait_for { visits('home') == 1 } 5), '... one visit of home');
my ($tp) = grep { $_->{name} eq 'home' } @{ $ng->report_json->{touchpoints} };
is $tp->{stage}, 'awareness', '... at its stage';

# --- sampling and hooks, as on a page ---
$r = touch(cx_browser('s'), 'touchpoint=sampled&path=/x');
is $r->{status}, 204, 'sample=0%: 204';

$r = touch(cx_browser('v1'), 'touchpoint=vip&path=/app/standard/1');
is $r->{status}, 204, 'the hook sees the route: no prompt for /app/standard/';
$r = touch(cx_browser('v2'), 'touchpoint=vip&path=/app/vip/1');
is $r->{status}, 200, 'the hook sees the route: a prompt for /app/vip/';
is eval { $J->decode($r->{body})->{survey} }, 'nps_vip', '... of the hooked survey';

# --- refused, nothing stored ---
ok((wait_for { visits('vip') == 2 && visits('sampled') == 1 } 5), 'the routes so far are counted');
my %tp_before = map { $_->{name} => $_->{visits} } @{ $ng->report_json->{touchpoints} };

my @bad = (
    ['path=/app/',                                    400, 'touchpoint= is required'],
    ['touchpoint=&path=/app/',                        400, 'touchpoint= is required'],
    ['touchpoint=nope&path=/app/',                    400, 'unknown touchpoint'],
    ['touchpoint=elsewhere&path=/app/',               400, 'unknown touchpoint', 'a touchpoint of another server'],
    ['touchpoint=home',                               400, 'path= must be'],
    ['touchpoint=home&path=',                         400, 'path= must be'],
    ['touchpoint=home&path=app%2F',                   400, 'path= must be', 'a path not from /'],
    ['touchpoint=home&path=https%3A%2F%2Fx.example%2F', 400, 'path= must be', 'a URL'],
    ['touchpoint=home&path=%2Fa%00b',                 400, 'path= must be', 'a NUL byte'],
    ['touchpoint=home&path=%2Fa%0d%0aSet-Cookie:x',   400, 'path= must be', 'CR LF'],
);
for my $t (@bad) {
    my ($q, $status, $err, $name) = @$t;
    my $v = cx_browser('bad');
    my $res = touch($v, $q);
    is $res->{status}, $status, ($name // $q) . ": $status";
    like $res->{body}, qr/"error":"\Q$err\E/, '... says why';
    ok !defined $v->{cookie}, '... no cookie';
}

my $v = cx_browser('post');
$r = $ng->visit($v, '/cx/p?touchpoint=home&path=/app/', method => 'POST');
is $r->{status}, 405, 'POST: 405';
$r = touch($v, 'touchpoint=home&path=/app/', headers => ['Sec-Fetch-Site' => 'cross-site']);
is $r->{status}, 403, 'Sec-Fetch-Site: cross-site: 403';
like $r->{body}, qr/cross-site request/, '... says why';
$r = touch($v, 'touchpoint=home&path=/app/', headers => [Origin => 'https://evil.example']);
is $r->{status}, 403, 'another Origin: 403';
ok !defined $v->{cookie}, 'none of these set a cookie';

$r = touch($v, 'touchpoint=home&path=/app/', headers => ['Sec-GPC' => '1']);
is $r->{status}, 204, 'Sec-GPC: 1: 204';
ok !defined $v->{cookie}, '... no cookie';

# a barrier: a counted visit after them all, then compare the rest
touch(cx_browser('barrier'), 'touchpoint=sampled&path=/x');
ok((wait_for { visits('sampled') == ($tp_before{sampled} // 0) + 1 } 5), 'a visit after the refused ones is counted');
my %tp_after = map { $_->{name} => $_->{visits} } @{ $ng->report_json->{touchpoints} };
$tp_after{sampled}--;
is_deeply \%tp_after, \%tp_before, 'no visit counted by any refused request (nor with Sec-GPC)';

# a route's visit is a visit in the journey: home, then order_status
my $j = cx_browser('journey');
touch($j, 'touchpoint=home&path=/app/', now => $T0 + 100);
touch($j, 'touchpoint=order_status&path=/app/orders/1', now => $T0 + 130);
my $rep;
wait_for { $rep = $ng->report_json; grep { $_->{from} eq 'home' } @{ $rep->{journey}{transitions} || [] } } 5;
my ($tr) = grep { $_->{from} eq 'home' && $_->{to} eq 'order_status' }
    @{ $rep->{journey}{transitions} || [] };
ok $tr && $tr->{visitors} >= 1, 'the journey map has home -> order_status'
    or diag explain $rep->{journey};

done_testing;
