package CXTest;

# Integration-test harness: runs a real nginx under a throw-away prefix and talks
# raw HTTP to it, so tests see the exact bytes and headers a browser would get.
# Core Perl modules only. Run tests with `prove -I t/lib t/`.
#
#   use CXTest;
#   my $ng  = cx_nginx(conf => 'server { listen 127.0.0.1:%%PORT%%; ... }');
#   my $res = $ng->get('/', 'Accept-Language' => 'tr');
#   is $res->{status}, 200;
#
# cx_nginx(%opts) -> $ng       starts nginx and waits until it listens and its
#                              workers run (10 s, else dies with the error log)
#   conf => TEXT        http-level configuration (required); %%PORT%% (= %%PORT0%%),
#                       %%PORT1%%..., %%PREFIX%% and %%REPO%% are substituted;
#                       %%CX_SITE%% in a server block is the usual site: listen
#                       on the first port, root html/, cx_endpoint at /cx/,
#                       cx_report at /cx-admin/
#   ports => N          loopback ports to allocate (default 1)
#   workers => N        worker_processes (default 1)
#   files => {REL => CONTENT}   files under the prefix (substituted too)
#   main_conf => TEXT   extra main-context directives
#   no_module => 1      do not load_module ngx_cx (plain nginx)
#   module => PATH      module .so (default cx_module_path())
#   prefix => DIR       use DIR instead of a temp dir (then it is never removed)
#   start => 0          only prepare; call $ng->start later
#   env => {NAME => VALUE}  extra environment for nginx (e.g. LD_PRELOAD);
#                       the master gets it, workers inherit what it loaded
# The skeleton: load_module, worker_processes, error_log logs/error.log info,
# pid, events, http { access_log logs/access.log; temp paths under tmp/; CONF }.
#
# $ng->port($i) ports prefix pid conf_path running worker_pids (sorted; count
#   in scalar context) error_log access_log stderr_log read_file($rel)
#   write_file($rel, $content) set_conf($text)
# $ng->log_size  bytes in the error log now (to read only what comes after)
# $ng->hook_lines($file, $from) -> the error log's "cx: hook" lines about the
#   hook file $file (after byte $from)
# $ng->start; $ng->stop (QUIT, TERM after 5 s, KILL; sweeps orphaned workers)
# $ng->reload(conf => TEXT, workers => N, may_fail => 1)  HUP, waits for new
#   workers and the old ones gone; dies (or returns 0 with may_fail) on [emerg]
# $ng->restart(conf => TEXT, workers => N)  stop + start, same prefix and ports
# $ng->req(method => M, path => P, headers => [N => V, ...], body, http => '1.0'|'1.1',
#   port, host, timeout, raw_request => BYTES, read_size => N, read_pause => S)
#   -> {status, reason, version,
#   headers {lc name => value | [values]}, header_list, raw_headers, body
#   (de-chunked), body_raw, chunked, trailers, interim, raw, error}
#   Connection: close, Host and Content-Length are added unless given.
#   read_size/read_pause make a slow client: at most N bytes a read, S seconds
#   between reads.
#   Failures (refused, timeout, cut response) set {error}, status 0, and diag.
# $ng->get($path, @headers)  $ng->head($path, @headers)
# $ng->post_json($path, $json, @headers)   Content-Type: application/json
# $ng->report_json($query, $base) GET <base>report.json[?query] (base
#   /cx-admin/): in list context (decoded or undef, response); in scalar
#   context the decoded report, or {} after a diag saying what came back
# $ng->answer(event => E, token => T, cookie => C | jar => {cookie => C},
#   score => N, comment => S, now => UNIX, endpoint => '/cx/') -> response
#   POSTs {"token","event"[,"score"][,"comment"]} to <endpoint>r with the
#   visitor cookie (and X-CX-Test-Now); with jar, the jar's cookie is sent
#   and a new Set-Cookie stored back into it
#
# cx_test_config($conf, %opts) -> ($ok, $output)    `nginx -t` on the skeleton
# cx_cookie_from($res, $name) -> value (undef if not set)
# cx_cookie_attrs($res, $name) -> {lc attribute => value, flag => 1}
# wait_for { CODE } $seconds -> CODE's value once true, false on timeout
#   (mind the prototype: write `my $v = wait_for {...} 5;` or `ok((wait_for {...} 5))`)
# cx_module_path cx_have_module cx_repo_root cx_free_ports($n) cx_pid_alive($pid)
# cx_put($sock, $bytes) -> 1 once every byte is written, 0 on a write error
#   (for the tests' own upstreams)
# cx_upstream(\&serve, lifetime => S) -> port: a forked HTTP upstream on
#   loopback, one child a connection, for as many requests as nginx sends;
#   serve($sock, $path, $close) writes a response and returns true to keep
#   the connection ($close: the request said Connection: close). Stopped
#   when the test ends, and by itself after S seconds (default 600).
#
# A browser, for targeting tests: a hash that keeps the visitor cookie.
# cx_browser($name) -> {cookie => undef, name => $name}
# $ng->visit($b, $path, now => UNIX, cookie => 'extra=1', raw_cookie => S,
#   headers => [...], method => M) -> response with {prompt}: GETs as that
#   browser (its cx cookie, plus extra cookies, or exactly raw_cookie), with
#   X-CX-Test-Now; keeps the new cookie and the last prompt in $b
# cx_prompt_of($res) -> the injected prompt's JSON decoded; undef when there
#   is none, {invalid => ...} when it does not parse or comes twice
# cx_offered($res) -> the survey offered on a response, '' when none
# cx_b64url_decode($s) -> bytes of unpadded base64url, undef when it is not
# cx_b64url_encode($bytes) -> unpadded base64url
# cx_pages($html, @dirs) -> ('html/DIR/index.html' => $html, ...), for files;
#   the dir '' is html/index.html
# cx_signed_payload($value) -> the payload bytes of a signed cookie or token
#   value (PAYLOAD.MAC, base64url), undef when there is none
# cx_visitor_of($cookie) -> the visitor id (24 hex) a cx cookie value carries
#   (payload: version(1) id(12) ...), undef when it carries none
# cx_hooks_nginx(\%hooks, page => HTML, extra => TEXT, locations => TEXT,
#   files => {...}) -> $ng: an nginx for Lua hook tests: survey s1 and, for
#   each hook NAME => LUA, conf/hooks/NAME.lua, the page at html/NAME/index.html
#   and location /NAME/ { cx_touchpoint NAME; cx_prompt s1;
#   cx_target_by_lua_file hooks/NAME.lua; }; the page at html/index.html too;
#   extra: http-level lines before the survey; locations: more server lines
# cx_build_shim($dir) -> $dir/cx_synclog.so, t/lib/cx_synclog.c built with $CC (else skip_all)
# cx_prompt_conf($survey, $sample, $question) -> conf: a 64m store, an nps survey, / prompts it
#
# Every nginx started here is stopped when its object goes away, in an END
# block, and on SIGINT/SIGTERM/SIGHUP of the test, so a failing or interrupted
# test never leaves nginx behind; the prefix is removed with it.
#
# Environment:
#   CX_KEEP=1     keep the temp prefixes (their paths are printed) for post-mortems
#   CX_MODULE     path of the module .so (default <repo>/build/ngx_http_cx_module.so)
#   CX_NGINX      nginx binary (default /usr/sbin/nginx)
#   CX_NGINX_ENV  "NAME=VALUE NAME=VALUE ..." set for every nginx started here
#                 (and `nginx -t`), not for the test itself: `make asan` puts
#                 LD_PRELOAD of the sanitizer runtime and ASAN_OPTIONS there
#                 (cx_nginx_env() -> that list as a hash, for tests that run
#                 nginx themselves)
#   CX_ASAN=1     set by make asan: the module runs under ASan (t/61 skips its
#                 RSS bound; the quarantine keeps freed memory)

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Errno qw(EINTR ESRCH);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use Socket ();
use POSIX qw(WNOHANG _exit setpgid);
use Scalar::Util ();
use Time::HiRes qw(time sleep);
use JSON::PP ();
use MIME::Base64 ();

