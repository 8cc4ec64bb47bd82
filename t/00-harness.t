#!/usr/bin/perl
# Self-test of t/lib/CXTest.pm against plain nginx (no ngx_cx module), so the
# harness is known to work before any module test relies on it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;

my $page = "<html><body>\n<p>static <b>page</b></p>\n</body></html>\n";

# SSI drops Content-Length, so an HTTP/1.1 response to /ssi.html is chunked.
my $ssi = "<html><body>\n<p>before</p>\n"
    . '<!--# echo var="ssi_word" -->' . "\n"
    . "<p>after</p>\n</body></html>\n";

my $ng = cx_nginx(
    no_module => 1,
    ports     => 2,
    files     => {
        'html/index.html' => $page,
        'html/ssi.html'   => $ssi,
        'html/port.txt'   => "second port %%PORT1%%\n",
    },
    conf => <<'CONF',
    server {
        listen 127.0.0.1:%%PORT%%;
        root html;

        location = /hello {
            add_header X-Twice one;
            add_header X-Twice two;
            return 200 "hello from %%PORT%%\n";
        }
        location = /echo {
            client_max_body_size 1k;
            return 200 "$request_method $content_type $content_length\n";
        }
        location = /ssi.html {
            ssi on;
            set $ssi_word "inserted";
        }
        location = /cookie {
            add_header Set-Cookie "other=x; Path=/";
            add_header Set-Cookie "cx=abc.def; Path=/; Max-Age=60; HttpOnly; SameSite=Lax";
            return 204;
        }
    }
    server {
        listen 127.0.0.1:%%PORT1%%;
        return 200 "second server\n";
    }
CONF
);

ok -d $ng->prefix, 'prefix exists';
is sprintf('%o', (stat $ng->prefix)[2] & 07777), '755', 'prefix is world-traversable';
isnt $ng->port, $ng->port(1), 'two distinct ports';
like $ng->pid, qr/^\d+$/, 'master pid known';
my @workers = $ng->worker_pids;
is scalar(@workers), 1, 'one worker process';

# static file
my $r = $ng->get('/index.html');
is $r->{status}, 200, 'static: 200';
is $r->{version}, '1.1', 'static: HTTP/1.1';
is $r->{body}, $page, 'static: exact body';
is $r->{headers}{'content-length'}, length($page), 'static: Content-Length';
is $r->{headers}{'content-type'}, 'text/html', 'static: Content-Type';
is $r->{headers}{connection}, 'close', 'static: Connection: close';
is $r->{chunked}, 0, 'static: not chunked';
like $r->{raw_headers}, qr{^HTTP/1\.1 200 OK\r\n.*\r\n\r\n\z}s, 'raw headers kept';
is $r->{raw}, $r->{raw_headers} . $page, 'raw holds every byte';

# return, repeated headers, substitution
$r = $ng->get('/hello');
is $r->{status}, 200, 'return: 200';
is $r->{body}, 'hello from ' . $ng->port . "\n", 'return: body with %%PORT%% substituted';
is_deeply $r->{headers}{'x-twice'}, [qw(one two)], 'repeated header -> arrayref';
is_deeply [ grep { /^X-Twice$/i } @{ $r->{header_list} } ], [qw(X-Twice X-Twice)],
    'header_list keeps order and case';

is $ng->get('/missing')->{status}, 404, '404 for a missing file';
is $ng->req(port => $ng->port(1), path => '/')->{body}, "second server\n", 'port(1) server';
is $ng->get('/port.txt')->{body}, 'second port ' . $ng->port(1) . "\n", 'files get %%PORT1%%';

# chunked
$r = $ng->get('/ssi.html');
is $r->{status}, 200, 'ssi: 200';
is $r->{chunked}, 1, 'ssi: chunked';
ok !exists $r->{headers}{'content-length'}, 'ssi: no Content-Length';
(my $expect = $ssi) =~ s/<!--#.*?-->/inserted/;
is $r->{body}, $expect, 'ssi: de-chunked body';
like $r->{body_raw}, qr/\r\n0\r\n\r\n\z/, 'ssi: raw body ends with the last chunk';
isnt $r->{body_raw}, $r->{body}, 'ssi: raw differs from decoded';

# HTTP/1.0: no chunking, close-delimited body
$r = $ng->req(path => '/ssi.html', http => '1.0');
is $r->{status}, 200, '1.0: 200';
is $r->{version}, '1.1', '1.0: nginx answers HTTP/1.1 status line';
is $r->{chunked}, 0, '1.0: not chunked';
is $r->{body}, $expect, '1.0: same body';
ok !$r->{error}, '1.0: no error';

# HEAD
$r = $ng->head('/index.html');
is $r->{status}, 200, 'HEAD: 200';
is $r->{body}, '', 'HEAD: no body';
is $r->{headers}{'content-length'}, length($page), 'HEAD: Content-Length of GET';

# POST body and JSON shortcut
$r = $ng->post_json('/echo', '{"a":1}');
is $r->{body}, "POST application/json 7\n", 'post_json: method, type, length';
$r = $ng->req(method => 'POST', path => '/echo', body => 'x' x 4096,
    headers => ['Content-Type' => 'text/plain']);
is $r->{status}, 413, 'body over client_max_body_size: 413';

