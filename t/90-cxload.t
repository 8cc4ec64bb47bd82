#!/usr/bin/perl
# bench/cxload (the interleaved load tool of bench/run's goals) against a
# plain nginx (no ngx_cx module: cxload only speaks HTTP/1.1 keep-alive).
#
#   cxload [-c conns] [-d seconds] [-s slice_ms] [-u path] [-H header]
#          port port ...
#   -> one line a port:
#      port P rps R responses N seconds S ratio M q1 Q1 q3 Q3 cycles C
#   exit 0; 1 on any error (a status other than 200, ...); 2 on bad usage.
#
# The servers, both answering /page.html (-u is one path for every port):
#   %%PORT0%%  the ~20 KB page as a static file, with Content-Length;
#              /missing.html is a 404; /cookie.html a 200 only with the
#              header "Cookie: cx=returning", else a 403;
#   %%PORT1%%  the same page through sub_filter, which drops Content-Length,
#              so HTTP/1.1 responses are chunked (asserted with one request).
#
# Covered:
#   - a run over both framings: exit 0, the two lines exactly in the format
#     and in the order of the ports, responses > 0 and seconds > 0 for each,
#     rps = responses / seconds, the first port's ratio (and quartiles)
#     exactly 1.0000, cycles >= 2 and the same for both lines;
#   - a null pair (the same port twice): rps within 30% of each other (loose:
#     a shared VM; the point is that neither side is starved);
#   - a 404: exit 1, stderr names the port and "answered 404", no lines;
#   - -H: the header line goes with every request (the cookie page answers
#     200 with it, 403 without);
#   - bad usage (no ports; -s 0; -c 0; an unknown option; -H without a
#     colon or with a line break): exit 2 and the
#     usage line on stderr, nothing on stdout.
# Every cxload run is bounded by `timeout 30` (exit 124 if it ever hangs).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use POSIX qw(_exit);

my $CXLOAD = cx_repo_root() . '/build/cxload';

plan skip_all => "build/cxload not built (make " . cx_repo_root() . "/build/cxload)"
    unless -x $CXLOAD;

# ~20 KB of HTML, with one marker for sub_filter to replace
my $PAGE = "<html><head><title>cxload</title></head><body>\n<p>MARKER</p>\n"
    . join('', map { sprintf "<p>line %04d of the page, some words to fill it up a bit</p>\n", $_ }
        1 .. 320)
    . "</body></html>\n";

my $ng = cx_nginx(
    no_module => 1,
    ports     => 2,
    files     => { 'html/page.html' => $PAGE },
    conf      => <<'CONF',
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:%%PORT0%%;
        root html;
        location = /cookie.html {
            if ($http_cookie = "cx=returning") {
                return 200 "a returning visitor\n";
            }
            return 403;
        }
    }
    server {
        listen 127.0.0.1:%%PORT1%%;
        root html;
        gzip off;
        chunked_transfer_encoding on;
        location = /page.html {
            sub_filter MARKER replaced;
        }
    }
CONF
);

my ($STATIC, $CHUNKED) = ($ng->port(0), $ng->port(1));
my $TMP = $ng->prefix . '/tmp';

# cxload ARGS -> {rc, out, err}, run under `timeout 30`
sub cxload {
    my (@args) = @_;
    my ($outf, $errf) = ("$TMP/cxload.out", "$TMP/cxload.err");
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $outf or _exit(126);
        open STDERR, '>', $errf or _exit(126);
        exec { 'timeout' } 'timeout', '30', $CXLOAD, @args or _exit(127);
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    my $slurp = sub { local $/; open my $fh, '<:raw', $_[0] or return ''; my $c = <$fh>; $c };
    return { rc => $rc, out => $slurp->($outf), err => $slurp->($errf) };
}

my $NUM4 = qr/\d+\.\d{4}/;
my $LINE = qr/^port (\d+) rps (\d+\.\d) responses (\d+) seconds (\d+\.\d\d) /
         . qr/ratio ($NUM4) q1 ($NUM4) q3 ($NUM4) cycles (\d+)$/;

# the output -> list of {port rps responses seconds ratio q1 q3 cycles}, or
# undef unless every line is exactly in the format
sub lines_of {
    my ($out) = @_;
    return unless $out =~ /\n\z/;
    my @rows;
    for my $line (split /\n/, $out) {
        my @f = $line =~ $LINE or return;
        my %r;
        @r{qw(port rps responses seconds ratio q1 q3 cycles)} = @f;
        push @rows, \%r;
    }
    return \@rows;
}

# ---- the servers answer as the test assumes -----------------------------------

my $r = $ng->get('/page.html');
is $r->{status}, 200, 'static: 200';
is $r->{chunked}, 0, 'static: not chunked';
is $r->{headers}{'content-length'}, length($PAGE), 'static: Content-Length';
cmp_ok length($PAGE), '>', 19_000, 'the page is about 20 KB';
cmp_ok length($PAGE), '<', 22_000, 'the page is about 20 KB';

$r = $ng->req(port => $CHUNKED, path => '/page.html');
is $r->{status}, 200, 'sub_filter: 200';
is $r->{chunked}, 1, 'sub_filter: Transfer-Encoding: chunked';
like $r->{headers}{'transfer-encoding'} // '', qr/^chunked$/i, 'sub_filter: the header itself';
ok !exists $r->{headers}{'content-length'}, 'sub_filter: no Content-Length';
(my $replaced = $PAGE) =~ s/MARKER/replaced/;
is $r->{body}, $replaced, 'sub_filter: the page, marker replaced';