our $JSON = JSON::PP->new->utf8->canonical;

our @EXPORT = qw(cx_nginx cx_test_config cx_cookie_from cx_cookie_attrs
    wait_for cx_module_path cx_have_module cx_repo_root cx_free_ports cx_pid_alive
    cx_nginx_env cx_put cx_browser cx_prompt_of cx_offered cx_b64url_decode
    cx_b64url_encode cx_signed_payload cx_visitor_of cx_upstream cx_hooks_nginx
    cx_pages);

our $TIMEOUT = 10;    # seconds, for start-up, reload and every request

my $REPO = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)), '..', '..'));

# Every live instance, by refaddr, so END and signal handlers can stop them.
my %LIVE;
my $OWNER_PID = $$;

sub cx_repo_root { $REPO }

sub cx_module_path {
    return $ENV{CX_MODULE} || "$REPO/build/ngx_http_cx_module.so";
}

sub cx_have_module { -f cx_module_path() }

sub _nginx_bin { $ENV{CX_NGINX} || '/usr/sbin/nginx' }

# Polls CODE every 50 ms until it returns true or TIMEOUT seconds pass.
# Returns CODE's last value (false on timeout).
sub wait_for(&;$) {
    my ($code, $timeout) = @_;
    my $deadline = time + (defined $timeout ? $timeout : $TIMEOUT);
    while (1) {
        my $v = $code->();
        return $v if $v;
        return $v if time >= $deadline;
        sleep 0.05;
    }
}

# Free loopback TCP ports. All sockets stay bound until every port is known,
# so the N ports are distinct; another process may still grab one before
# nginx binds it, which is rare enough for tests.
sub cx_free_ports {
    my ($n) = @_;
    $n ||= 1;
    my @socks;
    for (1 .. $n) {
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => 0,
            Proto     => 'tcp',
            Listen    => 1,
        ) or croak "cannot bind a loopback port: $!";
        push @socks, $s;
    }
    my @ports = map { $_->sockport } @socks;
    close $_ for @socks;
    return wantarray ? @ports : $ports[0];
}

sub cx_put {
    my ($sock, $bytes) = @_;
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite $sock, $bytes, length($bytes) - $off, $off;
        if (!defined $n) {
            next if $! == EINTR;
            return 0;
        }
        $off += $n;
    }
    return 1;
}

sub cx_b64url_decode {
    my ($s) = @_;
    return undef unless defined $s && $s =~ /^[A-Za-z0-9_-]*$/;
    $s =~ tr{-_}{+/};
    $s .= '=' x ((4 - length($s) % 4) % 4);
    return MIME::Base64::decode_base64($s);
}

sub cx_b64url_encode {
    my $s = MIME::Base64::encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+\z//;
    return $s;
}

sub cx_signed_payload {
    my ($value) = @_;
    return undef unless defined $value;
    my ($p) = split /\./, $value;
    return cx_b64url_decode($p);
}

sub cx_visitor_of {
    my $b = cx_signed_payload($_[0]);
    return undef unless defined $b && length $b >= 13;
    return unpack 'H24', substr($b, 1, 12);
}

sub cx_pages {
    my ($html, @dirs) = @_;
    return map { ('html/' . ($_ eq '' ? '' : "$_/") . 'index.html' => $html) } @dirs;
}

sub cx_browser { return { cookie => undef, name => $_[0] } }

sub cx_prompt_of {
    my ($r) = @_;
    my @all = $r->{body} =~ m{<script type="application/json" id="cx-prompt"[^>]*>(.*?)</script>}gs;
    return undef unless @all;
    return { invalid => "@all" } if @all > 1;
    return eval { $JSON->decode($all[0]) } || { invalid => $all[0] };
}

