#!/usr/bin/perl
# cxctl (README: Reports, cxctl) against a store that a running nginx writes: the
# answers are made through HTTP, then every cxctl command runs while nginx
# keeps running (LMDB: many readers, one writer at a time, across processes).
#
# The data (cx_test_clock on: X-CX-Test-Now dates every prompt and answer):
#   2025-01-10 12:00  nps1   10  'Fast, "really" fast'   (comma and quotes)
#   2025-01-10 12:01  nps1    3  '=SUM(A1)'              (a formula)
#   2025-01-10 12:02  nps1    7  '<script>alert(1)</script>'
#   2025-01-14 23:59:59 nps1  9                          (prune boundary)
#   2025-01-15 00:00:00 nps1 10                          (prune boundary)
#   2025-01-15 12:00  csat1   5
#   2025-01-15 12:00  nps1    0  'erase me'              visitor V
#   2025-01-20 12:00  csat1   2                          visitor V
#   2025-01-20 12:00  nps1   displayed only
#   2025-01-20 12:00  nps1   displayed, dismissed
#
#   nps1:  8 responses, 8 displayed, 6 answered, 4 commented, 1 dismissed;
#          promoters 3 (10 9 10), passives 1 (7), detractors 2 (3 0):
#          NPS (3 - 2) / 6 = 16.7
#   csat1: 2 answered, 1 of them 4-5: 50.0
#   after erasing V: nps1 5 answered, P 3 D 1 -> 40.0; csat1 1 -> 100.0

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use JSON::PP ();
use POSIX qw(_exit);
use Time::HiRes qw(sleep);
use Time::Local qw(timegm);

my $CXCTL = cx_repo_root() . '/build/cxctl';

plan skip_all => "build/cxctl not built" unless -x $CXCTL;
plan skip_all => "module not built" unless cx_have_module();

my $JSON = JSON::PP->new->utf8->canonical;

my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";

my $ng = cx_nginx(
    files => {
        cx_pages($PAGE, '', qw(help shop)),
        'conf/attrs.lua'       =>
            qq{return function(cx) return true, { plan = "=pro", q = "a&b=c%", note = "\\226\\130\\172 1,2\\nx" } end\n},
    },
    conf => <<'CONF',
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_test_clock on;
    cx_survey nps1  { type nps;  question "Q?"; followup "Why?"; }
    cx_survey csat1 { type csat; question "Satisfied?"; }
    server {
        %%CX_SITE%%
        location /shop/ { cx_touchpoint shop stage=purchase; cx_prompt nps1;
                          cx_target_by_lua_file %%PREFIX%%/conf/attrs.lua; }
        location /help/ { cx_touchpoint support stage=usage; cx_prompt csat1; }
        location / { cx_touchpoint browse stage=consideration; cx_prompt nps1; }
    }
CONF
);

my $STORE = $ng->prefix . '/cxdata';
my $TMP = $ng->prefix . '/tmp';

# ---- helpers -----------------------------------------------------------------

sub at { my ($y, $mo, $d, $h, $mi, $s) = @_; timegm($s || 0, $mi || 0, $h || 0, $d, $mo - 1, $y) }

# cxctl ARGS -> {rc, out, err}; no CX_STORE unless env => {CX_STORE => ...}
sub cxctl {
    my (@args) = @_;
    my $env = ref $args[0] eq 'HASH' ? shift @args : {};
    my ($outf, $errf) = ("$TMP/cxctl.out", "$TMP/cxctl.err");
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        delete $ENV{CX_STORE};
        $ENV{$_} = $env->{$_} for keys %$env;
        open STDOUT, '>', $outf or _exit(126);
        open STDERR, '>', $errf or _exit(126);
        exec { $CXCTL } $CXCTL, @args or _exit(127);
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    my $slurp = sub { local $/; open my $fh, '<:raw', $_[0] or return ''; my $c = <$fh>; $c };
    return { rc => $rc, out => $slurp->($outf), err => $slurp->($errf) };
}

sub prompt {
    my ($path, $now, $cookie) = @_;
    my $r = $ng->get($path, 'X-CX-Test-Now' => $now,
                     defined $cookie ? (Cookie => "cx=$cookie") : ());
    my ($token) = $r->{body} =~ /"token":"([^"]*)"/;
    die "no prompt on $path (status $r->{status}):\n$r->{raw}\n" unless defined $token;
    my $set = cx_cookie_from($r, 'cx');
    return { token => $token, cookie => defined $set ? $set : $cookie, now => $now };
}

