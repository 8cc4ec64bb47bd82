#!/usr/bin/perl
# Proxied pages that arrive in small pieces (docs/behaviours.md, "Proxied
# pages"): whatever the piece sizes, proxy buffers, framing and client speed,
# the page that leaves nginx is the upstream's page plus the snippet right
# before the real </body> — or the upstream's page byte for byte when it has
# no </body>.
#
# The upstream is this test's own: it builds each page from a seed and
# writes it in random pieces (mostly 1-7 bytes, with pauses so that nginx
# reads them apart), raw with Content-Length, raw until close, or chunked
# (the chunk framing itself cut into pieces), on connections that close or
# stay open for nginx's keepalive pool.  Every page goes through buffered
# proxying with small and with default buffers, unbuffered proxying and
# proxy_cache (a miss while it streams, then the hit from the cache file,
# read into nginx's output buffers or sent with sendfile),
# read by fast clients and by slow ones (a 4 KB send buffer, small reads).
#
# CX_STREAM_SEEDS=N runs N seeds per combination (default 6).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use CXProxied;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

plan skip_all => 'module not built (run make)' unless cx_have_module();

my $SEEDS = $ENV{CX_STREAM_SEEDS} || 6;
my $T0 = time;

# ---- pages, from a seed --------------------------------------------------------

# A small deterministic generator (the upstream is a forked child: both sides
# must draw the same numbers, whatever perl's rand does).
sub lcg {
    my ($state) = @_;
    return sub {
        my ($n) = @_;
        $$state = ($$state * 1103515245 + 12345) % 2147483648;
        return int($$state / 65536) % $n;
    };
}

# Lines dense in "<", "</" and "</b" so that many reads end inside a
# candidate for "</body", plus near-misses the scanner must let through.
my @LINES = (
    "<p>line %05d <b>bold</b> and <i>it</i></p>\n",
    "<p>line %05d a < b, c </ d, </bo</p>\n",
    "<div class=\"row\">%05d</div><br>\n",
    "<p>line %05d </bodyx> </bod> </b></p>\n",
    "<!-- %05d </body> in a comment -->\n",
    "<script>var s%05d = \"</body>\";</script>\n",
);

# (page, offset of the real </body> or -1)
sub page {
    my ($seed, $size, $with_body) = @_;
    my $state = $seed * 7919 + $size;
    my $rnd = lcg(\$state);
    my $p = "<!DOCTYPE html>\n<html><head><title>page $seed</title></head><body>\n";
    my $i = 0;
    while (length($p) < $size) {
        $p .= sprintf $LINES[ $rnd->(scalar @LINES) ], $i++;
    }
    return ($p . "</html>\n", -1) unless $with_body;
    my $at = length $p;
    return ($p . "</body>\n</html>\n", $at);
}

# The pieces the upstream writes: mostly 1-7 bytes, some larger.
sub pieces {
    my ($seed, $bytes) = @_;
    my $state = $seed * 104729 + 1;
    my $rnd = lcg(\$state);
    my @out;
    my $off = 0;
    while ($off < length $bytes) {
        my $n = $rnd->(10) < 7 ? 1 + $rnd->(7) : 8 + $rnd->(600);
        push @out, [ substr($bytes, $off, $n), $rnd->(4) == 0 ];
        $off += $n;
    }
    return @out;
}

# ---- the upstream ------------------------------------------------------------------