sub cx_offered {
    my ($r) = @_;
    my $p = exists $r->{prompt} ? $r->{prompt}
          : $r->{status} == 200 ? cx_prompt_of($r) : undef;
    return $p ? ($p->{survey} // 'INVALID') : '';
}

sub _write_file {
    my ($path, $content) = @_;
    make_path(dirname($path), { mode => 0755 });
    open my $fh, '>', $path or croak "cannot write $path: $!";
    binmode $fh;
    print {$fh} $content;
    close $fh or croak "cannot write $path: $!";
    chmod 0644, $path;
}

sub _read_file {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    binmode $fh;
    local $/;
    my $c = <$fh>;
    return defined $c ? $c : '';
}

# The usual site: the first port, the prefix's html/, the widget and intake
# at /cx/, the reports at /cx-admin/.
our $CX_SITE = "listen 127.0.0.1:%%PORT%%;\n        root %%PREFIX%%/html;\n"
    . "        location /cx/ { cx_endpoint; }\n        location /cx-admin/ { cx_report; }";

sub _subst {
    my ($text, $ports, $prefix) = @_;
    $text =~ s/%%CX_SITE%%/$CX_SITE/g;
    $text =~ s/%%PORT(\d*)%%/
        my $i = length $1 ? $1 : 0;
        defined $ports->[$i] ? $ports->[$i]
            : croak "%%PORT$i%% used but only " . scalar(@$ports) . " port(s) allocated"
        /ge;
    $text =~ s/%%PREFIX%%/$prefix/g;
    $text =~ s/%%REPO%%/$REPO/g;
    return $text;
}

# The whole nginx.conf around the caller's http-level text.
sub _build_conf {
    my (%o) = @_;
    my $module = $o{module} || cx_module_path();
    my $conf = '';
    unless ($o{no_module}) {
        croak "ngx_cx module not found at $module (run make, or set CX_MODULE)"
            unless -f $module;
        $conf .= "load_module $module;\n";
    }
    my $workers = defined $o{workers} ? $o{workers} : 1;
    $conf .= "worker_processes $workers;\n";
    $conf .= "error_log logs/error.log info;\n";
    $conf .= "pid logs/nginx.pid;\n";
    $conf .= "$o{main_conf}\n" if defined $o{main_conf};
    $conf .= "events { worker_connections 256; }\n\n";
    $conf .= "http {\n";
    $conf .= "    access_log logs/access.log;\n";
    $conf .= "    client_body_temp_path tmp/client_body;\n";
    $conf .= "    proxy_temp_path tmp/proxy;\n";
    $conf .= "    fastcgi_temp_path tmp/fastcgi;\n";
    $conf .= "    uwsgi_temp_path tmp/uwsgi;\n";
    $conf .= "    scgi_temp_path tmp/scgi;\n\n";
    $conf .= _subst($o{conf}, $o{ports}, $o{prefix}) . "\n";
    $conf .= "}\n";
    return $conf;
}

# A prefix with conf/, logs/, html/, tmp/ that the worker user (nobody when
# the tests run as root) can traverse and read.
sub _make_prefix {
    my (%o) = @_;
    my $prefix = $o{prefix};
    if (defined $prefix) {
        make_path($prefix, { mode => 0755 });
        $prefix = abs_path($prefix);
    } else {
        $prefix = tempdir('cxtest-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    }
    chmod 0755, $prefix;
    for my $d (qw(conf logs html tmp)) {
        make_path("$prefix/$d", { mode => 0755 });
        chmod 0755, "$prefix/$d";
    }
    my $files = $o{files} || {};
    for my $rel (sort keys %$files) {
        _write_file("$prefix/$rel", _subst($files->{$rel}, $o{ports}, $prefix));
    }
    return $prefix;
}

# Runs `nginx -t` on a configuration built like cx_nginx's, without starting
# anything. Returns ($ok, $output) with nginx's stdout and stderr together.
sub cx_test_config {
    my ($conf, %o) = @_;
    croak 'cx_test_config: configuration text required' unless defined $conf;
    my @ports = cx_free_ports($o{ports} || 1);
    my $own_prefix = !defined $o{prefix};
    my $prefix = _make_prefix(%o, ports => \@ports);
    my ($ok, $out) = eval {
        _write_file("$prefix/conf/nginx.conf",
            _build_conf(%o, conf => $conf, ports => \@ports, prefix => $prefix));
        my %env = cx_nginx_env();
        local @ENV{keys %env} = values %env;
        _run_capture($TIMEOUT, _nginx_bin(), '-p', "$prefix/", '-c', 'conf/nginx.conf', '-t');
    };
    my $err = $@;
    remove_tree($prefix) if $own_prefix && !$ENV{CX_KEEP};
    die $err if $err;
    return ($ok, $out);
}

# CX_NGINX_ENV as (NAME => VALUE, ...): the environment every nginx gets.
sub cx_nginx_env {
    my %env;
    for (split ' ', $ENV{CX_NGINX_ENV} // '') {
        my ($k, $v) = /\A([A-Za-z_][A-Za-z0-9_]*)=(.*)\z/s
            or croak "CX_NGINX_ENV: not NAME=VALUE: $_";
        $env{$k} = $v;
    }
    return %env;
}

# Runs a command with a time limit; returns (exit status == 0, output).
sub _run_capture {
    my ($timeout, @cmd) = @_;
    pipe(my $r, my $w) or croak "pipe: $!";
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        close $r;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $w;
        open STDERR, '>&', $w;
        { no warnings "exec"; exec { $cmd[0] } @cmd; }
        print STDERR "exec $cmd[0]: $!\n";
        _exit(127);
    }
    close $w;
    my $out = '';
    my $sel = IO::Select->new($r);
    my $deadline = time + $timeout;
    while (1) {
        my $left = $deadline - time;
        if ($left <= 0) {
            kill 'KILL', $pid;
            $out .= "\n[CXTest: $cmd[0] timed out after ${timeout}s]\n";
            last;
        }
        next unless $sel->can_read($left);
        my $n = sysread $r, my $buf, 65536;
        next if !defined $n && $! == EINTR;
        last unless $n;
        $out .= $buf;
    }
    close $r;
    waitpid $pid, 0;
    return ($? == 0 ? 1 : 0, $out);
}

# Creates a prefix, writes the configuration and files, starts nginx and waits
# until it listens. Options: see the top of this file.
sub cx_nginx {
    my (%o) = @_;
    croak 'cx_nginx: conf => ... required' unless defined $o{conf};
    _install_signal_handlers();
    my @ports = cx_free_ports($o{ports} || 1);
    my $self = bless {
        opts       => \%o,
        ports      => \@ports,
        own_prefix => !defined $o{prefix},
        workers    => defined $o{workers} ? $o{workers} : 1,
        known      => {},    # pid => starttime of every worker ever seen
    }, 'CXTest::Nginx';
    $self->{prefix} = _make_prefix(%o, ports => \@ports);
    $LIVE{0 + $self} = $self;
    Scalar::Util::weaken($LIVE{0 + $self});
    $self->set_conf($o{conf});
    $self->start unless defined $o{start} && !$o{start};
    return $self;
}

# Orphaned workers (their master killed by a test) are reparented to us
# instead of PID 1, which on some machines never reaps them, so stop() can
# reap them and leave no zombie behind. Best effort: Linux x86_64/aarch64.
my $subreaper_done;
our $SUBREAPER = 0;    # true once prctl succeeded
sub _become_subreaper {
    return if $subreaper_done++;
    require Config;
    my $nr = $Config::Config{archname} =~ /^x86_64/ ? 157
           : $Config::Config{archname} =~ /^aarch64/ ? 167 : undef;
    return unless $^O eq 'linux' && defined $nr;
    my $rc = eval { syscall($nr, 36, 1, 0, 0, 0) };    # prctl(PR_SET_CHILD_SUBREAPER, 1)
    $SUBREAPER = 1 if defined $rc && $rc == 0;
}

sub _install_signal_handlers {
    _become_subreaper();
    for my $sig (qw(INT TERM HUP)) {
        next if defined $SIG{$sig} && $SIG{$sig} ne 'DEFAULT';
        $SIG{$sig} = sub { _stop_all(); exit 128 + ($sig eq 'INT' ? 2 : $sig eq 'TERM' ? 15 : 1) };
    }
}

sub _stop_all {
    return unless $$ == $OWNER_PID;    # a forked test child must not stop the parent's nginx
    for my $self (grep { defined } values %LIVE) {
        eval { $self->_cleanup };
    }
}

sub cx_hooks_nginx {
    my ($hooks, %o) = @_;
    my $page = $o{page} // "<html><body>\n<p>page</p>\n</body></html>\n";
    my %f = ('html/index.html' => $page, %{ $o{files} || {} });
    my $locs = $o{locations} // '';
    for my $name (sort keys %$hooks) {
        $f{"conf/hooks/$name.lua"} = $hooks->{$name};
        $f{"html/$name/index.html"} = $page;
        $locs .= "        location /$name/ { cx_touchpoint $name; cx_prompt s1; "
            . "cx_target_by_lua_file hooks/$name.lua; }\n";
    }
    my $extra = $o{extra} // '';
    return cx_nginx(files => \%f, conf => <<"CONF");
    cx_store %%PREFIX%%/cxdata max_size=64m;
    $extra
    cx_survey s1 { type nps; question "Q?"; }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%PREFIX%%/html;
        location /cx/ { cx_endpoint; }
$locs    }
CONF
}

my @UPSTREAMS;

sub cx_upstream {
    my ($serve, %o) = @_;
    my $listener = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Proto => 'tcp', Listen => 64, ReuseAddr => 1) or croak "listen: $!";
    my $port = $listener->sockport;
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid) {
        close $listener;
        push @UPSTREAMS, $pid;
        return $port;
    }
    $SIG{PIPE} = 'IGNORE';
    $SIG{CHLD} = 'IGNORE';
    $SIG{ALRM} = sub { _exit(0) };
    alarm($o{lifetime} || 600);
    while (1) {
        my $c = $listener->accept or next;
        my $child = fork;
        if (!defined $child || $child) { close $c; next }
        alarm 60;
        binmode $c;
        setsockopt($c, Socket::IPPROTO_TCP(), Socket::TCP_NODELAY(), 1);
        my $sel = IO::Select->new($c);
        my $buf = '';
        while (1) {
            while ($buf !~ /\r\n\r\n/) {
                last unless $sel->can_read(10);
                my $n = sysread $c, my $more, 4096;
                _exit(0) unless $n;
                $buf .= $more;
            }
            my $end = index $buf, "\r\n\r\n";
            _exit(0) if $end < 0;
            my $req = substr $buf, 0, $end + 4, '';
            my ($path) = $req =~ m{^[A-Z]+ (\S+)} or _exit(0);
            my $close = $req =~ /^Connection:\s*close/mi ? 1 : 0;
            last unless $serve->($c, $path, $close);
        }
        close $c;
        _exit(0);
    }
}

