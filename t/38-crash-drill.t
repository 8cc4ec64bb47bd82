#!/usr/bin/perl
# Crash drills (docs/behaviours.md 30-32; README, Operations).
#
# 1. kill -9 in a loop: nginx with two workers; 5000 prompts are collected
#    first, one visitor each, so a response is found by its visitor id (the
#    store keys responses by prompt id: one prompt, at most one row).  Then, cycle after cycle, K forked
#    clients post answers for fresh tokens as fast as they can while, after a
#    random short delay, a worker (some cycles) or the master and every
#    worker (the others) is killed with SIGKILL.  After nginx is back, the
#    store (read with cxctl export while nginx runs) must hold every answer
#    that got a 204 exactly once with its score, and no answer that was never
#    sent.  The figures go into one `note` line.
# 2. A full store (t/35 covers the 503 itself): what was acknowledged before
#    the store filled survives a kill -9 of everything; later answers get
#    503 with Retry-After, before and after the restart; pages are served.
# 3. A store on a read-only file system (tmpfs remounted read-only; skipped
#    when mount is not permitted): nginx starts, pages are served without a
#    prompt, intake answers 503, the error log says why.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use File::Temp qw(tempdir);
use POSIX qw(_exit WNOHANG);
use Time::HiRes qw(time sleep);

plan skip_all => 'module not built (run make)' unless cx_have_module();
my $CXCTL = cx_repo_root() . '/build/cxctl';
plan skip_all => 'build/cxctl not built (run make)' unless -x $CXCTL;

my $T0 = time;
my $CYCLES  = $ENV{CX_DRILL_CYCLES}  || 20;
my $CLIENTS = $ENV{CX_DRILL_CLIENTS} || 4;
my $PER     = 250;                 # fresh tokens offered per cycle
my $N       = $CYCLES * $PER;      # prompts collected beforehand
my $BUDGET  = 30;                  # seconds for all the cycles together

my $PAGE = "<html><body>\n<p>shop</p>\n</body></html>\n";
my $SITE_FOLLOWUP = <<'CONF';
    cx_survey nps1 { type nps; question "How likely?"; followup "Why?"; }
    server {
        %%CX_SITE%%
        location / { cx_prompt nps1 sample=100%; }
    }
CONF
my $SITE = <<'CONF';
    cx_survey nps1 { type nps; question "How likely?"; }
    server {
        %%CX_SITE%%
        location / { cx_prompt nps1 sample=100%; }
    }
CONF

my $work = tempdir('cxdrill-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CX_KEEP});
chmod 0755, $work;    # the workers' user reaches the read-only store below

# ---- helpers ------------------------------------------------------------------

sub prompt {
    my ($ng) = @_;
    my $b = cx_browser('v');
    my $r = $ng->visit($b, '/index.html');
    my ($token) = $r->{body} =~ /"token":"([^"]*)"/;
    return undef unless defined $token && defined $b->{cookie};
    return { token => $token, cookie => $b->{cookie}, visitor => cx_visitor_of($b->{cookie}) };
}

# every exported response: visitor => [rows]
sub export_rows {
    my ($store) = @_;
    my $out = `'$CXCTL' --store '$store' export --format ndjson 2>&1`;
    my $rc = $? >> 8;
    my %by;
    my $bad = 0;
    for my $line (split /\n/, $out) {
        my $row = eval { $CXTest::JSON->decode($line) };
        if (!$row) { $bad++; next }
        push @{ $by{ $row->{visitor} } }, $row;
    }
    return ($rc, \%by, $bad, $out);
}

# kill -9 the master and every worker (ours, by pid), reap, restart
sub kill_all_and_restart {
    my ($ng) = @_;
    my @w = $ng->worker_pids;
    my $m = $ng->pid;
    kill 'KILL', $m, @w;
    # the master is our child, the workers become ours (subreaper) or init's
    my $gone = wait_for {
        waitpid $_, WNOHANG for $m, @w;
        !grep { cx_pid_alive($_) } $m, @w;
    } 5;
    $ng->restart;    # reaps the master, sweeps what is left, same prefix and ports
    return $gone;
}