# GET /<anything>/p/<seed>/<size>/<framing>/<body|nobody>[/...]
sub serve {
    my ($c, $path, $close) = @_;
    my ($seed, $size, $framing, $body) = $path =~ m{/p/(\d+)/(\d+)/(cl|close|chunked)/(body|nobody|tail)}
        or return cx_put($c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n") && 1;
    my ($page) = page($seed, $size, $body eq 'body');
    $page .= '</bod' if $body eq 'tail';     # ends in bytes held back
    my $state = $seed + 17;
    my $rnd = lcg(\$state);
    return cx_write_page($c, $page, $framing, $close, sub { 1 + $rnd->(300) },
        sub { pieces($seed, $_[0]) });
}

my $UP = cx_upstream(\&serve, lifetime => 600);

# ---- nginx -------------------------------------------------------------------------

my %LOC = (
    cx_proxied_locations($UP),
    'cache'       => "proxy_pass http://127.0.0.1:$UP; $CX_SMALL proxy_cache pages; "
                   . "proxy_cache_valid 200 10m; $CX_PROMPT",
    'cache-sf'    => "proxy_pass http://127.0.0.1:$UP; proxy_cache pages; "
                   . "proxy_cache_valid 200 10m; sendfile on; $CX_PROMPT",
);

my $ng = cx_proxied_nginx($UP, \%LOC,
    extra => 'proxy_cache_path %%PREFIX%%/cache keys_zone=pages:1m;');

# ---- checks ------------------------------------------------------------------------

my ($pages, $bad) = (0, 0);
my %bad_by;

# Compares a response with the page; on a mismatch says where it starts.
sub check {
    my ($what, $res, $page, $at, $prompted) = @_;
    $pages++;
    my $why;
    if ($res->{error} || $res->{status} != 200) {
        $why = 'status ' . $res->{status} . ($res->{error} ? " ($res->{error})" : '');
    } else {
        my $expect = $page;
        if ($prompted) {
            my ($snip) = $res->{body} =~ /($CX_SNIPPET_RE)/;
            $snip = '<no snippet>' unless defined $snip;
            substr($expect, $at, 0) = $snip;
        }
        if ($res->{body} ne $expect) {
            my $got = $res->{body};
            my $i = cx_diff_at($expect, $got);
            $why = sprintf 'differs at byte %d of %d (want %s... got %s...)', $i,
                length $expect, _show(substr $expect, $i, 24), _show(substr $got, $i, 24);
        }
        my $cl = $res->{headers}{'content-length'};
        $why //= "Content-Length $cl for a body of " . length($res->{body})
            if defined $cl && $cl != length $res->{body};
    }
    return 1 unless defined $why;
    $bad++;
    $bad_by{$what}++;
    diag "$what: $why" if $bad_by{$what} <= 2;
    return 0;
}

sub _show { my $s = shift; $s =~ s/\n/\\n/g; $s =~ s/\r/\\r/g; return "'$s'" }

sub fetch {
    my ($path, $slow) = @_;
    return $ng->req(method => 'GET', path => $path, $slow
        ? (port => $ng->port(1), read_size => 1024, read_pause => 0.002, timeout => 30)
        : (timeout => 30));
}

# every combination of location, framing, body or not, client; seeds vary
# the page size and the piece boundaries
my @FRAMINGS = qw(cl close chunked);

for my $loc (sort keys %LOC) {
    my $prompted = $loc !~ /^plain/;
    my $before = $bad;
    for my $framing (@FRAMINGS) {
        next if $framing eq 'close' && $loc =~ /-ka$/;    # no keepalive without length
        for my $s (1 .. $SEEDS) {
            my $seed = $s * 31 + length($loc) * 7 + length $framing;
            my $size = $s % 3 == 0 ? 120_000 : $s % 5 == 0 ? 700 : 17_000;
            my $with_body = $s % 4 != 0;
            my ($page, $at) = page($seed, $size, $with_body);
            my $path = "/$loc/p/$seed/$size/$framing/" . ($with_body ? 'body' : 'nobody');
            my $slow = $s % 2 == 0;
            my $what = "$loc $framing " . ($slow ? 'slow' : 'fast');
            check($what, fetch($path, $slow), $page, $at, $prompted && $with_body);
            if ($loc =~ /^cache/) {
                # the same page again: served from the cache file now
                check("$what (hit)", fetch($path, !$slow), $page, $at, $prompted && $with_body);
            }
        }
    }
    is $bad - $before, 0, "/$loc/: every page is the upstream's page plus the snippet";
}

# buffering on, small buffers, many more seeds on the framing that broke most
{
    my $before = $bad;
    for my $s (1 .. 4 * $SEEDS) {
        my $seed = 5000 + $s;
        my ($page, $at) = page($seed, 17_000, 1);
        check('on-small cl, more seeds', fetch("/on-small/p/$seed/17000/cl/body", $s % 2),
            $page, $at, 1);
    }
    is $bad - $before, 0, '/on-small/: more seeds, every page intact';
}

# With Content-Length the end leaves with the last bytes, in the same write
# (the upstream's own end, later, adds nothing): two pages asked on one
# client connection must come back as two whole responses and nothing else,
# also when the page ends in bytes held back for a "</body" that never came.
sub pipelined {
    my (@paths) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ng->port(0),
        Proto => 'tcp', Timeout => 30) or return;
    binmode $sock;
    my $req = '';
    for my $i (0 .. $#paths) {
        $req .= "GET $paths[$i] HTTP/1.1\r\nHost: localhost\r\n"
              . ($i == $#paths ? "Connection: close\r\n" : '') . "\r\n";
    }
    cx_put($sock, $req);
    my $raw = '';
    my $sel = IO::Select->new($sock);
    my $deadline = time + 30;
    while ($sel->can_read($deadline - time)) {
        my $n = sysread $sock, my $buf, 65536;
        last unless $n;
        $raw .= $buf;
    }
    close $sock;
    my @bodies;
    while ($raw =~ s{\AHTTP/1\.1 200 OK\r\n((?:[^\r\n]+\r\n)*)\r\n}{}) {
        my $head = $1;
        my $body = '';
        if ($head =~ /^Content-Length: (\d+)\r$/mi) {
            $body = substr $raw, 0, $1, '';
        } elsif ($head =~ /^Transfer-Encoding: chunked\r$/mi) {
            while ($raw =~ s/\A([0-9a-f]+)\r\n//i) {
                my $n = hex $1;
                $body .= substr $raw, 0, $n, '';
                $raw =~ s/\A\r\n// or return (\@bodies, "no CRLF after a chunk");
                last if $n == 0;
            }
        } else {
            return (\@bodies, 'no framing');
        }
        push @bodies, $body;
    }
    return (\@bodies, $raw);
}

for my $loc (qw(on on-ka on-small-ka)) {
    my ($seed, $seed2) = (7001, 7002);
    my ($page, $at) = page($seed, 17_000, 1);
    my ($page2) = page($seed2, 17_000, 0);
    $page2 .= '</bod';
    my ($bodies, $rest) = pipelined("/$loc/p/$seed/17000/cl/body",
        "/$loc/p/$seed2/17000/cl/tail", "/$loc/p/$seed/17000/cl/body");
    is scalar(@{ $bodies || [] }), 3, "/$loc/: three pipelined pages, three responses";
    is $rest, '', "/$loc/: and nothing after them (one end each)";
    my $n = 0;
    for my $i (0, 2) {
        my $b = $bodies->[$i] // '';
        my ($snip) = $b =~ /($CX_SNIPPET_RE)/;
        my $expect = $page;
        substr($expect, $at, 0) = $snip // '<no snippet>';
        $n++ if $b eq $expect;
    }
    is $n, 2, "/$loc/: the prompted pages whole";
    is $bodies->[1], $page2, "/$loc/: the page ending in held bytes, byte for byte";
}

like $ng->get('/on/p/1/700/cl/body')->{body}, qr/id="cx-prompt"/,
    'the prompt is really offered on proxied pages';
unlike $ng->error_log, qr/\[(?:alert|crit|emerg)\]/, 'no alert in the error log';

note sprintf '%d proxied pages, %d seeds per combination, %d bad, in %.1f s',
    $pages, $SEEDS, $bad, time - $T0;

done_testing;
