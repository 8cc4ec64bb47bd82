#!/usr/bin/perl
# Durability of an acknowledged answer (docs/behaviours.md 28): the store is
# synced to disk between reading an answer and sending its 204.
#
# kill -9 cannot show a store opened without fsync (MDB_NOSYNC): the kernel
# keeps the written pages and the next open finds them.  Only a power cut
# would lose them.  So this test watches the calls instead: nginx runs with
# a small preloaded library (t/lib/cx_synclog.c, compiled here) that logs,
# in order, each request line read, each fsync/fdatasync/msync and each
# response line written.  For every answer, an fdatasync or fsync of the
# store's data.mdb (or an msync with MS_SYNC) must have returned after the
# worker read the POST and before it wrote the "204", in a thread of the
# pool rather than the event loop's thread.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use File::Temp qw(tempdir);

plan skip_all => 'module not built (run make)' unless cx_have_module();

my $dir = tempdir('cxdurable-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CX_KEEP});
chmod 0755, $dir;
my $shim = cx_build_shim($dir);

my $LOG = "$dir/sync.log";
my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";

my $ng = cx_nginx(
    files => { 'html/index.html' => $PAGE },
    env   => { LD_PRELOAD => $shim, CX_SYNCLOG => $LOG },
    conf  => cx_prompt_conf('nps1', '100%'));

my $DATA = $ng->prefix . '/cxdata/data.mdb';

sub log_lines {
    open my $fh, '<', $LOG or return ();
    my @l;
    while (<$fh>) {
        chomp;
        my ($ns, $pid, $tid, $what, $rest) = split / /, $_, 5;
        push @l, { ns => $ns, pid => $pid, tid => $tid, what => $what, rest => $rest // '', line => $_ };
    }
    return @l;
}

ok -s $LOG, 'the shim logs (nginx started with it preloaded)';

for my $i (1 .. 3) {
    my $b = cx_browser("b$i");
    my $r = $ng->visit($b, '/index.html');
    my ($token) = $r->{body} =~ /"token":"([^"]*)"/;
    ok defined $token, "answer $i: a prompt with a token" or next;

    my $from = () = log_lines();
    $r = $ng->answer(event => 'answer', token => $token, cookie => $b->{cookie},
        score => 5 + $i);
    is $r->{status}, 204, "answer $i: 204";

    # the worker's lines for this POST: from its recv to its 204
    my @all = log_lines();
    my @l = @all[$from .. $#all];
    my ($recv) = grep { $l[$_]{what} eq 'recv' && $l[$_]{rest} =~ m{^\d+ POST /cx/r } } 0 .. $#l;
    ok defined $recv, "answer $i: the shim saw the POST being read"
        or do { diag join "\n", map { $_->{line} } @l; next };
    my ($fd) = $l[$recv]{rest} =~ /^(\d+) /;
    my $pid = $l[$recv]{pid};
    my ($sent) = grep { $_ > $recv && $l[$_]{what} eq 'send' && $l[$_]{pid} == $pid
        && $l[$_]{rest} =~ m{^$fd HTTP/1\.\d 204\b} } 0 .. $#l;
    ok defined $sent, "answer $i: the shim saw the 204 being written"
        or do { diag join "\n", map { $_->{line} } @l; next };

    my @syncs = grep {
        $_->{what} eq 'sync' && $_->{pid} == $pid
            && ($_->{rest} =~ m{^(?:fdatasync|fsync) \d+ \Q$DATA\E 0$}
                || $_->{rest} =~ m{^msync - MS_SYNC 0$})
    } @l[$recv + 1 .. $sent - 1];
    ok @syncs, "answer $i: data.mdb synced after the POST was read, before its 204"
        or diag "log from the POST on:\n" . join "\n", map { $_->{line} } @l[$recv .. $sent];
    ok $l[$sent]{ns} >= $syncs[-1]{ns}, "answer $i: monotonic times agree" if @syncs;
    # README, Operations: commits run in the thread pool, never on the event loop
    ok !(grep { $_->{tid} == $l[$recv]{tid} } @syncs),
        "answer $i: the sync ran in a thread-pool thread, not the event loop" if @syncs;
}

$ng->stop;
done_testing;