END {
    my $status = $?;
    _stop_all();
    if ($$ == $OWNER_PID) {
        for my $pid (@UPSTREAMS) { kill 'TERM', $pid; waitpid $pid, 0 }
    }
    $? = $status;
}

# Returns the cookie NAME's value from the response's Set-Cookie headers
# (the last one if several set it), or undef.
sub cx_cookie_from {
    my ($res, $name) = @_;
    my ($value) = _find_cookie($res, $name);
    return $value;
}

# Returns a hashref of the attributes (lower-case names; flags map to 1) of the
# cookie NAME set by the response, or undef.
sub cx_cookie_attrs {
    my ($res, $name) = @_;
    my (undef, $attrs) = _find_cookie($res, $name);
    return $attrs;
}

sub _find_cookie {
    my ($res, $name) = @_;
    my $h = $res->{headers}{'set-cookie'};
    return unless defined $h;
    my @found;
    for my $line (ref $h ? @$h : ($h)) {
        my ($pair, @attrs) = split /\s*;\s*/, $line;
        next unless defined $pair;
        my ($n, $v) = split /=/, $pair, 2;
        next unless defined $v && $n =~ /^\s*\Q$name\E\s*$/;
        $v =~ s/^"(.*)"$/$1/;
        my %a;
        for (@attrs) {
            my ($an, $av) = split /=/, $_, 2;
            $a{ lc $an } = defined $av ? $av : 1;
        }
        @found = ($v, \%a);
    }
    return @found;
}

