#!/usr/bin/perl
# Segments (README: Reports, Segments; issue 17 item 7): segments.json?by=
# splits every survey's answers by a hook attribute, the language the
# visitor saw, or the device class of the browser that answered (kept with
# the response as "mobile" or "desktop" only); the report filters apply;
# many values end in one "other"; a bad by= is 400.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;

plan skip_all => "module not built" unless cx_have_module();

my $J = $CXTest::JSON;
my $T0 = 1_790_000_000;
my $IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 '
    . '(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
my $WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) '
    . 'Chrome/126.0.0.0 Safari/537.36';

my $ng = cx_nginx(files => {
    cx_pages("<html><body><p>page</p></body></html>\n", qw(shop other member)),
    'conf/hooks/tier.lua' => <<'LUA',
return function(cx)
  local tier = cx.request.cookies["tier"]
  if tier == nil then return true end
  return true, { tier = tier }
end
LUA
}, conf => <<'CONF');
    cx_store %%PREFIX%%/cxdata max_size=16m;
    cx_test_clock on;
    cx_survey nps_shop { type nps; question "Recommend us?"; question tr "Tavsiye?"; title "The shop"; }
    cx_survey csat_other { type csat; question "Happy?"; }
    server {
        %%CX_SITE%%
        location /shop/ { cx_touchpoint shop; cx_prompt nps_shop;
                          cx_target_by_lua_file hooks/tier.lua; }
        location /other/ { cx_touchpoint other; cx_prompt csat_other; }
        location /member/ { cx_touchpoint member; cx_prompt csat_other;
                            cx_target_by_lua_file %%REPO%%/examples/hooks/tier.lua; }
    }
CONF

