#!/usr/bin/perl
# report.json (README: Reports, cxctl) on known data: scores worked out by hand,
# distributions, groups by touchpoint and day, comments (latest first,
# escaped), and the filters ?survey= ?touchpoint= ?from= ?to=.
#
# The data:
#   nps1 at "purchase": 10 10 9 0     + one prompt displayed and left alone
#   nps1 at "browse":   9 8 7 6 3     + one prompt displayed and dismissed
#     all:     9 answers, promoters 4 (10 10 9 9), passives 2 (8 7),
#              detractors 3 (6 3 0): NPS = (4 - 3) / 9 * 100 = 11.1
#     purchase 4 answers, P 3, D 1:  (3 - 1) / 4 * 100 =  50.0
#     browse   5 answers, P 1, D 2:  (1 - 2) / 5 * 100 = -20.0
#     displayed 11 (every answered prompt was displayed first), dismissed 1
#   csat1 at "support": 5 4 4 3 1 -> 3 of 5 are 4-5: 60.0
#   ces1 at "task":     1 2 6 7 7 -> mean 23 / 5 = 4.6
#   nps2: configured, never prompted.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use JSON::PP ();
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);

my $JSON = JSON::PP->new->utf8->canonical;

my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";

my $ng = cx_nginx(
    files => { cx_pages($PAGE, '', qw(shop help task)) },
    conf => <<'CONF',
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_survey nps1  { type nps;  question "How likely?"; followup "Why?"; labels "Not likely" "Very likely"; }
    cx_survey csat1 { type csat; question "How satisfied?"; }
    cx_survey ces1  { type ces;  question "How easy?"; target 5.5; }
    cx_survey nps2  { type nps;  question "Unused?"; }
    server {
        %%CX_SITE%%
        location /shop/ { cx_touchpoint purchase stage=purchase; cx_prompt nps1 sample=100%; }
        location /help/ { cx_touchpoint support stage=usage; cx_prompt csat1 sample=100%; }
        location /task/ { cx_touchpoint task stage=usage; cx_prompt ces1 sample=100%; }
        location / { cx_touchpoint browse stage=consideration; cx_prompt nps1 sample=100%; }
    }
CONF
);

# ---- helpers ---------------------------------------------------------------

my @visitors;    # cookies of three visitors, taken in turn
my $turn = 0;

sub prompt {
    my ($path) = @_;
    my $cookie = @visitors >= 3 ? $visitors[ $turn++ % 3 ] : undef;
    my $r = $ng->get($path, defined $cookie ? (Cookie => "cx=$cookie") : ());
    my ($token) = $r->{body} =~ /"token":"([^"]*)"/;
    die "no prompt on $path (status $r->{status}):\n$r->{raw}\n" unless defined $token;
    my $set = cx_cookie_from($r, 'cx');
    push @visitors, $set if defined $set;
    return { token => $token, cookie => defined $set ? $set : $cookie };
}

sub event {
    my ($p, $event, %f) = @_;
    my $r = $ng->answer(token => $p->{token}, cookie => $p->{cookie}, event => $event, %f);
    is $r->{status}, 204, "$event" . (defined $f{score} ? " $f{score}" : '') . ': 204'
        or diag $r->{raw};
    return $r;
}

sub answered_prompt {
    my ($path, $score, $comment) = @_;
    my $p = prompt($path);
    event($p, 'display');
    event($p, 'answer', score => $score);
    if (defined $comment) {
        sleep 0.02;    # comments a few ms apart, so "latest first" is well defined
        event($p, 'comment', comment => $comment);
        sleep 0.02;
    }
    return $p;
}


sub survey_of {
    my ($rep, $name) = @_;
    my ($s) = grep { $_->{name} eq $name } @{ $rep->{surveys} || [] };
    return $s;
}

sub fmt { defined $_[0] ? sprintf('%.1f', $_[0]) : 'undef' }

sub today { strftime('%Y-%m-%d', gmtime(time + ($_[0] || 0) * 86400)) }

# ---- the data ----------------------------------------------------------------

my $day0 = today();

my $C_FAST = 'Fast delivery';
my $C_HTML = q{<script>alert("x")</script> & 'quotes'};
my $C_UTF8 = "G\x{fc}zel de\x{11f}il \x{2639}";

answered_prompt('/shop/', 10, $C_FAST);
answered_prompt('/', 9);
answered_prompt('/shop/', 10);
answered_prompt('/', 8);
answered_prompt('/', 3, $C_HTML);
answered_prompt('/shop/', 9);
answered_prompt('/', 7);
answered_prompt('/', 6);
answered_prompt('/shop/', 0, $C_UTF8);
{
    my $p = prompt('/shop/');
    event($p, 'display');              # displayed, never answered
    $p = prompt('/');
    event($p, 'display');
    event($p, 'dismiss');
    prompt('/');                       # offered only
}
answered_prompt('/help/', $_) for 5, 4, 4, 3, 1;
answered_prompt('/task/', $_) for 1, 2, 6, 7, 7;