# ---- HTTP client ---------------------------------------------------------

# Sends one request over a fresh connection and returns a hashref:
#   status, reason, version, headers {lc name => value | [values]},
#   header_list [name, value, ...] in order, raw_headers, body (de-chunked),
#   body_raw (as received), chunked 0/1, trailers, raw (every byte received),
#   error (set when the connection failed, timed out or the response is cut).
sub _request {
    my (%o) = @_;
    my $host    = $o{host} || '127.0.0.1';
    my $port    = $o{port} or croak 'request: port required';
    my $method  = $o{method} || 'GET';
    my $path    = defined $o{path} ? $o{path} : '/';
    my $http    = $o{http} || '1.1';
    my $timeout = $o{timeout} || $TIMEOUT;
    my @hdrs    = @{ $o{headers} || [] };
    my $body    = $o{body};

    my $req = $o{raw_request};
    if (!defined $req) {
        my %have;
        for (my $i = 0; $i < @hdrs; $i += 2) { $have{ lc $hdrs[$i] } = 1 }
        $req = "$method $path HTTP/$http\r\n";
        $req .= "Host: $host:$port\r\n" unless $have{host};
        $req .= "Connection: close\r\n" unless $have{connection};
        if (defined $body && !$have{'content-length'} && !$have{'transfer-encoding'}) {
            $req .= 'Content-Length: ' . length($body) . "\r\n";
        }
        for (my $i = 0; $i < @hdrs; $i += 2) { $req .= "$hdrs[$i]: $hdrs[$i+1]\r\n" }
        $req .= "\r\n";
        $req .= $body if defined $body;
    }

    my %res = (status => 0, headers => {}, header_list => [], raw_headers => '',
        body => '', body_raw => '', raw => '', chunked => 0);
    my $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
        Proto => 'tcp', Timeout => $timeout);
    if (!$sock) {
        $res{error} = "connect $host:$port: $!";
        return _report(\%res);
    }
    binmode $sock;
    my $deadline = time + $timeout;
    my $sel = IO::Select->new($sock);
    my $off = 0;
    while ($off < length $req) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_write($left)) { $res{error} = 'timeout writing request'; last }
        my $n = syswrite $sock, $req, 65536, $off;
        if (!defined $n) {
            next if $! == EINTR;
            # The server may answer early (413, 400) and close: read what it said.
            $res{write_error} = "write: $!";
            last;
        }
        $off += $n;
    }

    my $head_only = uc($method) eq 'HEAD';
    my $eof = 0;
    while (!$res{error}) {
        last if _parse_response(\%res, $head_only, $eof);
        if ($eof) { $res{error} = 'connection closed before the response was complete'; last }
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left)) { $res{error} = 'timeout reading response'; last }
        my $n = sysread $sock, my $buf, $o{read_size} || 65536;
        sleep $o{read_pause} if $o{read_pause};
        if (!defined $n) {
            next if $! == EINTR;
            $res{error} = "read: $!";
            last;
        }
        if ($n == 0) { $eof = 1; next }
        $res{raw} .= $buf;
    }
    close $sock;
    return _report(\%res);
}

sub _report {
    my ($res) = @_;
    if ($res->{error} && Test::More->can('diag')) {
        Test::More::diag("CXTest request: $res->{error}");
    }
    return $res;
}

# Tries to parse $res->{raw}; returns true once the response is complete.
# Interim 1xx responses are skipped (kept in raw and in {interim}).
sub _parse_response {
    my ($res, $head_only, $eof) = @_;
    my $raw = $res->{raw};
    my $start = 0;
    my ($head, $body_start);
    while (1) {
        my $end = index $raw, "\r\n\r\n", $start;
        return 0 if $end < 0;
        $head = substr $raw, $start, $end - $start;
        $body_start = $end + 4;
        last unless $head =~ m{^HTTP/\d\.\d 1\d\d};
        push @{ $res->{interim} }, $head;
        $start = $body_start;
    }

    my ($status_line, @lines) = split /\r\n/, $head;
    my ($version, $status, $reason) = $status_line =~ m{^HTTP/(\d\.\d) (\d{3})(?: (.*))?$};
    if (!defined $status) {
        $res->{error} = "bad status line: $status_line";
        return 1;
    }
    my (%h, @list);
    for my $l (@lines) {
        my ($n, $v) = $l =~ /^([^:]+):\s*(.*?)\s*$/ or next;
        push @list, $n, $v;
        my $k = lc $n;
        if (!exists $h{$k})      { $h{$k} = $v }
        elsif (ref $h{$k})       { push @{ $h{$k} }, $v }
        else                     { $h{$k} = [ $h{$k}, $v ] }
    }
    @$res{qw(version status reason headers header_list raw_headers)} =
        ($version, 0 + $status, defined $reason ? $reason : '', \%h, \@list, "$head\r\n\r\n");

    my $rest = substr $raw, $body_start;
    $res->{body_raw} = $rest;
    if ($head_only || $status == 204 || $status == 304) {
        $res->{body} = '';
        return 1;
    }
    my $te = $h{'transfer-encoding'};
    if (defined $te && (ref $te ? "@$te" : $te) =~ /chunked/i) {
        $res->{chunked} = 1;
        my ($body, $done, $trailers, $err) = _dechunk($rest);
        if ($err) { $res->{error} = $err; return 1 }
        $res->{body} = $body;
        if ($done) { $res->{trailers} = $trailers; return 1 }
        return 0;
    }
    my $cl = $h{'content-length'};
    if (defined $cl && !ref $cl && $cl =~ /^\d+$/) {
        return 0 if length($rest) < $cl;
        $res->{body} = substr $rest, 0, $cl;
        return 1;
    }
    $res->{body} = $rest;
    return $eof;    # delimited by close
}