# K clients post the answers of @$prompts (interleaved) until the list ends
# or $stop exists; each writes "i sent" before and "i STATUS" after a POST.
sub start_clients {
    my ($ng, $prompts, $base, $dir, $stop) = @_;
    my @pids;
    for my $k (0 .. $CLIENTS - 1) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            no warnings 'redefine';
            *Test::More::diag = sub { };    # refused or cut connections are counted
            local $CXTest::TIMEOUT = 5;
            open my $fh, '>>', "$dir/client$k" or _exit(1);
            for (my $i = $k; $i < @$prompts; $i += $CLIENTS) {
                last if -e $stop;
                my $p = $prompts->[$i];
                my $n = $base + $i;
                syswrite $fh, "$n sent\n";
                my $r = eval { $ng->answer(event => 'answer', token => $p->{token},
                    cookie => $p->{cookie}, score => $n % 11) };
                syswrite $fh, "$n " . ($r ? $r->{status} : 0) . "\n";
            }
            _exit(0);
        }
        push @pids, $pid;
    }
    return @pids;
}

sub read_client_files {
    my ($dir, $sent, $status) = @_;
    for my $f (glob "$dir/client*") {
        open my $fh, '<', $f or next;
        while (<$fh>) {
            my ($n, $what) = /^(\d+) (\S+)$/ or next;
            if ($what eq 'sent') { $sent->{$n} = 1 } else { $status->{$n} = $what }
        }
    }
}

# ---- 1. kill -9 in a loop ------------------------------------------------------

