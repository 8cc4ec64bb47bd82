#!/usr/bin/perl
# Stream fuzzer: random pages through a real nginx, compared with what the
# upstream sent (docs/behaviours.md, "Proxied pages").
#
# Every case comes from one seed: the page (random size, markup dense in
# "<", "</", "</b" and near-misses of </body>: comments, raw text, script
# escapes, templates, attribute values, multi-byte UTF-8 and arbitrary bytes;
# a real </body> in one of its spellings, or none), the bytes after the real
# </body>, the framing (Content-Length, until close, chunked), how the
# upstream cuts its writes (1-byte pieces, a few bytes, large, mixed; pauses
# so nginx reads them apart), the proxying (buffered with default, small or
# tiny buffers, unbuffered with small or default buffers, keepalive
# upstreams, a location without cx_prompt) and the client (fast, or slow on
# a 4 KB send buffer). The page that leaves nginx must be the upstream's
# page with the snippet right before the real </body>, or byte for byte the
# upstream's page when it has none or the location does not prompt.
#
#   perl t/fuzz/stream.pl                  run for CX_FUZZ_SECONDS (30)
#   CX_FUZZ_SEED=N perl t/fuzz/stream.pl   start from seed N (default: random)
#   CX_FUZZ_REPLAY=N perl t/fuzz/stream.pl run seed N only, and say why
#
# Each failure prints its seed and the command that replays it; the exit
# status is 1 when any case failed, 2 when nothing could run.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use CXTest;
use CXProxied;
use POSIX qw(_exit);
use Time::HiRes qw(time);

$| = 1;

unless (cx_have_module()) {
    print "stream fuzz: module not built (run make)\n";
    exit 2;
}

my $SECONDS = $ENV{CX_FUZZ_SECONDS} || 30;
my $REPLAY  = $ENV{CX_FUZZ_REPLAY};
my $BASE    = $ENV{CX_FUZZ_SEED} // (int(time * 1000) ^ ($$ << 16)) % 1_000_000_000;
my $T0 = time;

# ---- everything a case is, from its seed ---------------------------------------------

# A deterministic generator: the upstream (a forked child) rebuilds the page
# from the seed in the request and must draw the same numbers.
sub lcg {
    my ($seed) = @_;
    my $state = ($seed * 2654435761 + 97) % 4294967296;
    return sub {
        my ($n) = @_;
        $state = ($state * 1103515245 + 12345) % 2147483648;
        my $hi = int($state / 65536);
        $state = ($state * 1103515245 + 12345) % 2147483648;
        return (($hi << 15) + int($state / 65536)) % $n;
    };
}

# Fragments that hold no real </body>, in any order and any number.
my @FRAG = (
    sub { "<p>line $_[1] <b>bold</b> and <i>it</i></p>\n" },
    sub { "<p>a < b, c </ d, </bo </bod </b</p>\n" },
    sub { "<p>near: </bodyx> </bod> </body-> </bodies></p>\n" },
    sub { "<!-- </body> in a comment -->" },
    sub { "<!-- <!-- </body> --!>" },
    sub { "<!---->\r\n" },
    sub { "<?php echo '</body>'; ?>" },
    sub { "<!DOCTYPE x </body>>" },
    sub { "<![CDATA[ </body> ]]>" },
    sub { "</ </body>" . "x>" },           # "</ " starts a bogus comment up to '>'
    sub { "<script>var s = \"</body>\"; if (a<b) {}</script>\n" },
    sub { "<script><!--<script>document.write('</body>')</script>--></script>" },
    sub { "<SCRIPT type=module>x='</body>'</SCRIPT >" },
    sub { "<style>p::after{content:'</body>'}</style>" },
    sub { "<textarea name=t></body></textarea>" },
    sub { "<title></body></title>" },
    sub { "<xmp></body></xmp><noembed></body></noembed><noframes></body></noframes>" },
    sub { "<iframe srcdoc=x></body></iframe>" },
    sub { "<template><p></body></p><template></body></template></template>" },
    sub { "<a title=\"</body>\" data-x='</body>' href=/x>link</a>" },
    sub { "<img alt=a><br/><input value=</body>>" },
    sub { "<div class=\"row\">" . ("é€😀" x (1 + $_[0]->(5))) . "</div>\r\n" },
    sub { my $r = $_[0]; join '', map { chr(1 + $r->(255)) } 1 .. 1 + $r->(40) },
    sub { my $r = $_[0]; join '', map { ('a' .. 'z', ' ', "\n")[$r->(28)] } 1 .. 1 + $r->(3000) },
);
# arbitrary bytes (no NUL) must not open markup: no '<' 
$FRAG[-2] = do { my $f = $FRAG[-2]; sub { $f->(@_) =~ tr/</x/r } };

