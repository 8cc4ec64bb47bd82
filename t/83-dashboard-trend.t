#!/usr/bin/perl
# The dashboard's trend, comments and phone layout (issue 17: 5, 6, 8) in a real browser
# against a real nginx.  Seventy days of answers (cx_test_clock), k days ago:
#
#   nps1 at "purchase" for k = 69, 65, .. 1: score (3, 9, 7)[k % 3] when k >= 30, else
#     (10, 9, 6)[k % 3]; commented "Kettle was cold #k" when k % 8 == 1, "Slow checkout #k"
#     otherwise, and the hostile "<img src=x onerror=alert(1)>" for k = 1
#   csat1 at "support" for k = 0, 6, .. 54: score 1 + k % 5, commented "Help desk #k"
#
# t/browser/trend.js reports what the page shows; this file works out from the data what it
# must show (the unit chosen, the tables by week, month and day, the last 30 days against the
# 30 before, the comments in order, by search, band and touchpoint) and compares.  The script
# itself checks the phone layout at 390 px (chart text of 11 px or more as drawn, no clipped
# table cell), a resize, filters that are not valid, axe-core and the CSP.
#
# Needs /usr/bin/chromium (or CX_CHROMIUM), node, and `npm ci` in t/browser
# (playwright-core, axe-core); skips cleanly without them.
# Screenshots: t/artifacts/dashboard-{trend-1280,trend-390,comments-390,invalid-390}.png.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(floor strftime);
use CXTest;
use CXBrowser;

if (my $why = cx_browser_missing()) { plan skip_all => $why }

binmode $_, ':encoding(UTF-8)' for Test::More->builder->output, Test::More->builder->failure_output;

my $XSS = '<img src=x onerror=alert(1)>';
my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";
my $DAY = 86400;

my $ng = cx_nginx(files => { cx_pages($PAGE, '', qw(shop help)) }, conf => <<'CONF');
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_test_clock on;
    cx_survey nps1  { type nps;  question "How likely?"; followup "Why?"; }
    cx_survey csat1 { type csat; question "How satisfied?"; followup "Why?"; }
    server {
        %%CX_SITE%%
        location /shop/ { cx_touchpoint purchase stage=purchase; cx_prompt nps1 sample=100%; }
        location /help/ { cx_touchpoint support stage=usage; cx_prompt csat1 sample=100%; }
        location / { cx_touchpoint browse stage=consideration; cx_prompt nps1 sample=100%; }
    }
CONF

# ---- the data ----------------------------------------------------------------------

my $today = floor(time / $DAY) * $DAY;
my @all;
sub answer {
    my ($k, $path, $survey, $type, $score, $comment) = @_;
    my $now = $today + 3600 - $k * $DAY;
    my $r = $ng->get($path, 'X-CX-Test-Now' => $now);
    my ($token) = $r->{body} =~ /"token":"([^"]*)"/;
    my $cookie = cx_cookie_from($r, 'cx');
    ok $token, "$survey, $k days ago: a prompt" or return;
    for my $ev (['display'], ['answer', score => $score], ['comment', comment => $comment]) {
        my ($event, %f) = @$ev;
        is $ng->answer(token => $token, cookie => $cookie, event => $event, now => $now + 1, %f)->{status}, 204,
            "$survey, $k days ago: $event";
    }
    push @all, { k => $k, day => $today - $k * $DAY, survey => $survey, type => $type, score => $score, comment => $comment,
        tp => $survey eq 'nps1' ? 'purchase' : 'support' };
}
for (my $k = 69; $k >= 1; $k -= 4) {
    answer($k, '/shop/', 'nps1', 'nps', $k >= 30 ? (3, 9, 7)[ $k % 3 ] : (10, 9, 6)[ $k % 3 ],
        $k == 1 ? $XSS : $k % 8 == 1 ? "Kettle was cold #$k" : "Slow checkout #$k");
}
answer($_ * 6, '/help/', 'csat1', 'csat', 1 + $_ * 6 % 5, 'Help desk #' . $_ * 6) for 0 .. 9;
is scalar @all, 28, '28 answers, each commented';