my %fig = (cycles => 0, worker_kills => 0, master_kills => 0, sent => 0, acked => 0,
           found => 0, lost => 0, cut => 0, hit => 0, doubled => 0, unsent_found => 0, other => 0);
{
    my $ng = cx_nginx(
        workers => 2,
        files   => { 'html/index.html' => $PAGE },
        conf    => "    cx_store %%PREFIX%%/cxdata max_size=64m;\n$SITE",
    );
    my $STORE = $ng->prefix . '/cxdata';

    my $t = time;
    my @prompts = grep { defined } map { prompt($ng) } 1 .. $N;
    is scalar @prompts, $N, sprintf('%d prompts collected (%.1f s)', $N, time - $t);
    is scalar(keys %{ { map { $_->{visitor} => 1 } grep { $_->{visitor} } @prompts } }), $N,
        "$N distinct visitors";

    my (%sent, %status);
    my $cycles_ok = 1;
    my $start = time;
    for my $c (0 .. $CYCLES - 1) {
        last if time - $start > $BUDGET;
        my $dir = "$work/cycle$c";
        mkdir $dir or die "mkdir $dir: $!";
        my $stop = "$dir/stop";
        my $base = $c * $PER;
        my @slice = @prompts[$base .. $base + $PER - 1];
        my @clients = start_clients($ng, \@slice, $base, $dir, $stop);

        sleep 0.02 + rand 0.2;
        my $master = ($c % 2 == 1);
        my ($killed_ok, $what);
        if ($master) {
            $what = 'master and workers';
            $killed_ok = kill_all_and_restart($ng);
            $fig{master_kills}++;
        } else {
            my @w = $ng->worker_pids;
            my $victim = $w[ rand @w ];
            $what = "worker $victim";
            kill 'KILL', $victim;
            # the master forks a new one; wait for two live workers again
            $killed_ok = wait_for {
                my @now = $ng->worker_pids;
                @now == 2 && !grep { $_ == $victim } @now;
            } 10;
            $fig{worker_kills}++;
        }
        open my $sf, '>', $stop or die "$stop: $!";
        close $sf;
        for my $pid (@clients) {
            my $done = wait_for { waitpid($pid, WNOHANG) == $pid } 15;
            if (!$done) { kill 'KILL', $pid; waitpid $pid, 0 }
        }
        $fig{cycles}++;
        ok $killed_ok, "cycle $c: kill -9 of the $what, nginx back with two workers"
            or $cycles_ok = 0;
        is scalar($ng->worker_pids), 2, "cycle $c: two workers" or $cycles_ok = 0;

        my (%csent, %cstatus);
        read_client_files($dir, \%csent, \%cstatus);
        my $cut = grep { !exists $cstatus{$_} || $cstatus{$_} ne '204' } keys %csent;
        my $acked_here = grep { $_ eq '204' } values %cstatus;
        $fig{cut} += $cut;
        $fig{hit}++ if $cut && keys(%csent) < @slice;    # the kill met answers in flight
        %sent = (%sent, %csent);
        %status = (%status, %cstatus);

        # after each restart: every 204 so far is there, exactly once
        my ($rc, $by, $bad) = export_rows($STORE);
        my @acked = grep { $status{$_} eq '204' } keys %status;
        my @missing = grep {
            my $rows = $by->{ $prompts[$_]{visitor} } || [];
            !(@$rows == 1 && $rows->[0]{answered} && $rows->[0]{score} == $_ % 11)
        } @acked;
        my @unsent = grep {
            !$sent{$_} && grep { $_->{answered} } @{ $by->{ $prompts[$_]{visitor} } || [] }
        } 0 .. $#prompts;
        ok $rc == 0 && !$bad && !@missing && !@unsent,
            sprintf('cycle %d (%s): %d acknowledged here, %d not (cut or refused around the kill), %d so far, all in the store once; nothing unsent',
                $c, $what, $acked_here, $cut, scalar @acked)
            or do {
                $cycles_ok = 0;
                diag "cxctl rc $rc, bad lines $bad; missing or wrong: @missing[0 .. ($#missing < 9 ? $#missing : 9)]; unsent but stored: @unsent";
            };
    }

    # the figures, from the last state of the store
    my ($rc, $by) = export_rows($STORE);
    for my $n (keys %status) {
        $fig{sent}++;
        my $rows = $by->{ $prompts[$n]{visitor} } || [];
        my $st = $status{$n};
        $fig{other}++ unless $st eq '204' || $st eq '0' || $st eq '502' || $st eq '503';
        next unless $st eq '204';
        $fig{acked}++;
        my @ans = grep { $_->{answered} } @$rows;
        if (@ans == 1 && $ans[0]{score} == $n % 11) { $fig{found}++ }
        elsif (@ans > 1) { $fig{doubled}++ }
        else { $fig{lost}++ }
    }
    $fig{sent} += grep { !exists $status{$_} } keys %sent;    # cut mid-request
    $fig{unsent_found} = grep {
        !$sent{$_} && grep { $_->{answered} } @{ $by->{ $prompts[$_]{visitor} } || [] }
    } 0 .. $#prompts;

    ok $fig{cycles} >= 4, "at least 4 cycles ran ($fig{cycles})";
    ok $fig{hit} >= $fig{master_kills} / 2, "the kill met answers in flight in many cycles ($fig{hit})";
    ok $fig{acked} >= $fig{cycles}, "answers were acknowledged in the cycles ($fig{acked})";
    is $fig{lost}, 0, 'no acknowledged answer lost';
    is $fig{doubled}, 0, 'no answer stored twice';
    is $fig{unsent_found}, 0, 'no answer stored that was never sent';
    is $fig{other}, 0, 'every status is 204, or a cut connection / 502 / 503 around a kill';
    my @crit = grep { /\[(?:alert|crit|emerg)\]/ && !/exited on signal 9/ } split /^/, $ng->error_log;
    ok !grep({ /cx|lmdb|mdb_/i } @crit), 'no cx or store alert in the error log'
        or diag @crit;
    note sprintf('crash drill: %d cycles (%d worker kills, %d master+worker kills), '
        . '%d answers sent, %d acknowledged (204), %d found in the store exactly once, '
        . '%d lost, %d doubled, %d stored unsent; %d not acknowledged (cut or refused around a kill; in flight at the kill in %d cycles); %.1f s',
        @fig{qw(cycles worker_kills master_kills sent acked found lost doubled unsent_found cut hit)},
        time - $start);
    $ng->stop;
}