my $day1 = today();
my $same_day = $day0 eq $day1;

# ---- the whole report ----------------------------------------------------------

my ($rep, $res) = $ng->report_json();
is $res->{status}, 200, 'report.json: 200';
like $res->{headers}{'content-type'} // '', qr{^application/json\b}, 'report.json: application/json';
ok ref $rep eq 'HASH', 'report.json: a JSON object' or diag $res->{body};
like $rep->{generated_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'generated_at: UTC ISO 8601';
is_deeply [ sort map { $_->{name} } @{ $rep->{surveys} || [] } ], [qw(ces1 csat1 nps1 nps2)],
    'every configured survey, and only those';

{
    my $s = survey_of($rep, 'nps1') || {};
    is $s->{type}, 'nps', 'nps1: type';
    is $s->{displayed}, 11, 'nps1: displayed';
    is $s->{answered}, 9, 'nps1: answered';
    is $s->{dismissed}, 1, 'nps1: dismissed';
    is fmt($s->{score}), '11.1', 'nps1: NPS (4 - 3) / 9 = 11.1';
    ok !exists $s->{target}, 'nps1: no target, no "target" key';
    is_deeply [ @$s{qw(promoters passives detractors)} ], [ 4, 2, 3 ], 'nps1: promoters, passives, detractors';
    is_deeply $s->{distribution}, [ 1, 0, 0, 1, 0, 0, 1, 1, 1, 2, 2 ], 'nps1: distribution 0..10';
    is_deeply [ map { [ $_->{touchpoint}, $_->{answered}, fmt($_->{score}) ] } @{ $s->{by_touchpoint} || [] } ],
        [ [ 'browse', 5, '-20.0' ], [ 'purchase', 4, '50.0' ] ], 'nps1: by_touchpoint';
    SKIP: {
        skip 'the UTC day changed during the test', 1 unless $same_day;
        is_deeply [ map { [ $_->{date}, $_->{answered}, fmt($_->{score}) ] } @{ $s->{by_day} || [] } ],
            [ [ $day1, 9, '11.1' ] ], "nps1: by_day is today ($day1, UTC)";
        # the day's answers per score: the dashboard adds days into weeks and months exactly
        is_deeply $s->{by_day}[0]{distribution}, [ 1, 0, 0, 1, 0, 0, 1, 1, 1, 2, 2 ], 'nps1: by_day distribution 0..10';
    }
    my @c = @{ $s->{comments} || [] };
    is_deeply [ map { $_->{comment} } @c ], [ $C_UTF8, $C_HTML, $C_FAST ], 'nps1: comments, latest first';
    is_deeply [ map { [ $_->{score}, $_->{touchpoint} ] } @c ],
        [ [ 0, 'purchase' ], [ 3, 'browse' ], [ 10, 'purchase' ] ], 'nps1: comment score and touchpoint';
    like $_->{at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/, "comment time $_->{at}" for @c;
    ok !grep({ ($_->{at} // '') lt ($c[-1]{at} // '') } @c), 'comments: times descend';
}

# exact bytes: scores with one decimal, comments JSON-escaped, never raw HTML
{
    my $raw = $res->{body};
    like $raw, qr/"name":"nps1","type":"nps"[^{]*"score":11\.1,/, 'raw: "score":11.1';
    like $raw, qr/\{"touchpoint":"browse","stage":"consideration","answered":5,"score":-20\.0\}/, 'raw: negative touchpoint score';
    like $raw, qr/\{"touchpoint":"purchase","stage":"purchase","answered":4,"score":50\.0\}/, 'raw: touchpoint score 50.0';
    like $raw, qr/"distribution":\[1,0,0,1,0,0,1,1,1,2,2\]/, 'raw: nps distribution';
    like $raw, qr/"comment":"\\u003cscript\\u003ealert\(\\"x\\"\)\\u003c\/script\\u003e \\u0026 \\u0027quotes\\u0027"/,
        'raw: HTML in a comment is escaped as \u003c \u003e \u0026 \u0027';
    like $raw, qr/"comment":"G\\u00fczel de\\u011fil \\u2639"/, 'raw: non-ASCII escaped as \uXXXX';
    unlike $raw, qr/[<>]/, 'raw: no < or > anywhere';
    unlike $raw, qr/[^\x20-\x7e\n]/, 'raw: printable ASCII only';
}

{
    my $s = survey_of($rep, 'csat1') || {};
    is $s->{type}, 'csat', 'csat1: type';
    is $s->{answered}, 5, 'csat1: answered';
    is $s->{displayed}, 5, 'csat1: displayed';
    is fmt($s->{score}), '60.0', 'csat1: CSAT = 3 of 5 answers 4-5 = 60.0';
    is_deeply $s->{distribution}, [ 1, 0, 1, 2, 1 ], 'csat1: distribution 1..5';
    ok !exists $s->{promoters}, 'csat1: no NPS groups';
    is_deeply [ map { [ $_->{touchpoint}, $_->{answered}, fmt($_->{score}) ] } @{ $s->{by_touchpoint} || [] } ],
        [ [ 'support', 5, '60.0' ] ], 'csat1: by_touchpoint';
    is_deeply $s->{comments}, [], 'csat1: no comments';
    like $res->{body}, qr/"name":"csat1","type":"csat"[^{]*"score":60\.0,/, 'raw: "score":60.0';
}

{
    my $s = survey_of($rep, 'ces1') || {};
    is $s->{target}, 5.5, 'ces1: its target (cx_survey target 5.5)';
    is $s->{type}, 'ces', 'ces1: type';
    is $s->{answered}, 5, 'ces1: answered';
    is fmt($s->{score}), '4.6', 'ces1: CES = mean 23 / 5 = 4.6';
    is_deeply $s->{distribution}, [ 1, 1, 0, 0, 0, 1, 2 ], 'ces1: distribution 1..7';
    ok !exists $s->{promoters}, 'ces1: no NPS groups';
    is_deeply [ map { [ $_->{touchpoint}, $_->{answered}, fmt($_->{score}) ] } @{ $s->{by_touchpoint} || [] } ],
        [ [ 'task', 5, '4.6' ] ], 'ces1: by_touchpoint';
    SKIP: {
        skip 'the UTC day changed during the test', 1 unless $same_day;
        is_deeply [ map { [ $_->{date}, $_->{answered}, fmt($_->{score}) ] } @{ $s->{by_day} || [] } ],
            [ [ $day1, 5, '4.6' ] ], 'ces1: by_day';
        is_deeply $s->{by_day}[0]{distribution}, [ 1, 1, 0, 0, 0, 1, 2 ], 'ces1: by_day distribution 1..7';
    }
    like $res->{body}, qr/"name":"ces1","type":"ces"[^{]*"score":4\.6,/, 'raw: "score":4.6';
}

{
    my $s = survey_of($rep, 'nps2') || {};
    is $s->{type}, 'nps', 'nps2 (no data): type';
    is_deeply [ @$s{qw(displayed answered dismissed)} ], [ 0, 0, 0 ], 'nps2 (no data): zero counts';
    is_deeply $s->{distribution}, [ (0) x 11 ], 'nps2 (no data): 11 zeros';
    is_deeply [ @{ $s->{by_touchpoint} || [] }, @{ $s->{by_day} || [] }, @{ $s->{comments} || [] } ], [],
        'nps2 (no data): no groups, no comments';
}

# ---- filters -------------------------------------------------------------------

{
    my ($r) = $ng->report_json('survey=nps1');
    is_deeply [ map { $_->{name} } @{ $r->{surveys} || [] } ], ['nps1'], '?survey=nps1: that survey only';
    is_deeply survey_of($r, 'nps1'), survey_of($rep, 'nps1'), '?survey=nps1: same numbers';

    ($r) = $ng->report_json('survey=ces1');
    is_deeply [ map { $_->{name} } @{ $r->{surveys} || [] } ], ['ces1'], '?survey=ces1: that survey only';
    is fmt(survey_of($r, 'ces1')->{score}), '4.6', '?survey=ces1: score';
}
{
    my ($r) = $ng->report_json('touchpoint=purchase');
    my $s = survey_of($r, 'nps1') || {};
    is $s->{answered}, 4, '?touchpoint=purchase: answered 4';
    is $s->{displayed}, 5, '?touchpoint=purchase: displayed 5';
    is $s->{dismissed}, 0, '?touchpoint=purchase: dismissed 0';
    is fmt($s->{score}), '50.0', '?touchpoint=purchase: NPS 50.0';
    is_deeply [ @$s{qw(promoters passives detractors)} ], [ 3, 0, 1 ], '?touchpoint=purchase: groups';
    is_deeply $s->{distribution}, [ 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2 ], '?touchpoint=purchase: distribution';
    is_deeply [ map { $_->{touchpoint} } @{ $s->{by_touchpoint} || [] } ], ['purchase'],
        '?touchpoint=purchase: by_touchpoint';
    is_deeply [ map { $_->{comment} } @{ $s->{comments} || [] } ], [ $C_UTF8, $C_FAST ],
        '?touchpoint=purchase: its comments';
    is +(survey_of($r, 'csat1') || {})->{answered}, 0, '?touchpoint=purchase: csat1 has none';
    is +(survey_of($r, 'ces1') || {})->{answered}, 0, '?touchpoint=purchase: ces1 has none';

    ($r) = $ng->report_json('touchpoint=browse');
    $s = survey_of($r, 'nps1') || {};
    is $s->{answered}, 5, '?touchpoint=browse: answered 5';
    is $s->{dismissed}, 1, '?touchpoint=browse: dismissed 1';
    is fmt($s->{score}), '-20.0', '?touchpoint=browse: NPS -20.0';

    ($r) = $ng->report_json('survey=nps1&touchpoint=browse');
    is_deeply [ map { $_->{name} } @{ $r->{surveys} || [] } ], ['nps1'], '?survey=nps1&touchpoint=browse: one survey';
    is +(survey_of($r, 'nps1') || {})->{answered}, 5, '?survey=nps1&touchpoint=browse: answered 5';

    ($r) = $ng->report_json('touchpoint=support');
    is +(survey_of($r, 'csat1') || {})->{answered}, 5, '?touchpoint=support: csat1 answered 5';
    is +(survey_of($r, 'nps1') || {})->{answered}, 0, '?touchpoint=support: nps1 none';

    ($r) = $ng->report_json('touchpoint=nowhere');
    is_deeply [ map { $_->{answered} } @{ $r->{surveys} || [] } ], [ 0, 0, 0, 0 ], '?touchpoint=nowhere: nothing';
}

SKIP: {
    skip 'the UTC day changed during the test', 1 unless $same_day;
    my ($today, $tomorrow, $yesterday) = (today(), today(1), today(-1));

    for my $q ("from=$today", "to=$today", "from=$today&to=$today", "from=$yesterday&to=$tomorrow") {
        my ($r) = $ng->report_json($q);
        my $s = survey_of($r, 'nps1') || {};
        is $s->{answered}, 9, "?$q: all nps1 answers";
        is fmt($s->{score}), '11.1', "?$q: same NPS";
        is $s->{dismissed}, 1, "?$q: dismissal counted";
        is +(survey_of($r, 'ces1') || {})->{answered}, 5, "?$q: all ces1 answers";
    }
    for my $q ("from=$tomorrow", "from=2099-01-01", "to=$yesterday") {
        my ($r, $raw) = $ng->report_json($q);
        is $raw->{status}, 200, "?$q: 200";
        is_deeply [ map { $_->{answered} } @{ $r->{surveys} || [] } ], [ 0, 0, 0, 0 ], "?$q: zero answered";
        my $s = survey_of($r, 'nps1') || {};
        is_deeply [ @$s{qw(displayed dismissed)} ], [ 0, 0 ], "?$q: nothing displayed or dismissed";
        is_deeply $s->{distribution}, [ (0) x 11 ], "?$q: empty distribution";
        is_deeply [ @{ $s->{by_day} || [] }, @{ $s->{comments} || [] } ], [], "?$q: no days, no comments";
    }
}

# a bad filter is an error that names it, never an empty report (the dashboard says which)
my $DAY = qr/ takes a UTC day as YYYY-MM-DD$/;
for my $c (['from=2026-13-01', 'from', $DAY], ['from=2026-02-30', 'from', $DAY], ['from=2026-00-10', 'from', $DAY],
           ['to=2026-04-31', 'to', $DAY], ['from=yesterday', 'from', $DAY], ['to=20261124', 'to', $DAY],
           ['from=2026-1-05', 'from', $DAY], ['to=2026-11-24x', 'to', $DAY], ['to=2026/11/24', 'to', $DAY],
           ['from=2026-11-24&to=2026-12-3', 'to', $DAY],
           ['from=2026-11-25&to=2026-11-24', 'from', qr/^from= is after to=$/])
{
    my ($q, $param, $why) = @$c;
    my ($r, $raw) = $ng->report_json($q);
    is $raw->{status}, 400, "?$q: 400";
    my $e = eval { $JSON->decode($raw->{body}) } || {};
    is $e->{parameter}, $param, "?$q: names $param";
    like $e->{error} // "", $why, "?$q: says why";
}
for my $path ('/cx-admin/responses.csv', '/cx-admin/responses.ndjson', '/cx-admin/comments.json') {
    my $r = $ng->get("$path?from=2026-11-25&to=2026-11-24");
    is $r->{status}, 400, "$path with from= after to=: 400";
    like $r->{body}, qr/"parameter":"from"/, "$path: names from";
}

done_testing;
