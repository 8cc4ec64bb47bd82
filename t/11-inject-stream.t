#!/usr/bin/perl
# Injection while streaming, against a real nginx with the built module:
# docs/behaviours.md 6 (</body> split across buffers, streaming continues),
# 16 (a 100 MB page with flat memory, sendfile on and off) and 17 (an upstream
# that dies mid-body).
#
# The upstream for 6 and 17 is a tiny HTTP server forked by this test (one
# connection at a time, TCP_NODELAY, so it can send one byte per write with
# pauses); nginx proxies to it with proxy_buffering off (and on, for a chain
# of many one-byte buffers).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes qw(time sleep);

plan skip_all => 'module not built (run make)' unless cx_have_module();

my $T0 = time;

# ---- pages -----------------------------------------------------------------

# Near-misses around the real end tag: a comment holding </body>, </bodyx>,
# </bod>, a lone "<", "</" before a non-letter.
my $SPLIT = "<!DOCTYPE html>\n<html><head><title>split</title></head><body>\n"
    . "<p>a < b and c </ d</p>\n<!-- </body> -->\n<p>x</p></bodyx>\n<i>y</i></bod>\n"
    . "<p>Caf\xc3\xa9</p>\n</body>\n</html>\n";
my $SPLIT_AT = rindex $SPLIT, '</body>';

# 200 KB: the first half ends in plain text (nothing to hold back)
my $HALF = 100_000;
my $slow_head = "<!DOCTYPE html>\n<html><head><title>slow</title></head><body>\n";
my $para = "<p>The first half of a slow page, streamed as it comes.</p>\n";
my $first = $slow_head . ($para x int(($HALF - length($slow_head)) / length($para)));
$first .= 'x' x ($HALF - length $first);
my $tail = "\n</body></html>\n";
my $second = ($para x int(($HALF - length($tail)) / length($para)));
$second = ('y' x ($HALF - length($second) - length($tail))) . $second . $tail;
my $SLOW = $first . $second;
die 'slow page size' unless length($first) == $HALF && length($SLOW) == 2 * $HALF;

my $CUT = "<!DOCTYPE html>\n<html><body>\n" . ("<p>cut page line</p>\n" x 400)
    . "</body>\n</html>\n" . ("<!-- trailing padding -->\n" x 200);
my $CUT_BEFORE = index($CUT, '</body>') - 1000;    # upstream dies before </body>
my $CUT_AFTER  = index($CUT, '</body>') + 2000;    # ... or after it

# ---- the upstream ------------------------------------------------------------

sub http_head {
    my (%h) = @_;
    my $s = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n";
    $s .= "$_: $h{$_}\r\n" for sort keys %h;
    return "$s\r\n";
}


my %ROUTES = (
    '/onebuf.html' => sub {
        my ($c) = @_;
        cx_put($c, http_head('Content-Length' => length $SPLIT) . $SPLIT);
    },
    '/onebyte.html' => sub {
        my ($c) = @_;
        cx_put($c, http_head('Transfer-Encoding' => 'chunked')) or return;
        for my $ch (split //, $SPLIT) {
            cx_put($c, "1\r\n$ch\r\n") or return;
            sleep 0.001;
        }
        cx_put($c, "0\r\n\r\n");
    },
    '/onebyte-cl.html' => sub {
        my ($c) = @_;
        cx_put($c, http_head('Content-Length' => length $SPLIT)) or return;
        for my $ch (split //, $SPLIT) {
            cx_put($c, $ch) or return;
            sleep 0.001;
        }
    },
    '/slow.html' => sub {
        my ($c) = @_;
        cx_put($c, http_head('Content-Length' => length $SLOW) . $first) or return;
        sleep 1.0;
        cx_put($c, $second);
    },
    '/slow-chunked.html' => sub {
        my ($c) = @_;
        cx_put($c, http_head('Transfer-Encoding' => 'chunked')
            . sprintf("%x\r\n%s\r\n", length $first, $first)) or return;
        sleep 1.0;
        cx_put($c, sprintf("%x\r\n%s\r\n0\r\n\r\n", length $second, $second));
    },
    '/cut-before.html' => sub {
        my ($c) = @_;
        cx_put($c, http_head('Content-Length' => length $CUT) . substr($CUT, 0, $CUT_BEFORE));
        sleep 0.1;
    },
    '/cut-after.html' => sub {
        my ($c) = @_;
        cx_put($c, http_head('Content-Length' => length $CUT) . substr($CUT, 0, $CUT_AFTER));
        sleep 0.1;
    },
    '/cut-chunked.html' => sub {
        my ($c) = @_;
        my $part = substr($CUT, 0, $CUT_AFTER);
        cx_put($c, http_head('Transfer-Encoding' => 'chunked')
            . sprintf("%x\r\n%s\r\n", length $part, $part));
        sleep 0.1;    # and no last chunk
    },
);