sub event {
    my ($p, $event, %f) = @_;
    my $r = $ng->answer(token => $p->{token}, jar => $p, now => $p->{now}, event => $event, %f);
    is $r->{status}, 204, "$event" . (defined $f{score} ? " $f{score}" : '') . ': 204'
        or diag $r->{raw};
    return $r;
}

sub answer {
    my ($path, $now, $score, $comment, $cookie) = @_;
    my $p = prompt($path, $now, $cookie);
    event($p, 'display');
    event($p, 'answer', score => $score);
    event($p, 'comment', comment => $comment) if defined $comment;
    return $p;
}

# RFC 4180: rows of cells; dies on anything malformed (bare quote, LF alone).
sub parse_csv {
    my ($text) = @_;
    my (@rows, @row);
    my $pos = 0;
    my $len = length $text;
    while ($pos < $len) {
        my $cell;
        if (substr($text, $pos, 1) eq '"') {
            $pos++;
            $cell = '';
            while (1) {
                die "unterminated quoted cell\n" if $pos >= $len;
                my $c = substr($text, $pos, 1);
                if ($c eq '"') {
                    if (substr($text, $pos + 1, 1) eq '"') { $cell .= '"'; $pos += 2; next }
                    $pos++;
                    last;
                }
                $cell .= $c;
                $pos++;
            }
        } else {
            my $end = $pos;
            $end++ while $end < $len && substr($text, $end, 1) !~ /[,\r\n"]/;
            die "quote inside an unquoted cell\n" if $end < $len && substr($text, $end, 1) eq '"';
            $cell = substr($text, $pos, $end - $pos);
            $pos = $end;
        }
        push @row, $cell;
        my $sep = substr($text, $pos, 1);
        if ($sep eq ',') { $pos++; next }
        die "row not ended by CRLF at byte $pos\n" unless substr($text, $pos, 2) eq "\r\n";
        $pos += 2;
        push @rows, [@row];
        @row = ();
    }
    die "last row without CRLF\n" if @row;
    return @rows;
}

my @HEADER = qw(id received_at survey type touchpoint stage score comment visitor
                lang path attributes displayed answered dismissed previous_score
                received_at_utc band followup);

# export csv -> (rows as hashes) ; checks the header every time: the fixed
# columns, then attr_KEY columns sorted
sub export_csv {
    my (@args) = @_;
    my $r = cxctl('--store', $STORE, 'export', '--format', 'csv', @args);
    is $r->{rc}, 0, "export csv @args: exit 0" or diag $r->{err};
    my @rows = eval { parse_csv($r->{out}) };
    is $@, '', "export csv @args: RFC 4180";
    my $head = shift @rows;
    is_deeply [ @$head[0 .. $#HEADER] ], \@HEADER, "export csv @args: header";
    my @attr = @$head[ @HEADER .. $#$head ];
    is_deeply \@attr, [ sort grep { /^attr_./ } @attr ], "export csv @args: attr_ columns, sorted";
    my @recs;
    for my $row (@rows) {
        is scalar(@$row), scalar(@$head), 'row has every column';
        my %h;
        @h{@$head} = @$row;
        push @recs, \%h;
    }
    return wantarray ? @recs : { raw => $r->{out}, recs => \@recs, head => $head };
}

sub export_ndjson {
    my (@args) = @_;
    my $r = cxctl('--store', $STORE, 'export', '--format', 'ndjson', @args);
    is $r->{rc}, 0, "export ndjson @args: exit 0" or diag $r->{err};
    my @recs;
    for my $line (split /\n/, $r->{out}) {
        my $j = eval { $JSON->decode($line) };
        ok $j, 'ndjson line parses' or diag "$@: $line";
        push @recs, $j if $j;
    }
    like $r->{out}, qr/\A(?:[^\n]+\n)*\z/, 'ndjson: every line ends with LF';
    return @recs;
}

sub report_json {
    my $r = $ng->get('/cx-admin/report.json');
    my $j = eval { $JSON->decode($r->{body}) };
    ok $j, 'report.json parses' or diag $r->{raw};
    return $j;
}

sub survey_of {
    my ($rep, $name) = @_;
    my ($s) = grep { $_->{name} eq $name } @{ $rep->{surveys} || [] };
    return $s || {};
}

# ---- usage and errors (no store needed) ---------------------------------------------

{
    my $r = cxctl('--help');
    is $r->{rc}, 0, '--help: exit 0';
    like $r->{out}, qr/usage: cxctl .*export.*erase.*prune/s, '--help lists the commands';

    for my $cmd (qw(stats report export erase prune)) {
        $r = cxctl($cmd, '--help');
        is $r->{rc}, 0, "$cmd --help: exit 0";
        like $r->{out}, qr/usage: cxctl .*\Q$cmd\E/, "$cmd --help: its usage";
    }
    like cxctl('prune', '--help')->{out}, qr/--dry-run/, 'prune --help: --dry-run';
    like cxctl('report', '--help')->{out}, qr/exit 1|exits 1/, 'report --help: says when it exits 1';
    like cxctl('export', '--help')->{out}, qr/--excel .*byte order mark/s, 'export --help: --excel';

    my @bad = (
        [[], qr/no command/],
        [['frobnicate'], qr/unknown command "frobnicate"/],
        [['--bogus', 'stats'], qr/unknown option "--bogus"/],
        [['--store'], qr/--store needs a value/],
        [['--store', $STORE, 'export'], qr/--format csv or --format ndjson is required/],
        [['--store', $STORE, 'export', '--format', 'xml'], qr/unknown format "xml"/],
        [['--store', $STORE, 'export', '--format', 'csv', '--since', '2025-13-01'],
         qr/--since "2025-13-01": expected a date YYYY-MM-DD/],
        [['--store', $STORE, 'export', '--format', 'csv', '--until', 'yesterday'],
         qr/--until "yesterday": expected a date/],
        [['--store', $STORE, 'export', '--format', 'csv', '--since', '2025-01-20',
          '--until', '2025-01-10'], qr/--until is before --since/],
        [['--store', $STORE, 'export', '--format', 'csv', 'extra'], qr/unexpected argument "extra"/],
        [['--store', $STORE, 'export', '--format', 'ndjson', '--excel'], qr/--excel is for --format csv/],
        [['--store', $STORE, 'erase'], qr/--visitor ID is required/],
        [['--store', $STORE, 'erase', '--visitor', 'abc'], qr/expected 24 hex digits/],
        [['--store', $STORE, 'erase', '--visitor', 'zz' x 12], qr/expected 24 hex digits/],
        [['--store', $STORE, 'prune'], qr/--before YYYY-MM-DD is required/],
        [['--store', $STORE, 'prune', '--dry-run'], qr/--before YYYY-MM-DD is required/],
        [['--store', $STORE, 'prune', '--before', '2025-02-30'], qr/--before "2025-02-30"/],
        [['--store', $STORE, 'stats', 'now'], qr/unexpected argument "now"/],
        [['--store', $STORE, 'report', '--survey'], qr/--survey needs a value/],
    );
    for my $b (@bad) {
        my ($args, $re) = @$b;
        $r = cxctl(@$args);
        is $r->{rc}, 2, "cxctl @$args: exit 2";
        like $r->{err}, $re, "cxctl @$args: says why";
        is $r->{out}, '', "cxctl @$args: nothing on stdout";
    }

    # a missing store name is a bad argument (exit 2), like every other one
    for my $cmd (['stats'], ['report'], ['export', '--format', 'csv'],
                 ['erase', '--visitor', 'ab' x 12], ['prune', '--before', '2025-01-01']) {
        $r = cxctl(@$cmd);
        is $r->{rc}, 2, "no --store, no CX_STORE, $cmd->[0]: exit 2";
        like $r->{err}, qr/no store given: use --store DIR or set CX_STORE/, '... says how to name it';
        is $r->{out}, '', '... nothing on stdout';
    }
    $r = cxctl({ CX_STORE => '' }, 'stats');
    is $r->{rc}, 2, 'CX_STORE empty, no --store: exit 2';

    $r = cxctl('--store', $ng->prefix . '/nowhere', 'stats');
    is $r->{rc}, 1, 'missing store: exit 1';
    like $r->{err}, qr/cannot open store ".*nowhere": No such file or directory/, '... says why';

    $r = cxctl('--store', $ng->prefix . '/html', 'export', '--format', 'csv');
    is $r->{rc}, 1, 'a directory without data.mdb: exit 1';
    like $r->{err}, qr/cannot open store ".*html": no data\.mdb there/, '... says why';
    ok !-e $ng->prefix . '/html/data.mdb', '... and creates nothing there';

    $r = cxctl({ CX_STORE => $STORE }, 'stats');
    is $r->{rc}, 0, 'CX_STORE names the store' or diag $r->{err};
    like $r->{out}, qr/^responses\s+0$/m, '... an empty store';

    $r = cxctl({ CX_STORE => $STORE }, 'export', '--format', 'csv');
    is $r->{out}, join(',', @HEADER) . "\r\n", 'empty store: the CSV header only';
    $r = cxctl({ CX_STORE => $STORE }, 'export', '--format', 'csv', '--excel');
    is $r->{out}, "\xef\xbb\xbf" . join(',', @HEADER) . "\r\n", '--excel: a UTF-8 BOM, then the header';

    $r = cxctl('--store', $STORE, 'report', '--survey', 'nps1');
    is $r->{rc}, 1, 'report --survey of a survey without responses: exit 1';
    like $r->{err}, qr/^cxctl: the store has no responses of survey "nps1"$/m, '... says so';
    is $r->{out}, '', '... nothing on stdout';
}

# ---- the data ----------------------------------------------------------------------

my $C_QUOTE = 'Fast, "really" fast';
my $C_FORMULA = '=SUM(A1)';
my $C_HTML = '<script>alert(1)</script>';

answer('/', at(2025, 1, 10, 12, 0), 10, $C_QUOTE);
answer('/', at(2025, 1, 10, 12, 1), 3, $C_FORMULA);
answer('/', at(2025, 1, 10, 12, 2), 7, $C_HTML);
answer('/', at(2025, 1, 14, 23, 59, 59), 9);
answer('/', at(2025, 1, 15, 0, 0, 0), 10);
answer('/help/', at(2025, 1, 15, 12, 0), 5);
my $v = answer('/', at(2025, 1, 15, 12, 0), 0, 'erase me');
answer('/help/', at(2025, 1, 20, 12, 0), 2, undef, $v->{cookie});
{
    my $p = prompt('/', at(2025, 1, 20, 12, 0));
    event($p, 'display');
    $p = prompt('/', at(2025, 1, 20, 12, 0));
    event($p, 'display');
    event($p, 'dismiss');
}

# journey events are written behind, every half second: wait until their
# count is above zero and the same twice, 0.6 s apart
{
    my $last = -1;
    my $settled = wait_for {
        my $r = cxctl('--store', $STORE, 'stats');
        my $n = $r->{out} =~ /^events\s+(\d+)$/m ? $1 : -1;
        my $same = $n > 0 && $n == $last;
        $last = $n;
        sleep 0.6 unless $same;
        $same;
    } 15;
    ok $settled, "journey events written ($last)";
}

# ---- export csv ------------------------------------------------------------------

my $csv = export_csv();
my @all = @{ $csv->{recs} };
is scalar(@all), 10, 'csv: 10 responses';

my %by_comment = map { $_->{comment} => $_ } grep { $_->{comment} ne '' } @all;

like $csv->{raw}, qr/,"Fast, ""really"" fast",/, 'csv: comma and quotes quoted, quotes doubled';
is $by_comment{$C_QUOTE}{score}, 10, '... the row is intact';
ok exists $by_comment{"'=SUM(A1)"}, 'csv: formula neutralised to \'=SUM(A1)';
like $csv->{raw}, qr/,'=SUM\(A1\),/, '... unquoted, prefixed';
ok !grep({ $_->{comment} eq $C_FORMULA } @all), '... never raw';
ok exists $by_comment{$C_HTML}, 'csv: <script> kept as text';

{
    my $r = $by_comment{$C_QUOTE};
    like $r->{id}, qr/\A[0-9a-f]{24}\z/, 'id: 24 hex';
    is substr($r->{id}, 0, 8), sprintf('%08x', at(2025, 1, 10, 12, 0)), 'id starts with issued_at';
    is $r->{received_at}, '2025-01-10T12:00:00Z', 'received_at: the answer time, ISO 8601 UTC';
    is $r->{survey}, 'nps1', 'survey';
    is $r->{type}, 'nps', 'type';
    is $r->{touchpoint}, 'browse', 'touchpoint';
    is $r->{stage}, 'consideration', 'stage by name';
    like $r->{visitor}, qr/\A[0-9a-f]{24}\z/, 'visitor: 24 hex';
    is $r->{path}, '/', 'path';
    is $r->{attributes}, '', 'no attributes';
    is "$r->{displayed}$r->{answered}$r->{dismissed}", '110', 'flags';
    is $r->{received_at_utc}, '2025-01-10 12:00:00', 'received_at_utc: for spreadsheets';
    is $r->{band}, 'promoter', 'band';
    is $r->{followup}, 'Why?', 'followup: the question asked after the answer';
    is $by_comment{"'=SUM(A1)"}{band}, 'detractor', 'band of a 3';
    is $by_comment{$C_HTML}{band}, 'passive', 'band of a 7';
    is_deeply [ grep { /^attr_/ } @{ $csv->{head} } ], [], 'no attributes: no attr_ columns';
}

my @vrows = grep { $_->{comment} eq 'erase me' } @all;
my $VISITOR = $vrows[0]{visitor};
is scalar(grep { $_->{visitor} eq $VISITOR } @all), 2, 'visitor V has two responses';

{
    my @dismissed = grep { $_->{dismissed} eq '1' } @all;
    is scalar(@dismissed), 1, 'one dismissed';
    is $dismissed[0]{score}, '', '... no score';
    is $dismissed[0]{received_at}, '2025-01-20T12:00:00Z', '... dated by its display';
    is "$dismissed[0]{band}|$dismissed[0]{followup}", '|', '... no band, no follow-up';
    my @csat = grep { $_->{survey} eq 'csat1' } @all;
    is join(' ', sort map { "$_->{score}/$_->{type}/$_->{touchpoint}/$_->{stage}" } @csat),
        '2/csat/support/usage 5/csat/support/usage', 'csat rows';
}

# ---- export ndjson -----------------------------------------------------------------

{
    my @nd = export_ndjson();
    is scalar(@nd), 10, 'ndjson: 10 responses';
    my %c = map { $_->{comment} => $_ } grep { $_->{comment} ne '' } @nd;
    is $c{$C_FORMULA}{score}, 3, 'ndjson: the formula comment as is (JSON is not a spreadsheet)';
    is $c{$C_HTML}{score}, 7, 'ndjson: <script> round-trips';
    ok $c{$C_QUOTE}, 'ndjson: quotes round-trip';
    my $r = $c{$C_QUOTE};
    is_deeply [sort keys %$r],
        [sort qw(id received_at survey type touchpoint stage score comment visitor lang path
                 attributes displayed answered dismissed previous_score band followup)],
        'ndjson: the fields';
    is "$r->{band}|$r->{followup}", 'promoter|Why?', 'ndjson: band, followup';
    is $r->{id}, $by_comment{$C_QUOTE}{id}, 'ndjson id = csv id';
    is $r->{received_at}, '2025-01-10T12:00:00Z', 'received_at';
    is $r->{stage}, 'consideration', 'stage';
    is_deeply $r->{attributes}, {}, 'attributes: an object';
    ok JSON::PP::is_bool($r->{answered}) && $r->{answered}, 'answered: true';
    ok JSON::PP::is_bool($r->{dismissed}) && !$r->{dismissed}, 'dismissed: false';
    my ($nd) = grep { !$_->{answered} && !$_->{dismissed} } @nd;
    ok $nd && !defined $nd->{score}, 'not answered: score null';
    ok $nd && !defined $nd->{band}, '... band null';
    my $out = cxctl('--store', $STORE, 'export', '--format', 'ndjson')->{out};
    unlike $out, qr/<script>/, 'ndjson: < escaped (ngx_cx_json_escape)';
}

# ---- filters -----------------------------------------------------------------------

{
    my @s = export_csv('--survey', 'csat1');
    is scalar(@s), 2, '--survey csat1: 2';
    ok !grep({ $_->{survey} ne 'csat1' } @s), '... only csat1';

    @s = export_csv('--survey', 'nope');
    is scalar(@s), 0, '--survey unknown: none';

    @s = export_csv('--until', '2025-01-14');
    is join(' ', map { $_->{received_at} } @s),
        '2025-01-10T12:00:00Z 2025-01-10T12:01:00Z 2025-01-10T12:02:00Z 2025-01-14T23:59:59Z',
        '--until 2025-01-14: that whole day included, nothing after';

    @s = export_csv('--since', '2025-01-15');
    is scalar(@s), 6, '--since 2025-01-15: 6';
    is $s[0]{received_at}, '2025-01-15T00:00:00Z', '... from its first second';

    @s = export_csv('--since', '2025-01-15', '--until', '2025-01-15', '--survey', 'nps1');
    is join(' ', map { "$_->{received_at}/$_->{score}" } @s),
        '2025-01-15T00:00:00Z/10 2025-01-15T12:00:00Z/0', 'one day, one survey';

    my @n = export_ndjson('--survey=csat1', '--since=2025-01-20');
    is scalar(@n), 1, '--opt=value works too';
    is $n[0]{score}, 2, '... the csat answer of the 20th';
}

# ---- attributes (hidden fields from a Lua hook) -------------------------------------

{
    my $p = answer('/shop/', at(2025, 1, 25, 12, 0), 9);
    my @rows = export_csv('--since', '2025-01-25');
    is scalar(@rows), 1, 'the hook\'s response';
    my %pairs = map { split /=/, $_, 2 } split /&/, $rows[0]{attributes};
    is_deeply \%pairs, { plan => '%3Dpro', q => 'a%26b%3Dc%25', note => "\xe2\x82\xac 1,2%0Ax" },
        'csv attributes: key=value&..., with % & = percent-encoded, UTF-8 kept';
    is $rows[0]{stage}, 'purchase', 'stage purchase';
    my @n = export_ndjson('--since', '2025-01-25');
    is_deeply $n[0]{attributes}, { plan => '=pro', q => 'a&b=c%', note => "\x{20ac} 1,2\nx" },
        'ndjson attributes: an object, values as stored';
    is "$rows[0]{attr_note}|$rows[0]{attr_plan}|$rows[0]{attr_q}", "\xe2\x82\xac 1,2\nx|'=pro|a&b=c%",
        'csv: a column per key, the value as text (formula-guarded)';

    # the excel variant: a BOM, then the same bytes (CRLF already)
    my $plain = cxctl('--store', $STORE, 'export', '--format', 'csv', '--since', '2025-01-25')->{out};
    my $excel = cxctl('--store', $STORE, 'export', '--format', 'csv', '--since', '2025-01-25', '--excel');
    is $excel->{rc}, 0, '--excel: exit 0';
    is $excel->{out}, "\xef\xbb\xbf$plain", '--excel: the BOM and the same bytes';
    is scalar(() = parse_csv($plain)), 2, '... RFC 4180 rows, CRLF-ended (the header and one)';

    # columns follow the rows exported: none when this one is filtered out
    my $head = (parse_csv(cxctl('--store', $STORE, 'export', '--format', 'csv', '--until', '2025-01-24')->{out}))[0];
    is_deeply [ grep { /^attr_/ } @$head ], [], 'no attr_ columns for rows without attributes';
    # keep the rest of the test's counts: this response goes now
    my $r = cxctl('--store', $STORE, 'erase', '--visitor', $rows[0]{visitor});
    like $r->{out}, qr/: 1 response, [1-9]\d* events?$/m, 'its visitor erased again: "1 response"';
}

# ---- report and stats --------------------------------------------------------------

sub report_of {
    my ($out, $name) = @_;
    my ($block) = grep { /^survey\s+\Q$name\E$/m } split /\n\n/, $out;
    return { map { /^(\S+)\s+(.*)$/ ? ($1 => $2) : () } split /\n/, $block || '' };
}

{
    my $r = cxctl('--store', $STORE, 'report');
    is $r->{rc}, 0, 'report: exit 0' or diag $r->{err};
    my $n = report_of($r->{out}, 'nps1');
    is $n->{type}, 'nps', 'report nps1: type';
    is $n->{responses}, 8, 'report nps1: responses';
    is $n->{displayed}, 8, 'report nps1: displayed';
    is $n->{answered}, 6, 'report nps1: answered';
    is $n->{commented}, 4, 'report nps1: commented';
    is $n->{dismissed}, 1, 'report nps1: dismissed';
    is $n->{score}, '16.7', 'report nps1: NPS 16.7';
    is "$n->{promoters}/$n->{passives}/$n->{detractors}", '3/1/2', 'report nps1: groups';
    is $n->{distribution}, '0:1 1:0 2:0 3:1 4:0 5:0 6:0 7:1 8:0 9:1 10:2',
        'report nps1: distribution';
    my $c = report_of($r->{out}, 'csat1');
    is $c->{answered}, 2, 'report csat1: answered';
    is $c->{score}, '50.0', 'report csat1: 50.0';
    is $c->{distribution}, '1:0 2:1 3:0 4:0 5:1', 'report csat1: distribution';
    ok !exists $c->{promoters}, 'no NPS groups for csat';

    $r = cxctl('--store', $STORE, 'report', '--survey', 'csat1');
    unlike $r->{out}, qr/nps1/, 'report --survey: only that survey';
    like $r->{out}, qr/^score\s+50\.0$/m, '... its score';

    $r = cxctl('--store', $STORE, 'report', '--survey', 'nope');
    is $r->{rc}, 1, 'report --survey nope: exit 1';
    like $r->{err}, qr/^cxctl: the store has no responses of survey "nope"$/m,
        '... says the store has no responses of that survey';
    is $r->{out}, '', '... nothing on stdout';

    $r = cxctl('--store', $STORE, 'report', '--survey', 'csat1', '--until', '2025-01-11');
    is $r->{rc}, 0, 'report --survey with responses, none in the dates: exit 0' or diag $r->{err};
    like $r->{out}, qr/^no responses of survey "csat1" in these dates$/m, '... says so';

    $r = cxctl('--store', $STORE, 'report', '--until', '2025-01-14');
    $n = report_of($r->{out}, 'nps1');
    is "$n->{answered} $n->{score}", '4 25.0', 'report --until: 10 3 7 9 -> (2 - 1) / 4';

    my $j = report_json();
    is survey_of($j, 'nps1')->{answered}, 6, 'nginx agrees: nps1 answered 6';
    is sprintf('%.1f', survey_of($j, 'nps1')->{score}), '16.7', 'nginx agrees: NPS 16.7';

    $r = cxctl('--store', $STORE, 'stats');
    is $r->{rc}, 0, 'stats: exit 0' or diag $r->{err};
    like $r->{out}, qr/^store\s+\Q$STORE\E$/m, 'stats: path';
    like $r->{out}, qr/^map size\s+67108864 bytes/m, 'stats: map size = max_size';
    my ($used) = $r->{out} =~ /^used\s+(\d+) bytes/m;
    ok $used && $used % 4096 == 0 && $used <= -s "$STORE/data.mdb", 'stats: used bytes, whole pages';
    like $r->{out}, qr/^responses\s+10$/m, 'stats: responses';
    like $r->{out}, qr/^events\s+[1-9]\d*$/m, 'stats: events';
    like $r->{out}, qr/^rollups\s+[1-9]\d* rows \(report.json's aggregates\)$/m, 'stats: the rollups';
    like $r->{out}, qr/^nps1\s+nps\s+8\s+6$/m, 'stats: nps1 8 responses, 6 answered';
    like $r->{out}, qr/^csat1\s+csat\s+2\s+2$/m, 'stats: csat1';
}

# ---- erase ---------------------------------------------------------------------------

{
    my $before = report_json();
    my $visitors_before = 0;
    $visitors_before += $_->{visitors} for @{ $before->{touchpoints} || [] };

    # ids are case-insensitive hex: the upper-case form erases, and the
    # id is echoed as the exports write it
    my $VISITOR_UC = uc $VISITOR;
    isnt $VISITOR_UC, $VISITOR, 'the visitor id has letters';
    my $r = cxctl('--store', $STORE, 'erase', '--visitor', $VISITOR_UC);
    is $r->{rc}, 0, 'erase --visitor UPPER-CASE: exit 0' or diag $r->{err};
    like $r->{out}, qr/^erased visitor $VISITOR: 2 responses, [1-9]\d* events$/m,
        'erase --visitor UPPER-CASE: counts, the id in lower case';

    my $raw = cxctl('--store', $STORE, 'export', '--format', 'csv')->{out}
            . cxctl('--store', $STORE, 'export', '--format', 'ndjson')->{out};
    unlike $raw, qr/$VISITOR/i, 'after erase: no trace of the visitor in either export';
    unlike $raw, qr/erase me/, '... nor of their comment';
    my @left = export_csv();
    is scalar(@left), 8, '... 8 responses left';

    my $j = report_json();
    is survey_of($j, 'nps1')->{answered}, 5, 'report.json: nps1 answered 5';
    is sprintf('%.1f', survey_of($j, 'nps1')->{score}), '40.0', 'report.json: NPS 40.0';
    is survey_of($j, 'csat1')->{answered}, 1, 'report.json: csat1 answered 1';
    my $visitors_after = 0;
    $visitors_after += $_->{visitors} for @{ $j->{touchpoints} || [] };
    # the visitor sketches hold no ids (README: The journey map): erasing a
    # visitor takes their responses out of the counts, not their visits
    is $visitors_after, $visitors_before,
        'report.json: touchpoint visitor counts (sketches without ids) unchanged';

    $r = cxctl('--store', $STORE, 'erase', '--visitor', $VISITOR);
    is $r->{rc}, 0, 'erase again: exit 0';
    like $r->{out}, qr/: 0 responses, 0 events$/m, '... nothing left to erase';

    # nginx still writes after cxctl wrote
    answer('/', at(2025, 1, 21, 12, 0), 9);
    @left = export_csv();
    is scalar(@left), 9, 'nginx commits after erase';
}

# ---- prune ---------------------------------------------------------------------------

{
    my $stats = cxctl('--store', $STORE, 'stats')->{out};
    my ($events_before) = $stats =~ /^events\s+(\d+)$/m;

    my $csv_before = cxctl('--store', $STORE, 'export', '--format', 'csv')->{out};
    my $r = cxctl('--store', $STORE, 'prune', '--before', '2025-01-15', '--dry-run');
    is $r->{rc}, 0, 'prune --dry-run: exit 0' or diag $r->{err};
    my ($dr, $de) = $r->{out} =~ /^would prune before 2025-01-15: (\d+) responses, (\d+) events$/m;
    is $dr, 4, 'prune --dry-run: would prune the 4 responses' or diag $r->{out};
    ok $de, '... and events';
    is cxctl('--store', $STORE, 'export', '--format', 'csv')->{out}, $csv_before,
        'prune --dry-run: every response still there';
    like cxctl('--store', $STORE, 'stats')->{out}, qr/^events\s+$events_before$/m,
        'prune --dry-run: every event still there';

    $r = cxctl('--store', $STORE, 'prune', '--before', '2025-01-15');
    is $r->{rc}, 0, 'prune: exit 0' or diag $r->{err};
    my ($pr, $pe) = $r->{out} =~ /^pruned before 2025-01-15: (\d+) responses, (\d+) events$/m;
    is $pr, 4, 'prune: the 4 responses issued before the 15th (up to 23:59:59)';
    ok $pe, 'prune: and events';
    is $pe, $de, 'prune: the events the dry run counted';

    my @left = export_csv();
    is scalar(@left), 5, '5 responses left';
    is $left[0]{received_at}, '2025-01-15T00:00:00Z', 'the one issued at 00:00:00 of that day stays';
    ok !grep({ $_->{received_at} lt '2025-01-15' } @left), 'nothing older';

    $stats = cxctl('--store', $STORE, 'stats')->{out};
    my ($events_after) = $stats =~ /^events\s+(\d+)$/m;
    is $events_after, $events_before - $pe, 'stats: events counted down by what prune said';

    $r = cxctl('--store', $STORE, 'prune', '--before', '2025-01-15');
    like $r->{out}, qr/: 0 responses, 0 events$/m, 'prune again: nothing';

    $r = cxctl('--store', $STORE, 'prune', '--before', '2025-01-16');
    like $r->{out}, qr/: 2 responses, /m, 'prune --before 2025-01-16: the two left of the 15th';

    # left: two responses of the 20th, one of the 21st
    $r = cxctl('--store', $STORE, 'prune', '--dry-run', '--before', '2025-01-21');
    like $r->{out}, qr/^would prune before 2025-01-21: 2 responses, \d+ events?$/m,
        'prune --dry-run --before 2025-01-21: the two of the 20th';
    $r = cxctl('--store', $STORE, 'prune', '--before', '2025-01-21');
    like $r->{out}, qr/^pruned before 2025-01-21: 2 responses, /m, '... pruned';
    $r = cxctl('--store', $STORE, 'prune', '--before', '2025-01-22', '--dry-run');
    like $r->{out}, qr/^would prune before 2025-01-22: 1 response, \d+ events?$/m,
        'prune --dry-run with exactly one: "1 response"';
    $r = cxctl('--store', $STORE, 'prune', '--before', '2025-01-22');
    like $r->{out}, qr/^pruned before 2025-01-22: 1 response, \d+ events?$/m,
        'prune with exactly one: "1 response"';
    my @none = export_csv();
    is scalar(@none), 0, 'nothing left';
}

ok $ng->running, 'nginx ran throughout';
unlike $ng->error_log, qr/\[(?:alert|emerg|crit)\]/, 'no alerts in the error log';

done_testing;