# ---- 2. a full store -------------------------------------------------------------

{
    my $ng = cx_nginx(
        workers => 2,
        files   => { 'html/index.html' => $PAGE },
        conf    => "    cx_store %%PREFIX%%/cxdata max_size=1m;\n$SITE_FOLLOWUP",
    );
    my $STORE = $ng->prefix . '/cxdata';
    my @prompts = grep { defined } map { prompt($ng) } 1 .. 700;
    my $comment = 'x' x 1900;
    my (%ans, %com, $other, $last503);    # prompt => status of its answer, its comment
    my $refused = 0;
    my $t = time;
    for my $n (0 .. $#prompts - 1) {    # the last one is for after the restart
        last if $refused >= 5 || time - $t > 15;
        my $p = $prompts[$n];
        my $r = $ng->answer(event => 'answer', token => $p->{token}, cookie => $p->{cookie},
            score => $n % 11);
        $ans{$n} = $r->{status};
        if ($r->{status} == 204) {
            $r = $ng->answer(event => 'comment', token => $p->{token}, cookie => $p->{cookie},
                comment => $comment);
            $com{$n} = $r->{status};
        }
        if ($r->{status} == 503) { $refused++; $last503 = $r }
        elsif ($r->{status} != 204) { $other .= " $n:$r->{status}" }
    }
    my @acked = grep { $ans{$_} == 204 } keys %ans;    # before the restart
    my $com_acked = grep { $_ == 204 } values %com;
    ok @acked > 20, sprintf('full store: %d answers (%d comments) acknowledged before it filled',
        scalar @acked, $com_acked);
    ok !$other, 'full store: only 204 and 503' or diag $other;
    ok $refused >= 5, "full store: later answers get 503 ($refused)";
    ok $last503 && $last503->{headers}{'retry-after'}, 'full store: 503 with Retry-After';
    like $last503 ? $last503->{body} : '', qr/store is full/, 'full store: the 503 says the store is full';

    kill_all_and_restart($ng);
    # a comment refused before is refused again: killing nginx frees nothing
    my ($again) = grep { ($com{$_} // 0) == 503 } sort { $a <=> $b } keys %com;
    SKIP: {
        skip 'no comment was refused', 2 unless defined $again;
        my $r = $ng->answer(event => 'comment', token => $prompts[$again]{token},
            cookie => $prompts[$again]{cookie}, comment => $comment);
        is $r->{status}, 503, 'full store, after kill -9 and restart: a long comment still gets 503';
        ok $r->{headers}{'retry-after'}, '... with Retry-After';
        $refused++;
    }
    # a short answer may still fit in the last pages: 204 and stored, or 503 and not
    my $last = $#prompts;
    my $r = $ng->answer(event => 'answer', token => $prompts[$last]{token},
        cookie => $prompts[$last]{cookie}, score => $last % 11);
    $ans{$last} = $r->{status};
    ok $r->{status} == 204 || $r->{status} == 503, "full store, after restart: a short answer: $r->{status}";
    $refused++ if $r->{status} == 503;
    my $page = $ng->get('/index.html');
    is $page->{status}, 200, 'full store: pages served';

    my ($rc, $by) = export_rows($STORE);
    is $rc, 0, 'full store: cxctl export reads it';
    @acked = grep { $ans{$_} == 204 } keys %ans;
    my $rows = sub { [ grep { $_->{answered} } @{ $by->{ $prompts[$_[0]]{visitor} } || [] } ] };
    my @lost = grep { my $a = $rows->($_); !(@$a == 1 && $a->[0]{score} == $_ % 11) } @acked;
    my @com_lost = grep { ($com{$_} // 0) == 204 && $rows->($_)[0]{comment} ne $comment } @acked;
    my @half = grep { ($com{$_} // 0) != 204 && $rows->($_)[0]{comment} ne '' } @acked;
    my @kept503 = grep { $ans{$_} != 204 && @{ $rows->($_) } } keys %ans;
    is scalar @lost, 0, 'full store: every acknowledged answer survived kill -9, once, with its score';
    is scalar @com_lost, 0, 'full store: every acknowledged comment survived, whole';
    is scalar @half, 0, 'full store: no refused comment stored, not even in part';
    is scalar @kept503, 0, 'full store: no refused answer stored';
    note sprintf('full store drill: %d answers and %d comments acknowledged, %d and %d found '
        . 'after kill -9, %d posts refused with 503 (Retry-After)',
        scalar @acked, $com_acked, @acked - @lost, $com_acked - @com_lost, $refused);
    $ng->stop;
}

# ---- 3. a store on a read-only file system ---------------------------------------

SKIP: {
    skip 'mount needs root', 1 if $> != 0;
    my $mnt = "$work/ro";
    mkdir $mnt or die "mkdir $mnt: $!";
    my $out = `mount -t tmpfs -o size=16m,mode=0777 cxdrill '$mnt' 2>&1`;
    skip "mount -t tmpfs is not permitted here: $out", 1 if $? != 0;
    my $mounted = 1;
    my $umount = sub { system('umount', $mnt) == 0 and $mounted = 0 if $mounted };
    eval {
        my $ng = cx_nginx(
            workers => 2,
            files   => { 'html/index.html' => $PAGE },
            conf    => "    cx_store $mnt/cxdata max_size=8m;\n$SITE",
        );
        my @p = grep { defined } map { prompt($ng) } 1 .. 3;
        is $ng->answer(event => 'answer', token => $p[0]{token}, cookie => $p[0]{cookie},
            score => 9)->{status}, 204, 'read-only: an answer stored while writable';
        $ng->stop;

        my $ro = `mount -o remount,ro '$mnt' 2>&1`;
        die "SKIP remount read-only is not permitted: $ro" if $? != 0;
        my $from = $ng->log_size;
        my $ok = eval { $ng->start; 1 };
        ok $ok, 'read-only: nginx starts with its store on a read-only file system'
            or diag $@;
        if ($ok) {
            my $page = $ng->get('/index.html');
            is $page->{status}, 200, 'read-only: pages are served';
            is $page->{body}, $PAGE, 'read-only: byte-identical, without a prompt';
            my $r = $ng->answer(event => 'answer', token => $p[1]{token}, cookie => $p[1]{cookie},
                score => 4);
            is $r->{status}, 503, 'read-only: intake answers 503';
            note "read-only: intake $r->{status} $r->{body}";
            my $log = substr $ng->error_log, $from;
            like $log, qr/cx_store.*read-only file system/, 'read-only: the error log says why'
                or diag $log;
            note "read-only: $_" for grep { /cx_store/ } split /\n/, $log;
            my ($rc, $by) = export_rows("$mnt/cxdata");
            note "read-only: cxctl export rc $rc";
            ok +(grep { $_->{answered} && $_->{score} == 9 } @{ $by->{ $p[0]{visitor} } || [] }),
                'read-only: the answer stored before is still readable' if $rc == 0;
        }
        $ng->stop;
        1;
    } or do {
        my $e = $@;
        $umount->();
        skip $1, 1 if $e =~ /^SKIP (.*)/s;
        die $e;
    };
    $umount->();
    ok !$mounted, 'read-only: the tmpfs is unmounted';
}

note sprintf 'run time %.1f s', time - $T0;
done_testing;
