#!/usr/bin/perl
# comments.json (README: Reports; docs/payloads.md) over a real nginx: every
# comment newest first, in pages chained by the cursor with no repeat and no
# gap, the search (case-insensitive, UTF-8), the band and the filters, each
# bad argument answered 400 with its name (and nothing else changed), and the
# bound on the responses a request examines (a bench/mkstore store of 12,000
# responses: "stopped_early", then going on from "next").
#
# The data (one response a day for 30 days, cx_test_clock), i = 0..29:
#   i % 3 == 2: csat1 at "support", score 1 + i % 5, else nps1 at "purchase"
#   (i odd) or "browse" (i even), score i * 7 % 11; a comment unless
#   i % 5 == 4: "The kettle was great #i", "KETTLE broke #i",
#   "Slow delivery #i" or "Güzel değil ☹ #i" by i % 4.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use JSON::PP ();
use POSIX qw(strftime);
use Time::HiRes qw(time);

my $JSON = JSON::PP->new->utf8->canonical;
my $MKSTORE = cx_repo_root() . '/build/mkstore';
my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";
my $DAY = 86400;

plan skip_all => "module not built" unless cx_have_module();

my $ng = cx_nginx(
    files => { cx_pages($PAGE, '', qw(shop help)) },
    conf => <<'CONF',
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
);

# ---- the data ------------------------------------------------------------------

sub band {
    my ($type, $s) = @_;
    my ($d, $p) = $type eq 'nps' ? (6, 8) : $type eq 'csat' ? (2, 3) : (3, 5);
    return $s <= $d ? 'detractor' : $s <= $p ? 'passive' : 'promoter';
}

my $t0 = int(time / $DAY) * $DAY - 30 * $DAY + 12 * 3600;    # noon, 30 days ago
my @all;    # what each response is, oldest first
for my $i (0 .. 29) {
    my $csat = $i % 3 == 2;
    my ($path, $survey, $tp, $type, $score) = $csat
        ? ('/help/', 'csat1', 'support', 'csat', 1 + $i % 5)
        : ($i % 2 ? '/shop/' : '/', 'nps1', $i % 2 ? 'purchase' : 'browse', 'nps', $i * 7 % 11);
    my $text = $i % 5 == 4 ? undef
        : ("The kettle was great #$i", "KETTLE broke #$i", "Slow delivery #$i",
           "G\x{fc}zel de\x{11f}il \x{2639} #$i")[ $i % 4 ];
    my $now = $t0 + $i * $DAY;
    my $r = $ng->get($path, 'X-CX-Test-Now' => $now);
    my ($token) = $r->{body} =~ /"token":"([^"]*)"/;
    my $cookie = cx_cookie_from($r, 'cx');
    ok $token, "prompt $i" or diag $r->{raw};
    for my $ev (['display'], ['answer', score => $score], $text ? (['comment', comment => $text]) : ()) {
        my ($event, %f) = @$ev;
        is $ng->answer(token => $token, cookie => $cookie, event => $event, now => $now + 1, %f)->{status}, 204,
            "$i: $event";
    }
    push @all, { i => $i, survey => $survey, touchpoint => $tp, type => $type, score => $score,
        band => band($type, $score), comment => $text, day => strftime('%Y-%m-%d', gmtime $now) };
}
my @commented = reverse grep { defined $_->{comment} } @all;    # newest first
is scalar @commented, 24, '24 comments of 30 answers';

# ---- helpers -------------------------------------------------------------------

sub page {
    my ($q) = @_;
    my $r = $ng->get('/cx-admin/comments.json' . (defined $q && length $q ? "?$q" : ''));
    my $j = eval { $JSON->decode($r->{body}) };
    return ($j, $r);
}

# every page of a query, following "next"; dies on a page that is not 200
sub pages {
    my ($q) = @_;
    my (@pages, $next);
    for (1 .. 200) {
        my ($j, $r) = page(join '&', grep {length} $q, defined $next ? "before=$next" : ());
        die "comments.json?$q: $r->{status} $r->{body}" unless $r->{status} == 200 && ref $j eq 'HASH';
        push @pages, $j;
        $next = $j->{next};
        last unless defined $next;
    }
    return @pages;
}

sub texts { [ map { $_->{comment} } @_ ] }