# Returns (body, complete, trailers, error).
sub _dechunk {
    my ($data) = @_;
    my ($body, $pos) = ('', 0);
    while (1) {
        my $eol = index $data, "\r\n", $pos;
        return ($body, 0) if $eol < 0;
        my $line = substr $data, $pos, $eol - $pos;
        my ($hex) = $line =~ /^([0-9a-fA-F]+)\s*(?:;.*)?$/
            or return ($body, 0, undef, "bad chunk size line: '$line'");
        my $size = hex $hex;
        $pos = $eol + 2;
        if ($size == 0) {
            # trailers end with an empty line
            my $end = index $data, "\r\n", $pos;
            my $trailers = '';
            while ($end >= 0 && $end != $pos) {
                $trailers .= substr($data, $pos, $end - $pos) . "\r\n";
                $pos = $end + 2;
                $end = index $data, "\r\n", $pos;
            }
            return ($body, 0) if $end < 0;
            return ($body, 1, $trailers);
        }
        return ($body, 0) if length($data) < $pos + $size + 2;
        $body .= substr $data, $pos, $size;
        return ($body, 0, undef, 'chunk not followed by CRLF')
            if substr($data, $pos + $size, 2) ne "\r\n";
        $pos += $size + 2;
    }
}

# ---- the nginx instance ---------------------------------------------------

package CXTest::Nginx;

use strict;
use warnings;
use Carp qw(croak);
use POSIX qw(WNOHANG _exit setpgid);
use Time::HiRes qw(time sleep);
use File::Path qw(remove_tree);
use Scalar::Util ();

sub prefix { $_[0]{prefix} }
sub pid    { $_[0]{pid} }
sub conf_path { "$_[0]{prefix}/conf/nginx.conf" }

sub port {
    my ($self, $i) = @_;
    $i ||= 0;
    croak "port($i): only " . scalar(@{ $self->{ports} }) . ' port(s) allocated'
        unless defined $self->{ports}[$i];
    return $self->{ports}[$i];
}

sub ports { @{ $_[0]{ports} } }

# Rewrites conf/nginx.conf from new http-level text (takes effect on reload).
sub set_conf {
    my ($self, $conf) = @_;
    $self->{opts}{conf} = $conf;
    CXTest::_write_file($self->conf_path, CXTest::_build_conf(%{ $self->{opts} },
        conf => $conf, ports => $self->{ports}, prefix => $self->{prefix}));
}

# Writes a file relative to the prefix (%%PORT%%, %%PREFIX%% substituted).
sub write_file {
    my ($self, $rel, $content) = @_;
    CXTest::_write_file("$self->{prefix}/$rel",
        CXTest::_subst($content, $self->{ports}, $self->{prefix}));
}

sub read_file { CXTest::_read_file("$_[0]{prefix}/$_[1]") }

sub error_log  { CXTest::_read_file("$_[0]{prefix}/logs/error.log") }
sub access_log { CXTest::_read_file("$_[0]{prefix}/logs/access.log") }
sub log_size { length $_[0]->error_log }

sub hook_lines {
    my ($self, $file, $from) = @_;
    my $log = $self->error_log;
    $log = substr($log, $from) if $from;
    return grep { /cx: hook "[^"]*\/\Q$file\E"/ } split /\n/, $log;
}

sub stderr_log { CXTest::_read_file("$_[0]{prefix}/logs/stderr.log") }

sub running {
    my ($self) = @_;
    return 0 unless $self->{pid};
    return 0 if waitpid($self->{pid}, WNOHANG) == $self->{pid} && $self->_reaped;
    return kill(0, $self->{pid}) ? 1 : 0;
}

sub _reaped {
    my ($self) = @_;
    $self->{exit_status} = $?;
    $self->{last_pid} = delete $self->{pid};
    return 1;
}

sub start {
    my ($self) = @_;
    croak 'nginx already running' if $self->{pid};
    my $prefix = $self->{prefix};
    my @cmd = (CXTest::_nginx_bin(), '-p', "$prefix/", '-c', 'conf/nginx.conf',
        '-e', 'logs/error.log', '-g', 'daemon off;');
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        # Own process group: a Ctrl-C aimed at prove does not reach nginx
        # directly (our handler stops it), and stop() can sweep orphaned workers.
        setpgid(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$prefix/logs/stderr.log";
        open STDERR, '>&', \*STDOUT;
        # a test's own LD_PRELOAD (t/37's shim) comes after CX_NGINX_ENV's
        # (ASan's runtime must be the first library loaded)
        my %base = CXTest::cx_nginx_env();
        my %env = (%base, %{$self->{opts}{env} || {}});
        $env{LD_PRELOAD} = "$base{LD_PRELOAD}:$self->{opts}{env}{LD_PRELOAD}"
            if defined $base{LD_PRELOAD} && defined $self->{opts}{env}{LD_PRELOAD};
        $ENV{$_} = $env{$_} for keys %env;
        { no warnings "exec"; exec { $cmd[0] } @cmd; }
        print STDERR "exec $cmd[0]: $!\n";
        _exit(127);
    }
    $self->{pid} = $pid;
    $self->{pgid} = $pid;
    my $port = $self->port(0);
    my $ok = CXTest::wait_for(sub {
        return 'dead' unless $self->running;
        return 0 unless CXTest::_listening($port);
        return scalar(grep { !/shutting/ } values %{ $self->_workers }) >= $self->{workers};
    }, $CXTest::TIMEOUT);
    if (!$ok || $ok eq 'dead') {
        my $why = !$ok ? "did not listen on 127.0.0.1:$port within ${CXTest::TIMEOUT}s"
                       : 'exited during start-up';
        my $log = $self->error_log . $self->stderr_log;
        $self->_cleanup_processes;
        croak "nginx $why (prefix $prefix)\n--- error log ---\n$log";
    }
    return $self;
}

