#!/usr/bin/perl
# Alerts under stress (docs/behaviours.md [36]; issue 14; t/65-alerts.t
# has the basics): the
# receiver is t/alerts/receiver.js (t/lib/CXAlerts.pm), which verifies every
# signature with the Standard Webhooks reference library; a delivery is
# told apart by its webhook-id, "<alert id>.<level>".
#
# 1. kill -9 of master and worker after the 204, before any delivery (the
#    receiver down): after the restart the alert is delivered exactly once.
# 2. A burst of 1000 alerts with an escalation each: 2000 deliveries, each
#    webhook-id exactly once, all verified; report.json adds up.
# 3. A receiver that never answers, holding every cx_alert_concurrency
#    slot, does not slow pages down, nor stop intake.
# 4. https: a receiver whose certificate the test CA signed
#    (cx_alert_trusted_certificate) gets it; one from another CA does not,
#    and the delivery is retried with "certificate verify failed" logged.
# 5. cx_alert_retry_for 3s with the receiver down: retried, then failed
#    (alerts.json, report.json).
# 6. A reload while deliveries wait (receiver down): each delivered once
#    once the receiver is up.
# 7. A reload while a delivery is in flight (the receiver hangs): the new
#    worker does not post it too; it is delivered once afterwards.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::Local qw(timegm);
use Time::HiRes qw(time sleep);
use Test::More;
use CXTest;
use CXAlerts;

plan skip_all => 'module not built (make all)' unless cx_have_module();
if (my $why = cx_alerts_missing()) { plan skip_all => $why }