# ---- all of them, newest first --------------------------------------------------

my ($full, $res) = page('limit=100');
is $res->{status}, 200, 'comments.json: 200';
like $res->{headers}{'content-type'} // '', qr{^application/json\b}, 'application/json';
is_deeply texts(@{ $full->{comments} }), texts(@commented), 'all 24 comments, newest first';
is $full->{next}, undef, 'nothing older: next is null';
ok !$full->{stopped_early}, 'not stopped early';
is $full->{examined}, 30, 'examined: every response';
{
    my $c = $full->{comments}[0];
    my $w = $commented[0];
    is_deeply [ @$c{qw(survey type score band touchpoint stage)} ],
        [ @$w{qw(survey type score band touchpoint)}, $w->{survey} eq 'csat1' ? 'usage' : 'consideration' ],
        'a comment: survey, type, score, band, touchpoint, stage';
    like $c->{id}, qr/^[0-9a-f]{24}$/, 'its id, as the exports write it';
    like $c->{at}, qr/^\Q$w->{day}\ET\d\d:\d\d:\d\dZ$/, 'when it was commented';
    my %ids = map { $_->{id} => 1 } @{ $full->{comments} };
    is scalar keys %ids, 24, 'ids are distinct';
    is_deeply [ map { $_->{id} } @{ $full->{comments} } ], [ sort { $b cmp $a } keys %ids ], 'in descending id order';
}
like $res->{body}, qr/"comment":"G\\u00fczel de\\u011fil \\u2639 #\d+"/, 'escaped as in report.json';
is_deeply [ map { $_->{comment} } @{ (page())[0]{comments} } ], texts(@commented[ 0 .. 19 ]), 'no limit: the 20 newest';

# ---- pages: no repeat, no gap ------------------------------------------------------

