#!/usr/bin/perl
# The webhook client (src/ngx_http_cx_http_client.h): POSTs on nginx's own
# event loop, to this test's receivers, through a test-only driver module.
#
# t/client/ is that driver: the directive cx_client_test URL makes a
# location POST its request body to URL with ngx_http_cx_post() and answer
# with what done() said ("status 204 ms 3", "error timed out ms 1000").  It
# is compiled here, with the client's source, against the nginx tree and
# the flags of the module under test (build/objs, or build-asan/objs under
# make asan: see CX_MODULE), into a .so of its own that this test loads
# instead of ngx_cx.  The product never contains it.
#
# The receivers: a forked HTTP server that writes every request it gets to
# a file (the bytes as they came) and answers by the path's first segment
# (204, 500, never, in 1-byte pieces, ...); nginx's own TLS in front of it
# with a CA made here by openssl; a UDP DNS server that answers A 127.0.0.1
# for any name but nx.*, for nginx's resolver.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use File::Basename qw(dirname basename);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(_exit);
use Socket ();
use Time::HiRes qw(time sleep);

my $MODULE = cx_module_path();
my $BUILD  = dirname($MODULE);
my $OBJS   = "$BUILD/objs";
my $SRC    = "$BUILD/nginx-src";

plan skip_all => 'module not built (run make)' unless cx_have_module() && -f "$OBJS/Makefile";
plan skip_all => 'openssl not found' unless grep { -x "$_/openssl" } split /:/, $ENV{PATH};

