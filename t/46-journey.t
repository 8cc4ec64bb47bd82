#!/usr/bin/perl
# The journey map in report.json (README: The journey map), from rollups
# kept in the commits: stages, conversion, transitions, time to purchase,
# re-survey movement; the filters; the report against a count by hand from
# the export; "cxctl rebuild-rollups" gives the same report; erase and prune
# keep report and export equal; a store written before rollups gets them
# built at start.
#
# The script (X-CX-Test-Now; D0 is five days ago, 10:00 UTC):
#   A: D0 10:00:00 home, 10:00:30 product, 10:01:30 checkout (first purchase
#      visit: 90 s after first seen), answers nps_buy 3 "Too slow";
#      D0+2 09:00 home, 09:01 checkout, answers nps_buy 9 (a re-survey:
#      detractor to promoter, +6)
#   B: D0 12:00 home, 12:05 checkout (300 s), answers 7; 12:10 help, csat 5
#   C: D0+1 08:00 home only

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use JSON::PP ();
use POSIX qw(_exit strftime);

my $CXCTL = cx_repo_root() . '/build/cxctl';
my $MKSTORE = cx_repo_root() . '/build/mkstore';

plan skip_all => "module not built" unless cx_have_module();
plan skip_all => "build/cxctl not built" unless -x $CXCTL;

my $JSON = JSON::PP->new->utf8->canonical;
my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";
my $DAY = 86400;

my $CONF = <<'CONF';
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_test_clock on;
    cx_survey nps_buy   { type nps;  question "Recommend us?"; every 1d; target 30; }
    cx_survey csat_help { type csat; question "Helped?"; }
    server {
        %%CX_SITE%%
        location /home/     { cx_touchpoint home stage=awareness; }
        location /product/  { cx_touchpoint product stage=consideration; }
        location /checkout/ { cx_touchpoint checkout stage=purchase; cx_prompt nps_buy sample=100%; }
        location /help/     { cx_touchpoint help stage=usage; cx_prompt csat_help sample=100%; }
    }
CONF

my $ng = cx_nginx(files => { cx_pages($PAGE, qw(home product checkout help)) }, conf => $CONF);

my $STORE = $ng->prefix . '/cxdata';
my $TMP = $ng->prefix . '/tmp';
mkdir $TMP;

my $D0 = (int(time / $DAY) - 5) * $DAY;
sub at { my ($d, $h, $m, $s) = @_; $D0 + $d * $DAY + $h * 3600 + ($m || 0) * 60 + ($s || 0) }
sub ymd { strftime('%Y-%m-%d', gmtime($_[0])) }

# ---- helpers -------------------------------------------------------------------

sub cxctl {
    my (@args) = @_;
    my ($outf, $errf) = ("$TMP/cxctl.out", "$TMP/cxctl.err");
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>', $outf or _exit(126);
        open STDERR, '>', $errf or _exit(126);
        exec { $CXCTL } $CXCTL, '--store', $STORE, @args or _exit(127);
    }
    waitpid $pid, 0;
    my $slurp = sub { local $/; open my $fh, '<:raw', $_[0] or return ''; my $c = <$fh>; $c };
    return { rc => $? >> 8, out => $slurp->($outf), err => $slurp->($errf) };
}

# a visitor: a cookie jar; visit() returns the prompt's token, if any
sub visit {
    my ($v, $path, $now) = @_;
    my $r = $ng->get($path, 'X-CX-Test-Now' => $now,
                     defined $v->{cookie} ? (Cookie => "cx=$v->{cookie}") : ());
    is $r->{status}, 200, "$v->{name} $path: 200";
    my $set = cx_cookie_from($r, 'cx');
    $v->{cookie} = $set if defined $set;
    my ($token) = $r->{body} =~ /"token":"([^"]*)"/;
    return $token;
}

sub answer {
    my ($v, $token, $now, $score, $comment) = @_;
    ok defined $token, "$v->{name}: a prompt" or return;
    for my $e ([display => ()], [answer => (score => $score)],
               defined $comment ? [comment => (comment => $comment)] : ())
    {
        my ($event, %f) = @$e;
        my $r = $ng->answer(token => $token, jar => $v, now => $now, event => $event, %f);
        is $r->{status}, 204, "$v->{name} $event: 204" or diag $r->{raw};
    }
}

sub report {
    my ($q) = @_;
    my ($rep, $res) = $ng->report_json($q);
    is $res->{status}, 200, 'report.json' . (defined $q ? "?$q" : '') . ': 200' or diag $res->{raw};
    return $rep;
}