# cookies
$r = $ng->get('/cookie');
is $r->{status}, 204, 'cookie: 204';
is cx_cookie_from($r, 'cx'), 'abc.def', 'cx_cookie_from: value';
is cx_cookie_from($r, 'other'), 'x', 'cx_cookie_from: another cookie';
is cx_cookie_from($r, 'none'), undef, 'cx_cookie_from: absent';
my $a = cx_cookie_attrs($r, 'cx');
is $a->{'max-age'}, 60, 'cx_cookie_attrs: Max-Age';
is $a->{samesite}, 'Lax', 'cx_cookie_attrs: SameSite';
ok $a->{httponly}, 'cx_cookie_attrs: HttpOnly flag';

# connection refused is reported, not fatal
{
    my $dead = cx_free_ports(1);
    local $SIG{__WARN__} = sub { };
    no warnings 'redefine';
    local *Test::More::diag = sub { };
    $r = $ng->req(port => $dead, path => '/');
    is $r->{status}, 0, 'refused: status 0';
    like $r->{error}, qr/connect/, 'refused: error says connect';
}

# wait_for
my $n = 0;
my $v = wait_for { ++$n >= 3 } 2;
is $v, 1, 'wait_for returns the true value';
is $n, 3, 'wait_for polls until true';
$v = wait_for { 0 } 0.3;
ok !$v, 'wait_for times out false';

# access and error logs
like $ng->access_log, qr{"GET /index.html HTTP/1.1" 200}, 'access log written';
like $ng->error_log, qr/start worker process/, 'error log at info level';

# reload: new workers, old ones gone
my @before = $ng->worker_pids;
ok $ng->reload, 'reload';
my @after = $ng->worker_pids;
is scalar(@after), 1, 'reload: one worker';
isnt "@after", "@before", 'reload: new worker pid';
ok !kill(0, $before[0]), 'reload: old worker exited';
is $ng->get('/hello')->{status}, 200, 'serves after reload';

# reload with a new configuration, and one nginx rejects
ok $ng->reload(conf => <<'CONF'), 'reload with a new conf';
    server { listen 127.0.0.1:%%PORT%%; return 200 "v2\n"; }
CONF
is $ng->get('/')->{body}, "v2\n", 'new conf in effect';
my $pids = join ' ', $ng->worker_pids;
is $ng->reload(conf => "    server { listen 127.0.0.1:%%PORT%%; bogus_directive; }\n",
    may_fail => 1), 0, 'reload with a broken conf reports failure';
is join(' ', $ng->worker_pids), $pids, 'broken reload keeps the workers';
is $ng->get('/')->{body}, "v2\n", 'still serving the old conf';
eval { $ng->reload };
like $@, qr/reload failed: \[emerg\].*bogus_directive/, 'reload dies without may_fail';

# restart with several workers
my $old_master = $ng->pid;
$ng->restart(workers => 2, conf => "    server { listen 127.0.0.1:%%PORT%%; return 200 \"v3\\n\"; }\n");
isnt $ng->pid, $old_master, 'restart: new master';
ok !kill(0, $old_master), 'restart: old master gone';
is scalar($ng->worker_pids), 2, 'restart: two workers';
is $ng->get('/')->{body}, "v3\n", 'restart: serving';

# stop leaves nothing
my @w = $ng->worker_pids;
my $master = $ng->pid;
$ng->stop;
ok !kill(0, $master), 'stop: master gone';
ok !(grep { kill 0, $_ } @w), 'stop: workers gone';
ok !$ng->running, 'stop: not running';
my $probe = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ng->port, Proto => 'tcp');
ok !$probe, 'stop: port closed';

# a killed master: stop still sweeps the orphaned worker
$ng->start;
@w = $ng->worker_pids;
kill 'KILL', $ng->pid;
$ng->stop;
ok !(grep { cx_pid_alive($_) } @w), 'kill -9 master: orphaned workers swept by stop';
SKIP: {
    skip 'the harness could not become a child subreaper here', 1 unless $CXTest::SUBREAPER;
    ok !(grep { kill 0, $_ } @w), 'kill -9 master: orphaned workers reaped, no zombie';
}

# prefix removed with the object (unless CX_KEEP)
my $prefix = $ng->prefix;
undef $ng;
ok($ENV{CX_KEEP} ? -d $prefix : !-e $prefix, 'prefix removed when the object goes');

# start-up failure dies with the error log
eval { cx_nginx(no_module => 1, conf => "    server { listen 127.0.0.1:%%PORT%%; nope; }\n") };
like $@, qr/unknown directive "nope"/, 'failed start dies with the error text';

# cx_test_config
my ($ok, $out) = cx_test_config("    server { listen 127.0.0.1:%%PORT%%; }\n", no_module => 1);
ok $ok, 'cx_test_config: good conf';
like $out, qr/syntax is ok/, 'cx_test_config: nginx says ok';
($ok, $out) = cx_test_config("    server { listen 127.0.0.1:%%PORT%%; location / { return 200 } }\n",
    no_module => 1);
ok !$ok, 'cx_test_config: broken conf fails';
like $out, qr/\[emerg\].*nginx\.conf:\d+/, 'cx_test_config: error with file:line';

# module path helpers
if ($ENV{CX_MODULE}) {     # make asan: build-asan/
    is cx_module_path(), $ENV{CX_MODULE}, 'cx_module_path';
} else {
    like cx_module_path(), qr{/build/ngx_http_cx_module\.so$}, 'cx_module_path';
}
{
    local $ENV{CX_MODULE} = '/nonexistent/mod.so';
    ok !cx_have_module(), 'cx_have_module false for a missing file';
    eval { cx_nginx(conf => '') };
    like $@, qr{module not found at /nonexistent/mod\.so}, 'missing module: clear error';
}

done_testing;
