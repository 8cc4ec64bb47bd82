#!/usr/bin/perl
# The dashboard's journey view (issue 15) in a real browser against a real nginx:
# the dashboard at /cx-admin/ (cx_report), its report.json replaced by the
# fixture t/browser/journey-report.json through an exact-match location (which
# nginx prefers to the cx_report prefix location): six stages, twelve moves
# between touchpoints, time to purchase, re-surveys, a hostile touchpoint name
# and stages below their survey's target. The same dashboard at /cx-real/ reads
# the module's own report.json, whatever journey data it has. t/browser/journey.js
# drives Debian's chromium through playwright-core: the view at 1280 and 390 px,
# no sideways scrolling, no text under 11 px, axe-core, no CSP violation; it
# prints one JSON line with one result per check.
#
# Needs /usr/bin/chromium (or CX_CHROMIUM), node, and `npm ci` in t/browser
# (playwright-core, axe-core); skips cleanly without them.
# Screenshots: t/artifacts/dashboard-journey-{1280,390}.png (git-ignored).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use CXBrowser;

if (my $why = cx_browser_missing()) { plan skip_all => $why }

my $fixture = do {
    open my $fh, '<:raw', "$FindBin::Bin/browser/journey-report.json" or die "journey-report.json: $!";
    local $/;
    <$fh>;
};
my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";

my $ng = cx_nginx(files => { 'report/journey.json' => $fixture, cx_pages($PAGE, 'checkout') }, conf => <<'CONF');
    cx_store %%PREFIX%%/cxdata;
    cx_survey s1 { type nps; question "Q?"; target 30; }
    server {
        %%CX_SITE%%
        location = /cx-admin/report.json {
            alias %%PREFIX%%/report/journey.json;
            default_type application/json;
            add_header Cache-Control no-store;
        }
        location /cx-real/ { cx_report; }
        location /checkout/ { cx_touchpoint checkout stage=purchase; cx_prompt s1; }
    }
CONF

# an answer, so that the module's own report has a survey with data
my $b = cx_browser();
my $r = $ng->visit($b, '/checkout/');
my $token = $r->{prompt} && $r->{prompt}{token};
ok $token, 'a prompt';
is $ng->answer(event => 'answer', token => $token, jar => $b, score => 9)->{status}, 204, 'an answer stored';

# the exact-match location wins over the cx_report prefix location; the rest is the module's
my $fx = $ng->report_json;
is $fx->{journey}{visitors}, 200, '/cx-admin/report.json is the fixture';
is scalar @{ $fx->{stages} }, 6, 'with six stages';
my $real = $ng->report_json(undef, '/cx-real/');
is $real->{surveys}[0]{name}, 's1', '/cx-real/report.json is the module\'s';
is $real->{surveys}[0]{answered}, 1, 'with the answer';
for my $base (qw(/cx-admin/ /cx-real/)) {
    my $dash = $ng->get($base);
    is $dash->{status}, 200, "the dashboard at $base";
    like $dash->{body}, qr{<div id="jny"></div>}, 'with the journey view';
    like $dash->{headers}{'content-security-policy'}, qr/default-src 'none'.*connect-src 'self'/, 'and its CSP';
}
is $ng->get('/cx-admin/responses.csv')->{status}, 200, 'the exports still the module\'s';

my $res = cx_browser_run('journey.js', 'http://127.0.0.1:' . $ng->port, timeout => 170,
    clear => 'dashboard-journey-*.png');
my $art = $res->{art};

cx_browser_checks($res, [qw(desktop phone axe clean module_report)]);

cx_png_ok($_) for map {"$art/dashboard-journey-$_.png"} qw(1280 390);

done_testing;