for my $limit (1, 5, 7, 24, 25) {
    my @p = pages("limit=$limit");
    my @got = map { @{ $_->{comments} } } @p;
    is_deeply texts(@got), texts(@commented), "limit=$limit: " . scalar(@p) . ' pages, every comment once, in order';
    ok !(grep { @{ $_->{comments} } > $limit } @p), "limit=$limit: no page over the limit";
    ok !(grep { @{ $p[$_]{comments} } != $limit } 0 .. $#p - 1), "limit=$limit: every page but the last is full";
    is $p[-1]{next}, undef, "limit=$limit: the last page says there is nothing older";
    ok !(grep { $_->{stopped_early} } @p), "limit=$limit: never stopped early";
    is_deeply [ map { $_->{next} } @p[ 0 .. $#p - 1 ] ], [ map { $_->{comments}[-1]{id} } @p[ 0 .. $#p - 1 ] ],
        "limit=$limit: next is the page's last comment";
}

# a cursor from elsewhere (an id not stored) is a position like another
{
    my $mid = $full->{comments}[10]{id};
    (my $after = $mid) =~ s/(.)$/sprintf '%x', (hex($1) + 1) % 16/e;
    my ($j) = page("limit=100&before=$mid");
    is_deeply texts(@{ $j->{comments} }), texts(@commented[ 11 .. 23 ]), 'before=ID: strictly older than ID';
    ($j) = page("limit=100&before=" . uc $mid);
    is_deeply texts(@{ $j->{comments} }), texts(@commented[ 11 .. 23 ]), 'before= in capitals: the same';
    ($j) = page('limit=100&before=ffffffffffffffffffffffff');
    is scalar @{ $j->{comments} }, 24, 'before= the end of time: all';
    ($j) = page('limit=100&before=000000000000000000000000');
    is_deeply [ $j->{comments}, $j->{next}, $j->{examined} ], [ [], undef, 0 ], 'before= the start of time: none';
}

# ---- search ------------------------------------------------------------------------

for my $c (['kettle', qr/kettle/i], ['KeTtLe', qr/kettle/i], ['kettle+was', qr/kettle was/i],
           ['slow%20DELIVERY', qr/slow delivery/i], ['g%C3%9CZEL', qr/g\x{fc}zel/i],
           ['%C3%BC', qr/\x{fc}/], ['%E2%98%B9', qr/\x{2639}/], ['%2312', qr/#12$/], ['%23', qr/#/],
           ['nothing+like+this', qr/^\x{0}$/])
{
    my ($q, $re) = @$c;
    my @want = grep { $_->{comment} =~ $re } @commented;
    my @got = map { @{ $_->{comments} } } pages("q=$q&limit=3");
    is_deeply texts(@got), texts(@want), "q=$q: " . scalar(@want) . ' comments, in pages of 3';
}

# ---- band, survey, touchpoint, dates, and together ----------------------------------

for my $band (qw(detractor passive promoter)) {
    my @want = grep { $_->{band} eq $band } @commented;
    my ($j) = page("band=$band&limit=100");
    is_deeply texts(@{ $j->{comments} }), texts(@want), "band=$band: " . scalar(@want) . ' (NPS and CSAT bands)';
    ok !(grep { $_->{band} ne $band } @{ $j->{comments} }), "band=$band: each says so";
}
ok 0 < grep({ $_->{band} eq 'detractor' && $_->{type} eq 'csat' } @commented), 'the data has CSAT detractors';
{
    my ($j) = page('survey=csat1&limit=100');
    is_deeply texts(@{ $j->{comments} }), texts(grep { $_->{survey} eq 'csat1' } @commented), 'survey=csat1';
    ($j) = page('touchpoint=purchase&limit=100');
    is_deeply texts(@{ $j->{comments} }), texts(grep { $_->{touchpoint} eq 'purchase' } @commented),
        'touchpoint=purchase';
    my ($from, $to) = ($all[20]{day}, $all[25]{day});
    ($j) = page("from=$from&to=$to&limit=100");
    is_deeply texts(@{ $j->{comments} }), texts(grep { $_->{day} ge $from && $_->{day} le $to } @commented),
        "from=$from&to=$to";
    ok $j->{examined} < 30, "from= and to= bound the walk ($j->{examined} examined)";
    my @want = grep { $_->{band} eq 'detractor' && $_->{comment} =~ /kettle/i } @commented;
    my @got = map { @{ $_->{comments} } } pages('band=detractor&q=KETTLE&limit=1');
    is_deeply texts(@got), texts(@want), 'band and q together, a page a comment (' . scalar(@want) . ')';
}

# ---- bad arguments: 400, the parameter named, nothing changed ----------------------

my $report_before = $ng->get('/cx-admin/report.json')->{body};
$report_before =~ s/"generated_at":"[^"]*"//;
for my $c (['band=angry', 'band'], ['band=DETRACTOR', 'band'], ['band=detractor,passive', 'band'],
           ['q=' . ('a' x 101), 'q'], ['q=' . ('%E2%98%B9' x 101), 'q'], ['q=%FF', 'q'], ['q=a%C3', 'q'],
           ['q=%ED%A0%80', 'q'], ['q=' . ('%41' x 1300), 'q'],
           ['before=xyz', 'before'], ['before=' . ('0' x 23), 'before'], ['before=' . ('0' x 25), 'before'],
           ['before=' . ('0' x 23) . 'g', 'before'], ['before=-' . ('0' x 23), 'before'],
           ['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=abc', 'limit'], ['limit=-1', 'limit'],
           ['limit=1.5', 'limit'], ['limit=99999999999999999999', 'limit'],
           ['from=2026-02-30', 'from'], ['to=2026-13-01', 'to'], ['from=2026-11-25&to=2026-11-24', 'from'],
           ['limit=5&band=x&q=kettle', 'band'])
{
    my ($q, $param) = @$c;
    my ($j, $r) = page($q);
    my $short = length $q > 40 ? substr($q, 0, 40) . '...' : $q;
    is $r->{status}, 400, "?$short: 400";
    is $j && $j->{parameter}, $param, "?$short: names $param";
    like $j && $j->{error}, qr/^\Q$param\E= /, "?$short: says what $param= takes";
    is $r->{headers}{'cache-control'}, 'no-store', "?$short: not cached";
}
{
    my ($again) = page('limit=100');
    is_deeply $again, $full, 'after the bad requests: the same comments';
    my $report_after = $ng->get('/cx-admin/report.json')->{body};
    $report_after =~ s/"generated_at":"[^"]*"//;
    is $report_after, $report_before, 'and the same report.json';
    # empty values are absent ones (a form's empty fields)
    my ($j) = page('band=&q=&before=&limit=&survey=&touchpoint=');
    is_deeply texts(@{ $j->{comments} }), texts(@commented[ 0 .. 19 ]), 'empty arguments: as absent';
    my $h = $ng->head('/cx-admin/comments.json');
    is $h->{status}, 200, 'HEAD: 200';
    is $h->{body}, '', 'HEAD: no body';
    is $ng->req(method => 'POST', path => '/cx-admin/comments.json')->{status}, 405, 'POST: 405';
}
unlike $ng->error_log, qr/\[(?:alert|crit|emerg)\]/, 'no alert in the error log';

# ---- the bound on the walk: a store of 12,000 responses -----------------------------

SKIP: {
    skip 'build/mkstore not built (make build/mkstore)', 1 unless -x $MKSTORE;

    subtest 'a request examines at most 5000 responses; the pages go on from next' => sub {
        $ng->stop;
        my $big = cx_nginx(files => { cx_pages($PAGE, '') }, start => 0, conf => <<'CONF');
    cx_store %%PREFIX%%/cxdata max_size=64m;
    server {
        %%CX_SITE%%
    }
CONF
        my $store = $big->prefix . '/cxdata';
        mkdir $store;
        system($MKSTORE, $store, 12000) == 0 or die 'mkstore failed';
        $big->start;

        # what the export says is there: the commented responses, newest first
        my @export = map { $JSON->decode($_) } grep {length} split /\n/,
            $big->get('/cx-admin/responses.ndjson')->{body};
        is scalar @export, 12000, 'the export: 12,000 responses';
        my @want = reverse grep { length($_->{comment} // '') } @export;
        is scalar @want, 240, '240 of them commented';

        my $page = sub {
            my $r = $big->get('/cx-admin/comments.json?' . $_[0]);
            is $r->{status}, 200, "?$_[0]: 200" or diag $r->{body};
            return eval { $JSON->decode($r->{body}) } || {};
        };

        # a search that finds nothing: three requests, each bounded
        my (@examined, @stopped, $next);
        for (1 .. 5) {
            my $t = time;
            my $j = $page->('q=no+such+words' . (defined $next ? "&before=$next" : ''));
            diag sprintf 'a page of %d examined: %.1f ms', $j->{examined}, 1000 * (time - $t);
            push @examined, $j->{examined};
            push @stopped, $j->{stopped_early} ? 1 : 0;
            is_deeply $j->{comments}, [], 'nothing found';
            $next = $j->{next};
            last unless defined $next;
        }
        is_deeply \@examined, [ 5000, 5000, 2000 ], 'examined: 5000, 5000, then the last 2000';
        is_deeply \@stopped, [ 1, 1, 0 ], 'stopped_early while there is more';
        is $next, undef, 'then nothing older';

        # every comment, in pages of 100 that each stop at the bound: none twice, none missing
        my (@got, @sizes);
        $next = undef;
        for (1 .. 20) {
            my $j = $page->('limit=100' . (defined $next ? "&before=$next" : ''));
            push @got, @{ $j->{comments} };
            push @sizes, scalar @{ $j->{comments} };
            $next = $j->{next};
            last unless defined $next;
        }
        is_deeply [ map { $_->{id} } @got ], [ map { $_->{id} } @want ], 'every commented response once, newest first';
        is_deeply \@sizes, [ 100, 100, 40 ], 'pages of 100 (5,000 examined each), then the 40 left';

        # from= stops the walk at the token's lifetime before that day
        my $from = strftime('%Y-%m-%d', gmtime(time - 30 * $DAY));
        my $j = $page->("from=$from&limit=100");
        my @recent = grep { substr($_->{received_at}, 0, 10) ge $from } @want;
        is_deeply [ map { $_->{id} } @{ $j->{comments} } ], [ map { $_->{id} } @recent ],
            'from=: the comments received since (' . scalar(@recent) . ')';
        is $j->{next}, undef, 'from=: nothing older';
        my $since = grep { substr($_->{received_at}, 0, 10) ge $from } @export;
        ok $j->{examined} <= $since + 2 * 12000 / 400, "from=: about $since examined, not 12,000 ($j->{examined})";
        $big->stop;
    };
}

done_testing;