my @BODY = ("</body>", "</BODY >", "</Body\n>", "</body/>", "</body\t>");

my @LOCS = qw(on on-small on-tiny on-small-ka off off-small off-ka plain-small);
my @FRAMINGS = qw(cl close chunked);

sub case_of {
    my ($seed) = @_;
    my $r = lcg($seed);
    my %c = (seed => $seed);
    $c{loc} = $LOCS[ $r->(scalar @LOCS) ];
    $c{framing} = $FRAMINGS[ $r->(3) ];
    $c{framing} = 'cl' if $c{framing} eq 'close' && $c{loc} =~ /-ka$/;
    $c{slow} = $r->(3) == 0;
    $c{cut} = $r->(5);          # piece profile, see pieces()
    # sizes spread over orders of magnitude: 0 .. ~200 KB
    my $size = int(10 ** ($r->(5300) / 1000)) - 1;
    my $p = $r->(6) ? "<!DOCTYPE html>\n<html><head><title>page $seed</title></head><body>\n" : '';
    my $i = 0;
    $p .= $FRAG[ $r->(scalar @FRAG) ]->($r, $i++) while length($p) < $size;
    $c{at} = -1;
    if ($r->(5)) {
        $c{at} = length $p;
        $p .= $BODY[ $r->(scalar @BODY) ];
        # after the real </body>: nothing, a little, or much more markup
        my $tail = $r->(3) == 0 ? 0 : int(10 ** ($r->(4500) / 1000));
        my $t = '';
        $t .= $FRAG[ $r->(scalar @FRAG) ]->($r, $i++) while length($t) < $tail;
        $p .= $t . ($r->(2) ? "\n</html>\n" : '');
    }
    $c{page} = $p;
    return \%c;
}

# The upstream's writes: a list of [bytes, pause after]. The profile's
# small pieces cover the first `$small` bytes (where most pages have their
# </body> or some of their markup), the rest goes in pieces of up to 16 KB,
# so that a long page cut in single bytes does not take seconds; pauses
# (so that nginx reads pieces apart) are at most 400 per page.
sub pieces {
    my ($seed, $bytes) = @_;
    my $r = lcg($seed ^ 0x5a5a5a);
    my $cut = $r->(5);
    my $small = $r->(2) ? length $bytes : $r->(40_000);
    my $pauses = 400;
    my @out;
    my $off = 0;
    while ($off < length $bytes) {
        my $n = $off >= $small ? 1 + $r->(16384)
              : $cut == 0 ? 1
              : $cut == 1 ? 1 + $r->(7)
              : $cut == 2 ? 1 + $r->(5000)
              : $cut == 3 ? ($r->(10) < 7 ? 1 + $r->(7) : 8 + $r->(600))
              :             length $bytes;
        my $pause = $pauses > 0 && $r->(4) == 0;
        $pauses-- if $pause;
        push @out, [ substr($bytes, $off, $n), $pause ];
        $off += $n;
    }
    return @out;
}

# ---- the upstream -----------------------------------------------------------------------

