package CXProxied;

# What the tests of proxied pages that arrive in pieces share
# (t/12-inject-proxied.t, t/fuzz/stream.pl): the upstream's writer, the
# nginx around their locations, and the comparison of what came back.
#
# cx_write_page($sock, $page, $framing, $close, $chunk, $pieces) -> true to
#   keep the connection: a 200 text/html response, its head at once, then
#   the page framed as $framing ('cl' Content-Length, 'close' until close,
#   'chunked' in chunks of $chunk->() bytes), written as $pieces->($bytes)
#   cuts it ([bytes, pause after], ...), 0.2 ms after each pause; 'close'
#   or $close say Connection: close. False on a write error.
# cx_proxied_nginx($up, \%loc, extra => TEXT) -> $ng: an nginx on two ports
#   (the second with sndbuf=4k, for slow clients), survey nps1, upstream
#   up_ka (keepalive to 127.0.0.1:$up), /cx/ and, per NAME => DIRECTIVES of
#   %loc, location /NAME/ { proxy_http_version 1.1; DIRECTIVES }; extra:
#   more http-level lines
# cx_proxied_locations($up) -> NAME => DIRECTIVES of the locations both
#   have: on on-small on-ka on-small-ka off off-ka plain-small (proxy_pass to
#   127.0.0.1:$up, or to up_ka where -ka; -small: $CX_SMALL buffers; off:
#   proxy_buffering off; all but plain-small: $CX_PROMPT)
# $CX_PROMPT   cx_prompt nps1 sample=100%;
# $CX_SMALL    proxy_buffers 4 1k; proxy_buffer_size 1k;
# $CX_SNIPPET_RE   the snippet injected before </body>
# cx_diff_at($want, $got) -> the offset of their first differing byte

use strict;
use warnings;

use Exporter qw(import);
use Time::HiRes ();
use CXTest qw(cx_put cx_nginx);

our @EXPORT = qw(cx_write_page cx_proxied_nginx cx_proxied_locations cx_diff_at
    $CX_SNIPPET_RE $CX_PROMPT $CX_SMALL);

our $CX_PROMPT = 'cx_prompt nps1 sample=100%;';
our $CX_SMALL  = 'proxy_buffers 4 1k; proxy_buffer_size 1k;';

our $CX_SNIPPET_RE = qr{<script type="application/json" id="cx-prompt">\{"v":1,[^<]*\}</script><script src="/cx/w\.js" async></script>};

sub cx_write_page {
    my ($c, $page, $framing, $close, $chunk, $pieces) = @_;
    $close = 1 if $framing eq 'close';
    my $head = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n";
    $head .= "Connection: close\r\n" if $close;
    my $stream;
    if ($framing eq 'cl') {
        $head .= 'Content-Length: ' . length($page) . "\r\n";
        $stream = $page;
    } elsif ($framing eq 'chunked') {
        $head .= "Transfer-Encoding: chunked\r\n";
        my $off = 0;
        $stream = '';
        while ($off < length $page) {
            my $part = substr $page, $off, $chunk->();
            $stream .= sprintf("%x\r\n", length $part) . $part . "\r\n";
            $off += length $part;
        }
        $stream .= "0\r\n\r\n";
    } else {
        $stream = $page;
    }
    cx_put($c, "$head\r\n") or return 0;
    for my $piece ($pieces->($stream)) {
        cx_put($c, $piece->[0]) or return 0;
        Time::HiRes::sleep(0.0002) if $piece->[1];
    }
    return !$close;
}

sub cx_proxied_nginx {
    my ($up, $loc, %o) = @_;
    my $locations = join "\n", map {
        "        location /$_/ { proxy_http_version 1.1; $loc->{$_} }"
    } sort keys %$loc;
    my $extra = $o{extra} // '';
    return cx_nginx(ports => 2, conf => <<"CONF");
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_survey nps1 { type nps; question "How likely?"; }
    $extra

    upstream up_ka {
        server 127.0.0.1:$up;
        keepalive 4;
    }

    server {
        listen 127.0.0.1:%%PORT0%%;
        listen 127.0.0.1:%%PORT1%% sndbuf=4k;
        location /cx/ { cx_endpoint; }
$locations
    }
CONF
}

sub cx_proxied_locations {
    my ($up) = @_;
    my $direct = "proxy_pass http://127.0.0.1:$up;";
    my $ka = 'proxy_pass http://up_ka; proxy_set_header Connection "";';
    return (
        'on'          => "$direct $CX_PROMPT",
        'on-small'    => "$direct $CX_SMALL $CX_PROMPT",
        'on-ka'       => "$ka $CX_PROMPT",
        'on-small-ka' => "$ka $CX_SMALL $CX_PROMPT",
        'off'         => "$direct proxy_buffering off; $CX_PROMPT",
        'off-ka'      => "$ka proxy_buffering off; $CX_PROMPT",
        'plain-small' => "$direct $CX_SMALL",
    );
}

sub cx_diff_at {
    my ($want, $got) = @_;
    my $i = 0;
    $i++ while $i < length($got) && $i < length($want)
        && substr($got, $i, 1) eq substr($want, $i, 1);
    return $i;
}

1;