my $T0 = time;
my $DIR = tempdir('cxalerts66-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CX_KEEP});
chmod 0755, $DIR;
CXAlerts::dir($DIR);

my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";

# nginx with survey s1 prompted at /, and the rule "a1" (when
# band=detractor) made of $o{rule}'s lines; $o{http}: more http-level lines
sub alert_nginx {
    my (%o) = @_;
    my $http = $o{http} // '';
    my $rules = $o{rules} // "    cx_alert a1 {\n        when band=detractor;\n$o{rule}\n    }\n";
    return cx_nginx(
        files => { 'conf/hook.key' => "$ALERT_SECRET\n", 'html/index.html' => $PAGE },
        conf  => <<"CONF");
    cx_store %%PREFIX%%/cxdata max_size=64m;
$http
    cx_survey s1 { type nps; question "Q?"; }
$rules
    server {
        %%CX_SITE%%
        location / { cx_prompt s1; }
    }
CONF
}

# a new visitor gets the prompt at / and answers it with $score
# -> {status (the answer's), token, response_id}
sub answered {
    my ($ng, $score) = @_;
    my $b = cx_browser();
    my $r = $ng->visit($b, '/');
    my $token = $r->{prompt} && $r->{prompt}{token};
    return { status => 0, error => "no prompt (page $r->{status})" } unless $token;
    my $a = $ng->answer(event => 'answer', token => $token, jar => $b, score => $score);
    # the response id: issued_at and nonce of the token's payload
    my $p = cx_signed_payload($token);
    return { status => $a->{status}, token => $token,
             response_id => unpack('H*', substr($p, 1, 4) . substr($p, 17, 8)) };
}

sub alerts_list {
    my ($ng) = @_;
    my $r = $ng->get('/cx-admin/alerts.json');
    my $j = eval { $CXTest::JSON->decode($r->{body}) };
    diag "alerts.json: $r->{status} $r->{body}" unless $j;
    return $j ? $j->{alerts} : [];
}

# webhook-id => how many times it came
sub by_id {
    my %n;
    $n{ $_->{headers}{'webhook-id'} // '' }++ for @_;
    return \%n;
}

# 2026-12-07T17:11:41Z -> seconds since the epoch
sub iso_s {
    my ($y, $mo, $d, $h, $mi, $s) = $_[0] =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/
        or return 9e9;
    return timegm($s, $mi, $h, $d, $mo - 1, $y);
}

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

sub log_count {
    my ($ng, $re, $from) = @_;
    my $log = substr $ng->error_log, $from // 0;
    my @m = $log =~ /$re/g;
    return scalar @m;
}

# ---- 1. kill -9 after the 204, before delivery ----------------------------

subtest 'kill -9 of master and worker after the 204: delivered exactly once after the restart' => sub {
    my ($port) = cx_free_ports(1);
    my $ng = alert_nginx(rule => "        notify http://127.0.0.1:$port/hook secret=hook.key;");

    my $ans = answered($ng, 2);
    is $ans->{status}, 204, 'a detractor answered: 204' or return diag $ans->{error};
    my $l = alerts_list($ng);
    is scalar(@$l), 1, 'alerts.json: one alert';
    is $l->[0]{response_id}, $ans->{response_id}, '... for that response';
    is $l->[0]{status}, 'open', '... open';
    is $l->[0]{sent}, 0, '... sent 0 (the receiver is down)';
    my $id = $l->[0]{id};

    my @pids = ($ng->pid, $ng->worker_pids);
    is scalar(@pids), 2, 'master and worker';
    kill 'KILL', @pids;
    ok((wait_for { waitpid $_, WNOHANG for @pids; !grep { cx_pid_alive($_) } @pids } 5),
        'kill -9: both gone');

    my $rcv = receiver($port);
    my $t = time;
    $ng->restart;
    ok wait_for(sub { received_count($rcv) >= 1 }, 15), 'the receiver got it after the restart';
    note sprintf 'delivered %.1f s after the restart', time - $t;
    sleep 2;    # a repeat would come now
    my @got = received($rcv);
    is scalar(@got), 1, 'exactly one request';
    is_deeply by_id(@got), { "$id.0" => 1 }, "webhook-id $id.0, once";
    ok $got[0]{verified}, 'signature verified' or diag $got[0]{error};
    is $got[0]{json}{response_id}, $ans->{response_id}, 'the payload is that response';
    ok wait_for(sub { my $a = alerts_list($ng)->[0]; $a && $a->{sent} == 1 }, 3),
        'alerts.json: sent 1';
    stop_receiver($rcv);
    $ng->stop;
};

# ---- 2. a burst of 1000 alerts with an escalation each ----------------------

subtest 'a burst of 1000 alerts, notify and escalate 3s: every webhook-id exactly once' => sub {
    my $N = $ENV{CX_ALERT_BURST} || 1000;
    my ($port) = cx_free_ports(1);
    my $ng = alert_nginx(rule => "        notify http://127.0.0.1:$port/n secret=hook.key;\n"
                               . "        escalate 3s http://127.0.0.1:$port/e secret=hook.key;");
    my $rcv = receiver($port);

    # two clients at once, each its own share of visitors
    my $t0 = time;
    my @kids;
    for my $k (0, 1) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $bad = 0;
            for (my $i = $k; $i < $N; $i += 2) {
                last if time - $t0 > 60;
                my $a = eval { answered($ng, $i % 7) };
                $bad++ unless $a && $a->{status} == 204;
            }
            POSIX::_exit($bad > 255 ? 255 : $bad);
        }
        push @kids, $pid;
    }
    my $bad = 0;
    for (@kids) { waitpid $_, 0; $bad += $? >> 8 }
    my $answered = time - $t0;
    is $bad, 0, sprintf('%d detractors answered, all 204 (%.1f s)', $N, $answered);

    my $all = wait_for { received_count($rcv) >= 2 * $N } 90;
    my $took = time - $t0;
    ok $all, "all $N level-0 and $N level-1 deliveries arrived"
        or diag 'got ' . received_count($rcv);
    diag sprintf 'burst: %d answers in %.1f s; all %d deliveries %.1f s after the first answer',
        $N, $answered, 2 * $N, $took;
    sleep 1.5;    # anything more would be a repeat

    my @got = received($rcv);
    my $ids = by_id(@got);
    is scalar(@got), 2 * $N, "exactly " . 2 * $N . " requests";
    is scalar(keys %$ids), 2 * $N, 'as many webhook-ids';
    is scalar(grep { $_ > 1 } values %$ids), 0, 'none twice';
    is scalar(grep { !$_->{verified} } @got), 0, 'every signature verified';
    is scalar(grep { $_->{headers}{'webhook-id'} =~ /\.0$/ && $_->{url} eq '/n' } @got), $N,
        "$N level 0 to /n";
    is scalar(grep { $_->{headers}{'webhook-id'} =~ /\.1$/ && $_->{url} eq '/e' } @got), $N,
        "$N level 1 to /e";
    my %alerts = map { /^(.*)\.\d$/ ? ($1 => 1) : () } keys %$ids;
    is scalar(keys %alerts), $N, "$N alerts, each with both levels";
    is scalar(grep { $_->{json}{id} . '.' . $_->{json}{level} ne $_->{headers}{'webhook-id'} } @got), 0,
        'each payload matches its webhook-id';

    # an escalation not before its deadline, 3 s after the alert's creation
    # (created_at has whole seconds: not before that second + 3 s)
    my @early = grep { $_->{json}{level} == 1 && $_->{at} < 1000 * iso_s($_->{json}{created_at}) + 3000 } @got;
    is scalar(@early), 0, 'no escalation sooner than its deadline'
        or diag "$early[0]{json}{created_at}, came at $early[0]{at}";

    is_deeply $ng->report_json->{alerts},
        { open => 0, acknowledged => 0, escalated => $N, failed => 0, resolved => 0 },
        "report.json: escalated $N, nothing else";
    is log_count($ng, qr/cx_alert: level \d to "[^"]*" (?:failed|answered)/), 0,
        'no attempt failed';
    stop_receiver($rcv);
    $ng->stop;
};

