package CXClickHouse;

# A throw-away ClickHouse for the fleet tests (SPEC: fleets): Debian's
# clickhouse-server, run as the clickhouse user with a config of its own
# (HTTP and native ports on 127.0.0.1, data, logs and users under a temp
# dir), stopped by the test, also when it fails.
#
#   use CXClickHouse;
#   my $ch = cx_clickhouse() or plan skip_all => $CXClickHouse::WHY;
#   my $r = $ch->query('SELECT 1');          # {status, body}
#   $ch->stop; $ch->start;                   # a restart keeps the data
#
# cx_clickhouse(%opts) -> $ch, or undef with $CXClickHouse::WHY set when
#   clickhouse-server, the clickhouse user or setpriv are missing (the
#   caller skips); dies when it is there but does not start in 30 s.
# $ch->url  http://127.0.0.1:PORT/   $ch->http_port  $ch->dir
# Users: "default" without a password, and "cx" with the password "s3cret-cx"
# (for the tests of cx_forward's credentials), both from 127.0.0.1 only.
# $ch->query($sql, $body) POSTs $sql (and $body after it, e.g. the rows of
#   an INSERT ... FORMAT JSONEachRow) -> {status, body}
# $ch->start  $ch->stop (TERM, KILL after 10 s)  $ch->pid
# At exit every one is stopped and its dir removed (kept with CX_KEEP=1).
#
# Core Perl modules only; HTTP through CXTest's raw client is not needed:
# ClickHouse answers plain HTTP/1.1 with a length.

use strict;
use warnings;
use Carp qw(croak);
use File::Path ();
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use CXTest qw(cx_free_ports);

use Exporter 'import';
our @EXPORT = qw(cx_clickhouse);

our $WHY = '';
my @RUNNING;

# stopped whatever happened; the temp dir goes too unless CX_KEEP is set
END {
    for my $ch (@RUNNING) {
        $ch->stop;
        File::Path::remove_tree($ch->{dir}) unless $ENV{CX_KEEP};
    }
}

sub cx_clickhouse {
    my (%o) = @_;

    my $server = '/usr/sbin/clickhouse-server';
    if (!-x $server) { $WHY = 'clickhouse-server is not installed'; return undef }
    if (!defined getpwnam('clickhouse')) { $WHY = 'no clickhouse user'; return undef }
    my ($setpriv) = grep { -x } qw(/usr/bin/setpriv /bin/setpriv);
    if (!$setpriv) { $WHY = 'setpriv is missing'; return undef }
    if ($> != 0) { $WHY = 'running clickhouse-server as its user needs root'; return undef }

    my $dir = tempdir('cxch-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    my ($http, $tcp) = cx_free_ports(2);
    my $self = bless { dir => $dir, http_port => $http, tcp_port => $tcp,
                       server => $server, setpriv => $setpriv }, __PACKAGE__;

    mkdir "$dir/$_" for qw(data tmp user_files format_schemas log);
    _write("$dir/config.xml", <<"XML");
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog><console>0</console></logger>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>5368709</mark_cache_size>
    <max_concurrent_queries>20</max_concurrent_queries>
</yandex>
XML
    _write("$dir/users.xml", <<'XML');
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
        <cx><password>s3cret-cx</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></cx></users>
    <quotas><default></default></quotas>
</yandex>
XML
    my (undef, undef, $uid, $gid) = getpwnam('clickhouse');
    system('chown', '-R', "$uid:$gid", $dir) == 0 or croak "chown $dir failed";
    chmod 0755, $dir;

    push @RUNNING, $self;
    $self->start;
    return $self;
}

sub url       { "http://127.0.0.1:$_[0]{http_port}/" }
sub http_port { $_[0]{http_port} }
sub dir       { $_[0]{dir} }
sub pid       { $_[0]{pid} }

sub start {
    my ($self) = @_;
    croak 'clickhouse already running' if $self->{pid};
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>>', "$self->{dir}/log/stdout.log";
        open STDERR, '>&', \*STDOUT;
        exec($self->{setpriv}, '--reuid=clickhouse', '--regid=clickhouse', '--init-groups',
             $self->{server}, "--config-file=$self->{dir}/config.xml")
            or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    my $until = time + 30;
    while (time < $until) {
        my $r = eval { $self->query('SELECT 1') };
        return $self if $r && $r->{status} == 200;
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            croak "clickhouse-server exited at start:\n" . _tail("$self->{dir}/log/error.log")
                . _tail("$self->{dir}/log/stdout.log");
        }
        sleep 0.2;
    }
    $self->stop;
    croak "clickhouse-server did not answer in 30 s:\n" . _tail("$self->{dir}/log/error.log");
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    my $until = time + 10;
    while (time < $until) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.1;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
}

sub query {
    my ($self, $sql, $body) = @_;
    my $data = defined $body ? "$sql\n$body" : $sql;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{http_port},
                                  Proto => 'tcp', Timeout => 10)
        or return { status => 0, body => "connect: $!" };
    print $s "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        . 'Content-Length: ' . length($data) . "\r\n\r\n" . $data;
    local $/;
    my $raw = <$s> // '';
    my ($status) = $raw =~ m{^HTTP/1\.\d (\d{3})};
    my (undef, $rest) = split /\r\n\r\n/, $raw, 2;
    $rest //= '';
    if ($raw =~ /^Transfer-Encoding:\s*chunked/mi) {
        my $out = '';
        while ($rest =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr $rest, 0, $n, '';
            $rest =~ s/^\r\n//;
        }
        $rest = $out;
    }
    return { status => $status // 0, body => $rest };
}

sub _write {
    my ($file, $text) = @_;
    open my $fh, '>', $file or croak "$file: $!";
    print $fh $text;
    close $fh;
}

sub _tail {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    my @l = <$fh>;
    return join '', @l[ ($#l > 20 ? $#l - 20 : 0) .. $#l ];
}

1;
