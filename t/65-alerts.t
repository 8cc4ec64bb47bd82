#!/usr/bin/perl
# Alerts (README: Alerts; docs/behaviours.md [34] [35]; issue 14):
# cx_alert rules checked at nginx -t; an
# alert created with the answer that fires it; delivery to a real receiver
# (t/alerts/receiver.js) that verifies the signature with the Standard
# Webhooks reference library; retries, failure, escalation and its stop on
# acknowledgement; the report location's alert API and counts.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);
use Test::More;
use CXTest;
use CXAlerts;

plan skip_all => 'module not built (make all)' unless cx_have_module();
if (my $why = cx_alerts_missing()) { plan skip_all => $why }

my $DIR = tempdir('cxalerts-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CX_KEEP});
my $ROOT = cx_repo_root();
my $SECRET = $ALERT_SECRET;
my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";

# ---- the receiver: t/lib/CXAlerts.pm -------------------------------------

CXAlerts::dir($DIR);

# ---- nginx -t: every bad rule refused with a sentence and file:line -------

my %KEYS = (
    'conf/hook.key'  => "$SECRET\n",
    'conf/plain.key' => "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
    'conf/short.key' => "whsec_c2hvcnQ=\n",
    'conf/bad.key'   => "whsec_!!!not base64!!!\n",
    'conf/hooks/broken.lua' => "return function(a)\n  if then end\nend\n",
);

sub alert_conf {
    my ($rule, %o) = @_;
    return ($o{http} // '') . <<"CONF";
    cx_store %%PREFIX%%/cxdata;
    cx_survey nps1 { type nps; question "Q?"; }
    cx_alert unhappy {
$rule
    }
    server {
        %%CX_SITE%%
        location / { cx_prompt nps1; }
    }
CONF
}

my @BAD = (
    [ 'unknown survey', "survey nosuch; notify http://127.0.0.1:9/ secret=hook.key;",
      qr/cx_alert "unhappy": unknown survey "nosuch" \(declare it with cx_survey nosuch \{ \.\.\. \}\) in \S+nginx\.conf:\d+/ ],
    [ 'bad condition', "when score<=11; notify http://127.0.0.1:9/ secret=hook.key;",
      qr/cx_alert "unhappy": "when score<=11" compares the score with something other than a whole number from 0 to 10 in \S+:\d+/ ],
    [ 'unknown condition', "when mood=sad; notify http://127.0.0.1:9/ secret=hook.key;",
      qr/"when mood=sad" is not a condition: score<=N, score>=N, band=detractor, comment or attr\.NAME>=VALUE/ ],
    [ 'unknown band', "when band=angry; notify http://127.0.0.1:9/ secret=hook.key;",
      qr/"when band=angry" names an unknown band: the bands are detractor, passive and promoter/ ],
    [ 'bad URL', "notify ftp://example.com/ secret=hook.key;",
      qr/cx_alert "unhappy": "ftp:\/\/example\.com\/" is not an http:\/\/ or https:\/\/ URL/ ],
    [ 'no secret', "notify http://127.0.0.1:9/;",
      qr/"http:\/\/127\.0\.0\.1:9\/" needs secret=FILE, a file holding a Standard Webhooks key/ ],
    [ 'unreadable secret', "notify http://127.0.0.1:9/ secret=missing.key;",
      qr/secret "\S*missing\.key" cannot be opened/ ],
    [ 'secret without whsec_', "notify http://127.0.0.1:9/ secret=plain.key;",
      qr/does not hold a Standard Webhooks key: "whsec_" followed by base64/ ],
    [ 'secret too short', "notify http://127.0.0.1:9/ secret=short.key;",
      qr/holds a key of other than 24 to 64 bytes/ ],
    [ 'secret not base64', "notify http://127.0.0.1:9/ secret=bad.key;",
      qr/holds a key that is not base64 after "whsec_"/ ],
    [ 'host name without resolver', "notify http://hooks.example.com/cx secret=hook.key;",
      qr/hooks\.example\.com.*needs a "resolver"/ ],
    [ 'escalate without a unit', "notify http://127.0.0.1:9/ secret=hook.key; escalate 15 http://127.0.0.1:9/m secret=hook.key;",
      qr/"escalate 15" needs a time with a unit, such as "15m" or "2h"/ ],
    [ 'escalations out of order', "notify http://127.0.0.1:9/ secret=hook.key; escalate 1h http://127.0.0.1:9/m secret=hook.key; escalate 15m http://127.0.0.1:9/d secret=hook.key;",
      qr/"escalate 15m" is not later than the level before it/ ],
    [ 'escalate before notify', "escalate 15m http://127.0.0.1:9/m secret=hook.key;",
      qr/"escalate" before "notify" \(notify comes first\)/ ],
    [ 'no notify', "when band=detractor;",
      qr/cx_alert "unhappy" has no "notify" line/ ],
    [ 'a Lua file with a syntax error', "notify http://127.0.0.1:9/ secret=hook.key; by_lua_file hooks/broken.lua;",
      qr/\[emerg\].*by_lua_file: \S+\/conf\/hooks\/broken\.lua:2: .* in \S+nginx\.conf:\d+/ ],
    [ 'unknown parameter', "notify http://127.0.0.1:9/ secret=hook.key format=xml;",
      qr/unknown parameter "format=xml"; expected secret=FILE, format=json or format=slack/ ],
);

for my $case (@BAD) {
    my ($name, $rule, $re) = @$case;
    my ($ok, $out) = cx_test_config(alert_conf("        $rule"), files => \%KEYS);
    ok !$ok, "nginx -t fails: $name";
    like $out, $re, "... and says why: $name" or diag $out;
}

for my $link ('ftp://shop.example/cx/', 'https://shop.example/cx', 'https:///cx/',
              'https://shop.example/cx/?x=1/', 'https://shop.example/"cx"/') {
    my ($ok, $out) = cx_test_config(alert_conf("        notify http://127.0.0.1:9/ secret=hook.key;",
        http => "    cx_alert_link $link;\n"), files => \%KEYS);
    ok !$ok, "nginx -t fails: cx_alert_link $link";
    like $out, qr/cx_alert_link "\Q$link\E" must be the URL of a cx_endpoint location as people reach it, ending in "\/"/,
        "... and says why: cx_alert_link $link";
}

{
    my ($ok, $out) = cx_test_config(alert_conf(
        "        survey nps1;\n        when band=detractor;\n        when attr.order_total>=100;\n"
      . "        when comment;\n"
      . "        notify http://127.0.0.1:9/hook secret=hook.key;\n"
      . "        escalate 15m http://127.0.0.1:9/manager secret=hook.key format=slack;\n"
      . "        escalate 2h http://127.0.0.1:9/director secret=hook.key;"), files => \%KEYS);
    ok $ok, 'the example rule passes nginx -t' or diag $out;
    ($ok, $out) = cx_test_config(alert_conf("        notify http://hooks.example.com/cx secret=hook.key;",
        http => "    resolver 127.0.0.1:53;\n"), files => \%KEYS);
    ok $ok, 'a host name with a resolver passes' or diag $out;
    ($ok, $out) = cx_test_config(alert_conf("        when band=detractor;\n"
        . "        by_lua_file %%REPO%%/examples/hooks/route_alert.lua;\n"
        . "        notify http://127.0.0.1:9/ secret=hook.key;\n"
        . "        escalate 15m http://127.0.0.1:9/manager secret=hook.key;"), files => \%KEYS);
    ok $ok, 'the README example rule with examples/hooks/route_alert.lua passes' or diag $out;
}

# ---- delivery -----------------------------------------------------------

my @PORTS = cx_free_ports(6);
my ($P_OK, $P_RETRY, $P_FAIL, $P_ESC, $P_DOWN, $P_SLACK) = @PORTS;

my $BIG_HOOK = <<'LUA';
local util = require "cx.util"
return function(cx)
  return true, { order_total = util.number(cx.request.headers["x-total"], 0) }
end
LUA

# an alert's Lua: vetoes a test comment, names the owner of the others
my $ROUTE_HOOK = <<'LUA';
return function(a)
  if a.comment == "ignore me" then
    return false
  end
  return true, { owner = "team-" .. a.survey, level = a.level, band = a.band }
end
LUA

my $ng = cx_nginx(files => { %KEYS, 'html/index.html' => $PAGE, 'conf/hooks/big.lua' => $BIG_HOOK,
                             'conf/hooks/route.lua' => $ROUTE_HOOK,
                             cx_pages($PAGE, qw(ok retry fail esc down slack big lua ex)) }, conf => <<"CONF");
    cx_store %%PREFIX%%/cxdata;
    cx_test_clock on;
    cx_alert_link http://127.0.0.1:%%PORT%%/cx/;
    cx_survey s_ok    { type nps;  question "Q?"; }
    cx_survey s_retry { type nps;  question "Q?"; }
    cx_survey s_fail  { type nps;  question "Q?"; }
    cx_survey s_esc   { type csat; question "Q?"; }
    cx_survey s_slack { type nps;  question "Q?"; }
    cx_survey s_big   { type nps;  question "Q?"; }
    cx_survey s_lua   { type nps;  question "Q?"; }
    cx_survey s_ex    { type nps;  question "Q?"; }
    cx_alert example_routed {
        survey s_ex;
        when comment;
        by_lua_file %%REPO%%/examples/hooks/route_alert.lua;
        notify http://127.0.0.1:$P_OK/example secret=hook.key;
    }
    cx_alert routed {
        survey s_lua;
        when comment;
        by_lua_file hooks/route.lua;
        notify http://127.0.0.1:$P_OK/routed secret=hook.key;
    }
    cx_alert detractors {
        survey s_ok;
        when band=detractor;
        notify http://127.0.0.1:$P_OK/hook secret=hook.key;
    }
    cx_alert retried {
        survey s_retry;
        when score<=6;
        notify http://127.0.0.1:$P_RETRY/hook secret=hook.key;
    }
    cx_alert refused {
        survey s_fail;
        when score<=6;
        notify http://127.0.0.1:$P_FAIL/hook secret=hook.key;
    }
    cx_alert escalating {
        survey s_esc;
        when band=detractor;
        notify http://127.0.0.1:$P_ESC/notify secret=hook.key;
        escalate 2s http://127.0.0.1:$P_ESC/manager secret=hook.key;
    }
    cx_alert chat {
        survey s_slack;
        when comment;
        notify http://127.0.0.1:$P_SLACK/slack secret=hook.key format=slack;
    }
    cx_alert big_order {
        survey s_big;
        when band=detractor;
        when attr.order_total>=100;
        notify http://127.0.0.1:$P_OK/big secret=hook.key;
    }
    server {
        %%CX_SITE%%
        location /ok/    { cx_touchpoint checkout stage=purchase; cx_prompt s_ok; }
        location /retry/ { cx_prompt s_retry; }
        location /fail/  { cx_prompt s_fail; }
        location /esc/   { cx_prompt s_esc; }
        location /slack/ { cx_prompt s_slack; }
        location /big/   { cx_prompt s_big; cx_target_by_lua_file hooks/big.lua; }
        location /lua/   { cx_prompt s_lua; }
        location /ex/    { cx_touchpoint purchase stage=purchase; cx_prompt s_ex; }
    }
CONF

# a visitor who gets the prompt at PATH and answers it
sub answered {
    my ($path, %o) = @_;
    my $b = cx_browser();
    my $r = $ng->visit($b, $path, headers => $o{headers} || []);
    my $token = $r->{prompt} && $r->{prompt}{token};
    ok $token, "$path: a prompt" or return;
    my $a = $ng->answer(event => 'answer', token => $token, jar => $b, score => $o{score});
    is $a->{status}, 204, "$path: answer $o{score} stored";
    if (defined $o{comment}) {
        is $ng->answer(event => 'comment', token => $token, jar => $b, comment => $o{comment})->{status},
            204, "$path: comment stored";
    }
    # the response id: issued_at and nonce of the token's payload
    # (version 1, issued_at 4, visitor 12, nonce 8, ...)
    my $p = cx_signed_payload($token);
    return { browser => $b, token => $token,
             response_id => unpack('H*', substr($p, 1, 4) . substr($p, 17, 8)) };
}

subtest 'a detractor: delivered at once, signed, with the facts' => sub {
    my $rcv = receiver($P_OK);
    my $t0 = time;
    my $ans = answered('/ok/', score => 3) or return;
    my @got;
    ok wait_for(sub { @got = received($rcv); @got >= 1 }, 5), 'the receiver got it';
    my $latency = time - $t0;
    ok $latency < 2, sprintf('within 2 s of the answer (%.2f s)', $latency);
    is scalar(@got), 1, 'once';
    my $m = $got[0];
    ok $m->{verified}, 'the Standard Webhooks reference library verifies the signature'
        or diag $m->{error};
    is $m->{method}, 'POST', 'POST';
    is $m->{url}, '/hook', 'to the configured path';
    is $m->{headers}{'content-type'}, 'application/json', 'JSON';
    my $j = $m->{json};
    is $j->{alert}, 'detractors', 'alert: the rule';
    is $j->{level}, 0, 'level 0';
    is $j->{survey}, 's_ok', 'survey';
    is $j->{type}, 'nps', 'type';
    is $j->{score}, 3, 'score';
    is $j->{band}, 'detractor', 'band';
    is $j->{touchpoint}, 'checkout', 'touchpoint';
    is $j->{stage}, 'purchase', 'stage';
    is $j->{response_id}, $ans->{response_id}, 'response_id: the prompt answered';
    is $m->{headers}{'webhook-id'}, "$j->{id}.0", 'webhook-id: the alert id and level';
    like $j->{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'created_at';
    is $j->{visitor}, cx_visitor_of($ans->{browser}{cookie}), 'visitor';

    answered('/ok/', score => 9);
    answered('/ok/', score => 7);
    sleep 1.5;
    is scalar(received($rcv)), 1, 'a promoter and a passive: no alert';

    my $rep = $ng->report_json;
    is_deeply $rep->{alerts}, { open => 1, acknowledged => 0, escalated => 0, failed => 0, resolved => 0 },
        'report.json counts it as open';
    stop_receiver($rcv);

    # the ack_url: a page on the endpoint; its GET changes nothing
    my $port = $ng->port;
    like $j->{ack_url}, qr{^http://127\.0\.0\.1:$port/cx/a/[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$},
        'ack_url: the endpoint, a/, the signed link';
    (my $path = $j->{ack_url}) =~ s{^http://[^/]+}{};
    my $page = $ng->get($path);
    is $page->{status}, 200, 'GET ack_url: 200';
    like $page->{headers}{'content-type'}, qr{^text/html}, 'a page';
    like $page->{headers}{'content-security-policy'}, qr/default-src 'none'.*form-action 'self'/, 'under a strict policy';
    like $page->{body}, qr{<h1>Alert: detractors</h1><p>s_ok: 3 at checkout</p><p>Status: <strong>open</strong></p>},
        'what the alert is about';
    like $page->{body}, qr{<form method="post"><button type="submit">Acknowledge</button></form>}, 'a button';
    is $ng->head($path)->{status}, 200, 'HEAD: 200';
    is $ng->report_json->{alerts}{open}, 1, 'GET and HEAD acknowledge nothing';
    (my $bad = $path) =~ s/.$/ substr($path, -1) eq 'A' ? 'B' : 'A' /e;
    is $ng->get($bad)->{status}, 404, 'a link with one character changed: 404';
    is $ng->post_json($path, '', Origin => 'https://evil.example')->{status}, 403,
        'a POST from another site: 403';
    is $ng->report_json->{alerts}{open}, 1, 'still open';
    my $done = $ng->req(method => 'POST', path => $path, headers => [ Origin => "http://127.0.0.1:$port" ]);
    is $done->{status}, 200, 'POST from the page: 200';
    like $done->{body}, qr{Status: <strong>acknowledged</strong></p><p role="status">Acknowledged\. Thank you\.</p>},
        'says so';
    unlike $done->{body}, qr/<form/, 'no button any more';
    is $ng->report_json->{alerts}{acknowledged}, 1, 'report.json: acknowledged';
};

subtest 'a condition on a hook attribute (order_total>=100)' => sub {
    my $rcv = receiver($P_OK);
    answered('/big/', score => 2, headers => [ 'X-Total' => '99.50' ]) or return;
    my $big = answered('/big/', score => 2, headers => [ 'X-Total' => '129.90' ]) or return;
    ok wait_for(sub { received($rcv) >= 1 }, 5), 'delivered';
    sleep 1;
    my @got = received($rcv);
    is scalar(@got), 1, 'only the order over 100';
    is $got[0]{json}{response_id}, $big->{response_id}, 'that one';
    is_deeply $got[0]{json}{attributes}, { order_total => '129.9' }, 'its attributes in the payload';
    stop_receiver($rcv);
};

subtest "the rule's Lua: a veto, and fields added" => sub {
    my $rcv = receiver($P_OK);
    my $vetoed = answered('/lua/', score => 2, comment => 'ignore me') or return;
    my $kept = answered('/lua/', score => 5, comment => 'late delivery') or return;
    ok wait_for(sub { received($rcv) >= 1 }, 5), 'delivered';
    sleep 1;
    my @got = received($rcv);
    is scalar(@got), 1, 'one: the other vetoed';
    is $got[0]{json}{response_id}, $kept->{response_id}, 'the one not vetoed';
    is_deeply $got[0]{json}{fields}, { owner => 'team-s_lua', level => '0', band => 'detractor' },
        'its fields, beside the facts';
    is $got[0]{json}{alert}, 'routed', 'the facts unchanged';
    ok $got[0]{verified}, 'signed';
    my $l = $CXTest::JSON->decode($ng->get('/cx-admin/alerts.json')->{body});
    ok !(grep { $_->{response_id} eq $vetoed->{response_id} } @{ $l->{alerts} }), 'the vetoed alert is gone';
    like $ng->error_log, qr/cx_alert "routed": level 0 vetoed by its Lua/, 'the log says so';
    stop_receiver($rcv);
};

subtest 'examples/hooks/route_alert.lua' => sub {
    my $rcv = receiver($P_OK);
    # one at a time: the next delivery reuses the sender's first slot
    my $real = answered('/ex/', score => 3, comment => 'slow') or return;
    ok wait_for(sub { received($rcv) >= 1 }, 5), 'delivered';
    answered('/ex/', score => 1, comment => 'Test: checkout flow') or return;
    sleep 1.5;
    my @got = received($rcv);
    is scalar(@got), 1, "a tester's answer vetoed";
    is $got[0]{json}{response_id}, $real->{response_id}, 'the real one delivered';
    is_deeply $got[0]{json}{fields}, { owner => 'orders-team', priority => 'normal' },
        'owner by touchpoint, priority by order total';
    stop_receiver($rcv);
};

subtest 'retried through 500s, the same webhook-id each time' => sub {
    my $rcv = receiver($P_RETRY, script => '500,503,204');
    answered('/retry/', score => 2) or return;
    my @got;
    ok wait_for(sub { @got = received($rcv); @got >= 3 }, 10), 'three attempts' or diag scalar @got;
    is_deeply [ map { $_->{answer} } @got ], [ qw(500 503 204) ], 'until a 2xx';
    ok !(grep { exists $_->{json}{fields} } @got), 'no "fields" left from an earlier delivery with Lua';
    my %ids = map { $_->{headers}{'webhook-id'} => 1 } @got;
    is scalar(keys %ids), 1, 'one webhook-id for all attempts';
    ok $got[1]{at} - $got[0]{at} >= 900, 'the second after a second at least';
    ok $got[2]{at} - $got[1]{at} >= 1900, 'the third after two seconds at least';
    ok((grep { !$_->{verified} } @got) == 0, 'every attempt signed');
    sleep 1.5;
    is scalar(received($rcv)), 3, 'no more after the 2xx';
    stop_receiver($rcv);
};

subtest 'a 400 fails at once and shows as failed' => sub {
    my $rcv = receiver($P_FAIL, script => '400');
    answered('/fail/', score => 1) or return;
    ok wait_for(sub { received($rcv) >= 1 }, 5), 'one attempt';
    sleep 2;
    is scalar(received($rcv)), 1, 'not retried';
    my ($list) = $ng->get('/cx-admin/alerts.json');
    my $l = $CXTest::JSON->decode($list->{body});
    my ($a) = grep { $_->{alert} eq 'refused' } @{ $l->{alerts} };
    is $a->{status}, 'failed', 'alerts.json: failed';
    is $ng->report_json->{alerts}{failed}, 1, 'report.json: failed 1';
    like $ng->error_log, qr/cx_alert: level 0 to "http:\/\/127\.0\.0\.1:$P_FAIL\/hook" refused with status 400: not retried/,
        'the log says so';
    stop_receiver($rcv);
};

subtest 'escalation at its deadline, and none once acknowledged' => sub {
    my $rcv = receiver($P_ESC);
    # the alert is created after this (its answer is committed later still)
    my $t_answer = time;
    my $left = answered('/esc/', score => 1) or return;
    my $acked = answered('/esc/', score => 2) or return;
    ok wait_for(sub { received($rcv) >= 2 }, 5), 'both notified';
    my @got = received($rcv);
    my ($n) = grep { $_->{json}{response_id} eq $acked->{response_id} } @got;
    my $id = $n->{json}{id};

    my $r = $ng->req(method => 'GET', path => "/cx-admin/alerts/$id/ack");
    is $r->{status}, 405, 'GET does not acknowledge (405)';
    $r = $ng->req(method => 'POST', path => "/cx-admin/alerts/$id/ack",
                  headers => [ Origin => 'https://evil.example' ]);
    is $r->{status}, 403, 'a POST from another site is refused';
    $r = $ng->req(method => 'POST', path => "/cx-admin/alerts/AAAAAAAAAAAAAAAAAAAAAA/ack");
    is $r->{status}, 404, 'an unknown alert: 404';
    $r = $ng->req(method => 'POST', path => "/cx-admin/alerts/$id/ack");
    is $r->{status}, 204, 'acknowledged: 204';

    ok wait_for(sub { grep { $_->{url} eq '/manager' } received($rcv) }, 6), 'an escalation came';
    sleep 1.5;
    my @esc = grep { $_->{url} eq '/manager' } received($rcv);
    is scalar(@esc), 1, 'one escalation';
    is $esc[0]{json}{response_id}, $left->{response_id}, 'for the alert left alone';
    is $esc[0]{json}{level}, 1, 'level 1';
    is $esc[0]{headers}{'webhook-id'}, "$esc[0]{json}{id}.1", 'webhook-id of level 1';
    ok $esc[0]{at} / 1000 - $t_answer >= 1.95, 'not before its deadline (2 s after the answer)'
        or diag sprintf '%.3f s', $esc[0]{at} / 1000 - $t_answer;
    ok $esc[0]{verified}, 'signed';

    my $l = $CXTest::JSON->decode($ng->get('/cx-admin/alerts.json')->{body});
    my %st = map { $_->{response_id} => $_->{status} } @{ $l->{alerts} };
    is $st{ $left->{response_id} }, 'escalated', 'alerts.json: escalated';
    is $st{ $acked->{response_id} }, 'acknowledged', 'alerts.json: acknowledged';

    is $ng->req(method => 'POST', path => "/cx-admin/alerts/$id/resolve")->{status}, 204, 'resolved: 204';
    $l = $CXTest::JSON->decode($ng->get('/cx-admin/alerts.json')->{body});
    my ($a) = grep { $_->{id} eq $id } @{ $l->{alerts} };
    is $a->{status}, 'resolved', 'then resolved';
    ok $a->{acknowledged_at} && $a->{resolved_at}, 'with both times';
    stop_receiver($rcv);
};

subtest 'format=slack and a comment rule' => sub {
    my $rcv = receiver($P_SLACK);
    my $ans = answered('/slack/', score => 4) or return;
    sleep 1.5;
    is scalar(received($rcv)), 0, 'no comment yet: no alert';
    is $ng->answer(event => 'comment', token => $ans->{token}, jar => $ans->{browser},
                   comment => 'Too slow "really"')->{status}, 204, 'comment stored';
    ok wait_for(sub { received($rcv) >= 1 }, 5), 'the comment fired it';
    my ($m) = received($rcv);
    ok $m->{verified}, 'signed too';
    like $m->{json}{text}, qr{^chat: s_slack scored 4 \(detractor\) at .*: \\?"Too slow \\?"really\\?"\\?" \[alert [A-Za-z0-9_-]{22}\] Acknowledge: http://127\.0\.0\.1:\d+/cx/a/\S{45}$},
        'a one-line text' or diag $m->{body};
    stop_receiver($rcv);
};

subtest 'cxctl alerts' => sub {
    my $cxctl = "$ROOT/build/cxctl";
    my $store = $ng->prefix . '/cxdata';
    my $all = `$cxctl --store $store alerts 2>&1`;
    is $?, 0, 'exit 0';
    my @lines = split /\n/, $all;
    like $lines[0], qr/^id\s+status\s+alert\s+created\s+survey\s+score\s+comment$/, 'a header line';
    my $l = $CXTest::JSON->decode($ng->get('/cx-admin/alerts.json')->{body});
    is scalar(@lines) - 1, scalar(@{ $l->{alerts} }), 'one line per alert, as alerts.json';
    for my $a (@{ $l->{alerts} }) {
        ok((grep { /^\Q$a->{id}\E  \Q$a->{status}\E\s+\Q$a->{alert}\E\s/ } @lines),
           "$a->{alert} $a->{status}: listed");
    }
    like $all, qr/^\S{22}  resolved\s+escalating\s+\d{4}-\d\d-\d\dT\S+Z\s+s_esc\s+2\s*$/m,
        'a line: id, status, rule, created, survey, score';
    my $open = `$cxctl --store $store alerts --open 2>&1`;
    is $?, 0, '--open: exit 0';
    unlike $open, qr/ (?:resolved|acknowledged) /, '--open: none acknowledged or resolved';
    like $open, qr/ escalated /, '--open: the escalated one';
    is system("$cxctl --store $store alerts --bogus >/dev/null 2>&1") >> 8, 2, 'a bad argument: exit 2';

    # prune takes the alerts with their responses
    my $n = scalar @{ $l->{alerts} };
    my @t = gmtime(time + 2 * 86400);
    my $day = sprintf '%04d-%02d-%02d', $t[5] + 1900, $t[4] + 1, $t[3];
    like `$cxctl --store $store prune --before $day --dry-run 2>&1`,
        qr/^would prune before $day: \d+ responses, \d+ events, $n alerts$/m, "prune --dry-run: $n alerts";
    like `$cxctl --store $store prune --before $day 2>&1`,
        qr/^pruned before $day: \d+ responses, \d+ events, $n alerts$/m, "prune: $n alerts";
    like `$cxctl --store $store alerts 2>&1`, qr/^no alerts$/m, 'none left';
    is $ng->report_json->{alerts}{open} + $ng->report_json->{alerts}{resolved}, 0, 'report.json: none';
};

done_testing;