sub survey_of { my ($rep, $n) = @_; (grep { $_->{name} eq $n } @{ $rep->{surveys} })[0] }
sub stage_of  { my ($rep, $n) = @_; (grep { $_->{stage} eq $n } @{ $rep->{stages} })[0] }
sub tp_of     { my ($rep, $n) = @_; (grep { $_->{name} eq $n } @{ $rep->{touchpoints} })[0] }
sub move_of {
    my ($rep, $f, $t) = @_;
    (grep { $_->{from} eq $f && $_->{to} eq $t } @{ $rep->{journey}{transitions} })[0];
}

sub near {    # histogram medians: within 10 %
    my ($got, $want, $name) = @_;
    ok defined $got && abs($got - $want) <= $want * 0.1 + 0.5, "$name: $want s (got " . ($got // 'undef') . ')';
}

# the report's counts, worked out by hand from responses.ndjson
sub by_hand {
    my ($q) = @_;
    my $r = $ng->get('/cx-admin/responses.ndjson' . (defined $q ? "?$q" : ''));
    is $r->{status}, 200, 'responses.ndjson: 200';
    my %s;
    for my $line (split /\n/, $r->{body}) {
        my $o = $JSON->decode($line);
        my $x = $s{ $o->{survey} } //= { answered => 0, dist => {}, resurvey => 0, change => 0 };
        next unless defined $o->{score};
        $x->{answered}++;
        $x->{dist}{ $o->{score} }++;
        if (defined $o->{previous_score}) {
            $x->{resurvey}++;
            $x->{change} += $o->{score} - $o->{previous_score};
        }
    }
    return \%s;
}

sub agrees_with_export {
    my ($q, $name) = @_;
    my $rep = report($q);
    my $hand = by_hand($q);
    for my $sv (@{ $rep->{surveys} }) {
        my $h = $hand->{ $sv->{name} } // { answered => 0, dist => {}, resurvey => 0 };
        is $sv->{answered}, $h->{answered}, "$name: $sv->{name} answered = export's ($h->{answered})";
        my ($lo) = $sv->{type} eq 'nps' ? 0 : 1;
        my @dist = map { $h->{dist}{$_} // 0 } $lo .. $lo + $#{ $sv->{distribution} };
        is_deeply $sv->{distribution}, \@dist, "$name: $sv->{name} distribution = export's";
        is $sv->{resurvey}{answers}, $h->{resurvey}, "$name: $sv->{name} re-surveys = export's";
    }
    return $rep;
}

# ---- the script ------------------------------------------------------------------

my ($A, $B, $C) = map { { name => $_ } } qw(A B C);

visit($A, '/home/', at(0, 10));
visit($A, '/product/', at(0, 10, 0, 30));
answer($A, visit($A, '/checkout/', at(0, 10, 1, 30)), at(0, 10, 2), 3, 'Too slow');
visit($B, '/home/', at(0, 12));
answer($B, visit($B, '/checkout/', at(0, 12, 5)), at(0, 12, 6), 7);
answer($B, visit($B, '/help/', at(0, 12, 10)), at(0, 12, 11), 5);
visit($C, '/home/', at(1, 8));
visit($A, '/home/', at(2, 9));
answer($A, visit($A, '/checkout/', at(2, 9, 1)), at(2, 9, 2), 9);

# ---- the whole report ------------------------------------------------------------

sleep 1;    # the journey events' group commit
my $rep = report();

subtest 'touchpoints and stages' => sub {
    is_deeply [ map { [ $_->{name}, $_->{stage}, $_->{visits}, $_->{visitors} ] }
                sort { $a->{name} cmp $b->{name} } @{ $rep->{touchpoints} } ],
        [ [ checkout => purchase => 3, 2 ], [ help => usage => 1, 1 ],
          [ home => awareness => 4, 3 ], [ product => consideration => 1, 1 ] ],
        'touchpoints: visits and visitors';

    is_deeply [ map { $_->{stage} } @{ $rep->{stages} } ],
        [ qw(awareness consideration purchase usage loyalty advocacy) ], 'six stages in order';

    my $p = stage_of($rep, 'purchase');
    is_deeply $p->{touchpoints}, ['checkout'], 'purchase: its touchpoint';
    is_deeply [ @$p{qw(visits visitors answers type)} ], [ 3, 2, 3, 'nps' ], 'purchase: 3 visits, 2 visitors, 3 answers';
    is $p->{score}, 0, 'purchase: NPS 0 (one each of 3, 7, 9)';
    is_deeply $p->{surveys}, [ { name => 'nps_buy', type => 'nps', answered => 3, score => 0, target => 30 } ],
        'purchase: nps_buy with its target';

    my $u = stage_of($rep, 'usage');
    is_deeply [ @$u{qw(visits visitors answers type score)} ], [ 1, 1, 1, 'csat', 100 ], 'usage: csat 100';

    my $w = stage_of($rep, 'awareness');
    is_deeply [ @$w{qw(visits visitors answers)} ], [ 4, 3, 0 ], 'awareness: no answers';
    ok !defined $w->{score} && !defined $w->{type}, 'awareness: score and type null';
    is_deeply stage_of($rep, 'loyalty')->{touchpoints}, [], 'loyalty: nothing';
};

subtest 'journey: conversion, transitions, time to purchase' => sub {
    my $j = $rep->{journey};
    is $j->{visitors}, 3, 'three visitors seen';
    is_deeply [ map { [ $_->{stage}, $_->{visitors}, $_->{percent} ] } @{ $j->{conversion} } ],
        [ [ awareness => 3, 100 ], [ consideration => 1, 33.3 ], [ purchase => 2, 66.7 ],
          [ usage => 1, 33.3 ], [ loyalty => 0, 0 ], [ advocacy => 0, 0 ] ], 'conversion per stage';

    is_deeply [ map { "$_->{from}>$_->{to}" } @{ $j->{transitions} }[ 0 .. 0 ] ], ['home>checkout'],
        'the strongest move first';
    my %want = ('home>product' => [ 1, 1, 30 ], 'product>checkout' => [ 1, 1, 60 ],
                'home>checkout' => [ 2, 1, 60 ], 'checkout>help' => [ 1, 1, 300 ],
                'checkout>home' => [ 1, 0, at(2, 9) - at(0, 10, 1, 30) ]);
    is scalar @{ $j->{transitions} }, scalar keys %want, 'five moves';
    for my $k (sort keys %want) {
        my $m = move_of($rep, split />/, $k);
        ok $m, "$k listed" or next;
        is $m->{moves}, $want{$k}[0], "$k: moves";
        is $m->{visitors}, $want{$k}[1], "$k: first arrivals";
        near $m->{median_seconds}, $want{$k}[2], "$k: median";
    }

    is $j->{time_to_purchase}{visitors}, 2, 'time to purchase: two visitors';
    near $j->{time_to_purchase}{median_seconds}, 90, 'time to purchase: median';
    near $j->{time_to_purchase}{p90_seconds}, 300, 'time to purchase: p90';
};

subtest 're-survey and the survey' => sub {
    my $s = survey_of($rep, 'nps_buy');
    is_deeply [ @$s{qw(offered displayed answered)} ], [ 3, 3, 3 ], 'nps_buy: 3 offered, displayed, answered';
    is $s->{target}, 30, 'target 30';
    is_deeply $s->{resurvey}, { answers => 1, detractor_to_promoter => 1, detractor_to_passive => 0,
        passive_to_promoter => 0, passive_to_detractor => 0, promoter_to_passive => 0,
        promoter_to_detractor => 0, unchanged => 0, mean_change => 6 }, 'resurvey: detractor to promoter, +6';
    is_deeply [ map { $_->{comment} } @{ $s->{comments} } ], ['Too slow'], 'the comment';
    is_deeply [ map { [ $_->{touchpoint}, $_->{stage}, $_->{answered} ] } @{ $s->{by_touchpoint} } ],
        [ [ checkout => purchase => 3 ] ], 'by_touchpoint with its stage';
    is_deeply [ map { [ $_->{date}, $_->{answered} ] } @{ $s->{by_day} } ],
        [ [ ymd(at(0, 10)), 2 ], [ ymd(at(2, 9)), 1 ] ], 'by_day';
};

subtest 'filters' => sub {
    my $r = report('from=' . ymd(at(1, 0)));
    is_deeply [ map { [ $_->{name}, $_->{visits}, $_->{visitors} ] } sort { $a->{name} cmp $b->{name} } @{ $r->{touchpoints} } ],
        [ [ checkout => 1, 1 ], [ home => 2, 2 ] ], 'from D0+1: touchpoints';
    is survey_of($r, 'nps_buy')->{answered}, 1, 'from D0+1: one answer';
    is survey_of($r, 'nps_buy')->{resurvey}{answers}, 1, 'from D0+1: the re-survey';
    is $r->{journey}{time_to_purchase}{visitors}, 0, 'from D0+1: no first purchase';
    ok !defined $r->{journey}{time_to_purchase}{median_seconds}, 'from D0+1: median null';
    is_deeply [ sort map { "$_->{from}>$_->{to}" } @{ $r->{journey}{transitions} } ],
        [ 'checkout>home', 'home>checkout' ], 'from D0+1: the moves of those days';

    $r = report('to=' . ymd(at(0, 0)));
    is survey_of($r, 'nps_buy')->{answered}, 2, 'to D0: two answers';
    is_deeply [ map { $_->{comment} } @{ survey_of($r, 'nps_buy')->{comments} } ], ['Too slow'], 'to D0: the comment';

    $r = report('touchpoint=checkout');
    is_deeply [ map { $_->{name} } @{ $r->{touchpoints} } ], ['checkout'], 'touchpoint=checkout: that touchpoint';
    is_deeply [ sort map { "$_->{from}>$_->{to}" } @{ $r->{journey}{transitions} } ],
        [ 'checkout>help', 'checkout>home', 'home>checkout', 'product>checkout' ], 'touchpoint=checkout: its moves';
    is survey_of($r, 'csat_help')->{answered}, 0, 'touchpoint=checkout: no help answers';

    $r = report('survey=csat_help');
    is_deeply [ map { $_->{name} } @{ $r->{surveys} } ], ['csat_help'], 'survey=csat_help: that survey';
    is stage_of($r, 'purchase')->{answers}, 0, 'survey=csat_help: no purchase answers';
    is stage_of($r, 'usage')->{answers}, 1, 'survey=csat_help: the usage answer';
};

subtest 'the report agrees with the export, counted by hand' => sub {
    agrees_with_export(undef, 'all');
    agrees_with_export('from=' . ymd(at(1, 0)), 'from D0+1');
    agrees_with_export('touchpoint=checkout', 'checkout');
};

# ---- cxctl: rebuild, erase, prune ---------------------------------------------------

subtest 'cxctl rebuild-rollups gives the same report' => sub {
    my $before = report();
    my $r = cxctl('rebuild-rollups');
    is $r->{rc}, 0, 'rebuild-rollups: exit 0' or diag $r->{err};
    like $r->{out}, qr/^rebuilt the rollups from 4 responses and 13 events in \d+ ms$/m, 'rebuild-rollups: 4 responses, 13 events (9 visits, 4 offers)';
    my $after = report();
    delete $_->{generated_at} for $before, $after;
    is_deeply $after, $before, 'the same report.json';
};

subtest 'erase: the visitor leaves the counts' => sub {
    my $id = cx_visitor_of($A->{cookie});
    my $r = cxctl('erase', '--visitor', $id);
    is $r->{rc}, 0, 'erase A: exit 0' or diag $r->{err};
    my $rep = agrees_with_export(undef, 'after erase');
    my $s = survey_of($rep, 'nps_buy');
    is $s->{answered}, 1, 'nps_buy: B only';
    is $s->{resurvey}{answers}, 0, 'no re-survey left';
    is_deeply $s->{comments}, [], 'no comment left';
};

subtest 'prune: the days before go, the report follows' => sub {
    my $r = cxctl('prune', '--before', ymd(at(1, 0)));
    is $r->{rc}, 0, 'prune: exit 0' or diag $r->{err};
    my $rep = agrees_with_export(undef, 'after prune');
    is survey_of($rep, 'nps_buy')->{answered}, 0, 'nps_buy: nothing left';
    is_deeply [ map { [ $_->{name}, $_->{visits} ] } @{ $rep->{touchpoints} } ],
        [ [ home => 2 ], [ checkout => 1 ] ], 'visits of D0+1 and D0+2 only';
};

# ---- an upgrade: a store written before the rollups -------------------------------

SKIP: {
    skip 'build/mkstore not built', 1 unless -x $MKSTORE;

    subtest 'a store without rollups gets them at start' => sub {
        $ng->stop;
        my $ng2 = cx_nginx(files => { cx_pages($PAGE, qw(home)) }, conf => $CONF, start => 0);
        my $store = $ng2->prefix . '/cxdata';
        mkdir $store;
        system($MKSTORE, $store, 500) == 0 or die "mkstore failed";
        $ng2->start;
        like $ng2->error_log, qr/report rollups built from 500 responses and 0 journey events in \d+ ms/,
            'the build is logged';
        my ($rep2, $res) = $ng2->report_json;
        is $res->{status}, 200, 'report.json: 200';
        my $answered = 0;
        $answered += $_->{answered} for @{ $rep2->{surveys} };
        is $answered, 500, 'every stored answer counted';
        $ng2->stop;
    };
}

done_testing;
