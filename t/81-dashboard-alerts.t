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
use CXBrowser;

if (my $why = cx_browser_missing()) { plan skip_all => $why }

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

my $res = cx_browser_run('dashboard.js', 'http://127.0.0.1:' . $ng->port, timeout => 200,
    clear => 'dashboard-alerts-*.png');
my $art = $res->{art};

cx_browser_checks($res, [qw(shown keyboard_acknowledge resolve error_shown filter axe clean phone)]);

# what the browser did, as the server has it
my %by = map { $_->{comment} => $_ } alerts();
is $by{$XSS}{status}, 'resolved', 'the hostile one: resolved';
ok $by{$XSS}{acknowledged_at} && $by{$XSS}{resolved_at}, 'acknowledged, then resolved';
is $by{'Checkout was slow'}{status}, 'open', 'the other: still open (its acknowledgement was refused)';
is $ng->report_json->{alerts}{resolved}, 1, 'report.json: 1 resolved';
like $ng->error_log, qr/cx_alert: \S{22} acknowledged from the report location/, 'the log says who acknowledged';

cx_png_ok($_) for map {"$art/dashboard-alerts-$_.png"} qw(1280 done 375);

done_testing;
