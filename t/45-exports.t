# responses.csv and responses.ndjson at the cx_report location: the same
# bytes as `cxctl export` (one formatter), filters, HEAD, errors, and
# streaming: a large export read slowly keeps the worker's memory flat.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use CXTest;
use POSIX qw(WNOHANG);
use Time::HiRes ();

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
like $csv->{body}, qr/^id,received_at,survey,type,touchpoint,stage,score,comment,visitor,lang,path,attributes,displayed,answered,dismissed,previous_score,received_at_utc,band,followup\r\n/,
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
is $f->{body}, "id,received_at,survey,type,touchpoint,stage,score,comment,visitor,lang,path,attributes,displayed,answered,dismissed,previous_score,received_at_utc,band,followup\r\n",
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
    my @head = split /,/, $csv[0];
    my ($col) = grep { $head[$_] eq 'previous_score' } 0 .. $#head;
    is_deeply [ map { (split /,/, $_, -1)[$col] } @csv[1 .. 3] ], [ '', '3', '9' ], 'CSV: its column';
    $again->stop;
};

# Issue 17, item 9: the columns for spreadsheets, exact bytes.  Two hooks
# with different keys (numbers among them), follow-ups by band in two
# languages, the three survey types, a prompt only displayed.
subtest 'received_at_utc, band, followup, lang, attr_ columns, excel' => sub {
    my %conf = (
        fu_nps  => 'followup "Why?"; followup detractor "What should we do better?"; '
                 . qq(followup tr "Neden?"; followup tr detractor "Neyi daha iyi yapmal\xc4\xb1y\xc4\xb1z?";),
        fu_csat => 'followup detractor "What went wrong?";',
    );
    my $conf = sub {
        my ($nps_fu) = @_;
        return <<"CONF";
    cx_store %%PREFIX%%/cxdata;
    cx_test_clock on;
    cx_survey nps9 { type nps; question "Recommend us?"; question tr "Tavsiye eder misiniz?";
                     $nps_fu }
    cx_survey csat9 { type csat; question "Happy?"; $conf{fu_csat} }
    cx_survey ces9 { type ces; question "Easy?"; }
    server {
        %%CX_SITE%%
        location /a/ { cx_touchpoint checkout stage=purchase; cx_prompt nps9;
                       cx_target_by_lua_file %%PREFIX%%/conf/a.lua; }
        location /b/ { cx_touchpoint help stage=usage; cx_prompt csat9;
                       cx_target_by_lua_file %%PREFIX%%/conf/b.lua; }
        location /c/ { cx_touchpoint docs; cx_prompt ces9; }
    }
CONF
    };
    my $page = "<html><body>x</body></html>\n";
    my $ng9 = cx_nginx(conf => $conf->($conf{fu_nps}), files => {
        'html/a/index.html' => $page, 'html/b/index.html' => $page, 'html/c/index.html' => $page,
        'conf/a.lua' => qq{return function(cx) return true, { total = 129.9, plan = "=pro" } end\n},
        'conf/b.lua' => qq{return function(cx) return true, { ticket = 7 } end\n},
    });
    my $T = 1768046400;                                   # 2026-01-10T12:00:00Z
    my $n = 0;
    my $respond = sub {
        my ($path, $lang, $score, $comment) = @_;
        my $t = $T + 60 * $n++;
        my $b = cx_browser("v$n");
        my $r = $ng9->visit($b, $path, now => $t, headers => [ 'Accept-Language' => $lang ]);
        my $token = $r->{prompt} && $r->{prompt}{token} or return fail "$path: a prompt";
        $ng9->answer(event => 'display', token => $token, jar => $b, now => $t);
        return 1 unless defined $score;
        my @ev = ([ answer => (score => $score) ], defined $comment ? [ comment => (comment => $comment) ] : ());
        for my $e (@ev) {
            my ($event, %f) = @$e;
            is $ng9->answer(event => $event, token => $token, jar => $b, now => $t + 5, %f)->{status}, 204,
                "$path $lang $event";
        }
    };
    $respond->('/a/', 'en', 3, 'Too slow');               # 12:00 detractor, en
    $respond->('/a/', 'tr', 10);                          # 12:01 promoter, tr
    $respond->('/a/', 'tr;q=1, en;q=0.5', 4);             # 12:02 detractor, tr
    $respond->('/b/', 'en', 2);                           # 12:03 csat detractor
    $respond->('/b/', 'en', 3);                           # 12:04 csat passive: no follow-up
    $respond->('/c/', 'en', 6);                           # 12:05 ces promoter
    $respond->('/c/', 'en');                              # 12:06 displayed only

    my $nd = $ng9->get('/cx-admin/responses.ndjson')->{body};
    my @j = map { $CXTest::JSON->decode($_) } split /\n/, $nd;
    is scalar(@j), 7, 'seven responses';
    is_deeply [ map { $_->{band} } @j ],
        [ 'detractor', 'promoter', 'detractor', 'detractor', 'passive', 'promoter', undef ],
        'NDJSON band: per type, null when not answered';
    is_deeply [ map { $_->{followup} } @j ],
        [ 'What should we do better?', 'Neden?', "Neyi daha iyi yapmal\x{0131}y\x{0131}z?",
          'What went wrong?', '', '', '' ],
        'the follow-up asked: by band and language, none where the survey has none';
    is_deeply [ map { $_->{lang} } @j ], [ qw(en tr tr en en en en) ], 'lang: the language shown';
    is_deeply $j[3]{attributes}, { ticket => 7 }, 'NDJSON: a number stays a number';
    ok !ref($j[3]{attributes}{ticket}) && $nd =~ /"attributes":\{"ticket":7\}/, '... written bare';

    # the first row, byte for byte (the hook's two pairs in Lua's order)
    my ($id, $vis) = ($j[0]{id}, $j[0]{visitor});
    my ($pairs) = $nd =~ /^\{"id":"$id".*"attributes":\{([^}]*)\}/m;
    ok $pairs eq '"total":129.9,"plan":"=pro"' || $pairs eq '"plan":"=pro","total":129.9',
        "NDJSON attributes: 129.9 a number, \"=pro\" a string ($pairs)";
    my $cell = $pairs =~ /^"total"/ ? 'total=129.9&plan=%3Dpro' : 'plan=%3Dpro&total=129.9';
    is((split /\n/, $nd)[0],
        qq({"id":"$id","received_at":"2026-01-10T12:00:05Z","survey":"nps9","type":"nps",)
        . qq("touchpoint":"checkout","stage":"purchase","score":3,"comment":"Too slow",)
        . qq("visitor":"$vis","lang":"en","path":"/a/","attributes":{$pairs},)
        . qq("displayed":true,"answered":true,"dismissed":false,"previous_score":null,)
        . qq("band":"detractor","followup":"What should we do better?"}),
        'NDJSON: the line, exact');

    my $csv = $ng9->get('/cx-admin/responses.csv');
    my @rows = split /\r\n/, $csv->{body};
    is $rows[0], 'id,received_at,survey,type,touchpoint,stage,score,comment,visitor,lang,path,'
        . 'attributes,displayed,answered,dismissed,previous_score,received_at_utc,band,followup,'
        . 'attr_plan,attr_ticket,attr_total', 'CSV header: an attr_ column per key of the rows, sorted';
    is $rows[1], "$id,2026-01-10T12:00:05Z,nps9,nps,checkout,purchase,3,Too slow,$vis,en,/a/,$cell,"
        . "1,1,0,,2026-01-10 12:00:05,detractor,What should we do better?,'=pro,,129.9",
        'CSV: the row, exact (a string guarded, a number bare, no ticket)';
    is $rows[4], "$j[3]{id},2026-01-10T12:03:05Z,csat9,csat,help,usage,2,,$j[3]{visitor},en,/b/,"
        . "ticket=7,1,1,0,,2026-01-10 12:03:05,detractor,What went wrong?,,7,",
        'CSV: the other hook\'s row, its own column';
    is $rows[7], "$j[6]{id},2026-01-10T12:06:00Z,ces9,ces,docs,,,,$j[6]{visitor},en,/c/,,1,0,0,,"
        . "2026-01-10 12:06:00,,,,,", 'CSV: displayed only: no band, no follow-up, empty columns';
    like $rows[2], qr/,tr,\/a\/,.*,2026-01-10 12:01:05,promoter,Neden\?,'=pro,,129\.9$/,
        'CSV: the promoter in Turkish';
    like $rows[3], qr/,tr,\/a\/,.*,detractor,Neyi daha iyi yapmal\xc4\xb1y\xc4\xb1z\?,'=pro,,129\.9$/,
        'CSV: the detractor in Turkish, UTF-8';
    is $csv->{body}, scalar `$CXCTL --store @{[ $ng9->prefix ]}/cxdata export --format csv`,
        'responses.csv = cxctl export, attr_ columns included';
    my $only = $ng9->get('/cx-admin/responses.csv?survey=csat9')->{body};
    like $only, qr/^[^\r]*,followup,attr_ticket\r\n/, '?survey=: the columns of its rows only';

    # ?excel=1: a BOM before the same bytes; CRLF as always
    my $x = $ng9->get('/cx-admin/responses.csv?excel=1');
    is $x->{status}, 200, '?excel=1: 200';
    is $x->{body}, "\xef\xbb\xbf$csv->{body}", '?excel=1: a UTF-8 BOM, then the same bytes';
    is scalar(() = $x->{body} =~ /\r\n/g), 8, '... CRLF line ends';
    is $x->{headers}{'content-disposition'}, 'attachment; filename="responses.csv"', '... the same file name';
    is $ng9->get('/cx-admin/responses.csv?excel=0')->{body}, $csv->{body}, '?excel=0: the plain CSV';
    is $x->{body}, scalar `$CXCTL --store @{[ $ng9->prefix ]}/cxdata export --format csv --excel`,
        '?excel=1 = cxctl export --format csv --excel';
    for my $bad ([ 'responses.csv?excel=yes', qr/excel= takes 1 \(the CSV for Excel\) or 0/ ],
                 [ 'responses.csv?excel=', qr/excel= takes 1/ ],
                 [ 'responses.ndjson?excel=1', qr/excel=1 is for responses\.csv/ ]) {
        my $r = $ng9->get("/cx-admin/$bad->[0]");
        is $r->{status}, 400, "$bad->[0]: 400";
        like $r->{body}, qr/^\{"error":"/, '... as JSON';
        like $r->{body}, $bad->[1], '... saying why';
    }

    # the texts change: what was asked stays what the visitor saw
    $ng9->reload(conf => $conf->('followup "Tell us more"; followup tr "Daha fazla"; '));
    is $ng9->get('/cx-admin/responses.csv')->{body}, $csv->{body},
        'after a reload with other follow-ups: the same CSV';
    $respond->('/a/', 'en', 9);
    my $last = (split /\n/, $ng9->get('/cx-admin/responses.ndjson')->{body})[-1];
    like $last, qr/"band":"promoter","followup":"Tell us more"\}$/, '... and a new answer gets the new text';
    $ng9->stop;
};

