#!/usr/bin/perl
# The dashboard's alerts view (issue 14) in a real browser against a real nginx:
# an alert rule whose notify target is a closed port (no receiver: the alerts
# exist and stay open while their delivery is retried), two detractors answer,
# one with a hostile comment; t/browser/dashboard.js drives Debian's chromium
# through playwright-core: the alerts listed, Acknowledge by keyboard, Resolve
# by mouse, an error shown when the server refuses, the status filters, axe-core,
# and the page at phone width; it prints one JSON line with one result per check.
#
# Needs /usr/bin/chromium (or CX_CHROMIUM), node, and `npm ci` in t/browser
# (playwright-core, axe-core); skips cleanly without them.
# Screenshots: t/artifacts/dashboard-alerts-{1280,done,375}.png (git-ignored).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use JSON::PP ();
use File::Path qw(make_path);
use Time::HiRes qw(time);

my $root     = cx_repo_root();
my $chromium = $ENV{CX_CHROMIUM} || '/usr/bin/chromium';
my $script   = "$root/t/browser/dashboard.js";

plan skip_all => "no module build (run make)"            unless cx_have_module();
plan skip_all => "no $chromium"                          unless -x $chromium;
plan skip_all => "no t/browser/node_modules/playwright-core (cd t/browser && npm ci)"
    unless -d "$root/t/browser/node_modules/playwright-core";
plan skip_all => "no t/browser/node_modules/axe-core (cd t/browser && npm ci)"
    unless -f "$root/t/browser/node_modules/axe-core/axe.min.js";
my ($node) = grep { -x } map {"$_/node"} split /:/, $ENV{PATH} // '';
plan skip_all => "no node in PATH" unless $node;

my $XSS = '<img src=x onerror=alert(1)>';
my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";
# nothing listens there: the deliveries are refused and retried, the alerts stay open
my ($closed) = cx_free_ports(1);

my $ng = cx_nginx(files => {
        'conf/hook.key' => 'whsec_' . "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
        cx_pages($PAGE, 'checkout') }, conf => <<"CONF");
    cx_store %%PREFIX%%/cxdata;
    cx_survey s1 { type nps; question "Q?"; }
    cx_alert unhappy {
        survey s1;
        when band=detractor;
        notify http://127.0.0.1:$closed/hook secret=hook.key;
    }
    server {
        %%CX_SITE%%
        location /checkout/ { cx_touchpoint checkout stage=purchase; cx_prompt s1; }
    }
CONF

sub answered {
    my ($score, $comment) = @_;
    my $b = cx_browser();
    my $r = $ng->visit($b, '/checkout/');
    my $token = $r->{prompt} && $r->{prompt}{token};
    ok $token, 'a prompt' or return;
    is $ng->answer(event => 'answer', token => $token, jar => $b, score => $score)->{status}, 204,
        "answer $score stored";
    is $ng->answer(event => 'comment', token => $token, jar => $b, comment => $comment)->{status}, 204,
        'comment stored';
}

sub alerts {
    my $j = eval { $CXTest::JSON->decode($ng->get('/cx-admin/alerts.json')->{body}) };
    return @{ ($j && $j->{alerts}) || [] };
}

answered(2, $XSS);
sleep 1;    # distinct creation times: newest first is well defined
answered(4, 'Checkout was slow');
ok wait_for(sub { alerts() == 2 }, 5), 'two alerts in alerts.json';
is_deeply [ map { $_->{status} } alerts() ], [qw(open open)], 'both open';
is $ng->report_json->{alerts}{open}, 2, 'report.json counts them';
my $dash = $ng->get('/cx-admin/');
is $dash->{status}, 200, 'the dashboard';
like $dash->{headers}{'content-security-policy'}, qr/default-src 'none'.*connect-src 'self'/, 'with its CSP';

my $art = "$root/t/artifacts";
make_path($art);
unlink glob "$art/dashboard-alerts-*.png";

my $t0  = time;
my $cmd = "timeout -k 5 200 " . join ' ', map { "'$_'" } $node, $script, 'http://127.0.0.1:' . $ng->port, $art;
my $out = `$cmd 2>&1`;
my $rc  = $? == -1 ? -1 : $? >> 8;
diag sprintf 'browser run: %.1f s, exit %d', time - $t0, $rc;

my ($line) = grep {/^\{"ok":/} split /\n/, $out;
my $res = eval { JSON::PP->new->decode($line // '') };
ok $res, 'dashboard.js printed its JSON result' or diag "output:\n$out";
ok $rc == 0 || $rc == 1, "dashboard.js ran all checks (exit $rc: 0 all pass, 1 some fail)"
    or diag "output:\n$out";
$res //= { checks => {} };
my $checks = $res->{checks};
my $json   = JSON::PP->new->canonical->pretty;

for my $name (qw(shown keyboard_acknowledge resolve error_shown filter axe clean phone)) {
    my $c = $checks->{$name};
    ok $c && $c->{ok}, "browser: $name" or diag $c ? $json->encode($c) : "check $name did not run";
    note "$name: " . JSON::PP->new->canonical->encode($c) if $c && $c->{ok};
}
for my $name (grep {/^_/} sort keys %$checks) {
    fail "browser: $name";
    diag $json->encode($checks->{$name});
}

# what the browser did, as the server has it
my %by = map { $_->{comment} => $_ } alerts();
is $by{$XSS}{status}, 'resolved', 'the hostile one: resolved';
ok $by{$XSS}{acknowledged_at} && $by{$XSS}{resolved_at}, 'acknowledged, then resolved';
is $by{'Checkout was slow'}{status}, 'open', 'the other: still open (its acknowledgement was refused)';
is $ng->report_json->{alerts}{resolved}, 1, 'report.json: 1 resolved';
like $ng->error_log, qr/cx_alert: \S{22} acknowledged from the report location/, 'the log says who acknowledged';

for my $f (map {"$art/dashboard-alerts-$_.png"} qw(1280 done 375)) {
    my $ok = -s $f && do {
        open my $fh, '<:raw', $f or die;
        read $fh, my $sig, 8;
        $sig eq "\x89PNG\r\n\x1a\n";
    };
    ok $ok, "screenshot $f is a non-empty PNG";
}

done_testing;