sub serve {
    my ($c, $path, $close) = @_;
    my ($seed) = $path =~ m{/s/(\d+)}
        or return cx_put($c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n") && 1;
    my $case = case_of($seed);
    my $r = lcg($seed + 17);
    return cx_write_page($c, $case->{page}, $case->{framing}, $close, sub { 1 + $r->(3000) },
        sub { pieces($seed, $_[0]) });
}

my $UP = cx_upstream(\&serve, lifetime => $SECONDS + 120);

# ---- nginx ------------------------------------------------------------------------------

my $TINY = 'proxy_buffers 2 256; proxy_buffer_size 256; proxy_busy_buffers_size 256;';

my %LOC = (
    cx_proxied_locations($UP),
    'on-tiny'     => "proxy_pass http://127.0.0.1:$UP; $TINY $CX_PROMPT",
    'off-small'   => "proxy_pass http://127.0.0.1:$UP; proxy_buffering off; proxy_buffer_size 256; $CX_PROMPT",
);

my $ng = cx_proxied_nginx($UP, \%LOC);

# ---- cases --------------------------------------------------------------------------------

sub _show { my $s = shift; $s =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge; "'$s'" }

# undef when the response is right, else why not
sub run_case {
    my ($c) = @_;
    my $res = $ng->req(method => 'GET', path => "/$c->{loc}/s/$c->{seed}",
        timeout => 30, $c->{slow}
            ? (port => $ng->port(1), read_size => 1024, read_pause => 0.002) : ());
    return 'status ' . $res->{status} . ($res->{error} ? " ($res->{error})" : '')
        if $res->{error} || $res->{status} != 200;
    my $expect = $c->{page};
    my $got = $res->{body};
    if ($c->{at} >= 0 && $c->{loc} !~ /^plain/) {
        my ($snip) = $got =~ /($CX_SNIPPET_RE)/;
        return "no snippet in the response (want one at byte $c->{at})"
            . ($got eq $expect ? ', the page is otherwise intact' : '')
            unless defined $snip;
        substr($expect, $c->{at}, 0) = $snip;
    }
    if ($got ne $expect) {
        my $i = cx_diff_at($expect, $got);
        return sprintf 'got %d bytes, want %d; they differ at byte %d (want %s... got %s...)',
            length $got, length $expect, $i,
            _show(substr $expect, $i, 32), _show(substr $got, $i, 32);
    }
    my $cl = $res->{headers}{'content-length'};
    return "Content-Length $cl for a body of " . length($got)
        if defined $cl && $cl != length $got;
    return undef;
}

sub describe {
    my ($c) = @_;
    return sprintf 'seed %d: /%s/ %s %s, %d-byte page, </body> at %d, cut %d',
        $c->{seed}, $c->{loc}, $c->{framing}, $c->{slow} ? 'slow' : 'fast',
        length $c->{page}, $c->{at}, $c->{cut};
}

# Clients in parallel (CX_FUZZ_JOBS, default 4), each taking every JOBS-th
# seed; each prints its failures and sends its counts back on a pipe.
my $JOBS = defined $REPLAY ? 1 : $ENV{CX_FUZZ_JOBS} || 4;
print "stream fuzz: ", defined $REPLAY ? "replaying seed $REPLAY"
    : "base seed $BASE, $SECONDS s, $JOBS clients (CX_FUZZ_SEED=$BASE replays this run)", "\n";

sub client {
    my ($job, $out) = @_;
    my ($n, $bad, $bytes) = (0, 0, 0);
    my %by;
    my $seed = defined $REPLAY ? $REPLAY : $BASE + $job;
    while (1) {
        last if defined $REPLAY ? $n : time - $T0 >= $SECONDS;
        my $c = case_of($seed);
        $seed += $JOBS;
        $n++;
        $by{ $c->{loc} }++;
        $bytes += length $c->{page};
        my $why = run_case($c);
        next unless defined $why;
        $bad++;
        print "FAIL ", describe($c), "\n     $why\n",
            "     replay: CX_FUZZ_REPLAY=$c->{seed} perl t/fuzz/stream.pl\n";
        last if $bad >= 5;
    }
    print $out join(' ', $n, $bad, $bytes, %by), "\n";
}

my @kids;
for my $job (0 .. $JOBS - 1) {
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        close $rd;
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        client($job, $wr);
        close $wr;
        _exit(0);        # not END: the parent owns nginx and the upstream
    }
    close $wr;
    push @kids, [ $pid, $rd ];
}

my ($n, $bad, $bytes) = (0, 0, 0);
my %by;
for my $k (@kids) {
    my $fh = $k->[1];
    my $line = <$fh>;
    waitpid $k->[0], 0;
    if (!defined $line) {
        $bad++;
        print "FAIL client $k->[0] died (status $?)\n";
        next;
    }
    my ($kn, $kbad, $kbytes, %kby) = split ' ', $line;
    $n += $kn;
    $bad += $kbad;
    $bytes += $kbytes;
    $by{$_} += $kby{$_} for keys %kby;
}

my $alerts = () = $ng->error_log =~ /\[(?:alert|crit|emerg)\]/g;
if ($alerts) {
    $bad++;
    print "FAIL $alerts alert/crit lines in nginx's error log\n";
    print map { "     $_\n" } (grep { /\[(?:alert|crit|emerg)\]/ } split /\n/, $ng->error_log)[0 .. 2];
}

printf "stream fuzz: %d pages (%.1f MB) in %.1f s, %s; %d failed\n",
    $n, $bytes / 1e6, time - $T0,
    join(' ', map { "$_=$by{$_}" } sort keys %by), $bad;
exit($bad ? 1 : $n ? 0 : 2);