# A client that takes the export as fast as it is written (curl on loopback)
# does not hold the worker: the export yields every 16 chunks, so requests
# to the same single worker are answered while it runs.
SKIP: {
    my $MKSTORE = cx_repo_root() . '/build/mkstore';
    skip 'build/mkstore not built (make build/mkstore)', 1 unless -x $MKSTORE;

    subtest 'an export to a fast client lets the worker serve others' => sub {
        my $big = cx_nginx(start => 0, conf => <<'CONF');
    cx_store %%PREFIX%%/cxdata max_size=512m;
    server {
        %%CX_SITE%%
        location = /ping { return 204; }
    }
CONF
        my $store = $big->prefix . '/cxdata';
        mkdir $store;
        system($MKSTORE, $store, 300000) == 0 or die 'mkstore failed';
        $big->start;
        my $url = 'http://127.0.0.1:' . $big->port . '/cx-admin/responses.ndjson';
        # one export, pinged until curl has it all: (curl's status, pings, all 204, longest wait, time)
        my $run = sub {
            my $pid = fork // die "fork: $!";
            if (!$pid) {
                exec 'curl', '-s', '-o', '/dev/null', '--max-time', '60', $url;
                exit 127;
            }
            my ($pings, $ok, $longest, $t0) = (0, 1, 0, Time::HiRes::time());
            until (waitpid($pid, WNOHANG) == $pid) {
                my $t = Time::HiRes::time();
                my $r = $big->get('/ping');
                my $waited = Time::HiRes::time() - $t;
                $longest = $waited if $waited > $longest;
                $ok &&= $r->{status} == 204;
                $pings++;
            }
            return ($? >> 8, $pings, $ok, $longest, Time::HiRes::time() - $t0);
        };
        # without the yield one waited 0.2 s of an export of 0.27 to 0.46 s, every time; with
        # it, 15 to 70 ms, and up to 150 ms on a machine busy with other work: the best of three
        my @best;
        for (1 .. 3) {
            my @got = $run->();
            @best = @got if !@best || $got[3] / $got[4] < $best[3] / $best[4];
            last if $got[3] < $got[4] / 4;
        }
        my ($rc, $pings, $ok, $longest, $took) = @best;
        is $rc, 0, 'curl read the whole export';
        ok $ok, 'every request meanwhile answered 204';
        cmp_ok $pings, '>=', 5, "requests answered while the export ran: $pings";
        cmp_ok $longest, '<', $took / 4, sprintf('the longest wait, %.0f ms, is under a quarter of the export\'s %.0f ms',
                                                  1000 * $longest, 1000 * $took);
        $big->stop;
    };
}

done_testing;