# ---- 3. a receiver that never answers does not slow pages -------------------

subtest 'a hanging receiver holding every slot: page latency and intake unchanged' => sub {
    my ($port) = cx_free_ports(1);
    my $ng = alert_nginx(rule => "        notify http://127.0.0.1:$port/hook secret=hook.key;");
    my $rcv = receiver($port, script => 'hang');

    my $pages = sub {
        my @ms;
        my $bad = 0;
        for (1 .. 300) {
            my $t = time;
            my $r = $ng->get('/');
            push @ms, 1000 * (time - $t);
            $bad++ unless $r->{status} == 200 && $r->{body} =~ /"token":"/;
        }
        return ($bad, @ms);
    };

    my ($bad0, @before) = $pages->();
    is $bad0, 0, '300 pages with a prompt, before';

    my @st = map { answered($ng, 1)->{status} } 1 .. 10;
    is_deeply \@st, [ (204) x 10 ], '10 detractors answered: 204';
    ok wait_for(sub { received_count($rcv) >= 4 }, 5), 'the receiver holds 4 requests';
    sleep 0.3;
    is received_count($rcv), 4, 'and no more: all 4 slots (cx_alert_concurrency) taken';

    my $t = time;
    my ($bad1, @after) = $pages->();
    my @during = map { answered($ng, 8)->{status} } 1 .. 20;
    my $span = time - $t;
    is $bad1, 0, '300 pages with a prompt, while it hangs';
    is_deeply \@during, [ (204) x 20 ], '20 answers meanwhile: 204';
    my $held = received_count($rcv);
    ok $span < 9, sprintf('measured within the 10 s a post may last (%.1f s)', $span);

    my ($m0, $m1) = (median(@before), median(@after));
    diag sprintf 'page latency median: %.2f ms before, %.2f ms with the receiver hanging', $m0, $m1;
    ok $m1 <= 1.5 * $m0 + 2, 'within 1.5x + 2 ms of the baseline';
    is $held, 4, 'the slots were held throughout';

    stop_receiver($rcv);    # its connections close: the posts end now
    $ng->stop;
};

# ---- 4. https -----------------------------------------------------------------