# ---- what the page must show ----------------------------------------------------------

sub ymd { strftime('%Y-%m-%d', gmtime $_[0]) }
sub js_round { floor($_[0] + 0.5) }
sub nps_of {
    my @s = @_;
    return undef unless @s;
    return 100 * (grep({ $_ >= 9 } @s) - grep({ $_ <= 6 } @s)) / @s;
}
sub fmt_nps { my $r = js_round($_[0]); ($r > 0 ? '+' : $r < 0 ? "\x{2212}" : '') . abs $r }
sub band {
    my ($a) = @_;
    my ($d, $p) = $a->{type} eq 'nps' ? (6, 8) : (2, 3);
    return $a->{score} <= $d ? 'detractor' : $a->{score} <= $p ? 'passive' : 'promoter';
}
my @nps = grep { $_->{survey} eq 'nps1' } @all;

# the table of a unit: its non-empty buckets, newest first
sub table_of {
    my ($name_of) = @_;
    my (%by, %start);
    for my $a (@nps) {
        my ($key, $start) = $name_of->($a->{day});
        push @{ $by{$key} }, $a->{score};
        $start{$key} = $start;
    }
    return [ map { "$_ " . scalar(@{ $by{$_} }) . ' ' . fmt_nps(nps_of(@{ $by{$_} })) }
        sort { $start{$b} <=> $start{$a} } keys %by ];
}
my $by_day = table_of(sub { (ymd($_[0]), $_[0]) });
my $by_week = table_of(sub {
    my $mon = $_[0] - ((gmtime $_[0])[6] + 6) % 7 * $DAY;
    (strftime('%G-W%V', gmtime $mon) . ' (from ' . ymd($mon) . ')', $mon);
});
my $by_month = table_of(sub { (strftime('%Y-%m', gmtime $_[0]), $_[0]) });

my ($p0, $q0, $q1) = ($today - 29 * $DAY, $today - 59 * $DAY, $today - 30 * $DAY);
my @p = map { $_->{score} } grep { $_->{day} >= $p0 } @nps;
my @q = map { $_->{score} } grep { $_->{day} >= $q0 && $_->{day} <= $q1 } @nps;
my $change = js_round(10 * (nps_of(@p) - nps_of(@q))) / 10;
my $cmp = sprintf "Last 30 days (%s \x{2013} %s): %s from %d answers. %s%.1f points vs the previous 30 days (%s \x{2013} %s: %s from %d answers).",
    ymd($p0), ymd($today), fmt_nps(nps_of(@p)), scalar @p, $change > 0 ? '+' : $change < 0 ? "\x{2212}" : "\x{b1}", abs $change,
    ymd($q0), ymd($q1), fmt_nps(nps_of(@q)), scalar @q;
note "the comparison: $cmp";