# Worker processes of the master: pid => process title.
sub _workers {
    my ($self) = @_;
    my %w;
    return \%w unless $self->{pid};
    for my $p (CXTest::_children($self->{pid})) {
        my $title = CXTest::_cmdline($p->[0]);
        next if defined $title && $title =~ /cache (manager|loader)/;
        $w{ $p->[0] } = defined $title ? $title : '';
        $self->{known}{ $p->[0] } = $p->[1];
    }
    return \%w;
}

# Pids of the master's worker processes (including ones shutting down after a
# reload), sorted.
sub worker_pids {
    my ($self) = @_;
    my @pids = sort { $a <=> $b } keys %{ $self->_workers };
    return @pids;    # the count in scalar context
}

# SIGHUP, then waits until the old workers are gone and new ones serve.
# Options: conf, workers, main_conf as for restart (conf rewritten first);
# may_fail => 1 returns 0 instead of dying when nginx rejects the new
# configuration.
sub reload {
    my ($self, %o) = @_;
    croak 'nginx not running' unless $self->running;
    my $may_fail = delete $o{may_fail};
    $self->_update(%o);
    my %old = map { $_ => 1 } $self->worker_pids;
    my $log_size = -s "$self->{prefix}/logs/error.log" || 0;
    kill 'HUP', $self->{pid};
    my $failed;
    my $ok = CXTest::wait_for(sub {
        my $new = substr $self->error_log, $log_size;
        if ($new =~ /(\[emerg\].*)/) { $failed = $1; return 'failed' }
        my @now = $self->worker_pids;
        return 0 if grep { $old{$_} } @now;
        return scalar(@now) >= $self->{workers};
    }, $CXTest::TIMEOUT);
    if ($failed || !$ok) {
        my $why = $failed || "workers not replaced within ${CXTest::TIMEOUT}s";
        return 0 if $may_fail;
        croak "nginx reload failed: $why";
    }
    return 1;
}

# stop, then start again on the same prefix and ports. Options conf, workers,
# main_conf replace the ones given to cx_nginx (the conf is rewritten).
sub restart {
    my ($self, %o) = @_;
    $self->stop;
    $self->_update(%o);
    return $self->start;
}

sub _update {
    my ($self, %o) = @_;
    return unless %o;
    for my $k (qw(workers main_conf conf)) {
        $self->{opts}{$k} = $o{$k} if exists $o{$k};
    }
    $self->{workers} = $self->{opts}{workers} if defined $self->{opts}{workers};
    $self->set_conf($self->{opts}{conf});
}

# QUIT (graceful), TERM after 5 s, KILL after 3 more; reaps the master and
# kills any worker left behind (for instance after a test killed the master).
sub stop {
    my ($self) = @_;
    $self->_cleanup_processes;
    return $self;
}

sub _cleanup_processes {
    my ($self) = @_;
    if ($self->{pid}) {
        $self->_workers;    # remember the current workers for the sweep below
        my $pid = $self->{pid};
        for my $step (['QUIT', 5], ['TERM', 3], ['KILL', 3]) {
            kill $step->[0], $pid;
            my $deadline = time + $step->[1];
            while (time < $deadline) {
                last if waitpid($pid, WNOHANG) == $pid || !kill(0, $pid);
                sleep 0.02;
            }
            last if !kill(0, $pid) || waitpid($pid, WNOHANG) == $pid;
        }
        waitpid $pid, 0 if kill 0, $pid;
        $self->_reaped;
    }
    # Workers orphaned by a killed master are no longer its children.
    my $alive = sub {
        waitpid $_, WNOHANG for keys %{ $self->{known} };    # ours if we are their subreaper
        grep { CXTest::_same_process($_, $self->{known}{$_}) } keys %{ $self->{known} };
    };
    for my $step (['NONE', 1], ['TERM', 2], ['KILL', 2]) {
        my @left = $alive->() or last;
        kill $step->[0], @left unless $step->[0] eq 'NONE';
        CXTest::wait_for(sub { !$alive->() }, $step->[1]);
    }
    $self->{known} = {};
}

sub _cleanup {
    my ($self) = @_;
    $self->_cleanup_processes;
    if ($self->{own_prefix} && -d $self->{prefix}) {
        if ($ENV{CX_KEEP}) {
            print STDERR "# CXTest: kept prefix $self->{prefix}\n" unless $self->{kept_said}++;
        } else {
            remove_tree($self->{prefix});
        }
    }
}

sub DESTROY {
    my ($self) = @_;
    return unless $$ == $OWNER_PID;
    local ($?, $@, $!);
    delete $LIVE{0 + $self};
    eval { $self->_cleanup };
}

# ---- requests ----

sub req {
    my ($self, %o) = @_;
    $o{port} ||= $self->port(0);
    return CXTest::_request(%o);
}

sub get {
    my ($self, $path, @headers) = @_;
    return $self->req(method => 'GET', path => $path, headers => \@headers);
}

sub head {
    my ($self, $path, @headers) = @_;
    return $self->req(method => 'HEAD', path => $path, headers => \@headers);
}

