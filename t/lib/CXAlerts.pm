package CXAlerts;

# The alert tests' webhook receivers (t/65-alerts.t, t/66-alerts-durable.t):
# t/alerts/receiver.js, a node server that logs each request as a JSON line
# and verifies its signature with the Standard Webhooks reference library.
#
#   use CXAlerts;
#   plan skip_all => $why if my $why = cx_alerts_missing();
#   CXAlerts::dir($DIR);             where the receivers' logs go (else a
#                                    temp dir of its own)
#   my $rcv = receiver($port, script => '500,204', secret => S,
#                      cert => PEM, key => PEM)    -> {log, pid, port}
#       script: what to answer, request after request, the last one
#       repeating (receiver.js); secret: the whsec_ key ($ALERT_SECRET when
#       not given, '-' for none); cert and key: HTTPS
#   stop_receiver($rcv)              SIGTERM and reap: its port is closed
#   received($rcv) -> the requests it got, in order, each {method, url,
#       headers, body, at (ms), answer, verified, error, json (the body
#       decoded)}; in scalar context how many
#   received_count($rcv) -> how many (counts lines: cheap, for polling)
#   $ALERT_SECRET                    the key the tests configure
#
# Every receiver still running is stopped when the test ends.

use strict;
use warnings;

use Exporter qw(import);
use File::Temp qw(tempdir);
use CXTest;

our @EXPORT = qw(receiver stop_receiver received received_count
    cx_alerts_missing $ALERT_SECRET);

our $ALERT_SECRET = 'whsec_' . 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';   # 24 bytes

my $DIR;
my @RECEIVERS;
my $STARTED = 0;
my $OWNER = $$;

END {
    if ($$ == $OWNER && @RECEIVERS) {
        local $?;
        kill 'TERM', @RECEIVERS;
        waitpid $_, 0 for @RECEIVERS;
    }
}

sub dir {
    $DIR = $_[0] if @_;
    $DIR //= tempdir('cxalerts-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CX_KEEP});
    return $DIR;
}

# undef, or why the receiver cannot run
sub cx_alerts_missing {
    my $root = cx_repo_root();
    return "no t/alerts/node_modules/standardwebhooks (cd t/alerts && npm ci)"
        unless -d "$root/t/alerts/node_modules/standardwebhooks";
    return undef;
}

sub receiver {
    my ($port, %o) = @_;
    my $log = dir() . "/recv-$port-" . ++$STARTED . '.log';
    my @tls = defined $o{cert} ? ($o{cert}, $o{key}) : ();
    my $pid = open my $out, '-|', 'node', cx_repo_root() . '/t/alerts/receiver.js', $port,
        $log, $o{secret} // $ALERT_SECRET, $o{script} // '204', @tls
        or die "cannot start node: $!";
    my $ready = <$out>;
    die "receiver did not start\n" unless defined $ready && $ready =~ /ready/;
    push @RECEIVERS, $pid;
    return { log => $log, pid => $pid, fh => $out, port => $port };
}

sub stop_receiver {
    my ($rcv) = @_;
    kill 'TERM', $rcv->{pid};
    waitpid $rcv->{pid}, 0;
    @RECEIVERS = grep { $_ != $rcv->{pid} } @RECEIVERS;
}

sub received {
    my ($rcv) = @_;
    my @r;
    open my $fh, '<', $rcv->{log} or return wantarray ? () : 0;
    while (my $line = <$fh>) {
        my $m = eval { $CXTest::JSON->decode($line) } or next;
        $m->{json} = eval { $CXTest::JSON->decode($m->{body}) };
        push @r, $m;
    }
    return wantarray ? @r : scalar @r;
}

sub received_count {
    my ($rcv) = @_;
    open my $fh, '<', $rcv->{log} or return 0;
    my $n = 0;
    while (my $l = <$fh>) { $n++ if $l =~ /\n\z/ }
    return $n;
}

1;