subtest 'https: trusted by cx_alert_trusted_certificate, and not' => sub {
    plan skip_all => 'openssl not found' unless grep { -x "$_/openssl" } split /:/, $ENV{PATH};
    my $run = sub { my $out = `@_ 2>&1`; die "@_:\n$out" if $?; };
    my $EC = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
    open my $ext, '>', "$DIR/ext.cnf" or die;
    print {$ext} "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        . "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
    close $ext;
    for my $ca (qw(ca other-ca)) {
        $run->("openssl req -x509 $EC -keyout $DIR/$ca.key -out $DIR/$ca.pem -days 2"
            . " -subj '/CN=cx test $ca' -addext basicConstraints=critical,CA:TRUE"
            . " -addext keyUsage=critical,keyCertSign,cRLSign");
        $run->("openssl req -new $EC -keyout $DIR/$ca-server.key -out $DIR/$ca-server.csr"
            . " -subj /CN=localhost");
        $run->("openssl x509 -req -in $DIR/$ca-server.csr -CA $DIR/$ca.pem -CAkey $DIR/$ca.key"
            . " -CAcreateserial -out $DIR/$ca-server.pem -days 2 -extfile $DIR/ext.cnf");
    }
    chmod 0644, glob "$DIR/*";

    my ($p_good, $p_bad) = cx_free_ports(2);
    my $good = receiver($p_good, cert => "$DIR/ca-server.pem", key => "$DIR/ca-server.key");
    my $bad = receiver($p_bad, cert => "$DIR/other-ca-server.pem", key => "$DIR/other-ca-server.key");
    my $ng = alert_nginx(http => "    cx_alert_trusted_certificate $DIR/ca.pem;", rules => <<"RULES");
    cx_alert trusted {
        when band=detractor;
        notify https://127.0.0.1:$p_good/hook secret=hook.key;
    }
    cx_alert untrusted {
        when band=detractor;
        notify https://127.0.0.1:$p_bad/hook secret=hook.key;
    }
RULES

    my $ans = answered($ng, 0);
    is $ans->{status}, 204, 'a detractor: 204 (two rules, two alerts)';
    ok wait_for(sub { received_count($good) >= 1 }, 5), 'the trusted receiver got it over TLS';
    my ($m) = received($good);
    ok $m->{verified}, 'signature verified' or diag $m->{error};
    is $m->{json}{alert}, 'trusted', 'the trusted rule';
    is $m->{json}{response_id}, $ans->{response_id}, 'that response';

    my $re = qr/cx_alert: level 0 to "https:\/\/127\.0\.0\.1:$p_bad\/hook" failed: certificate verify failed[^\n]*, attempt (\d+), retried/;
    ok wait_for(sub { log_count($ng, $re) >= 2 }, 8), 'the untrusted one: certificate verify failed, retried'
        or diag $ng->error_log;
    my ($line) = $ng->error_log =~ /(cx_alert: level 0 to "https:[^\n]*$p_bad[^\n]*)/;
    note $line // '';
    is received_count($bad), 0, 'that receiver never got a request';
    my %st = map { $_->{alert} => $_ } @{ alerts_list($ng) };
    is $st{trusted}{sent}, 1, 'alerts.json: trusted sent';
    is_deeply [ @{ $st{untrusted} }{qw(status sent failed)} ], [ 'open', 0, 0 ],
        'alerts.json: untrusted open, not sent, not failed (still retried)';
    stop_receiver($_) for $good, $bad;
    $ng->stop;
};

# ---- 5. cx_alert_retry_for 3s --------------------------------------------------

subtest 'cx_alert_retry_for 3s, the receiver down: retried, then failed' => sub {
    my ($port) = cx_free_ports(1);
    my $ng = alert_nginx(http => '    cx_alert_retry_for 3s;',
                         rule => "        notify http://127.0.0.1:$port/hook secret=hook.key;");
    my $t = time;
    is answered($ng, 3)->{status}, 204, 'a detractor: 204';
    my $failed = wait_for { my $a = alerts_list($ng)->[0]; $a && $a->{status} eq 'failed' } 15;
    my $took = time - $t;
    ok $failed, sprintf('alerts.json: failed (%.1f s after the answer)', $took);
    ok $took >= 3, 'not before retry_for (3 s)';
    my $a = alerts_list($ng)->[0];
    is_deeply [ @$a{qw(sent failed state)} ], [ 0, 1, 'open' ], 'sent 0, failed level 0 (bit 1)';
    is $ng->report_json->{alerts}{failed}, 1, 'report.json: alerts.failed 1';
    my $re = qr/cx_alert: level 0 to "http:\/\/127\.0\.0\.1:$port\/hook" failed: connection refused, attempt (\d+), retried/;
    my @attempts = $ng->error_log =~ /$re/g;
    ok @attempts >= 2, 'the log has the retried attempts: ' . join(', ', @attempts);
    is_deeply \@attempts, [ 1 .. @attempts ], 'numbered 1, 2, ...';
    my $last = @attempts + 1;
    like $ng->error_log, qr/\[error\].*cx_alert: level 0 to "http:\/\/127\.0\.0\.1:$port\/hook" failed: connection refused, attempt $last, given up \(cx_alert_retry_for\)/,
        "the last attempt ($last) says it gave up";
    sleep 1.5;
    my @later = $ng->error_log =~ /$re/g;
    is scalar(@later), scalar(@attempts), 'no attempt after failing';
    unlike $ng->error_log, qr/attempt @{[ $last + 1 ]},/, 'none after the last';
    $ng->stop;
};

# ---- 6. a reload while deliveries wait ----------------------------------------

subtest 'a reload while deliveries wait: each delivered once after it' => sub {
    my $N = 5;
    my ($port) = cx_free_ports(1);
    my $ng = alert_nginx(rule => "        notify http://127.0.0.1:$port/hook secret=hook.key;");
    my @ans = map { answered($ng, 4) } 1 .. $N;
    is_deeply [ map { $_->{status} } @ans ], [ (204) x $N ], "$N detractors: 204";
    my $re = qr/cx_alert: level 0 to "[^"]*" failed: connection refused, attempt 1, retried/;
    ok wait_for(sub { log_count($ng, $re) >= $N }, 5), 'each tried once, refused';
    my @old = $ng->worker_pids;
    ok $ng->reload, 'reloaded (HUP): the old worker gone, a new one serves';
    my $t = time;
    my $rcv = receiver($port);
    ok wait_for(sub { received_count($rcv) >= $N }, 10), "the receiver got $N";
    sleep 2;
    my @got = received($rcv);
    my $ids = by_id(@got);
    is scalar(@got), $N, "exactly $N requests";
    is scalar(grep { $_ == 1 } values %$ids), $N, "$N webhook-ids, each once";
    is_deeply [ sort map { $_->{json}{response_id} } @got ], [ sort map { $_->{response_id} } @ans ],
        'one for each answer';
    is scalar(grep { !$_->{verified} } @got), 0, 'all verified';
    is scalar(grep { $_->{at} < 1000 * $t - 50 } @got), 0, 'all after the reload';
    ok !grep({ my $o = $_; grep { $_ == $o } $ng->worker_pids } @old), 'by the new worker';
    is scalar(grep { $_->{sent} == 1 } @{ alerts_list($ng) }), $N, "alerts.json: $N sent";
    stop_receiver($rcv);
    $ng->stop;
};

