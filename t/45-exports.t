# responses.csv and responses.ndjson at the cx_report location: the same
# bytes as `cxctl export` (one formatter), filters, HEAD, errors, and
# streaming: a large export read slowly keeps the worker's memory flat.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use CXTest;

plan skip_all => 'module not built' unless cx_have_module();
my $CXCTL = cx_repo_root() . '/build/cxctl';
plan skip_all => 'cxctl not built' unless -x $CXCTL;

my $ng = cx_nginx(
    conf => <<'CONF',
    cx_store %%PREFIX%%/cxdata max_size=256m;
    cx_survey nps1 { type nps; question "Q?"; followup "Why?"; }
    cx_survey csat1 { type csat; question "C?"; }
    server {
        %%CX_SITE%%
        location /a/ { cx_touchpoint browse; cx_prompt nps1; }
        location /b/ { cx_touchpoint support stage=usage; cx_prompt csat1; }
    }
CONF
    files => { 'html/a/index.html' => "<html><body>a</body></html>\n",
               'html/b/index.html' => "<html><body>b</body></html>\n" },
);

sub answer {
    my ($path, $score, $comment) = @_;
    my $page = $ng->get($path);
    my ($token) = $page->{body} =~ /"token":"([^"]*)"/ or return 0;
    my $cookie = cx_cookie_from($page, 'cx');
    my $r = $ng->post_json('/cx/r', qq({"token":"$token","event":"answer","score":$score}),
                           Cookie => "cx=$cookie");
    return 0 unless $r->{status} == 204;
    return 1 unless defined $comment;
    $r = $ng->post_json('/cx/r', JSON::PP->new->ascii->encode(
                            { token => $token, event => 'comment', comment => $comment }),
                        Cookie => "cx=$cookie");
    return $r->{status} == 204;
}

ok answer('/a/', 9, 'Fast, "really" fast'), 'answer 1';
ok answer('/a/', 3, '=SUM(A1)'), 'answer 2 (a formula)';
ok answer('/b/', 4, '<script>alert(1)</script>'), 'answer 3 (csat)';
ok answer('/a/', 10), 'answer 4 (no comment)';

my $store = $ng->prefix . '/cxdata';

my $csv = $ng->get('/cx-admin/responses.csv');
is $csv->{status}, 200, 'responses.csv: 200';
like $csv->{headers}{'content-type'}, qr{^text/csv}, 'text/csv';
like $csv->{headers}{'content-disposition'}, qr/attachment; filename="responses.csv"/, 'a download';
is $csv->{headers}{'cache-control'}, 'no-store', 'never cached';
my $cxctl_csv = `$CXCTL --store $store export --format csv`;
is $csv->{body}, $cxctl_csv, 'the same bytes as cxctl export';
like $csv->{body}, qr/^id,received_at,survey,type,touchpoint,stage,score,comment,visitor,lang,path,attributes,displayed,answered,dismissed,previous_score\r\n/,
    'the header row';
like $csv->{body}, qr/"Fast, ""really"" fast"/, 'quotes doubled, the cell quoted';
like $csv->{body}, qr/,'=SUM\(A1\),/, 'a formula neutralised';
is scalar(() = $csv->{body} =~ /\r\n/g), 5, 'four rows and the header';

my $nd = $ng->get('/cx-admin/responses.ndjson');
is $nd->{status}, 200, 'responses.ndjson: 200';
is $nd->{body}, scalar `$CXCTL --store $store export --format ndjson`, 'the same bytes as cxctl';
my @rows = map { JSON::PP->new->decode($_) } split /\n/, $nd->{body};
is scalar(@rows), 4, 'four lines';
is((grep { ($_->{comment} // '') eq '<script>alert(1)</script>' } @rows), 1, 'HTML kept as text');

my $f = $ng->get('/cx-admin/responses.ndjson?survey=csat1');
is scalar(split /\n/, $f->{body}), 1, '?survey= filters';
$f = $ng->get('/cx-admin/responses.csv?from=2999-01-01');
is $f->{body}, "id,received_at,survey,type,touchpoint,stage,score,comment,visitor,lang,path,attributes,displayed,answered,dismissed,previous_score\r\n",
    'a future ?from= gives the header only';
$f = $ng->get('/cx-admin/responses.csv?from=yesterday');
is $f->{status}, 400, 'a bad date: 400';
like $f->{body}, qr/^\{"error":/, 'as JSON';
my $h = $ng->head('/cx-admin/responses.csv');
is $h->{status}, 200, 'HEAD: 200';
is $h->{body}, '', 'HEAD: no body';

# streaming: many responses, a slow reader, flat memory
my $long = 'x' x 1500;
my $n = 0;
for (1 .. 1500) { $n++ if answer('/a/', 7, $long) }
is $n, 1500, '1500 more answers with long comments';

my ($worker) = $ng->worker_pids;
my $rss = sub { open my $fh, '<', "/proc/$_[0]/status" or return 0;
                while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)/ } 0 };
my $before = $rss->($worker);

my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ng->port,
                                 Proto => 'tcp') or die "connect: $!";
print $sock "GET /cx-admin/responses.csv HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
my ($got, $buf, $peak) = (0, '', $before);
my $deadline = time + 60;
while (time < $deadline) {
    my $r = sysread $sock, $buf, 16384;
    last unless $r;
    $got += $r;
    if ($got < 1_000_000) { select undef, undef, undef, 0.005 }    # slow at first
    my $m = $rss->($worker);
    $peak = $m if $m > $peak;
}
close $sock;
ok $got > 1500 * 1500, "the whole export arrived ($got bytes)";
cmp_ok $peak - $before, '<', 8 * 1024, "worker memory grew by less than 8 MB ($before -> $peak kB)";

my $all = $ng->get('/cx-admin/responses.csv');
is scalar(() = $all->{body} =~ /\r\n/g), 1505, 'every row once (1504 and the header)';

# a re-survey: the second answer of a visitor carries the first
subtest 'previous_score: the visitor asked again' => sub {
    my $again = cx_nginx(conf => <<'CONF', files => { 'html/index.html' => "<html><body>x</body></html>\n" });
    cx_store %%PREFIX%%/cxdata;
    cx_test_clock on;
    cx_survey nps1 { type nps; question "Q?"; every 1d; }
    server {
        %%CX_SITE%%
        location / { cx_touchpoint browse; cx_prompt nps1; }
    }
CONF
    my $b = cx_browser();
    my $t = time;
    for my $step ([ $t, 3 ], [ $t + 2 * 86400, 9 ], [ $t + 4 * 86400, 8 ]) {
        my ($now, $score) = @$step;
        my $r = $again->visit($b, '/', now => $now);
        ok $r->{prompt}, "offered at +@{[ ($now - $t) / 86400 ]}d";
        is $again->answer(event => 'answer', token => $r->{prompt}{token}, jar => $b,
                          score => $score, now => $now + 1)->{status}, 204, "answer $score";
    }
    my @rows = map { $CXTest::JSON->decode($_) } split /\n/, $again->get('/cx-admin/responses.ndjson')->{body};
    is_deeply [ map { [ $_->{score}, $_->{previous_score} ] } @rows ], [ [ 3, undef ], [ 9, 3 ], [ 8, 9 ] ],
        'NDJSON: each answer with the one before (null for the first)';
    my @csv = split /\r\n/, $again->get('/cx-admin/responses.csv')->{body};
    is_deeply [ map { (split /,/, $_, -1)[-1] } @csv[1 .. 3] ], [ '', '3', '9' ], 'CSV: the last column';
    $again->stop;
};

done_testing;