my $REPO = cx_repo_root();
my $TMP = tempdir('cx-client-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CX_KEEP});
chmod 0755, $TMP;
my $T0 = time;

# ---- the driver module ---------------------------------------------------------

sub build_driver {
    open my $mf, '<', "$OBJS/Makefile" or die "$OBJS/Makefile: $!";
    my ($cflags) = grep { defined } map { /^CFLAGS\s*=\s*(.*)$/ ? $1 : undef } <$mf>;
    close $mf;
    my @inc = map { "-I$_" } ("src/core", "src/event", "src/event/modules", "src/os/unix",
        $OBJS, "src/http", "src/http/modules", "src/http/v2", "$REPO/src");
    my @objs;
    for my $c ("$REPO/t/client/ngx_http_cx_client_test_module.c",
               "$REPO/t/client/ngx_http_cx_client_test_modules.c",
               "$REPO/src/ngx_http_cx_http_client.c") {
        my $o = "$TMP/" . basename($c, '.c') . '.o';
        my $out = `cd $SRC && cc -c $cflags @inc $c -o $o 2>&1`;
        die "compiling $c:\n$out" if $?;
        push @objs, $o;
    }
    my $so = "$TMP/ngx_http_cx_client_test_module.so";
    my $out = `cc -shared $cflags @objs -o $so 2>&1`;
    die "linking $so:\n$out" if $?;
    return $so;
}

my $SO = build_driver();
ok -f $SO, 'driver module built (' . sprintf('%.1f', time - $T0) . ' s)';

# ---- certificates -----------------------------------------------------------------

sub run { my $out = `@_ 2>&1`; die "@_:\n$out" if $?; }

my $EC = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
for my $ca (qw(ca other-ca)) {
    run("openssl req -x509 $EC -keyout $TMP/$ca.key -out $TMP/$ca.pem -days 2"
        . " -subj '/CN=cx test $ca' -addext basicConstraints=critical,CA:TRUE"
        . " -addext keyUsage=critical,keyCertSign,cRLSign");
}
open my $ext, '>', "$TMP/ext.cnf" or die;
print {$ext} "subjectAltName=DNS:localhost,DNS:hook.test,IP:127.0.0.1\n"
    . "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
close $ext;
run("openssl req -new $EC -keyout $TMP/server.key -out $TMP/server.csr -subj /CN=localhost");
run("openssl x509 -req -in $TMP/server.csr -CA $TMP/ca.pem -CAkey $TMP/ca.key"
    . " -CAcreateserial -out $TMP/server.pem -days 2 -extfile $TMP/ext.cnf");
chmod 0644, glob "$TMP/*";

# ---- receivers ----------------------------------------------------------------------

my @KIDS;
# each receiver leads a process group: its children (a "never" answer
# sleeps) go with it, and do not keep prove waiting on their stdout
END { local $?; kill 'KILL', map { -$_ } @KIDS; waitpid $_, 0 for @KIDS }

my $SEEN = "$TMP/seen";
mkdir $SEEN;
chmod 0777, $SEEN;

# Reads one request (head and Content-Length body), writes it to
# seen/<id>.<pid>, answers by mode.
sub serve {
    my ($c) = @_;
    my $sel = IO::Select->new($c);
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) {
        $sel->can_read(10) or return;
        my $n = sysread $c, my $more, 4096;
        return unless $n;
        $buf .= $more;
        if ($buf =~ /^\x16/) {    # a TLS ClientHello: not for us
            cx_put($c, "HTTP/1.1 400 Bad Request\r\n\r\n");
            return;
        }
    }
    my $head = index($buf, "\r\n\r\n") + 4;
    my ($cl) = $buf =~ /^Content-Length:\s*(\d+)\r$/mi;
    while (length($buf) < $head + ($cl // 0)) {
        $sel->can_read(10) or last;
        my $n = sysread $c, my $more, 4096;
        last unless $n;
        $buf .= $more;
    }
    my ($mode, $id) = $buf =~ m{^\S+ /([\w-]+)/([\w-]+)} or return;
    open my $fh, '>', "$SEEN/.$id.$$" or die;
    binmode $fh;
    print {$fh} $buf;
    close $fh;
    rename "$SEEN/.$id.$$", "$SEEN/$id.$$";

    if ($mode eq '204') {
        cx_put($c, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    } elsif ($mode eq '500') {
        cx_put($c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops\n");
    } elsif ($mode eq 'never') {
        sleep 30;
    } elsif ($mode eq 'bytes') {
        for my $ch (split //, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n") {
            cx_put($c, $ch) or return;
            sleep 0.003;
        }
    } elsif ($mode eq 'interim') {
        cx_put($c, "HTTP/1.1 100 Continue\r\n\r\n");
        sleep 0.05;
        cx_put($c, "HTTP/1.1 102 Processing\r\nX-A: b\r\n\r\nHTTP/1.0 200 OK\r\n\r\n");
    } elsif ($mode eq 'garbage') {
        cx_put($c, "SSH-2.0-OpenSSH_9.2\r\n");
    } elsif ($mode eq 'long') {
        cx_put($c, 'HTTP/1.1 200 ' . ('a' x 6000) . "\r\n\r\n");
    } elsif ($mode eq 'bodyless') {    # close without a word
    } elsif ($mode eq 'body') {        # a body to the end of the connection
        cx_put($c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
        for my $i (1 .. 50) { cx_put($c, sprintf("line %03d %s\n", $i, 'x' x 90)) or return }
        return;
    } elsif ($mode eq 'bigbody') {
        cx_put($c, "HTTP/1.0 200 OK\r\n\r\n" . ('y' x 20000));
        return;
    } elsif ($mode eq 'chunked') {
        cx_put($c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        return;
    }
    sleep 0.2;    # let the client close first
}

sub receiver {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Proto => 'tcp', Listen => 128, ReuseAddr => 1) or die "listen: $!";
    my $port = $l->sockport;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid) { close $l; push @KIDS, $pid; return $port }
    POSIX::setpgid(0, 0);
    $SIG{PIPE} = 'IGNORE';
    $SIG{CHLD} = 'IGNORE';
    $SIG{TERM} = sub { _exit(0) };
    alarm 120;
    while (1) {
        my $c = $l->accept or next;
        my $k = fork;
        if (!defined $k || $k) { close $c; next }
        alarm 40;
        binmode $c;
        setsockopt($c, Socket::IPPROTO_TCP(), Socket::TCP_NODELAY(), 1);
        serve($c);
        _exit(0);
    }
}

# A DNS server: A 127.0.0.1 for every name, but NXDOMAIN for nx.* and
# silence for mute.*; no answer for other types.
sub dns_server {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Proto => 'udp') or die "udp: $!";
    my $port = $s->sockport;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid) { close $s; push @KIDS, $pid; return $port }
    POSIX::setpgid(0, 0);
    $SIG{TERM} = sub { _exit(0) };
    alarm 120;
    while (1) {
        my $peer = recv($s, my $q, 512, 0);
        next unless defined $peer && length $q > 12;
        my ($id) = unpack 'n', $q;
        my $pos = 12;
        my @labels;
        while ($pos < length $q) {
            my $len = ord substr $q, $pos, 1;
            $pos++;
            last if $len == 0;
            push @labels, substr $q, $pos, $len;
            $pos += $len;
        }
        my $question = substr $q, 12, $pos + 4 - 12;
        my ($qtype) = unpack 'n', substr $q, $pos, 2;
        next if @labels && $labels[0] eq 'mute';
        my $nx = @labels && $labels[0] eq 'nx';
        my $an = (!$nx && $qtype == 1) ? 1 : 0;
        my $r = pack('nnnnnn', $id, 0x8180 | ($nx ? 3 : 0), 1, $an, 0, 0) . $question;
        $r .= pack('nnnNn', 0xc00c, 1, 1, 1, 4) . pack('C4', 127, 0, 0, 1) if $an;
        send($s, $r, 0, $peer);
    }
}

my $R   = receiver();
my $DNS = dns_server();
my ($CLOSED) = cx_free_ports(1);

# ---- nginx -----------------------------------------------------------------------

my %LOC = (
    ok          => "http://127.0.0.1:$R/204/ok?x=1#frag",
    plain       => "http://127.0.0.1:$R/204/plain",
    s500        => "http://127.0.0.1:$R/500/s500",
    never       => "http://127.0.0.1:$R/never/never timeout=1000",
    refused     => "http://127.0.0.1:$CLOSED/ timeout=3000",
    bytes       => "http://127.0.0.1:$R/bytes/bytes",
    interim     => "http://127.0.0.1:$R/interim/interim",
    garbage     => "http://127.0.0.1:$R/garbage/garbage",
    long        => "http://127.0.0.1:$R/long/long",
    bodyless    => "http://127.0.0.1:$R/bodyless/bodyless",
    name        => "http://hook.test:$R/204/name",
    nx          => "http://nx.test:$R/204/nx",
    mute        => "http://mute.test:$R/204/mute timeout=500",
    many        => "http://hook.test:$R/204/many count=20",
    cancel      => "http://127.0.0.1:$R/never/cancel timeout=3000 cancel=300",
    tls         => "https://localhost:%%PORT1%%/204/tls trusted=$TMP/ca.pem",
    'tls-ip'    => "https://127.0.0.1:%%PORT1%%/204/tlsip trusted=$TMP/ca.pem",
    'tls-other' => "https://localhost:%%PORT1%%/204/tlsother trusted=$TMP/other-ca.pem",
    'tls-sys'   => "https://localhost:%%PORT1%%/204/tlssys",
    'tls-wrong' => "https://wrong.test:%%PORT1%%/204/tlswrong trusted=$TMP/ca.pem",
    'tls-plain' => "https://127.0.0.1:$R/204/tlsplain trusted=$TMP/ca.pem",
    shutdown    => "http://127.0.0.1:$R/never/shutdown timeout=2000",
    collect     => "http://127.0.0.1:$R/body/collect collect=100000",
    'collect-big' => "http://127.0.0.1:$R/bigbody/collectbig collect=10000",
    'collect-chunked' => "http://127.0.0.1:$R/chunked/collectchunked collect=10000",
    'collect-empty' => "http://127.0.0.1:$R/204/collectempty collect=100",
);

my $locations = join "\n", map { "        location = /t/$_ { cx_client_test $LOC{$_}; }" } sort keys %LOC;

my $ng = cx_nginx(
    module => $SO,
    ports  => 2,
    conf   => <<CONF,
    resolver 127.0.0.1:$DNS ipv6=off;
    resolver_timeout 2s;

    server {
        listen 127.0.0.1:%%PORT%%;
        client_body_buffer_size 64k;
$locations
    }

    server {
        listen 127.0.0.1:%%PORT1%% ssl;
        ssl_certificate $TMP/server.pem;
        ssl_certificate_key $TMP/server.key;
        location / {
            proxy_pass http://127.0.0.1:$R;
            proxy_set_header Host \$http_host;
            proxy_set_header X-SNI "[\$ssl_server_name]";
        }
    }
CONF
);

my $BODY = '{"alert":"nps_drop","value":-12,"text":"caf\xc3\xa9"}';

sub hook {
    my ($name, %o) = @_;
    my $res = $ng->req(method => 'POST', path => "/t/$name", body => $o{body} // $BODY,
        headers => $o{headers} || [], timeout => 15);
    return $res->{body} // '';
}

sub seen {
    my ($id) = @_;
    my @f = sort glob "$SEEN/$id.*";
    return wantarray ? map { local $/; open my $fh, '<', $_ or die; binmode $fh; <$fh> } @f
                     : do { local $/; return undef unless @f; open my $fh, '<', $f[0] or die; binmode $fh; <$fh> };
}

sub ms_of { $_[0] =~ /ms (\d+)/ ? $1 : -1 }

# ---- plain http --------------------------------------------------------------------

# collect: the whole body of an HTTP/1.0 answer, to the connection's end
{
    my $want = join '', map { sprintf("line %03d %s\n", $_, 'x' x 90) } 1 .. 50;
    my $r = hook('collect');
    is $r, "status 200 ms " . ms_of($r) . " body 5000 $want\n", 'collect: the 5000-byte body, whole';
    like seen('collect'), qr{^POST /body/collect HTTP/1\.0\r\n}, 'collect: the request says HTTP/1.0';
    like hook('collect-big'), qr/^error response too large ms \d+\n\z/, 'collect: a body over its bound is refused';
    like hook('collect-chunked'), qr/^error bad response ms \d+\n\z/, 'collect: a chunked answer is a bad response';
    like hook('collect-empty'), qr/^status 204 ms \d+ body 0 \n\z/, 'collect: no body, an empty one';
}

my $r = hook('ok', headers => ['X-Hook-Header' => 'X-CX-Alert: nps_drop']);
like $r, qr/^status 204 ms \d+\n\z/, '204 is told';
is seen('ok'), "POST /204/ok?x=1 HTTP/1.1\r\n"
    . "Host: 127.0.0.1:$R\r\n"
    . "User-Agent: ngx_cx\r\n"
    . "Content-Type: application/json\r\n"
    . 'Content-Length: ' . length($BODY) . "\r\n"
    . "Connection: close\r\n"
    . "X-CX-Alert: nps_drop\r\n"
    . "\r\n"
    . $BODY,
    'the receiver got exactly the request: path and query (no fragment), Host with the port, headers, body';

$r = hook('plain', body => '');
like $r, qr/^status 204 /, 'an empty body, no extra headers';
is seen('plain'), "POST /204/plain HTTP/1.1\r\nHost: 127.0.0.1:$R\r\nUser-Agent: ngx_cx\r\n"
    . "Content-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    '... sent as such';

like hook('s500'), qr/^status 500 /, '500 is told';
like hook('bytes'), qr/^status 202 /, 'a status line in 1-byte pieces';
like hook('interim'), qr/^status 200 /, 'interim 1xx responses are passed over';
like hook('garbage'), qr/^error bad response /, 'not HTTP: bad response';
like hook('long'), qr/^error bad response /, 'no status line in the first 4 KB: bad response';
like hook('bodyless'), qr/^error connection closed /, 'closed without an answer';

my $t = time;
$r = hook('never');
like $r, qr/^error timed out /, 'a receiver that never answers: timed out';
my $ms = ms_of($r);
ok $ms >= 1000 && $ms < 1600, "... after the timeout (1000 ms): $ms ms";
ok seen('never'), '... which had the whole request';

like hook('refused'), qr/^error connection refused /, 'a closed port: connection refused';

# ---- names -------------------------------------------------------------------------

like hook('name'), qr/^status 204 /, 'a host name, through nginx\'s resolver';
like seen('name'), qr{\APOST /204/name HTTP/1.1\r\nHost: hook.test:$R\r\n}, '... Host is the name with the port';
like hook('nx'), qr/^error cannot resolve host /, 'a name that does not resolve';
$r = hook('mute');
like $r, qr/^error timed out /, 'a DNS server that does not answer: timed out';
ok ms_of($r) >= 500 && ms_of($r) < 1100, '... after the timeout (500 ms): ' . ms_of($r) . ' ms';

$r = hook('many');
my @lines = split /\n/, $r;
is scalar(@lines), 20, '20 exchanges at once';
is scalar(grep { /^status 204 / } @lines), 20, '... all 204' or diag $r;
is scalar(my @all = seen('many')), 20, '... 20 requests received';
is scalar(grep { $_ eq $all[0] } @all), 20, '... all the same bytes';

# ---- https -------------------------------------------------------------------------

my $P1 = $ng->port(1);
like hook('tls'), qr/^status 204 /, 'https, verified against the trusted CA';
# nginx's TLS server proxies it to the receiver (as HTTP/1.0)
like seen('tls'), qr{\APOST /204/tls HTTP/1.0\r\n}, '... the request went through TLS';
like seen('tls'), qr{^Host: localhost:$P1\r$}m, '... Host with the port';
like seen('tls'), qr{^X-SNI: \[localhost\]\r$}m, '... SNI is the host';
like seen('tls'), qr{\r\n\r\n\Q$BODY\E\z}, '... the body';

like hook('tls-ip'), qr/^status 204 /, 'https to an IP literal: its IP in the certificate';
like seen('tlsip'), qr{^X-SNI: \[\]\r$}m, '... no SNI for an IP';

like hook('tls-other'), qr/^error certificate verify failed: unable to (get local issuer|verify the first) certificate /,
    'a certificate of another CA than the trusted one fails';
like hook('tls-sys'), qr/^error certificate verify failed: /,
    'the system CA store does not trust the test CA';
like hook('tls-wrong'), qr/^error certificate verify failed: host name mismatch /,
    'a certificate for other names fails';
like hook('tls-plain'), qr/^error TLS handshake failed /, 'https to a plain HTTP server';
ok !seen('tlsother') && !seen('tlssys') && !seen('tlswrong'), 'nothing was sent to an unverified peer';

# ---- cancel, shutdown --------------------------------------------------------------

$r = hook('cancel');
like $r, qr/^cancelled\n\z/, 'cancelled in flight';
sleep 3.2;    # past its timeout: done() must not come
like hook('plain', body => ''), qr/^status 204 /, 'nginx serves on';
my $log = $ng->read_file('logs/error.log');
unlike $log, qr/done\(\) called again|\[alert\]|\[crit\]|\[emerg\]|runtime error|Sanitizer/,
    'no done() after cancel; no alerts (nor sanitizer reports, under make asan)';
like $log, qr{webhook timed out .* while reading the webhook's response, webhook: http://127\.0\.0\.1:$R$}m,
    'the log names the webhook by its host';
unlike $log, qr{/never/}, '... never by its path (a webhook\'s secret)';

# A graceful stop waits for an exchange in flight (at most its timeout), so
# that the worker leaves no socket open.
my $pid = fork;
if (!$pid) { $ng->req(method => 'POST', path => '/t/shutdown', body => $BODY, timeout => 10); _exit(0) }
ok((wait_for { seen('shutdown') } 5), 'an exchange in flight');
$t = time;
$ng->stop;
my $took = time - $t;
waitpid $pid, 0;
ok $took > 1.0 && $took < 4.5, sprintf('a graceful stop waited for it (%.1f s)', $took);
unlike $ng->read_file('logs/error.log'), qr/open socket|\[alert\]|runtime error|Sanitizer/,
    '... and left no socket open';

# ---- configuration errors ------------------------------------------------------------

sub config_error {
    my ($conf) = @_;
    my ($ok, $out) = cx_test_config($conf, module => $SO);
    return $ok ? '' : $out;
}

like config_error('server { location / { cx_client_test ftp://x/; } }'),
    qr/"ftp:\/\/x\/" is not an http:\/\/ or https:\/\/ URL/, 'ftp: refused';
like config_error('server { location / { cx_client_test http:///x; } }'),
    qr/has no host/, 'no host: refused';
like config_error('server { location / { cx_client_test https://; } }'),
    qr/"https:\/\/" has no host/, 'nothing after the scheme: refused';
like config_error('server { location / { cx_client_test http://u:p@h/; } }'),
    qr/has a user name or password/, 'userinfo: refused';
like config_error('server { location / { cx_client_test http://h:99999/; } }'),
    qr/is invalid: invalid port/, 'a bad port: refused';
like config_error("server { location / { cx_client_test http://hook.test/; } }"),
    qr/the host "hook.test" of "http:\/\/hook.test\/" needs a "resolver" in the http block in \S+nginx.conf:\d+/,
    'a host name without a resolver: refused, naming the place';
like config_error("server { location / { cx_client_test https://127.0.0.1/ trusted=$TMP/none.pem; } }"),
    qr/cannot load the trusted certificates "\S+none.pem" in \S+nginx.conf:\d+/,
    'a trusted file that is not there: refused';
is config_error("resolver 127.0.0.1; server { location / { cx_client_test https://a.test/; }"
    . " location /b { cx_client_test https://b.test/; } }"), '', 'two https targets share the system store';

diag sprintf 't/15 took %.1f s', time - $T0;
done_testing;
