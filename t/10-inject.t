#!/usr/bin/perl
# Injection against a real nginx with the built module: docs/behaviours.md 1-5 and
# 7-15 (6, 16 and 17 need a streaming upstream or a 100 MB page: see
# t/11-inject-stream.t), plus a byte-for-byte check of a plain static page.
#
# One nginx serves everything:
#   port 0  the site (prompting locations and, next to them, control
#           locations without a prompt serving the same files)
#   port 1  an "upstream" without prompts that the site proxies to
#   port 2  the site again, HTTP/2 cleartext (prior knowledge), for curl
#
# "Untouched" below always means: the exact status, the exact body bytes, no
# Set-Cookie, and (where a control location exists) the same header lines as
# the control location sends for the same file, Date excepted.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use Encode ();
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use JSON::PP ();

plan skip_all => 'module not built (run make)' unless cx_have_module();

my $JSON = JSON::PP->new;

# ---- pages ---------------------------------------------------------------

my $PAGE = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
    . "<title>Static page</title></head>\n<body>\n<h1>Hello</h1>\n"
    . "<p>Caf\xc3\xa9 &amp; cr\xc3\xa8me \xe2\x80\x94 a &lt; b</p>\n</body>\n</html>\n";

my %DECOY = (
    'js-string' => "<html><head><title>js</title></head><body>\n<p>one</p>\n"
        . "<script>var a = \"</body>\"; var b = '</body>'; var c = `</body>`;</script>\n"
        . "<p>two</p>\n</body></html>\n",
    'script-escape' => "<html><body>\n"
        . "<script><!-- document.write(\"<script>x()</script></body>\"); --></script>\n"
        . "<p>after</p>\n</body></html>\n",
    'comment' => "<html><body>\n<!-- </body> in a comment -->\n<!--\n</body>\n-->\n"
        . "<p>text</p>\n</body></html>\n",
    'style' => "<html><head><style>/* </body> */ p::after { content: \"</body>\" }</style>"
        . "</head><body>\n<style>em::before { content: '</body>' }</style>\n"
        . "<p>styled</p>\n</body></html>\n",
    'template' => "<html><body>\n<template id=\"t\"><p>tpl</p></body>"
        . "<template></body></template></body></template>\n"
        . "<p>real</p>\n</body></html>\n",
    'textarea' => "<html><body>\n<form><textarea name=\"t\">\n</body>\n</textarea></form>\n"
        . "<p>form</p>\n</body></html>\n",
    'attribute' => "<html><body>\n<a title=\"</body>\" data-x='</body>' href=\"#\">a</a>\n"
        . "<img alt=</body>>\n<p>attrs</p>\n</body></html>\n",
);
# all of them in one page, in a different order
$DECOY{all} = "<!DOCTYPE html>\n<html><head><title>all</title>\n"
    . "<style>p::after{content:\"</body>\"}</style></head>\n<body>\n"
    . "<!-- </body> -->\n<template></body></template>\n"
    . "<textarea></body></textarea>\n<a title=\"</body>\" href=\"#\">x</a>\n"
    . "<script>var s = \"</body>\";</script>\n<p>real end follows</p>\n</body>\n</html>\n";

my %CASE_END = (
    upper   => "<HTML><BODY>\n<P>upper</P>\n</BODY></HTML>\n",
    mixed   => "<html><body>\n<p>mixed</p>\n</Body ></html>\n",
    tab     => "<html><body>\n<p>tab</p>\n</body\t></html>\n",
    newline => "<html><body>\n<p>newline</p>\n</body\n></html>\n",
);
my %CASE_TAG = (upper => '</BODY>', mixed => '</Body >', tab => "</body\t>",
    newline => "</body\n>");

my $FRAGMENT = "<div class=\"partial\">\n<p>An HTMX partial</p>\n</div>\n";
my $CUSTOM404 = "<html><head><title>Not here</title></head><body>\n"
    . "<h1>Our own 404</h1>\n</body></html>\n";
my $META_CSP = "<html><head><meta http-equiv=\"Content-Security-Policy\" "
    . "content=\"script-src 'none'\"><title>meta</title></head><body>\n<p>x</p>\n</body></html>\n";

my $SSI_PAGE = "<html><body>\n<h1>SSI</h1>\n<!--# include virtual=\"/frag/frag.html\" -->\n"
    . "<p>after the include</p>\n</body></html>\n";
my $FRAG = "<p>fragment</p>\n</body>\n";
my $BEFORE = "<p>before</p></body>\n";
my $AFTER = "<footer>after</footer></body></html>\n";

my $XHTML = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    . "<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>x</title></head>"
    . "<body>\n<p>xhtml</p>\n</body></html>\n";
my $TEXT = "<html><body>\nplain text that looks like HTML\n</body></html>\n";

my $UTF16 = "\xff\xfe" . Encode::encode('UTF-16LE',
    "<html><body>\n<p>utf-16</p>\n</body></html>\n");

my $TR_QUESTION = "Bizi tavsiye etme olas\xc4\xb1l\xc4\xb1\xc4\x9f\xc4\xb1n\xc4\xb1z <b>nedir</b>? \xe2\x80\x94 \xf0\x9f\x99\x82";

gzip(\$PAGE => \my $PAGE_GZ, Minimal => 1) or die "gzip: $GzipError";

# ---- configuration --------------------------------------------------------

my $P = 'cx_prompt nps1 sample=100%;';
# 11, 12: Content-Security-Policy. Per row a location /csp-NAME/: html/
# with those headers and a prompt; when PLAIN, also /csp-NAME-plain/, the
# same headers without a prompt.
my $CSP = 'Content-Security-Policy';
my @CSP = (
    # NAME        PLAIN  headers
    [ 'self',         0, $CSP => "script-src 'self'" ],
    [ 'nonce',        0, $CSP => "script-src 'nonce-abc123' 'strict-dynamic'" ],
    [ 'none',         1, $CSP => "script-src 'none'" ],
    [ 'host',         1, $CSP => 'script-src https://cdn.example.com' ],
    [ 'default',      0, $CSP => "default-src 'self'" ],
    [ 'ro',           0, "$CSP-Report-Only" => "script-src 'none'" ],
    [ 'var',          0, $CSP => q{script-src 'nonce-$arg_n' 'strict-dynamic'} ],
    # 11: sandbox (no scripts, or no origin to post answers from)
    [ 'sbx',          1, $CSP => 'sandbox' ],
    [ 'sbx-forms',    1, $CSP => 'sandbox allow-forms allow-same-origin' ],
    [ 'sbx-scripts',  1, $CSP => 'sandbox allow-scripts' ],
    [ 'sbx-case',     1, $CSP => 'SandBox Allow-Forms' ],
    [ 'sbx-second',   1, $CSP => "script-src 'self'", $CSP => 'sandbox' ],
    [ 'sbx-comma',    1, $CSP => "script-src 'self', sandbox allow-scripts" ],
    [ 'sbx-ok',       0, $CSP => 'sandbox allow-scripts allow-same-origin' ],
    [ 'sbx-ok-case',  0, $CSP => "script-src 'self'", $CSP => 'SANDBOX ALLOW-SAME-ORIGIN Allow-Scripts' ],
    [ 'sbx-ro',       0, "$CSP-Report-Only" => 'sandbox' ],
);
my $CSP_LOCATIONS = '';
for my $row (@CSP) {
    my ($name, $plain, @h) = @$row;
    my $add = join ' ', map { qq{add_header $h[2 * $_] "$h[2 * $_ + 1]";} } 0 .. $#h / 2;
    $CSP_LOCATIONS .= "        location /csp-$name/ { alias %%PREFIX%%/html/; $add $P }\n";
    $CSP_LOCATIONS .= "        location /csp-$name-plain/ { alias %%PREFIX%%/html/; $add }\n" if $plain;
}