is $ng->get('/missing.html')->{status}, 404, 'missing: 404';

# ---- a run over both framings ------------------------------------------------

my $res = cxload('-d', 1, '-s', 50, '-c', 4, '-u', '/page.html', $STATIC, $CHUNKED);
is $res->{rc}, 0, 'static + chunked: exit 0' or diag "stderr: $res->{err}";
is $res->{err}, '', 'static + chunked: nothing on stderr';
like $res->{out}, qr/\A[^\n]*\n[^\n]*\n\z/, 'static + chunked: two lines'
    or diag "stdout: $res->{out}";
my $rows = lines_of($res->{out});
ok $rows && @$rows == 2, 'static + chunked: both lines in the format'
    or diag "stdout: $res->{out}";
SKIP: {
    skip 'no output to check', 13 unless $rows && @$rows == 2;
    my ($x, $y) = @$rows;
    is $x->{port}, $STATIC, 'first line: the first port';
    is $y->{port}, $CHUNKED, 'second line: the second port';
    for my $row ($x, $y) {
        my $what = $row == $x ? 'static' : 'chunked';
        cmp_ok $row->{responses}, '>', 0, "$what: responses > 0";
        cmp_ok $row->{seconds}, '>', 0, "$what: seconds > 0";
        # seconds is printed to 0.01, rps from the unrounded time
        my $expect = $row->{responses} / $row->{seconds};
        cmp_ok abs($row->{rps} - $expect), '<=', 0.05 * $expect,
            "$what: rps = responses / seconds (within rounding)";
    }
    is $x->{ratio}, '1.0000', 'first port: ratio exactly 1.0000';
    is "$x->{q1} $x->{q3}", '1.0000 1.0000', 'first port: quartiles 1.0000';
    cmp_ok $y->{ratio}, '>', 0, 'second port: a ratio > 0';
    cmp_ok $x->{cycles}, '>=', 2, 'cycles >= 2';
    is $y->{cycles}, $x->{cycles}, 'the same cycles on both lines';
    note "static + chunked:\n$res->{out}";
}

# ---- a null pair: the same port twice ------------------------------------------

$res = cxload('-d', 2, '-s', 50, '-c', 4, '-u', '/page.html', $STATIC, $STATIC);
is $res->{rc}, 0, 'null pair: exit 0' or diag "stderr: $res->{err}";
$rows = lines_of($res->{out});
ok $rows && @$rows == 2, 'null pair: two lines in the format'
    or diag "stdout: $res->{out}";
SKIP: {
    skip 'no output to check', 3 unless $rows && @$rows == 2;
    my ($x, $y) = @$rows;
    is "$x->{port} $y->{port}", "$STATIC $STATIC", 'null pair: the port on both lines';
    ok $x->{rps} > 0 && $y->{rps} > 0, 'null pair: both sides served';
    my ($lo, $hi) = sort { $a <=> $b } ($x->{rps}, $y->{rps});
    cmp_ok $hi > 0 ? $lo / $hi : 0, '>=', 0.7, 'null pair: rps within 30% of each other'
        or diag "stdout: $res->{out}";
    note "null pair:\n$res->{out}";
}

# ---- a status other than 200 ---------------------------------------------------

$res = cxload('-d', 1, '-s', 50, '-c', 4, '-u', '/missing.html', $STATIC);
is $res->{rc}, 1, '404: exit 1';
like $res->{err}, qr/^cxload: port $STATIC answered 404$/m, '404: stderr names port and status';
is $res->{out}, '', '404: no result lines';

# ---- -H: one more header line ---------------------------------------------------

$res = cxload('-d', 1, '-s', 50, '-c', 4, '-u', '/cookie.html',
              '-H', 'Cookie: cx=returning', $STATIC);
is $res->{rc}, 0, '-H: exit 0, every request answered 200' or diag "stderr: $res->{err}";
$rows = lines_of($res->{out});
ok $rows && @$rows == 1 && $rows->[0]{responses} > 0, '-H: responses counted'
    or diag "stdout: $res->{out}";

$res = cxload('-d', 1, '-s', 50, '-c', 4, '-u', '/cookie.html', $STATIC);
is $res->{rc}, 1, 'without -H: exit 1';
like $res->{err}, qr/^cxload: port $STATIC answered 403$/m, 'without -H: the 403 named';

# ---- bad usage -----------------------------------------------------------------

my $USAGE = qr/^usage: cxload \[-c conns\] \[-d seconds\] \[-s slice_ms\] \[-u path\] \[-H header\] port port \.\.\.$/m;
for my $case (
    [ 'no ports',         '-d', 1 ],
    [ '-s 0',             '-d', 1, '-s', 0, $STATIC ],
    [ '-c 0',             '-d', 1, '-c', 0, $STATIC ],
    [ 'unknown option',   '-x', $STATIC ],
    [ '-H without colon', '-d', 1, '-H', 'Cookie', $STATIC ],
    [ '-H with a CR LF',  '-d', 1, '-H', "Cookie: a\r\nX: y", $STATIC ],
) {
    my ($what, @args) = @$case;
    $res = cxload(@args);
    is $res->{rc}, 2, "bad usage ($what): exit 2";
    like $res->{err}, $USAGE, "bad usage ($what): usage line on stderr";
    is $res->{out}, '', "bad usage ($what): nothing on stdout";
}

ok $ng->running, 'nginx still running';
unlike $ng->error_log, qr/\[(?:alert|crit|emerg)\]/, 'no alert in the error log';

done_testing;