# ---- 7. a reload while a delivery is in flight --------------------------------
#
# The old worker 0 finishes the exchanges it has started; the new one must
# not post the same delivery meanwhile ("a delivery is never sent twice at
# once", src/ngx_http_cx_alert_send.c), or a slow receiver that answers 2xx
# to both gets it twice without any crash.

subtest 'a reload while a delivery is in flight: not sent twice at once' => sub {
    my ($port) = cx_free_ports(1);
    my $ng = alert_nginx(rule => "        notify http://127.0.0.1:$port/hook secret=hook.key;");
    my $hang = receiver($port, script => 'hang');
    my $ans = answered($ng, 5);
    is $ans->{status}, 204, 'a detractor: 204';
    ok wait_for(sub { received_count($hang) >= 1 }, 5), 'its delivery is in flight (the receiver hangs)';
    my ($old) = $ng->worker_pids;
    kill 'HUP', $ng->pid;
    ok wait_for(sub { grep { $_ != $old } $ng->worker_pids }, 10), 'reload: a new worker';
    sleep 2.5;    # the new worker 0 has looked at the queue twice by now
    my @got = received($hang);
    is scalar(@got), 1, 'one request while the first is in flight'
        or diag join ' ', map { "$_->{headers}{'webhook-id'} at $_->{at}" } @got;
    ok cx_pid_alive($old), 'the old worker still waits for its exchange';
    like $ng->error_log, qr/cx_alert: another process \(a previous worker\) still sends alerts, waiting for it/,
        'the new worker says it waits';

    stop_receiver($hang);    # the exchange ends: "connection closed", retried
    my $rcv = receiver($port);
    ok wait_for(sub { !cx_pid_alive($old) }, 5), 'the old worker exits';
    ok wait_for(sub { received_count($rcv) >= 1 }, 10), 'delivered after the reload';
    like $ng->error_log, qr/cx_alert: the previous sender is gone, sending alerts/,
        'then takes over';
    sleep 2;
    @got = received($rcv);
    is scalar(@got), 1, 'once';
    ok $got[0]{verified}, 'verified';
    is $got[0]{json}{response_id}, $ans->{response_id}, 'that response';
    is alerts_list($ng)->[0]{sent}, 1, 'alerts.json: sent 1';
    stop_receiver($rcv);
    $ng->stop;
};

diag sprintf 't/66-alerts-durable.t: %.1f s', time - $T0;
done_testing;