# one response a connection, then close
my $UP = cx_upstream(sub {
    my ($c, $path) = @_;
    my $h = $ROUTES{$path};
    if ($h) { eval { $h->($c) } }
    else    { cx_put($c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n") }
    return 0;
}, lifetime => 120);

# ---- the 100 MB page -----------------------------------------------------------

my $BIG_END = "</body></html>\n";
my $BIG_SIZE;

sub write_big {
    my ($path) = @_;
    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    my $head = "<!DOCTYPE html>\n<html><head><title>big</title></head><body>\n";
    my $line = "<p>line of a very large page, nothing but text and tags.</p>\n";
    my $block = $line x int(1_048_576 / length $line);
    print {$fh} $head;
    print {$fh} $block for 1 .. 100;
    print {$fh} $BIG_END;
    close $fh or die "$path: $!";
    chmod 0644, $path;
    return -s $path;
}

# ---- nginx -----------------------------------------------------------------------

my $P = 'cx_prompt nps1 sample=100%;';
my $ng = cx_nginx(start => 0, conf => <<"CONF");
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_survey nps1 { type nps; question "How likely?"; }

    server {
        %%CX_SITE%%

        location /up/ {
            proxy_pass http://127.0.0.1:$UP/;
            proxy_http_version 1.1;
            proxy_buffering off;
            $P
        }
        location /upb/ {
            proxy_pass http://127.0.0.1:$UP/;
            proxy_http_version 1.1;
            $P
        }
        location /up-plain/ {
            proxy_pass http://127.0.0.1:$UP/;
            proxy_http_version 1.1;
            proxy_buffering off;
        }

        location /big-sf/ { alias %%PREFIX%%/html/big/; sendfile on; $P }
        location /big-nosf/ { alias %%PREFIX%%/html/big/; sendfile off; $P }
        location /big-plain/ { alias %%PREFIX%%/html/big/; sendfile on; }
        location / { $P }
    }
CONF
mkdir $ng->prefix . '/html/big' or die $!;
$BIG_SIZE = write_big($ng->prefix . '/html/big/big.html');
$ng->write_file('html/small.html', "<html><body>\n<p>small</p>\n</body></html>\n");
$ng->start;

# ---- helpers -------------------------------------------------------------------------

my $SNIP_RE = qr{<script type="application/json" id="cx-prompt"(?: nonce="[^"]*")?>\{"v":1,[^<]*\}</script><script src="/cx/w\.js" async(?: nonce="[^"]*")?></script>};

sub norm {
    my ($s) = @_;
    $s =~ s/"token":"[^"]*"/"token":"T"/g;
    return $s;
}

sub count_prompts {
    my $n = () = $_[0] =~ /id="cx-prompt"/g;
    return $n;
}

sub hdr { $_[0]{headers}{ lc $_[1] } }

# A raw HTTP/1.0 GET; calls $on_data->($bytes, $elapsed) for every read of the
# body; returns {head, status, headers (lc), body_len, elapsed, eof, error}.
sub stream_get {
    my ($path, $on_data, %o) = @_;
    my $timeout = $o{timeout} || 20;
    my %res = (body_len => 0, head => '', headers => {});
    my $t0 = time;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ng->port,
        Proto => 'tcp', Timeout => 5) or return { error => "connect: $!" };
    binmode $sock;
    print {$sock} "GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    my $sel = IO::Select->new($sock);
    my $buf = '';
    my $in_body = 0;
    while (1) {
        my $left = $t0 + $timeout - time;
        if ($left <= 0 || !$sel->can_read($left)) { $res{error} = 'timeout'; last }
        my $n = sysread $sock, my $chunk, $o{read_size} || 262144;
        if (!defined $n) { $res{error} = "read: $!"; last }
        if ($n == 0) { $res{eof} = 1; last }
        if (!$in_body) {
            $buf .= $chunk;
            my $end = index $buf, "\r\n\r\n";
            next if $end < 0;
            $res{head} = substr $buf, 0, $end + 4;
            ($res{status}) = $res{head} =~ m{^HTTP/\d\.\d (\d{3})};
            for my $l (split /\r\n/, $res{head}) {
                $res{headers}{ lc $1 } = $2 if $l =~ /^([^:]+):\s*(.*?)\s*$/;
            }
            $chunk = substr $buf, $end + 4;
            $in_body = 1;
            next unless length $chunk;
        }
        $res{body_len} += length $chunk;
        $on_data->($chunk, time - $t0) if $on_data;
    }
    $res{elapsed} = time - $t0;
    close $sock;
    return \%res;
}

sub status_kb {
    my ($pid, $field) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) { return $1 if /^\Q$field\E:\s+(\d+)\s+kB/ }
    return undef;
}