sub visit {
    my ($self, $b, $path, %o) = @_;
    my @h;
    push @h, 'X-CX-Test-Now' => $o{now} if defined $o{now};
    my $cookie = $o{raw_cookie};
    if (!exists $o{raw_cookie}) {
        my @cookies;
        push @cookies, "cx=$b->{cookie}" if defined $b->{cookie};
        push @cookies, $o{cookie} if defined $o{cookie};
        $cookie = join '; ', @cookies if @cookies;
    }
    push @h, Cookie => $cookie if defined $cookie;
    push @h, @{ $o{headers} || [] };
    my $r = $self->req(method => $o{method} || 'GET', path => $path, headers => \@h);
    my $set = CXTest::cx_cookie_from($r, 'cx');
    $b->{cookie} = $set if defined $set;
    $r->{prompt} = $r->{status} == 200 ? CXTest::cx_prompt_of($r) : undef;
    $b->{last_prompt} = $r->{prompt} if $r->{prompt};
    return $r;
}

sub report_json {
    my ($self, $query, $base) = @_;
    my $r = $self->get(($base // '/cx-admin/') . 'report.json'
        . (defined $query ? "?$query" : ''));
    my $j = eval { $CXTest::JSON->decode($r->{body}) };
    return ($j, $r) if wantarray;
    Test::More::diag("report.json: $r->{status} $r->{body}") unless ref $j eq 'HASH';
    return ref $j eq 'HASH' ? $j : {};
}

sub answer {
    my ($self, %o) = @_;
    my $J = $CXTest::JSON;
    my $body = '{"token":' . $J->encode($o{token} // '') . ',"event":' . $J->encode($o{event});
    $body .= ',"score":' . $o{score} if defined $o{score};
    $body .= ',"comment":' . $J->encode($o{comment}) if defined $o{comment};
    $body .= '}';
    my $cookie = $o{cookie} // ($o{jar} ? $o{jar}{cookie} : undef) // '';
    my @h = (Cookie => "cx=$cookie");
    push @h, 'X-CX-Test-Now' => $o{now} if defined $o{now};
    push @h, @{ $o{headers} } if $o{headers};
    my $r = $self->post_json(($o{endpoint} // '/cx/') . 'r', $body, @h);
    if ($o{jar}) {
        my $set = CXTest::cx_cookie_from($r, 'cx');
        $o{jar}{cookie} = $set if defined $set;
    }
    return $r;
}

sub post_json {
    my ($self, $path, $json, @headers) = @_;
    my %have = map { lc($_) => 1 } @headers[ grep { $_ % 2 == 0 } 0 .. $#headers ];
    unshift @headers, 'Content-Type' => 'application/json' unless $have{'content-type'};
    return $self->req(method => 'POST', path => $path, body => $json, headers => \@headers);
}

package CXTest;

# Live children of PID: ([pid, starttime], ...).
sub _children {
    my ($ppid) = @_;
    my @kids;
    opendir my $dh, '/proc' or return;
    for my $p (grep { /^\d+$/ } readdir $dh) {
        my $st = _stat($p) or next;
        push @kids, [ $p, $st->[19] ] if $st->[1] == $ppid;
    }
    closedir $dh;
    return @kids;
}

# Fields of /proc/PID/stat after the command name: [0]=state [1]=ppid ... [19]=starttime.
sub _stat {
    my ($pid) = @_;
    my $s = _read_file("/proc/$pid/stat");
    my $i = rindex $s, ')';
    return if $i < 0;
    return [ split ' ', substr $s, $i + 2 ];
}

sub _cmdline {
    my ($pid) = @_;
    my $c = _read_file("/proc/$pid/cmdline");
    return undef if $c eq '';
    $c =~ s/\0+/ /g;
    $c =~ s/\s+$//;
    return $c;
}

# True when PID exists and is not a zombie. (Here PID 1 may not reap orphans,
# so a worker whose master was killed can stay a zombie: kill 0 says alive.)
sub cx_pid_alive {
    my ($pid) = @_;
    my $st = _stat($pid) or return 0;
    return $st->[0] ne 'Z';
}

# True when PID still is the process that had STARTTIME (pids get reused) and is
# not a zombie.
sub _same_process {
    my ($pid, $starttime) = @_;
    my $st = _stat($pid) or return 0;
    return 0 if $st->[0] eq 'Z';
    return $st->[19] eq $starttime;
}

# Is something listening on loopback PORT? Reads /proc/net/tcp so probing does
# not open connections (which would show up in the error log).
sub _listening {
    my ($port) = @_;
    my $hex = sprintf '%04X', $port;
    my $found;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        $found = 1 if !defined $found;
        while (<$fh>) {
            my @f = split;
            next unless @f > 3;
            return 1 if $f[1] =~ /:$hex$/ && $f[3] eq '0A';
        }
    }
    return 0 if $found;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
    return $s ? 1 : 0;
}

# The preload shim of t/37 and t/39 (t/lib/cx_synclog.c), built under $dir
# with $CC (default cc); the whole test is skipped, with the compiler's
# output, when it does not build.
sub cx_build_shim {
    my ($dir) = @_;
    my $cc = $ENV{CC} || 'cc';
    my $shim = "$dir/cx_synclog.so";
    my $out = `$cc -shared -fPIC -o $shim $REPO/t/lib/cx_synclog.c -ldl 2>&1`;
    if ($? != 0) {
        require Test::More;
        Test::More::plan(skip_all => "cannot build the preload shim with $cc: $out");
    }
    return $shim;
}

# The plainest prompting site: a 64m store, the nps survey $survey asking
# $question (default "How likely?"), offered at / with sample=$sample.
sub cx_prompt_conf {
    my ($survey, $sample, $question) = @_;
    $question //= 'How likely?';
    return <<"CONF";
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_survey $survey { type nps; question "$question"; }
    server {
        %%CX_SITE%%
        location / { cx_prompt $survey sample=$sample; }
    }
CONF
}

push @EXPORT, qw(cx_build_shim cx_prompt_conf);

1;