my $n = 0;
sub answer {
    my (%o) = @_;
    my $b = cx_browser('v' . ++$n);
    my @h;
    push @h, 'Accept-Language' => $o{lang} if $o{lang};
    my $r = $ng->visit($b, $o{path} // '/shop/', now => $o{now} // $T0,
                       cookie => defined $o{tier} ? "tier=$o{tier}" : undef, headers => \@h);
    my $p = $r->{prompt} or return diag("no prompt: $r->{status}");
    my $a = $ng->post_json('/cx/r', $J->encode({ token => $p->{token}, event => 'answer', score => $o{score} + 0 }),
        Cookie => "cx=$b->{cookie}", 'X-CX-Test-Now' => ($o{now} // $T0) + 5,
        'User-Agent' => $o{ua} // $WINDOWS, @h);
    is $a->{status}, 204, "answer $n stored" or diag $a->{body};
}

answer(tier => 'gold',   score => 10, ua => $IPHONE, lang => 'tr');
answer(tier => 'gold',   score => 9,  ua => $IPHONE);
answer(tier => 'gold',   score => 3);
answer(tier => 'silver', score => 7,  lang => 'tr');
answer(tier => undef,    score => 0,  ua => '');
answer(path => '/other/', score => 5, ua => $IPHONE);
answer(tier => 'silver', score => 10, now => $T0 + 3 * 86400);

sub seg {
    my ($q) = @_;
    my $r = $ng->get("/cx-admin/segments.json?$q");
    my $j = eval { $J->decode($r->{body}) };
    return ($r, $j);
}
sub by_value {
    my ($j, $survey) = @_;
    my ($s) = grep { $_->{name} eq $survey } @{ $j->{surveys} || [] };
    return { map { (defined $_->{value} ? $_->{value} : '(other)') => $_ } @{ $s ? $s->{segments} : [] } };
}

my ($r, $j) = seg('by=attr.tier');
is $r->{status}, 200, 'by=attr.tier: 200';
like $r->{headers}{'content-type'}, qr{^application/json}, '... JSON';
is $j->{by}, 'attr.tier', '... says by what';
my ($shop) = grep { $_->{name} eq 'nps_shop' } @{ $j->{surveys} };
is $shop->{title}, 'The shop', '... the survey\'s title';
is $shop->{type}, 'nps', '... and type';
is_deeply [map { $_->{value} } @{ $shop->{segments} }], ['gold', 'silver', ''],
    '... values, most answers first; "" for answers without the attribute';
my $v = by_value($j, 'nps_shop');
is $v->{gold}{answered}, 3, 'gold: 3 answers';
is $v->{gold}{score}, 33.3, '... NPS (2 promoters, 1 detractor of 3) +33.3';
is_deeply [@{ $v->{gold} }{qw(promoters passives detractors)}], [2, 0, 1], '... the groups';
is $v->{silver}{answered}, 2, 'silver: 2 answers';
is $v->{silver}{score}, 50, '... +50.0';
is $v->{''}{answered}, 1, 'no tier: 1 answer';
is $v->{''}{score}, -100, '... -100.0';
is by_value($j, 'csat_other')->{''}{score}, 100, 'a survey without the attribute: one segment ""';

($r, $j) = seg('by=lang');
$v = by_value($j, 'nps_shop');
is $v->{tr}{answered}, 2, 'by=lang: tr 2';
is $v->{en}{answered}, 4, '... en 4';

($r, $j) = seg('by=device');
$v = by_value($j, 'nps_shop');
is $v->{mobile}{answered}, 2, 'by=device: mobile 2 (the iPhone)';
is $v->{desktop}{answered}, 3, '... desktop 3';
is $v->{''}{answered}, 1, '... no User-Agent: ""';
is by_value($j, 'csat_other')->{mobile}{answered}, 1, '... per survey';

# every view split: by day (with the answers per score, as report.json's by_day) and by touchpoint
($r, $j) = seg('by=attr.tier&survey=nps_shop');
$v = by_value($j, 'nps_shop');
is_deeply $v->{silver}{by_day}, [
    { date => '2026-09-21', answered => 1, score => 0, distribution => [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0] },
    { date => '2026-09-24', answered => 1, score => 100, distribution => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] },
], 'silver by_day: each day its answers, score and answers per score' or diag explain $v->{silver}{by_day};
is_deeply $v->{gold}{by_touchpoint}, [ { touchpoint => 'shop', stage => '', answered => 3, score => 33.3 } ],
    'gold by_touchpoint: the touchpoint, its stage, answers and score' or diag explain $v->{gold}{by_touchpoint};
ok !exists $v->{gold}{partial}, '... not partial';
my $rep = $J->decode($ng->get('/cx-admin/report.json?survey=nps_shop')->{body});
my %days;
for my $seg (values %$v) { $days{ $_->{date} } += $_->{answered} for @{ $seg->{by_day} } }
is_deeply \%days, { map { $_->{date} => $_->{answered} } @{ $rep->{surveys}[0]{by_day} } },
    'the segments\' days add up to report.json\'s by_day';

# the device class is stored, and only it
my $nd = $ng->get('/cx-admin/responses.ndjson')->{body};
unlike $nd, qr/iPhone|Windows|Mozilla/, 'no User-Agent in the exports';

# the report filters
($r, $j) = seg('by=attr.tier&from=2026-09-22');
$v = by_value($j, 'nps_shop');
is_deeply [sort keys %$v], ['silver'], 'from=: only the later answer';
($r, $j) = seg('by=attr.tier&survey=csat_other');
is_deeply [map { $_->{name} } @{ $j->{surveys} }], ['csat_other'], 'survey=: that survey only';
($r, $j) = seg('by=attr.tier&touchpoint=nope');
is_deeply $j->{surveys}, [], 'no answers: no surveys';

# many values: the 50 with the most answers shown (ties by value), the rest "other";
# the same whatever order the store holds them in (answers of one second sort by a random nonce)
answer(tier => "t$_", score => 8) for 1 .. 52;
($r, $j) = seg('by=attr.tier&survey=nps_shop');
my @segs = @{ $j->{surveys}[0]{segments} };
is scalar @segs, 51, 'at most 50 values and "other"';
is $segs[-1]{other}, JSON::PP::true(), '... "other" last';
ok !defined $segs[-1]{value}, '... with a null value';
is_deeply [map { $_->{value} } @segs[0 .. 3]], ['gold', 'silver', '', 't1'], '... most answers first, then by value';
is $segs[-2]{value}, 't51', '... the 50th: t51 (t1, t10 .. t19, t2, t20 .. t5, t50, t51 by value)';
is $segs[-1]{answered}, 5, '... holding the answers of the values past 50 (gold, silver, "" and t1..t52 are 55)';
is_deeply [map { $_->{answered} } @{ $segs[-1]{by_day} }], [5], '... and their day';
is_deeply [map { [$_->{touchpoint}, $_->{answered}] } @{ $segs[-1]{by_touchpoint} }], [['shop', 5]], '... and their touchpoint';

# examples/hooks/tier.lua (the demo's): a known tier, else "guest"
answer(path => '/member/', tier => 'gold', score => 4);
answer(path => '/member/', tier => 'platinum', score => 2);
answer(path => '/member/', score => 1);
($r, $j) = seg('by=attr.tier&touchpoint=member');
$v = by_value($j, 'csat_other');
is $v->{gold}{answered}, 1, 'tier.lua: gold';
is $v->{guest}{answered}, 2, '... an unknown tier or none: guest';

# a value keeps its first 400 days (and 64 touchpoints): past them it says "partial",
# its answers and score still whole
answer(path => '/other/', score => 4, now => $T0 + 86400 * (10 + $_), ua => $IPHONE) for 1 .. 401;
($r, $j) = seg('by=device&survey=csat_other');
$v = by_value($j, 'csat_other');
is $v->{mobile}{answered}, 402, 'a value with answers on 402 days: all its answers';
is scalar @{ $v->{mobile}{by_day} }, 400, '... 400 days of them';
is $v->{mobile}{partial}, JSON::PP::true(), '... "partial": true';
is $v->{mobile}{by_day}[0]{date}, '2026-09-21', '... the first days kept';

# refused
for my $q ('', 'by=', 'by=country', 'by=attr.', 'by=attr.a-b', 'by=attr.' . ('k' x 65), 'by=lang&from=2026-13-01') {
    my ($res) = seg($q);
    is $res->{status}, 400, "segments.json?$q: 400";
    like $res->{body}, qr/"error"/, '... with the reason';
}

done_testing;
