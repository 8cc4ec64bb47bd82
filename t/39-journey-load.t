#!/usr/bin/perl
# Journey events under load (docs/behaviours.md [33]; issue 12 point 5):
# every page view of a touchpoint is either stored as a visit or
# counted as dropped, never silently lost.
#
#   - full speed, two workers, a real disk: every visit stored, none dropped;
#     the rate reached is printed (make bench has the sustained figures);
#   - a slow disk (every sync sleeps 3 s, t/lib/cx_synclog.c): the queue
#     overflows; stored + dropped equals the page views exactly, and the
#     drops show in report.json ("events_dropped"), in "cxctl stats" and,
#     once, in the error log.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More;
use CXTest;

plan skip_all => 'module not built (make all)' unless cx_have_module();

my $REPO   = "$FindBin::Bin/..";
my $CXLOAD = "$REPO/build/cxload";
my $CXCTL  = "$REPO/build/cxctl";
plan skip_all => 'build/cxload and build/cxctl not built' unless -x $CXLOAD && -x $CXCTL;

my $dir = tempdir('cxjourney-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CX_KEEP});
chmod 0755, $dir;
my $shim = cx_build_shim($dir);

my $PAGE = "<html><body>\n<p>" . ('x' x 200) . "</p>\n</body></html>\n";

my $CONF = <<'CONF';
    cx_store %%PREFIX%%/cxdata max_size=256m;
    cx_survey nps1 { type nps; question "How likely?"; }
    server {
        %%CX_SITE%%
        keepalive_requests 1000000;
        location / { cx_touchpoint browse; }
    }
CONF

# cxload for SECONDS against PORT: the number of 200 responses
sub load {
    my ($port, $seconds) = @_;
    my $line = `$CXLOAD -c 32 -d $seconds -u / $port 2>&1`;
    is $?, 0, "cxload: every response a 200" or diag $line;
    my ($rps, $n) = $line =~ /rps (\S+) responses (\d+)/;
    return ($n // 0, $rps // 0);
}

sub stats {
    my ($ng) = @_;
    my $text = `$CXCTL --store ${\ $ng->prefix }/cxdata stats 2>&1`;
    my ($events)  = $text =~ /^events\s+(\d+)$/m;
    my ($dropped) = $text =~ /^dropped\s+(\d+) /m;
    return { text => $text, events => $events // -1, dropped => $dropped // -1 };
}

sub visits {
    my ($ng) = @_;
    my ($tp) = grep { $_->{name} eq 'browse' } @{ $ng->report_json->{touchpoints} || [] };
    return $tp ? $tp->{visits} : 0;
}

subtest 'full speed, two workers: every visit stored, none dropped' => sub {
    my $ng = cx_nginx(workers => 2, files => { 'html/index.html' => $PAGE }, conf => $CONF);
    my ($n, $rps) = load($ng->port, 3);
    diag sprintf 'journey events at full speed: %d page views, %.0f a second', $n, $rps;
    ok $n > 1000, "load ran ($n page views)";

    my $s;
    ok wait_for(sub { $s = stats($ng); $s->{events} >= $n }, 20),
        "all $n visits stored" or diag $s->{text};
    is $s->{events}, $n, 'exactly one event per page view';
    is $s->{dropped}, 0, 'cxctl stats: dropped 0';
    is visits($ng), $n, 'report.json: visits = page views';
    is $ng->report_json->{events_dropped}, 0, 'report.json: events_dropped 0';
    unlike $ng->error_log, qr/queue full/, 'nothing dropped in the log';
    $ng->stop;
};

subtest 'a slow disk: stored + dropped = page views, the drops shown' => sub {
    my $ng = cx_nginx(workers => 1, files => { 'html/index.html' => $PAGE }, conf => $CONF,
                      env => { LD_PRELOAD => $shim, CX_SYNC_DELAY_MS => 3000 });
    # slow enough that even the ASan build (about 9,000 views a second)
    # fills a queue of 16384 while one commit waits
    my ($n) = load($ng->port, 6);
    ok $n > 2 * 16384, "load ran past two queues' worth ($n page views)"
        or return $ng->stop;

    my $s;
    ok wait_for(sub { $s = stats($ng); $s->{dropped} > 0 && $s->{events} + $s->{dropped} == $n }, 40),
        'stored + dropped = page views' or diag "$n page views; " . $s->{text};
    ok $s->{dropped} > 0, "some dropped ($s->{dropped}), none lost";
    like $s->{text}, qr/^dropped\s+$s->{dropped} events \(journey events counted but not stored\)$/m,
        'cxctl stats: the dropped line';
    is $ng->report_json->{events_dropped}, $s->{dropped}, 'report.json: events_dropped';
    is visits($ng), $s->{events}, 'report.json: visits = stored events';
    like $ng->error_log, qr/\[warn\].*cx_store: journey event queue full, \d+ events dropped so far/,
        'the log says so';
    $ng->stop;
};

done_testing;