# ---- tests -----------------------------------------------------------------------------

subtest '6 </body> split across buffers, one byte per buffer' => sub {
    my $one = $ng->get('/up/onebuf.html');
    is $one->{status}, 200, 'one buffer: 200';
    is count_prompts($one->{body}), 1, 'one buffer: one widget';
    my ($snip) = $one->{body} =~ /($SNIP_RE)/;
    ok defined $snip, 'one buffer: a well-formed snippet';
    $snip //= '';
    is index($one->{body}, $snip), $SPLIT_AT, 'one buffer: snippet right before the real </body>';
    my $expect = norm(substr($SPLIT, 0, $SPLIT_AT) . $snip . substr($SPLIT, $SPLIT_AT));
    is norm($one->{body}), $expect, 'one buffer: original plus snippet, nothing else changed';

    my $ctl = $ng->get('/up-plain/onebyte.html');
    is $ctl->{body}, $SPLIT, 'control: the byte-by-byte upstream sends the page';

    for my $path ('/up/onebyte.html', '/up/onebyte-cl.html', '/upb/onebyte.html') {
        my $r = $ng->get($path);
        is $r->{status}, 200, "$path: 200";
        ok !$r->{error}, "$path: complete";
        is count_prompts($r->{body}), 1, "$path: one widget";
        is norm($r->{body}), $expect, "$path: the same output as one buffer";
        my $cl = hdr($r, 'content-length');
        is $cl, length $r->{body}, "$path: Content-Length, if sent, is the new length"
            if defined $cl;
        ok defined $r->{headers}{'set-cookie'}, "$path: visitor cookie";
    }
};

subtest '6 streaming continues: nothing but a </body> candidate is held back' => sub {
    for my $path ('/up/slow.html', '/up/slow-chunked.html') {
        my ($t_half, $got, $prompts, $carry) = (undef, 0, 0, '');
        my $body = '';
        my $res = stream_get($path, sub {
            my ($bytes, $t) = @_;
            $got += length $bytes;
            $body .= $bytes;
            $t_half = $t if !defined $t_half && $got >= $HALF;
        }, read_size => 16384);
        is $res->{status}, 200, "$path: 200";
        ok $res->{eof} && !$res->{error}, "$path: read to the end" or diag $res->{error};
        ok defined $t_half, "$path: the first half arrived";
        $t_half //= 99;
        note sprintf '%s: first %d bytes after %.3f s, all %d after %.3f s',
            $path, $HALF, $t_half, $got, $res->{elapsed};
        cmp_ok $t_half, '<', 0.8, "$path: the first half arrives before the upstream sends more";
        cmp_ok $res->{elapsed} - $t_half, '>=', 0.7,
            "$path: ... well before the second half (not held back)";
        is count_prompts($body), 1, "$path: one widget";
        my ($snip) = $body =~ /($SNIP_RE)/;
        my $at = rindex $SLOW, '</body>';
        ok defined $snip && $body eq substr($SLOW, 0, $at) . $snip . substr($SLOW, $at),
            "$path: original plus snippet";
    }
};