my $CONF = <<"CONF";
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_survey nps1 { type nps; question "How likely?"; followup "Why?";
                     labels "Not likely" "Very likely"; }
    cx_survey tr1 { type csat; question "$TR_QUESTION"; }

    # the site
    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%PORT2%% http2;
        root %%PREFIX%%/html;

        location /cx/ { cx_endpoint; }
        location /cx-admin/ { cx_report; }

        location / { cx_touchpoint browse stage=consideration; $P }
        location /plain/ { alias %%PREFIX%%/html/; }
        location /sf/ { alias %%PREFIX%%/html/; sendfile on; $P }

        # 1: encoded bodies
        location /enc/ { proxy_pass http://127.0.0.1:%%PORT1%%; $P }
        location /dyn/ { proxy_pass http://127.0.0.1:%%PORT1%%; $P }
        location /stream/ { proxy_pass http://127.0.0.1:%%PORT1%%; $P }
        location /remedy/ {
            proxy_pass http://127.0.0.1:%%PORT1%%/dyn/;
            proxy_set_header Accept-Encoding "";
            gzip on; gzip_min_length 1; gzip_types text/html;
            $P
        }
        location /gzs/ { alias %%PREFIX%%/html/; gzip_static on; $P }

        # 9: errors, redirects, attachments
        location /err-custom/ { alias %%PREFIX%%/html/; error_page 404 /custom404.html; $P }
        location = /boom { return 500; $P }
        location = /plain-boom { return 500; }
        location = /go { return 302 /index.html; $P }
        location = /plain-go { return 302 /index.html; }
        location /attach/ {
            alias %%PREFIX%%/html/;
            add_header Content-Disposition 'attachment; filename="page.html"';
            $P
        }
        location /attach-plain/ {
            alias %%PREFIX%%/html/;
            add_header Content-Disposition 'attachment; filename="page.html"';
        }
        location /inline/ {
            alias %%PREFIX%%/html/;
            add_header Content-Disposition 'inline; filename="attachment-notes.html"';
            $P
        }

        # 10: types and charsets
        location /types-default/ {
            alias %%PREFIX%%/html/types/;
            types { text/html html; application/xhtml+xml xhtml; text/plain txt; }
            $P
        }
        location /types-listed/ {
            alias %%PREFIX%%/html/types/;
            types { text/html html; application/xhtml+xml xhtml; text/plain txt; }
            cx_types text/html application/xhtml+xml text/plain;
            $P
        }
        location /types-plain/ {
            alias %%PREFIX%%/html/types/;
            types { text/html html; application/xhtml+xml xhtml; text/plain txt; }
        }
        location /utf16/ { proxy_pass http://127.0.0.1:%%PORT1%%; $P }
        location /utf16-plain/ { proxy_pass http://127.0.0.1:%%PORT1%%/utf16/; }
        location /tr/ { alias %%PREFIX%%/html/; cx_prompt tr1 sample=100%; }

        # 11, 12: Content-Security-Policy
$CSP_LOCATIONS        location /csp-sbx-up/ { proxy_pass http://127.0.0.1:%%PORT1%%/sbx/; $P }
        location /csp-sbx-up-ok/ { proxy_pass http://127.0.0.1:%%PORT1%%/sbx-ok/; $P }

        # 13, 14: caches
        location /cc/ { alias %%PREFIX%%/html/;
            add_header Cache-Control "public, max-age=60, s-maxage=300"; $P }
        location /cc-up/ { proxy_pass http://127.0.0.1:%%PORT1%%/cc/; $P }
        location /cc-expires/ { alias %%PREFIX%%/html/; expires 1h; $P }
        location /cc0/ { alias %%PREFIX%%/html/;
            add_header Cache-Control "public, max-age=60, s-maxage=300";
            cx_prompt nps1 sample=0%; }
        location /cc-plain/ { alias %%PREFIX%%/html/;
            add_header Cache-Control "public, max-age=60, s-maxage=300"; }
        location /cc-visit/ { alias %%PREFIX%%/html/; cx_touchpoint ccv;
            add_header Cache-Control "public, max-age=60, s-maxage=300"; }
        location /nt/ { alias %%PREFIX%%/html/;
            add_header Cache-Control "public, no-transform, max-age=60"; $P }
        location /nt-plain/ { alias %%PREFIX%%/html/;
            add_header Cache-Control "public, no-transform, max-age=60"; }

        # 15: subrequests
        location /frag/ { alias %%PREFIX%%/html/frag/; $P }
        location /ssi/ { alias %%PREFIX%%/html/ssi/; ssi on; $P }
        location /addition/ { alias %%PREFIX%%/html/;
            add_before_body /frag/before.html; add_after_body /frag/after.html; $P }
        location /auth/ { alias %%PREFIX%%/html/; auth_request /frag/auth.html; $P }
    }

    # the upstream: no prompts here
    server {
        listen 127.0.0.1:%%PORT1%%;
        root %%PREFIX%%/up;
        location /enc/gzip/ { add_header Content-Encoding gzip; }
        location /enc/br/ { add_header Content-Encoding br; }
        location /dyn/ { gzip on; gzip_http_version 1.0; gzip_min_length 1; gzip_types text/html; }
        location /utf16/ { types { } default_type "text/html; charset=utf-16"; }
        location /cc/ { add_header Cache-Control "public, max-age=60, s-maxage=300"; }
        location /stream/ { ssi on; }
        location /sbx/ { add_header Content-Security-Policy "script-src 'self'";
                         add_header Content-Security-Policy "sandbox"; }
        location /sbx-ok/ { add_header Content-Security-Policy "script-src 'self'";
            add_header Content-Security-Policy "sandbox allow-scripts allow-same-origin"; }
    }
CONF

my %files = (
    'html/index.html'     => $PAGE,
    'html/fragment.html'  => $FRAGMENT,
    'html/custom404.html' => $CUSTOM404,
    'html/meta-csp.html'  => $META_CSP,
    'html/ssi/page.html'  => $SSI_PAGE,
    'html/frag/frag.html' => $FRAG,
    'html/frag/before.html' => $BEFORE,
    'html/frag/after.html'  => $AFTER,
    'html/frag/auth.html'   => $PAGE,
    'html/types/page.xhtml' => $XHTML,
    'html/types/page.txt'   => $TEXT,
    'html/types/page.html'  => $PAGE,
    'up/enc/br/page.html' => $PAGE,     # labelled br, really plain: any change would show
    'up/dyn/page.html'    => $PAGE,
    'up/cc/page.html'     => $PAGE,
    'up/stream/page.html' => $PAGE,
    'up/sbx/page.html'    => $PAGE,
    'up/sbx-ok/page.html' => $PAGE,
);
$files{"html/decoy/$_.html"} = $DECOY{$_} for keys %DECOY;
$files{"html/end/$_.html"} = $CASE_END{$_} for keys %CASE_END;

my $ng = cx_nginx(ports => 3, files => \%files, conf => $CONF, start => 0);
# binary files are written as they are (no %%...%% substitution)
for ([ 'up/enc/gzip/page.html' => $PAGE_GZ ], [ 'html/gz.html' => $PAGE ],
     [ 'html/gz.html.gz' => $PAGE_GZ ], [ 'up/utf16/page.html' => $UTF16 ]) {
    my ($rel, $bytes) = @$_;
    my $path = $ng->prefix . "/$rel";
    (my $dir = $path) =~ s{/[^/]+$}{};
    make_path($dir, { mode => 0755 });
    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    print {$fh} $bytes;
    close $fh or die "$path: $!";
    chmod 0644, $path;
}
$ng->start;

# ---- helpers --------------------------------------------------------------

# The snippet: the JSON data block, then the widget script; optional nonces.
my $SNIP_RE = qr{<script type="application/json" id="cx-prompt"(?: nonce="([^"]*)")?>(\{"v":1,[^<]*\})</script><script src="/cx/w\.js" async(?: nonce="([^"]*)")?></script>};

sub snippets {
    my ($body) = @_;
    my @s;
    while ($body =~ /$SNIP_RE/g) {
        push @s, { at => $-[0], text => substr($body, $-[0], $+[0] - $-[0]),
                   nonce1 => $1, json => $2, nonce2 => $3 };
    }
    return @s;
}

sub count_prompts {
    my ($body) = @_;
    my $n = () = $body =~ /id="cx-prompt"/g;
    return $n;
}

sub hdr {
    my ($res, $name) = @_;
    my $v = $res->{headers}{ lc $name };
    return $v;
}

sub ncookies { my @c = hdr_all($_[0], 'set-cookie'); return scalar @c }

sub hdr_all {
    my ($res, $name) = @_;
    my $v = $res->{headers}{ lc $name };
    return () unless defined $v;
    return ref $v ? @$v : ($v);
}

# Header lines without Date, in order, for comparing with a control location.
sub header_lines {
    my ($res) = @_;
    my @l = @{ $res->{header_list} };
    my @out;
    for (my $i = 0; $i < @l; $i += 2) {
        next if lc $l[$i] eq 'date';
        push @out, "$l[$i]: $l[$i+1]";
    }
    return join "\n", @out;
}

# No stale Content-Length: either none (chunked on HTTP/1.1, or closed on
# HTTP/1.0) or exactly the length of the new body.
sub framing_ok {
    my ($res, $name) = @_;
    my $cl = hdr($res, 'content-length');
    if (defined $cl) {
        is $cl, length $res->{body}, "$name: Content-Length is the new body's length";
        ok !$res->{chunked}, "$name: not both Content-Length and chunked";
    } elsif (($res->{request_http} // '1.1') eq '1.1') {
        ok $res->{chunked}, "$name: no Content-Length, so chunked";
    } else {
        pass "$name: no Content-Length, close-delimited";
    }
}

# Asserts that $res carries exactly one snippet, inserted exactly at offset $at
# of $orig, with nothing else changed; returns the snippet record.
sub injected_ok {
    my ($res, $orig, $at, $name, %o) = @_;
    my $survey = $o{survey} || 'nps1';
    is $res->{status}, 200, "$name: 200";
    ok !$res->{error}, "$name: complete response" or diag $res->{error};
    is count_prompts($res->{body}), 1, "$name: exactly one widget";
    my @s = snippets($res->{body});
    is scalar(@s), 1, "$name: exactly one well-formed snippet" or do {
        diag "body: $res->{body}";
        return;
    };
    my $s = $s[0];
    is $s->{at}, $at, "$name: snippet right before the real </body> (offset $at)";
    my $expect = substr($orig, 0, $at) . $s->{text} . substr($orig, $at);
    ok $res->{body} eq $expect, "$name: body is the original plus the snippet, byte for byte"
        or diag "expected:\n$expect\ngot:\n$res->{body}";
    ok $s->{text} !~ /[^\x00-\x7f]/, "$name: snippet is ASCII only";
    is $s->{nonce1}, $o{nonce}, "$name: data block nonce " . ($o{nonce} // 'absent');
    is $s->{nonce2}, $o{nonce}, "$name: script tag nonce " . ($o{nonce} // 'absent');
    my $j = eval { $JSON->decode($s->{json}) };
    ok $j, "$name: snippet JSON parses" or diag "$@ in $s->{json}";
    if ($j) {
        is $j->{v}, 1, "$name: v 1";
        is $j->{endpoint}, '/cx/', "$name: endpoint";
        is $j->{survey}, $survey, "$name: survey";
        like $j->{token}, qr/^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{10,}$/, "$name: token";
        $s->{data} = $j;
    }
    framing_ok($res, $name);
    ok !defined hdr($res, 'accept-ranges'), "$name: no Accept-Ranges";
    # 24: no cache may keep a page whose token can be answered once
    is join(' | ', hdr_all($res, 'cache-control')), 'private, no-store',
        "$name: exactly Cache-Control: private, no-store";
    ok !defined hdr($res, 'etag'), "$name: no ETag";
    ok !defined hdr($res, 'last-modified'), "$name: no Last-Modified";
    return $s;
}

# Asserts that $res is exactly what the site sent: status, body bytes, no
# cookie, no widget, and (with control => $res2) the same header lines.
sub untouched_ok {
    my ($res, $status, $body, $name, %o) = @_;
    is $res->{status}, $status, "$name: status $status";
    ok $res->{body} eq $body, "$name: body byte-identical"
        or diag "expected:\n$body\ngot:\n$res->{body}";
    is count_prompts($res->{body}), count_prompts($body), "$name: no widget added";
    ok !defined hdr($res, 'set-cookie'), "$name: no Set-Cookie"
        or diag 'Set-Cookie: ' . join ' | ', hdr_all($res, 'set-cookie');
    ok !(grep { /private/ } hdr_all($res, 'cache-control')) || $o{private_ok},
        "$name: not marked private";
    if ($o{control}) {
        is header_lines($res), header_lines($o{control}),
            "$name: same header lines as without a prompt";
    }
}

# Sends raw bytes, reads until the server closes (10 s at most).
sub raw_exchange {
    my ($port, $bytes) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp', Timeout => 5) or return '';
    binmode $sock;
    print {$sock} $bytes;
    my $sel = IO::Select->new($sock);
    my $deadline = time + 10;
    my $raw = '';
    while (time < $deadline && $sel->can_read($deadline - time)) {
        my $n = sysread $sock, my $buf, 65536;
        last unless $n;
        $raw .= $buf;
    }
    return $raw;
}

# the nps1 survey of report.json (undef when it is not there)
sub report {
    my ($s) = grep { $_->{name} eq 'nps1' } @{ scalar($ng->report_json)->{surveys} || [] };
    return $s;
}

my $page_end = index $PAGE, '</body>';

# ---- tests -----------------------------------------------------------------

subtest 'static page byte-for-byte' => sub {
    my $r = $ng->get('/index.html');
    my $s = injected_ok($r, $PAGE, $page_end, 'static');
    note 'static page framing: ' . (defined hdr($r, 'content-length')
        ? 'Content-Length ' . hdr($r, 'content-length') : $r->{chunked} ? 'chunked' : 'close');
    is hdr($r, 'content-type'), 'text/html', 'Content-Type kept';
    my $c = cx_cookie_from($r, 'cx');
    ok defined $c && length $c, 'visitor cookie set';
    my $a = cx_cookie_attrs($r, 'cx') || {};
    ok $a->{httponly}, 'cookie HttpOnly';
    is $a->{path}, '/', 'cookie Path=/';
    is lc($a->{samesite} // ''), 'lax', 'cookie SameSite=Lax';
    # sendfile on: the file is sent as file ranges around the snippet
    for (1, 2) {    # the second time from the module's per-file scan cache
        my $sf = $ng->get('/sf/index.html');
        injected_ok($sf, $PAGE, $page_end, "static, sendfile on (#$_)");
    }
    my $ctl = $ng->get('/plain/index.html');
    is $ctl->{body}, $PAGE, 'control: same file without a prompt is the original';
    is hdr($ctl, 'content-length'), length $PAGE, 'control: Content-Length';
};

subtest 'static file changed in place is scanned again' => sub {
    my $v1 = "<html><body>\n<p>AAAA</p>\n</body></html>\n";
    my $v2 = "<html><body>\n</body><p>AAAA</p>\n</html>\n";
    my $v3 = "<html><body>\n<p>AAAA</p>\n<!-- no end tag -->\n";
    die 'same size needed' unless length($v1) == length($v2);
    my $path = $ng->prefix . '/html/edit.html';
    my $write = sub {
        my ($bytes, $truncate) = @_;
        open my $fh, '+<', $path or die "$path: $!";    # same inode
        binmode $fh;
        print {$fh} $bytes;
        truncate $fh, length $bytes if $truncate;
        close $fh;
    };
    open my $fh, '>', $path or die;
    print {$fh} $v1;
    close $fh;
    chmod 0644, $path;
    for my $pre ('/sf', '') {
        $write->($v1, 1);
        injected_ok($ng->get("$pre/edit.html"), $v1, index($v1, '</body>'), "$pre v1");
        injected_ok($ng->get("$pre/edit.html"), $v1, index($v1, '</body>'), "$pre v1 again");
        $write->($v2);    # same size, same inode, same second
        injected_ok($ng->get("$pre/edit.html"), $v2, index($v2, '</body>'), "$pre v2 (edited in place)");
        $write->($v3, 1);
        my $r = $ng->get("$pre/edit.html");
        ok $r->{body} eq $v3, "$pre v3 without </body>: body byte-identical";
        is count_prompts($r->{body}), 0, "$pre v3: no widget";
    }
};

subtest '1 compressed body (Content-Encoding gzip/br)' => sub {
    my $log0 = length $ng->error_log;

    # an upstream body that is gzip
    my $direct = $ng->req(port => $ng->port(1), path => '/enc/gzip/page.html');
    is $direct->{body}, $PAGE_GZ, 'upstream sends the gzip bytes';
    my $r = $ng->get('/enc/gzip/page.html');
    is hdr($r, 'content-encoding'), 'gzip', 'gzip: Content-Encoding kept';
    is hdr($r, 'content-length'), length $PAGE_GZ, 'gzip: Content-Length kept';
    untouched_ok($r, 200, $PAGE_GZ, 'gzip from upstream');
    gunzip(\$r->{body} => \my $plain) or diag "gunzip: $GunzipError";
    is $plain, $PAGE, 'gzip: decompresses to the original';

    # an upstream body labelled br (really plain text, so any insertion would show)
    $r = $ng->get('/enc/br/page.html');
    is hdr($r, 'content-encoding'), 'br', 'br: Content-Encoding kept';
    is hdr($r, 'content-length'), length $PAGE, 'br: Content-Length kept';
    untouched_ok($r, 200, $PAGE, 'br from upstream');

    # gzip_static on the prompting location itself
    $r = $ng->get('/gzs/gz.html', 'Accept-Encoding' => 'gzip');
    is hdr($r, 'content-encoding'), 'gzip', 'gzip_static: Content-Encoding gzip';
    untouched_ok($r, 200, $PAGE_GZ, 'gzip_static');
    like hdr($r, 'etag') // '', qr{^"}, 'gzip_static: ETag stays, strong';

    # a gzipping upstream reached with the client's Accept-Encoding
    $r = $ng->get('/dyn/page.html', 'Accept-Encoding' => 'gzip');
    is hdr($r, 'content-encoding'), 'gzip', 'gzipping upstream: gzip';
    ok !defined hdr($r, 'set-cookie'), 'gzipping upstream: no Set-Cookie';
    gunzip(\$r->{body} => \my $dyn) or diag "gunzip: $GunzipError";
    is $dyn, $PAGE, 'gzipping upstream: decompresses to the original, no widget';

    my $log = substr $ng->error_log, $log0;
    like $log, qr/\[info\][^\n]*\bcx\b[^\n]*"gzip"/, 'info log line names gzip';
    like $log, qr/\[info\][^\n]*\bcx\b[^\n]*"br"/, 'info log line names br';

    # the remedy: no Accept-Encoding upstream, nginx's gzip after the filter
    $r = $ng->get('/remedy/page.html', 'Accept-Encoding' => 'gzip');
    is $r->{status}, 200, 'remedy: 200';
    is hdr($r, 'content-encoding'), 'gzip', 'remedy: client gets gzip';
    ok defined cx_cookie_from($r, 'cx'), 'remedy: visitor cookie set';
    my $gz = $r->{body};
    my $un;
    ok gunzip(\$gz => \$un), 'remedy: body gunzips' or diag "gunzip: $GunzipError";
    injected_ok({ %$r, body => $un // '' }, $PAGE, $page_end, 'remedy (decompressed)');

    # and without Accept-Encoding from the client: plain, injected
    $r = $ng->get('/remedy/page.html');
    ok !defined hdr($r, 'content-encoding'), 'remedy, no gzip client: plain';
    injected_ok($r, $PAGE, $page_end, 'remedy, identity');
};

subtest '2 framing (HTTP/1.0, HTTP/1.1 chunked, HTTP/2)' => sub {
    # a static file (length known in advance) and a proxied body of unknown
    # length (the upstream's SSI drops its Content-Length)
    for my $path ('/index.html', '/stream/page.html') {
        my $r = $ng->req(path => $path, http => '1.0');
        $r->{request_http} = '1.0';
        injected_ok($r, $PAGE, $page_end, "HTTP/1.0 $path");
        is $r->{chunked}, 0, "HTTP/1.0 $path: not chunked";
        ok !defined hdr($r, 'transfer-encoding'), "HTTP/1.0 $path: no Transfer-Encoding";
        is lc(hdr($r, 'connection') // ''), 'close', "HTTP/1.0 $path: connection closed";

        $r = $ng->get($path);
        injected_ok($r, $PAGE, $page_end, "HTTP/1.1 $path");
        like $r->{body_raw}, qr/\r\n0\r\n\r\n\z/, "HTTP/1.1 $path: ends with the last chunk"
            if $r->{chunked};
    }
    my $r = $ng->get('/stream/page.html');
    ok !defined hdr($r, 'content-length'), 'unknown length: no Content-Length';
    is $r->{chunked}, 1, 'unknown length: chunked on HTTP/1.1';

    # keep-alive: two requests on one connection, both framed and injected
    my $raw = raw_exchange($ng->port, "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
        . "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    my @resp = split m{(?=HTTP/1\.1 \d\d\d )}, $raw;
    is scalar(@resp), 2, 'keep-alive: two responses on one connection';
    for my $i (0 .. $#resp) {
        my ($head, $rest) = split /\r\n\r\n/, $resp[$i], 2;
        $rest //= '';
        like $head, qr{^HTTP/1\.1 200}, "keep-alive #$i: 200";
        my $body;
        if ($head =~ /^Content-Length: (\d+)/mi) {
            my $cl = $1;
            is length($rest), $cl, "keep-alive #$i: exactly Content-Length bytes follow";
            $body = $rest;
        } else {
            like $head, qr/^Transfer-Encoding: chunked/mi, "keep-alive #$i: chunked";
            (my $b, my $done) = CXTest::_dechunk($rest);
            ok $done, "keep-alive #$i: ends with the last chunk";
            $body = $b;
        }
        is count_prompts($body), 1, "keep-alive #$i: one widget";
        my @s = snippets($body);
        is $body, substr($PAGE, 0, $page_end) . ($s[0] ? $s[0]{text} : '') . substr($PAGE, $page_end),
            "keep-alive #$i: body is the original plus the snippet";
    }

  SKIP: {
        my $v = `curl -V 2>/dev/null` // '';
        skip 'curl with HTTP2 not available', 8 unless $v =~ /\bHTTP2\b/;
        my $dir = tempdir(CLEANUP => 1);
        my $url = 'http://127.0.0.1:' . $ng->port(2) . '/index.html';
        my $rc = system('curl', '-sS', '--http2-prior-knowledge', '--max-time', '10',
            '-D', "$dir/h", '-o', "$dir/b", $url);
        is $rc, 0, 'HTTP/2: curl succeeded';
        open my $hf, '<', "$dir/h" or die;
        my $head = do { local $/; <$hf> };
        open my $bf, '<', "$dir/b" or die;
        binmode $bf;
        my $body = do { local $/; <$bf> };
        like $head, qr{^HTTP/2 200}, 'HTTP/2: 200 over h2';
        my ($h2cl) = $head =~ /^content-length:\s*(\d+)/mi;
        is $h2cl, length $body, 'HTTP/2: content-length, if any, is the new length' if defined $h2cl;
        like $head, qr/^cache-control: private, no-store\r?$/mi, 'HTTP/2: cache-control private, no-store';
        unlike $head, qr{^(?:etag|last-modified):}mi, 'HTTP/2: no validators';
        my @s = snippets($body);
        is scalar(@s), 1, 'HTTP/2: one snippet';
        is $s[0]{at}, $page_end, 'HTTP/2: before </body>' if @s;
        is $body, substr($PAGE, 0, $page_end) . ($s[0] ? $s[0]{text} : '') . substr($PAGE, $page_end),
            'HTTP/2: body is the original plus the snippet';
    }
};

subtest '3 validators: an injected page has none; 304 stays for pages without a prompt' => sub {
    # docs/behaviours.md 3 and 24 (issue 12): a prompted page carries a token
    # that can be answered once, so nothing may revalidate or reuse it.
    my $ctl = $ng->get('/plain/index.html');
    my $strong = hdr($ctl, 'etag');
    my $lm = hdr($ctl, 'last-modified');
    like $strong, qr/^"[^"]+"$/, 'control: strong ETag';
    ok defined $lm, 'control: Last-Modified';

    my $r = $ng->get('/index.html');
    my $s1 = injected_ok($r, $PAGE, $page_end, 'GET');
    ok !defined hdr($r, 'etag'), 'injected: no ETag (not even a weak one)';
    ok !defined hdr($r, 'last-modified'), 'injected: no Last-Modified';
    is_deeply [ hdr_all($r, 'cache-control') ], ['private, no-store'],
        'injected: Cache-Control: private, no-store';
    is $s1->{data}{ui}{recorded}, 'Your answer was already recorded.',
        'the prompt carries what the widget says on a 409 (24)' if $s1 && $s1->{data};

    # what a browser sends for the page it got: no validator, so no
    # conditional request; the answer is a whole page with a token of its own
    my $again = $ng->get('/index.html', 'Cache-Control' => 'max-age=0');
    my $s2 = injected_ok($again, $PAGE, $page_end, 'reload (no validator to send)');
    isnt $s2->{data}{token}, $s1->{data}{token}, 'reload: a new token, never the old page'
        if $s1 && $s2 && $s1->{data} && $s2->{data};

    # 304 stays for responses without a prompt: the control location, and the
    # prompting one when the client's validator can only come from a page sent
    # without a prompt (nginx answers conditionals before the module runs)
    for my $loc ('/plain/index.html', '/index.html') {
        for my $h (['If-None-Match' => $strong], ['If-Modified-Since' => $lm]) {
            my $c = $ng->get($loc, @$h);
            is $c->{status}, 304, "$loc $h->[0] -> 304";
            is $c->{body_raw}, '', "$loc $h->[0] -> no body bytes";
            is $c->{raw}, $c->{raw_headers}, "$loc $h->[0] -> nothing after the headers";
            ok !defined hdr($c, 'transfer-encoding'), "$loc $h->[0] -> not chunked";
            is count_prompts($c->{raw}), 0, "$loc $h->[0] -> no widget";
            ok !defined hdr($c, 'set-cookie'), "$loc $h->[0] -> no Set-Cookie (a 304 is no visit)";
        }
    }
    my $miss = $ng->get('/index.html', 'If-None-Match' => '"nope"');
    injected_ok($miss, $PAGE, $page_end, 'If-None-Match that does not match');
    my $old = $ng->get('/index.html', 'If-Modified-Since' => 'Thu, 01 Jan 1970 00:00:01 GMT');
    injected_ok($old, $PAGE, $page_end, 'If-Modified-Since before the file');
};

subtest '4 HEAD: same headers as GET, no body, nothing displayed' => sub {
    my $before = report();
    ok $before, 'report.json readable';
    my $d0 = $before ? $before->{displayed} : -1;
    is $d0, 0, 'nothing displayed yet';

    my $g = $ng->get('/index.html');
    my $s = injected_ok($g, $PAGE, $page_end, 'GET');
    my $h = $ng->head('/index.html');
    is $h->{status}, 200, 'HEAD: 200';
    # read until nginx closes: not a byte may follow the header block
    my $hraw = raw_exchange($ng->port, "HEAD /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    my $hend = index($hraw, "\r\n\r\n");
    ok $hend > 0, 'HEAD: a header block';
    is length($hraw) - $hend - 4, 0, 'HEAD: zero body bytes after the headers'
        or diag 'bytes after the HEAD headers: ' . substr($hraw, $hend + 4, 200);
    # keep-alive: a HEAD, then a GET on the same connection
    my $two = raw_exchange($ng->port, "HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
        . "GET /plain/index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    my $second = index($two, "\r\n\r\n") + 4;
    like substr($two, $second, 20), qr{^HTTP/1\.1 200 }, 'HEAD then GET on one connection: the GET response follows the HEAD headers directly';
    ok !defined hdr($h, 'content-length') || hdr($h, 'content-length') eq (hdr($g, 'content-length') // ''),
        'HEAD: no Content-Length, or the one GET sends';
    note 'HEAD Content-Length: ' . (hdr($h, 'content-length') // 'none')
        . ', GET Content-Length: ' . (hdr($g, 'content-length') // 'none');
    ok !defined hdr($h, 'accept-ranges'), 'HEAD: no Accept-Ranges';
    for my $n (qw(content-type etag cache-control last-modified)) {
        is hdr($h, $n), hdr($g, $n), "HEAD: $n as GET";
    }
    ok !defined hdr($h, 'etag') && !defined hdr($h, 'last-modified'), 'HEAD: no validators';
    ok defined cx_cookie_from($h, 'cx'), 'HEAD: visitor cookie as GET';
    my %skip = map { $_ => 1 } qw(date transfer-encoding content-length);
    my @gn = grep { !$skip{$_} } map { lc } @{ $g->{header_list} }[ grep { $_ % 2 == 0 } 0 .. $#{ $g->{header_list} } ];
    my @hn = grep { !$skip{$_} } map { lc } @{ $h->{header_list} }[ grep { $_ % 2 == 0 } 0 .. $#{ $h->{header_list} } ];
    is "@hn", "@gn", 'HEAD: the same header names as GET (Date and framing aside)';

    # HEAD records nothing
    my $after = report();
    is $after ? $after->{displayed} : -1, $d0, 'HEAD: displayed unchanged';

    # control: a display of the GET's prompt is counted, so the counter works
    if ($s && $s->{data}) {
        my $cookie = cx_cookie_from($g, 'cx');
        my $p = $ng->post_json('/cx/r',
            $JSON->encode({ token => $s->{data}{token}, event => 'display' }),
            Cookie => "cx=$cookie");
        is $p->{status}, 204, 'control: display of the GET prompt accepted';
        my $ctl = wait_for { my $x = report(); $x && $x->{displayed} == $d0 + 1 && $x } 5;
        ok $ctl, 'control: displayed counts it';
        $ng->head('/index.html', Cookie => "cx=$cookie");
        my $again = report();
        is $again ? $again->{displayed} : -1, $d0 + 1, 'HEAD of a known visitor: displayed unchanged';
    }
};

subtest '5 Range and 206 untouched; injected 200 has no Accept-Ranges' => sub {
    my $ctl = $ng->get('/plain/index.html');
    is hdr($ctl, 'accept-ranges'), 'bytes', 'control: static file advertises ranges';
    my $r = $ng->get('/index.html', Range => 'bytes=0-9');
    is $r->{status}, 206, 'bytes=0-9: 206';
    is $r->{body}, substr($PAGE, 0, 10), 'bytes=0-9: exact bytes';
    is hdr($r, 'content-range'), 'bytes 0-9/' . length($PAGE), 'bytes=0-9: Content-Range';
    is hdr($r, 'content-length'), 10, 'bytes=0-9: Content-Length';
    ok !defined hdr($r, 'set-cookie'), 'bytes=0-9: no Set-Cookie';
    my $ctl_r = $ng->get('/plain/index.html', Range => 'bytes=0-9');
    is header_lines($r), header_lines($ctl_r), 'bytes=0-9: same headers as without a prompt';

    # the range that holds </body>
    $r = $ng->get('/index.html', Range => 'bytes=-30');
    is $r->{status}, 206, 'bytes=-30: 206';
    is $r->{body}, substr($PAGE, -30), 'bytes=-30: exact bytes (no widget)';
    ok !defined hdr($r, 'set-cookie'), 'bytes=-30: no Set-Cookie';

    $r = $ng->get('/index.html');
    injected_ok($r, $PAGE, $page_end, 'injected 200');
    ok !defined hdr($r, 'accept-ranges'), 'injected 200: no Accept-Ranges';
};

subtest '7 the wrong </body> (script, comment, style, template, textarea, attribute)' => sub {
    for my $k (sort keys %DECOY) {
        my $page = $DECOY{$k};
        my $at = rindex $page, '</body>';
        for my $pre ('', '/sf') {
            my $r = $ng->get("$pre/decoy/$k.html");
            injected_ok($r, $page, $at, "decoy $k" . ($pre ? ' (sendfile)' : ''));
        }
    }
};

subtest '8 </BODY>, </Body >, </body\t> are end tags' => sub {
    for my $k (sort keys %CASE_END) {
        my $page = $CASE_END{$k};
        my $at = index $page, $CASE_TAG{$k};
        for my $pre ('', '/sf') {
            my $r = $ng->get("$pre/end/$k.html");
            injected_ok($r, $page, $at, "end tag $k" . ($pre ? ' (sendfile)' : ''));
        }
    }
};

subtest '9 fragments, error pages, redirects, attachments untouched' => sub {
    # a fragment: no </body>, so the body must come through unchanged
    my $r = $ng->get('/fragment.html');
    is $r->{status}, 200, 'fragment: 200';
    ok !$r->{error}, 'fragment: complete';
    ok $r->{body} eq $FRAGMENT, 'fragment: body byte-identical';
    is count_prompts($r->{body}), 0, 'fragment: no widget';
    # Headers are decided before the body is seen: document what happens.
    note "fragment headers (prompting location): " . header_lines($r);

    # nginx's own 404 page (it has a </body>)
    my $ctl = $ng->get('/plain/missing.html');
    is $ctl->{status}, 404, 'control: 404';
    like $ctl->{body}, qr{</body>}, 'control: the 404 page has a </body>';
    $r = $ng->get('/missing.html');
    untouched_ok($r, 404, $ctl->{body}, '404', control => $ctl);

    # a custom error page served from the prompting location
    $r = $ng->get('/err-custom/missing.html');
    untouched_ok($r, 404, $CUSTOM404, 'custom 404 page');

    # 500
    $ctl = $ng->get('/plain-boom');
    $r = $ng->get('/boom');
    untouched_ok($r, 500, $ctl->{body}, '500', control => $ctl);

    # 302
    $ctl = $ng->get('/plain-go');
    is $ctl->{status}, 302, 'control: 302';
    like $ctl->{body}, qr{</body>}, 'control: the 302 page has a </body>';
    $r = $ng->get('/go');
    untouched_ok($r, 302, $ctl->{body}, '302', control => $ctl);
    is hdr($r, 'location'), hdr($ctl, 'location'), '302: Location unchanged';

    # Content-Disposition: attachment
    $ctl = $ng->get('/attach-plain/index.html');
    $r = $ng->get('/attach/index.html');
    untouched_ok($r, 200, $PAGE, 'attachment', control => $ctl);
    is hdr($r, 'content-length'), length $PAGE, 'attachment: Content-Length kept';

    # ... but an inline page whose file name merely contains "attachment" is a page
    $r = $ng->get('/inline/index.html');
    injected_ok($r, $PAGE, $page_end, 'inline disposition, "attachment" in the file name');
};

subtest '10 xhtml, text/plain, UTF-16: only when listed; snippet ASCII' => sub {
    for my $f (['page.xhtml', $XHTML, 'application/xhtml+xml'], ['page.txt', $TEXT, 'text/plain']) {
        my ($file, $body, $type) = @$f;
        my $ctl = $ng->get("/types-plain/$file");
        is hdr($ctl, 'content-type'), $type, "control: $file is $type";
        my $r = $ng->get("/types-default/$file");
        untouched_ok($r, 200, $body, "$type by default", control => $ctl);
        $r = $ng->get("/types-listed/$file");
        injected_ok($r, $body, index($body, '</body>'), "$type listed in cx_types");
        is hdr($r, 'content-type'), $type, "$type listed: Content-Type kept";
    }
    # text/html is still injected where cx_types lists more types
    injected_ok($ng->get('/types-listed/page.html'), $PAGE, $page_end, 'text/html with a longer cx_types');

    # UTF-16 HTML: not ASCII-compatible, so untouched
    my $ctl = $ng->get('/utf16-plain/page.html');
    is hdr($ctl, 'content-type'), 'text/html; charset=utf-16', 'control: UTF-16 HTML';
    my $r = $ng->get('/utf16/page.html');
    untouched_ok($r, 200, $UTF16, 'text/html; charset=utf-16', control => $ctl);

    # a non-ASCII question comes as JSON escapes
    $r = $ng->get('/tr/index.html');
    my $s = injected_ok($r, $PAGE, $page_end, 'non-ASCII survey text', survey => 'tr1');
    if ($s && $s->{data}) {
        is $s->{data}{question}, Encode::decode('UTF-8', $TR_QUESTION), 'question decodes to the configured text';
        unlike $s->{json}, qr/<|>/, 'no raw < or > in the JSON';
    }
};

subtest '11 Content-Security-Policy' => sub {
    my %csp = (
        'csp-self'    => "script-src 'self'",
        'csp-nonce'   => "script-src 'nonce-abc123' 'strict-dynamic'",
        'csp-none'    => "script-src 'none'",
        'csp-host'    => 'script-src https://cdn.example.com',
        'csp-default' => "default-src 'self'",
    );
    my $log0 = length $ng->error_log;

    my $r = $ng->get('/csp-self/index.html');
    injected_ok($r, $PAGE, $page_end, "script-src 'self'");
    is hdr($r, 'content-security-policy'), $csp{'csp-self'}, "'self': CSP header unchanged";

    $r = $ng->get('/csp-nonce/index.html');
    injected_ok($r, $PAGE, $page_end, "nonce + strict-dynamic", nonce => 'abc123');
    is hdr($r, 'content-security-policy'), $csp{'csp-nonce'}, 'nonce: CSP header unchanged';

    for my $k ('csp-none', 'csp-host') {
        my $ctl = $ng->get("/$k-plain/index.html");
        $r = $ng->get("/$k/index.html");
        untouched_ok($r, 200, $PAGE, $csp{$k}, control => $ctl);
        is hdr($r, 'content-security-policy'), $csp{$k}, "$k: CSP header unchanged";
    }
    like substr($ng->error_log, $log0), qr/\[info\][^\n]*\bcx\b[^\n]*Content-Security-Policy/,
        'blocked by CSP: an info line says why';

    $r = $ng->get('/csp-default/index.html');
    injected_ok($r, $PAGE, $page_end, "default-src 'self'");
    is hdr($r, 'content-security-policy'), $csp{'csp-default'}, 'default-src: CSP header unchanged';

    $r = $ng->get('/csp-ro/index.html');
    injected_ok($r, $PAGE, $page_end, "Report-Only 'none'");
    is hdr($r, 'content-security-policy-report-only'), "script-src 'none'",
        'Report-Only: header unchanged';
    ok !defined hdr($r, 'content-security-policy'), 'Report-Only: no enforcing policy added';

    # a <meta> policy the module cannot honour: no widget in the page
    $r = $ng->get('/meta-csp.html');
    is $r->{status}, 200, 'meta CSP: 200';
    is count_prompts($r->{body}), 0, "meta CSP script-src 'none': no widget";
    ok $r->{body} eq $META_CSP, 'meta CSP: body byte-identical';
};

subtest '11 Content-Security-Policy sandbox' => sub {
    # without allow-scripts no script runs; allow-scripts without
    # allow-same-origin gives the page an opaque origin, from which the
    # widget's answers could never be posted: both untouched
    my %blocked = (
        'csp-sbx'         => 'sandbox',
        'csp-sbx-forms'   => 'sandbox allow-forms allow-same-origin',
        'csp-sbx-scripts' => 'sandbox allow-scripts',
        'csp-sbx-case'    => 'SandBox Allow-Forms',
        'csp-sbx-second'  => "script-src 'self' + sandbox (second header)",
        'csp-sbx-comma'   => "script-src 'self', sandbox allow-scripts (one header)",
    );
    my $log0 = length $ng->error_log;

    for my $k (sort keys %blocked) {
        my $ctl = $ng->get("/$k-plain/index.html");
        my $r = $ng->get("/$k/index.html");
        untouched_ok($r, 200, $PAGE, $blocked{$k}, control => $ctl);
        is_deeply [ hdr_all($r, 'content-security-policy') ],
            [ hdr_all($ctl, 'content-security-policy') ], "$blocked{$k}: CSP headers unchanged";
    }
    like substr($ng->error_log, $log0), qr/\[info\][^\n]*\bcx\b[^\n]*Content-Security-Policy/,
        'blocked by sandbox: an info line says why';

    # the same from an upstream that sends the two policy headers itself
    my $r = $ng->get('/csp-sbx-up/page.html');
    untouched_ok($r, 200, $PAGE, 'upstream sandbox (second header)');
    is_deeply [ hdr_all($r, 'content-security-policy') ], [ "script-src 'self'", 'sandbox' ],
        'upstream sandbox: both CSP headers passed on';

    # scripts and the page's own origin: the widget runs and can answer
    $r = $ng->get('/csp-sbx-ok/index.html');
    injected_ok($r, $PAGE, $page_end, 'sandbox allow-scripts allow-same-origin');
    ok defined cx_cookie_from($r, 'cx'), 'sandbox allow-scripts allow-same-origin: visitor cookie set';
    $r = $ng->get('/csp-sbx-ok-case/index.html');
    injected_ok($r, $PAGE, $page_end, "script-src 'self' + SANDBOX ALLOW-SAME-ORIGIN Allow-Scripts");
    $r = $ng->get('/csp-sbx-up-ok/page.html');
    injected_ok($r, $PAGE, $page_end, 'upstream sandbox allow-scripts allow-same-origin');

    # a Report-Only sandbox blocks nothing
    $r = $ng->get('/csp-sbx-ro/index.html');
    injected_ok($r, $PAGE, $page_end, 'Report-Only sandbox');
    is hdr($r, 'content-security-policy-report-only'), 'sandbox', 'Report-Only sandbox: header unchanged';
};

subtest '12 each response gets its own nonce' => sub {
    my $a = $ng->get('/csp-var/index.html?n=aaa111');
    my $sa = injected_ok($a, $PAGE, $page_end, 'nonce aaa111', nonce => 'aaa111');
    my $cookie = cx_cookie_from($a, 'cx');
    my $b = $ng->get('/csp-var/index.html?n=bbb222', Cookie => "cx=$cookie");
    my $sb = injected_ok($b, $PAGE, $page_end, 'nonce bbb222 (same visitor)', nonce => 'bbb222');
    unlike $b->{body}, qr/aaa111/, 'second response has nothing of the first nonce';
    unlike $a->{body}, qr/bbb222/, 'first response has nothing of the second nonce';
    is hdr($b, 'content-security-policy'), "script-src 'nonce-bbb222' 'strict-dynamic'",
        'CSP header of the second response unchanged';
    ok !defined hdr($b, 'set-cookie'), 'known visitor: no new cookie';
    isnt $sa->{data}{token}, $sb->{data}{token}, 'each response has its own token'
        if $sa && $sb && $sa->{data} && $sb->{data};
};

subtest '13 Cache-Control private on prompts; untouched without a prompt' => sub {
    my $ctl0 = $ng->get('/plain/index.html');
    my $r = $ng->get('/cc/index.html');
    injected_ok($r, $PAGE, $page_end, 'add_header public, s-maxage');
    is_deeply [ hdr_all($r, 'cache-control') ], ['private, no-store'],
        'add_header: exactly one Cache-Control: private, no-store (24)';

    $r = $ng->get('/cc-up/page.html');
    injected_ok($r, $PAGE, $page_end, 'upstream public, s-maxage');
    is_deeply [ hdr_all($r, 'cache-control') ], ['private, no-store'],
        'upstream: exactly one Cache-Control: private, no-store (24)';

    $r = $ng->get('/cc-expires/index.html');
    injected_ok($r, $PAGE, $page_end, 'expires 1h');
    is_deeply [ hdr_all($r, 'cache-control') ], ['private, no-store'],
        'expires: Cache-Control: private, no-store (24)';

    $r = $ng->get('/index.html');
    is_deeply [ hdr_all($r, 'cache-control') ], ['private, no-store'],
        'no Cache-Control before: private, no-store';

    # a visit without a prompt sets the cookie: private, the site's max-age kept
    $r = $ng->get('/cc-visit/index.html');
    is $r->{body}, $PAGE, 'touchpoint without a prompt: body unchanged';
    ok defined cx_cookie_from($r, 'cx'), 'touchpoint without a prompt: Set-Cookie';
    is_deeply [ hdr_all($r, 'cache-control') ], ['private, max-age=60'],
        'touchpoint without a prompt: Cache-Control: private, max-age=60 (no no-store)';
    is hdr($r, 'etag'), hdr($ctl0, 'etag'), 'touchpoint without a prompt: ETag kept';

    my $ctl = $ng->get('/cc-plain/index.html');
    is_deeply [ hdr_all($ctl, 'cache-control') ], ['public, max-age=60, s-maxage=300'],
        'control: public, max-age=60, s-maxage=300';
    $r = $ng->get('/cc0/index.html');
    untouched_ok($r, 200, $PAGE, 'sample=0% (no prompt)', control => $ctl);
    is hdr($r, 'content-length'), length $PAGE, 'no prompt: Content-Length kept';
    is hdr($r, 'etag'), hdr($ctl, 'etag'), 'no prompt: strong ETag kept';
    is hdr($r, 'accept-ranges'), 'bytes', 'no prompt: Accept-Ranges kept';
};

subtest '14 Cache-Control: no-transform untouched' => sub {
    my $ctl = $ng->get('/nt-plain/index.html');
    my $r = $ng->get('/nt/index.html');
    untouched_ok($r, 200, $PAGE, 'no-transform', control => $ctl);
    is_deeply [ hdr_all($r, 'cache-control') ], ['public, no-transform, max-age=60'],
        'no-transform: Cache-Control unchanged';
};

subtest '15 subrequests: one widget per page' => sub {
    # the fragment's location prompts when asked directly
    my $direct = $ng->get('/frag/frag.html');
    injected_ok($direct, $FRAG, index($FRAG, '</body>'), 'fragment location asked directly');

    # SSI include of it
    (my $ssi = $SSI_PAGE) =~ s/<!--#.*?-->/$FRAG/;
    my $r = $ng->get('/ssi/page.html');
    injected_ok($r, $ssi, rindex($ssi, '</body>'), 'SSI include');
    is ncookies($r), 1, 'SSI: one Set-Cookie';

    # add_before_body / add_after_body
    my $add = $BEFORE . $PAGE . $AFTER;
    $r = $ng->get('/addition/index.html');
    injected_ok($r, $add, length($BEFORE) + $page_end, 'add_before_body + add_after_body');
    is ncookies($r), 1, 'addition: one Set-Cookie';

    # auth_request to a prompting location
    $r = $ng->get('/auth/index.html');
    injected_ok($r, $PAGE, $page_end, 'auth_request');
    is ncookies($r), 1, 'auth_request: one Set-Cookie';
};

unlike $ng->error_log, qr/\[(?:alert|crit|emerg)\]|out of memory|worker process \d+ exited on signal/,
    'no alert, crash or out-of-memory in the error log';

done_testing;