my @newest = sort { $a->{k} <=> $b->{k} } @all;
sub comments_of { [ map { $_->{comment} } @_ ] }
sub ends { [ map { my $l = $_; my ($c) = grep { $l =~ /\Q$_\E$/ } map { $_->{comment} } @all; $c // "?? $l" } @{ $_[0] } ] }

# ---- the browser -------------------------------------------------------------------

my $res = cx_browser_run('trend.js', 'http://127.0.0.1:' . $ng->port, timeout => 230,
    clear => 'dashboard-{trend,comments,invalid}-*.png');
my $art = $res->{art};
cx_browser_checks($res, [qw(trend comments phone resize invalid axe clean)]);
# (the script's line is UTF-8; CXBrowser reads it as bytes)
sub chars {
    my ($x) = @_;
    return ref $x eq 'HASH' ? { map { $_ => chars($x->{$_}) } keys %$x }
         : ref $x eq 'ARRAY' ? [ map { chars($_) } @$x ]
         : defined $x && !ref $x ? do { my $s = "$x"; utf8::decode($s); $s } : $x;
}
my %c = %{ chars($res->{checks}) };

# the trend: chosen by week (69 days), switchable; the comparison worked out here
{
    my ($auto, $month, $day) = @{ $c{trend} || {} }{qw(auto month day)};
    is $auto->{name}, 'nps1NPS', "nps1's card";
    is $auto->{head}, 'Trend by week', '69 days of data: by week, chosen automatically';
    is_deeply $auto->{pressed}, ['Week (auto)'], '... and said so on the switch';
    is $auto->{title}, 'Trend by week: NPS and answers', '... the chart too';
    is_deeply $auto->{rows}, $by_week, 'the table by ISO week (from Monday): answers and score each';
    is $auto->{cmp}, $cmp, "the last 30 days against the 30 before: $change points";
    is $month->{head}, 'Trend by month', 'Month: pressed';
    is_deeply $month->{rows}, $by_month, 'the table by month';
    is $day->{head}, 'Trend by day', 'Day: pressed with the keyboard';
    is_deeply $day->{rows}, $by_day, 'the table by day';
    is $day->{cmp}, $cmp, 'the comparison stays';
}

# the comments: newest first, 20 a page, then Older; search, band, touchpoint
{
    my $v = $c{comments} || {};
    is_deeply ends($v->{first}), comments_of(@newest[ 0 .. 19 ]), 'the first page: the 20 newest comments';
    is $v->{stat1}, '20 comments shown, newest first.', '... said';
    is_deeply ends($v->{all}), comments_of(@newest), 'Older: the 8 left, after them';
    is $v->{focus}, 20, '... the focus on the first new one';
    is $v->{stat2}, '28 comments shown, newest first; no older ones.', '... said';
    ok !$v->{more}, '... and Older is gone';
    my ($hostile) = grep { /\Q$XSS\E$/ } @{ $v->{first} || [] };
    like $hostile // '', qr/^9 out of 10 promoter \x{b7} nps1 at purchase \x{b7} \d{4}-\d\d-\d\d \d\d:\d\d UTC \Q$XSS\E$/,
        'a comment: score, band, survey, touchpoint, time, text (a hostile one as text)';
    is_deeply ends($v->{search}{list}), comments_of(grep { $_->{comment} =~ /kettle/i } @newest), 'search "KETTLE": case ignored';
    like join(' ', @{ $v->{search}{asked} || [] }), qr{^/cx-admin/comments\.json\?q=KETTLE&limit=20$}, '... asked of comments.json';
    is_deeply ends($v->{band}{list}), comments_of(grep { band($_) eq 'detractor' } @newest),
        'band detractor: NPS 0-6 and CSAT 1-2';
    is_deeply ends($v->{tp}{list}), comments_of(grep { $_->{tp} eq 'support' } @newest), 'touchpoint support';
    is $v->{none}{stat}, 'No comments match.', 'a search that finds nothing: said';
}

# the phone and the filters
{
    ok $c{phone}{min_font_px} >= 11, "390 px: the smallest chart text as drawn: $c{phone}{min_font_px} px";
    note 'tables that scroll in their box at 390 px: ' . join(', ', @{ $c{phone}{scrolling} || [] });
    my $i = $c{invalid} || {};
    like $i->{bad_date}{status}, qr/^These filters are not valid: The \x{201c}from\x{201d} day \x{201c}2026-02-30\x{201d} is not a date/,
        '?from=2026-02-30: said';
    is_deeply $i->{bad_date}{fetched}, [], '... nothing fetched';
    is $i->{bad_date}{invalid}, 'true', '... the field marked invalid';
    like $i->{from_after_to}{status}, qr/The \x{201c}from\x{201d} day \(2026-11-25\) is after the \x{201c}to\x{201d} day \(2026-11-24\)\./,
        '?from after to: said';
    unlike $i->{from_after_to}{status}, qr/No answers yet/, '... not as "No answers yet"';
    like $i->{typed}{ferr}, qr/is after the \x{201c}to\x{201d} day/, 'typed into the form: said';
    ok $i->{typed}{stayed}, '... the page stays';
    is $i->{typed}{focus}, 'f-from', '... the focus on the field';
}

cx_png_ok("$art/dashboard-$_.png") for qw(trend-1280 trend-390 comments-390 invalid-390);

done_testing;
