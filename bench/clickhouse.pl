#!/usr/bin/perl
# bench/clickhouse.pl READY_FILE MAX_SECONDS -- a throw-away clickhouse-server
# for bench/run's fleets step, the tests' own (t/lib/CXClickHouse.pm):
# Debian's clickhouse-server as the clickhouse user, on free loopback ports,
# its data, logs and config in a temp dir.
#
# When it answers, writes "ok HTTP_PORT DIR" to READY_FILE (atomically, by a
# rename); when there is none to run (not installed, no clickhouse user, not
# root), "skip WHY" and exits 0; when it is there but does not start, dies
# (exit 1) with its error log. Then waits, and stops the server and removes
# its dir (CXClickHouse's END block) on SIGTERM or SIGINT, when its parent
# (bench/run) is gone, or after MAX_SECONDS at the most, whichever comes
# first. CX_KEEP=1 keeps the dir.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use CXClickHouse;
use Time::HiRes qw(sleep time);

my ($ready, $max) = @ARGV;
die "usage: bench/clickhouse.pl READY_FILE MAX_SECONDS\n"
    unless defined $max && $max =~ /^[1-9][0-9]*$/;

# exit (not die in a handler) so that the END blocks stop the server
my $stop = 0;
$SIG{$_} = sub { $stop = 1 } for qw(TERM INT HUP);

sub ready {
    my ($line) = @_;
    open my $fh, '>', "$ready.tmp" or die "$ready.tmp: $!\n";
    print $fh "$line\n";
    close $fh or die "$ready.tmp: $!\n";
    rename "$ready.tmp", $ready or die "rename $ready: $!\n";
}

my $parent = getppid;
my $ch = cx_clickhouse();
if (!$ch) {
    ready("skip $CXClickHouse::WHY");
    exit 0;
}
ready(join ' ', 'ok', $ch->http_port, $ch->dir);

my $until = time + $max;
while (!$stop && time < $until && getppid == $parent) {
    sleep 0.2;
}
exit 0;