subtest '16 a 100 MB page streams with flat memory (sendfile on and off)' => sub {
    my ($worker) = $ng->worker_pids;
    ok $worker && defined status_kb($worker, 'VmRSS'), 'worker pid and its VmRSS known'
        or return;
    # warm up: a small prompted page, so the first-request allocations are done
    is $ng->get('/small.html')->{status}, 200, 'warm-up';
    note "big page: $BIG_SIZE bytes";

    my $plain = stream_get('/big-plain/big.html', undef, timeout => 25);
    is $plain->{body_len}, $BIG_SIZE, 'no prompt: the whole file';
    note sprintf 'no prompt: %.2f s', $plain->{elapsed};

    for my $loc ('big-sf', 'big-nosf', 'big-sf') {
        my $rss0 = status_kb($worker, 'VmRSS');
        my $hwm0 = status_kb($worker, 'VmHWM');
        my ($max_rss, $next_sample, $prompts, $carry, $last) = ($rss0, 0, 0, '', '');
        my $got = 0;
        my $res = stream_get("/$loc/big.html", sub {
            my ($bytes) = @_;
            $got += length $bytes;
            my $win = $carry . $bytes;
            $prompts += () = $win =~ /id="cx-prompt"/g;
            $carry = substr $win, -13;
            $last = substr($last . $bytes, -4096);
            if ($got >= $next_sample) {
                my $rss = status_kb($worker, 'VmRSS') // 0;
                $max_rss = $rss if $rss > $max_rss;
                $next_sample += 4 * 1_048_576;
            }
        }, timeout => 25);
        my $hwm1 = status_kb($worker, 'VmHWM');
        ok defined $rss0 && defined $hwm0 && defined $hwm1,
            "$loc: the same worker served it (its memory is readable)" or next;
        my $peak = $hwm1 > $hwm0 ? $hwm1 : $max_rss;
        $peak = $max_rss if $max_rss > $peak;
        my $growth = $peak - $rss0;
        note sprintf '%s: %d bytes in %.2f s; VmRSS before %d kB, peak %d kB (+%d kB)',
            $loc, $res->{body_len}, $res->{elapsed}, $rss0, $peak, $growth;

        is $res->{status}, 200, "$loc: 200";
        ok $res->{eof} && !$res->{error}, "$loc: read to the end" or diag $res->{error};
        is $prompts, 1, "$loc: the snippet appears once";
        my ($snip) = $last =~ /($SNIP_RE)\Q$BIG_END\E\z/;
        ok defined $snip, "$loc: ... right before the final </body>";
        is $res->{body_len}, $BIG_SIZE + length($snip // ''), "$loc: the whole file plus the snippet";
        my $cl = $res->{headers}{'content-length'};
        is $cl, $res->{body_len}, "$loc: Content-Length, if sent, is the new length" if defined $cl;
        cmp_ok $growth, '<', 20 * 1024, "$loc: worker memory grew by less than 20 MB";
        cmp_ok $res->{elapsed}, '<', 3 * $plain->{elapsed} + 2,
            "$loc: served at about the speed of the plain file";
    }
};

subtest '17 upstream dies mid-body: the page is not presented as complete' => sub {
    # Other internal failures mid-stream (a file read error while scanning, an
    # allocation failure) cannot be provoked from outside; an upstream that
    # closes early is the failure a client must be able to see.
    for my $case (['/up/cut-before.html', $CUT_BEFORE, 0],
                  ['/up/cut-after.html', $CUT_AFTER, 1],
                  ['/up/cut-chunked.html', $CUT_AFTER, 1],
                  ['/upb/cut-after.html', $CUT_AFTER, 1]) {
        my ($path, $sent, $has_tag) = @$case;
        my $log0 = length $ng->error_log;
        my $r = do {
            no warnings 'redefine';
            local *Test::More::diag = sub { };    # the harness reports the cut: expected
            $ng->get($path);
        };
        is $r->{status}, 200, "$path: 200 (headers were sent)";
        ok $r->{error}, "$path: the client sees an incomplete response"
            or diag "framing: " . ($r->{chunked} ? 'chunked' : 'Content-Length '
                . (hdr($r, 'content-length') // 'none'));
        unlike $r->{body_raw}, qr/\r\n0\r\n\r\n\z/, "$path: no last chunk";
        my $cl = hdr($r, 'content-length');
        ok !defined $cl || $cl > length $r->{body}, "$path: no Content-Length that the body meets";
        my $body = $r->{body};
        if ($has_tag) {
            my ($snip) = $body =~ /($SNIP_RE)/;
            my $at = index $CUT, '</body>';
            ok defined $snip, "$path: the snippet was sent before the cut";
            $snip //= '';
            my $want = substr(substr($CUT, 0, $at) . $snip . substr($CUT, $at), 0, length $body);
            ok $body eq $want, "$path: what arrived is the injected page's beginning, unchanged";
        } else {
            is count_prompts($body), 0, "$path: no widget (the cut came before </body>)";
            ok $body eq substr($CUT, 0, length $body), "$path: what arrived is the page's beginning";
        }
        ok((wait_for { substr($ng->error_log, $log0) =~ /upstream prematurely closed/ } 3),
            "$path: nginx logs the premature close");
    }
    # HTTP/1.0 has no chunked framing: without the module the upstream's
    # Content-Length lets the client see the cut; once it is removed for the
    # snippet, a close-delimited body looks complete however short it is.
    my $ctl = do {
        no warnings 'redefine';
        local *Test::More::diag = sub { };
        $ng->req(path => '/up-plain/cut-after.html', http => '1.0');
    };
    ok $ctl->{error}, 'control, no prompt, HTTP/1.0: the cut is visible (Content-Length)';
    {
        local $TODO = 'HTTP/1.0: a cut injected page is close-delimited, so it looks complete';
        my $r = do {
            no warnings 'redefine';
            local *Test::More::diag = sub { };
            $ng->req(path => '/up/cut-after.html', http => '1.0');
        };
        ok $r->{error} || (defined hdr($r, 'content-length') && hdr($r, 'content-length') > length $r->{body}),
            'HTTP/1.0: the client can tell the injected page was cut';
    }

    # the server survives
    is $ng->get('/small.html')->{status}, 200, 'still serving';
};

unlike $ng->error_log, qr/\[(?:alert|crit|emerg)\]|out of memory|exited on signal/,
    'no alert, crash or out-of-memory in the error log';
note sprintf 'total %.1f s', time - $T0;

done_testing;
