#!/usr/bin/perl
# The store (README: Answers, Operations): the whole path from a page to the
# report, concurrent answers in two workers, persistence across restart and
# reload, acknowledged answers surviving kill -9, and the store directory
# created for and owned by the worker user.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use JSON::PP ();
use POSIX qw(_exit WNOHANG strftime);
use IO::Select;
use Time::HiRes qw(time sleep);

my $JSON = JSON::PP->new->utf8->canonical;

my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";

sub conf_for {
    my ($store) = @_;
    return <<"CONF" . <<'CONF';
    cx_store $store max_size=64m;
CONF
    cx_survey nps1 { type nps; question "How likely?"; followup "Why?"; labels "Not likely" "Very likely"; }
    log_format cxpid '$pid $request_method $uri $status';
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        root %%PREFIX%%/html;
        access_log logs/pid.log cxpid;
        location /cx/ { cx_endpoint; }
        location /cx-admin/ { cx_report; }
        location / { cx_touchpoint browse stage=consideration; cx_prompt nps1 sample=100%; }
    }
CONF
}

my $CONF = conf_for('%%PREFIX%%/cxdata');
my $ng = cx_nginx(workers => 2, files => { 'html/index.html' => $PAGE }, conf => $CONF);
my $STORE = $ng->prefix . '/cxdata';

# ---- helpers ---------------------------------------------------------------

sub prompt {
    my ($n, $cookie) = @_;
    my $r = $n->get('/index.html', defined $cookie ? (Cookie => "cx=$cookie") : ());
    my ($token) = $r->{body} =~ /"token":"([^"]*)"/;
    die "no prompt (status $r->{status}):\n$r->{raw}\n" unless defined $token;
    my $set = cx_cookie_from($r, 'cx');
    return { token => $token, cookie => defined $set ? $set : $cookie };
}

sub send_event {
    my ($n, $p, $event, %f) = @_;
    my $body = '{"token":' . $JSON->encode($p->{token}) . ',"event":"' . $event . '"';
    $body .= ',"score":' . $f{score} if defined $f{score};
    $body .= ',"comment":' . $JSON->encode($f{comment}) if defined $f{comment};
    $body .= '}';
    return $n->post_json('/cx/r', $body, Cookie => "cx=$p->{cookie}");
}


sub nps {
    my ($n) = @_;
    my ($s) = grep { $_->{name} eq 'nps1' } @{ scalar($n->report_json)->{surveys} || [] };
    return $s || {};
}

sub run_tool {
    my (@cmd) = @_;
    open my $fh, '-|', @cmd or return (0, "cannot run $cmd[0]: $!");
    local $/;
    my $out = <$fh>;
    close $fh;
    return ($? == 0 ? 1 : 0, defined $out ? $out : '');
}

# (ok, entries of "responses") from mdb_stat -a.
sub mdb_entries {
    my ($dir) = @_;
    my ($ok, $out) = run_tool('mdb_stat', '-a', $dir);
    my ($n) = $out =~ /^Status of responses\n(?:[ \t].*\n)*?[ \t]*Entries: (\d+)/m;
    diag "mdb_stat -a $dir:\n$out" unless $ok && defined $n;
    return ($ok, $n);
}

sub today { strftime('%Y-%m-%d', gmtime(shift // time)) }

sub uid_of_pid {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) { return $1 if /^Uid:\s+(\d+)/ }
    return undef;
}

# Forks one child per prompt; all post an answer at the same moment (a
# barrier pipe). Returns the statuses, in prompt order. $on_result, if
# given, is called in the parent as each status arrives.
sub concurrent_answers {
    my ($n, $prompts, $score_of, $on_result) = @_;
    pipe(my $gate_r, my $gate_w) or die "pipe: $!";
    pipe(my $res_r, my $res_w) or die "pipe: $!";
    my @pids;
    for my $i (0 .. $#$prompts) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            close $gate_w;
            close $res_r;
            sysread $gate_r, my $x, 1;    # blocks until the parent closes the gate
            no warnings 'redefine';
            *Test::More::diag = sub { };  # a cut connection is counted, not reported
            my $r = eval { send_event($n, $prompts->[$i], 'answer', score => $score_of->($i)) };
            my $st = $r ? $r->{status} : 0;
            syswrite $res_w, "$i $st\n";
            _exit(0);
        }
        push @pids, $pid;
    }
    close $gate_r;
    close $res_w;
    close $gate_w;    # go
    my @status = (undef) x @$prompts;
    my ($buf, $got) = ('', 0);
    my $sel = IO::Select->new($res_r);
    my $deadline = time + 30;
    while ($got < @$prompts && time < $deadline) {
        next unless $sel->can_read(1);
        my $k = sysread $res_r, $buf, 4096, length $buf;
        last unless $k;
        while ($buf =~ s/^(\d+) (\d+)\n//) {
            $status[$1] = $2;
            $got++;
            $on_result->($1, $2) if $on_result;
        }
    }
    close $res_r;
    for my $pid (@pids) {
        my $t = time + 10;
        while (waitpid($pid, WNOHANG) == 0) {
            if (time > $t) { kill 'KILL', $pid; waitpid $pid, 0; last }
            sleep 0.02;
        }
    }
    return @status;
}

# ---- page -> display -> answer -> comment -> report -----------------------

{
    my $day = today();
    my $p = prompt($ng);
    my $empty = nps($ng);
    is $empty->{answered}, 0, 'fresh store: nothing answered';
    is_deeply $empty->{distribution}, [ (0) x 11 ], 'fresh store: empty distribution';

    my $r = send_event($ng, $p, 'display');
    is $r->{status}, 204, 'display: 204';
    my $s = nps($ng);
    is $s->{displayed}, 1, 'display: displayed 1';
    is $s->{answered}, 0, 'display: answered 0';

    $r = send_event($ng, $p, 'answer', score => 9);
    is $r->{status}, 204, 'answer: 204';
    is $r->{body_raw}, '', 'answer: no body';
    ok defined cx_cookie_from($r, 'cx'), 'answer: cookie refreshed';

    $r = send_event($ng, $p, 'comment', comment => 'Great <b>service</b>');
    is $r->{status}, 204, 'comment: 204';

    my $rep = $ng->report_json;
    like $rep->{generated_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'report: generated_at';
    $s = nps($ng);
    is $s->{type}, 'nps', 'report: type';
    is $s->{displayed}, 1, 'report: displayed 1';
    is $s->{answered}, 1, 'report: answered 1';
    is $s->{dismissed}, 0, 'report: dismissed 0';
    is $s->{score}, 100, 'report: NPS 100';
    is_deeply [ @$s{qw(promoters passives detractors)} ], [ 1, 0, 0 ], 'report: one promoter';
    is_deeply $s->{distribution}, [ 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 ], 'report: distribution';
    is_deeply $s->{by_touchpoint}, [ { touchpoint => 'browse', stage => 'consideration', answered => 1, score => 100 } ],
        'report: by_touchpoint';
    is scalar @{ $s->{by_day} || [] }, 1, 'report: one day';
    like $s->{by_day}[0]{date} // '', qr/^\Q$day\E$|^\Q${\ today()}\E$/, 'report: by_day is today (UTC)';
    is $s->{by_day}[0]{answered}, 1, 'report: by_day answered';
    is scalar @{ $s->{comments} || [] }, 1, 'report: one comment';
    my $c = $s->{comments}[0] || {};
    is $c->{comment}, 'Great <b>service</b>', 'report: comment text';
    is $c->{score}, 9, 'report: comment score';
    is $c->{touchpoint}, 'browse', 'report: comment touchpoint';
    like $c->{at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/, 'report: comment time';

    my ($ok, $entries) = mdb_entries($STORE);
    ok $ok, 'mdb_stat reads the store';
    is $entries, 1, 'one record for display + answer + comment';
    my ($dok, $dump) = run_tool('mdb_dump', '-s', 'responses', $STORE);
    ok $dok, 'mdb_dump reads the responses database';
    my $wuid = uid_of_pid(($ng->worker_pids)[0]);
    is +(stat $STORE)[4], $wuid, 'store directory owned by the worker user';
    is +(stat "$STORE/data.mdb")[4], $wuid, 'data.mdb owned by the worker user';
}

# ---- two workers, 40 concurrent answers --------------------------------------

my $expect_answered = 1;
my @expect_dist = (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0);
{
    is scalar($ng->worker_pids), 2, 'two workers';
    my $N = 40;
    my @prompts = map { prompt($ng) } 1 .. $N;
    is scalar(keys %{ { map { $_->{cookie} => 1 } @prompts } }), $N, "$N distinct visitors";
    my $log_before = length $ng->read_file('logs/pid.log');

    my @status = concurrent_answers($ng, \@prompts, sub { $_[0] % 11 });
    is scalar(grep { defined $_ && $_ == 204 } @status), $N, "all $N concurrent answers: 204"
        or diag "statuses: @{[ map { defined $_ ? $_ : 'none' } @status ]}\n",
            grep { /\[(?:alert|crit|emerg)\]|exited on signal/ } split /^/, $ng->error_log;
    $expect_answered += $N;
    $expect_dist[ $_ % 11 ]++ for 0 .. $N - 1;

    my $s = nps($ng);
    is $s->{answered}, $expect_answered, "all $N answers in the report";
    is_deeply $s->{distribution}, \@expect_dist, 'every score counted once';
    my ($ok, $entries) = mdb_entries($STORE);
    is $entries, $expect_answered, 'one record per answer (mdb_stat)';

    my @posts = grep { /^\d+ POST \/cx\/r 204$/ } split /\n/, substr($ng->read_file('logs/pid.log'), $log_before);
    is scalar @posts, $N, "access log: $N answers";
    my %by_pid;
    $by_pid{ (split ' ', $_)[0] }++ for @posts;
    cmp_ok scalar(keys %by_pid), '>=', 2, 'answers were handled by both workers'
        or diag "by worker: @{[ %by_pid ]}";

    # a second round on the same prompts: every one is a replay
    @status = concurrent_answers($ng, \@prompts, sub { 0 });
    is scalar(grep { defined $_ && $_ == 409 } @status), $N, "replayed concurrently: all $N 409";
    is_deeply nps($ng)->{distribution}, \@expect_dist, 'replays stored nothing';
}

# ---- persistence across restart and reload ---------------------------------

{
    my $before = nps($ng);
    my $pending = prompt($ng);              # issued before the restart
    my $done = prompt($ng);
    is send_event($ng, $done, 'answer', score => 5)->{status}, 204, 'answer before restart';
    $expect_answered++;
    $expect_dist[5]++;

    $ng->restart;
    my $s = nps($ng);
    is $s->{answered}, $expect_answered, 'restart: answers kept';
    is_deeply $s->{distribution}, \@expect_dist, 'restart: distribution kept';
    is_deeply $s->{comments}, $before->{comments}, 'restart: comments kept';
    is send_event($ng, $done, 'answer', score => 1)->{status}, 409, 'restart: replay still 409';
    is send_event($ng, $pending, 'answer', score => 7)->{status}, 204,
        'restart: a token issued before it is still valid (secret kept in the store)';
    $expect_answered++;
    $expect_dist[7]++;

    my $pending2 = prompt($ng);
    $ng->reload;
    $s = nps($ng);
    is $s->{answered}, $expect_answered, 'reload: answers kept';
    is_deeply $s->{distribution}, \@expect_dist, 'reload: distribution kept';
    is send_event($ng, $pending, 'answer', score => 1)->{status}, 409, 'reload: replay still 409';
    is send_event($ng, $pending2, 'answer', score => 8)->{status}, 204, 'reload: earlier token still valid';
    $expect_answered++;
    $expect_dist[8]++;

    my ($ok, $entries) = mdb_entries($STORE);
    is $entries, $expect_answered, 'restart and reload: one record per answer';
}

# ---- kill -9 right after the 204 -------------------------------------------

sub wait_new_workers {
    my ($n, @old) = @_;
    my %old = map { $_ => 1 } @old;
    return wait_for {
        my @now = grep { cx_pid_alive($_) } $n->worker_pids;
        @now >= 2 && !grep { $old{$_} } @now;
    } 15;
}

for my $round (1 .. 3) {
    my $p = prompt($ng);
    my @workers = $ng->worker_pids;
    is scalar @workers, 2, "kill round $round: two workers";
    my $score = $round + 1;
    my $r = send_event($ng, $p, 'answer', score => $score);
    kill 'KILL', @workers if $r->{status} == 204;
    is $r->{status}, 204, "kill round $round: answer 204, then kill -9 of every worker";
    $expect_answered++;
    $expect_dist[$score]++;
    ok wait_new_workers($ng, @workers), "kill round $round: nginx respawned the workers";
    my $s = nps($ng);
    is $s->{answered}, $expect_answered, "kill round $round: the acknowledged answer is in report.json";
    is_deeply $s->{distribution}, \@expect_dist, "kill round $round: with its score";
    my ($ok, $entries) = mdb_entries($STORE);
    ok $ok, "kill round $round: mdb_stat reads the store";
    is $entries, $expect_answered, "kill round $round: mdb_stat counts every record";
    is send_event($ng, $p, 'answer', score => 0)->{status}, 409, "kill round $round: replay 409";
}
like $ng->error_log, qr/worker process \d+ exited on signal 9/, 'the error log shows the killed workers';

# kill -9 in the middle of a burst: every 204 sent before the kill is stored
{
    my $N = 20;
    my @prompts = map { prompt($ng) } 1 .. $N;
    my @workers = $ng->worker_pids;
    my $killed = 0;
    my @status = concurrent_answers($ng, \@prompts, sub { 10 }, sub {
        my ($i, $st) = @_;
        if (!$killed && $st == 204) { kill 'KILL', @workers; $killed = 1 }
    });
    ok $killed, 'burst: killed the workers after the first 204';
    my $acked = grep { defined $_ && $_ == 204 } @status;
    ok wait_new_workers($ng, @workers), 'burst: workers respawned';
    my $s = nps($ng);
    my $stored = $s->{distribution}[10] - $expect_dist[10];
    cmp_ok $stored, '>=', $acked, "burst: all $acked acknowledged answers stored ($stored stored)";
    cmp_ok $stored, '<=', $N, 'burst: no more than were sent';
    is $s->{answered}, $expect_answered + $stored, 'burst: answered matches the distribution';
    $expect_answered += $stored;
    $expect_dist[10] += $stored;
    my ($ok, $entries) = mdb_entries($STORE);
    ok $ok, 'burst: mdb_stat reads the store';
    is $entries, $expect_answered, 'burst: one record per stored answer';
}

# kill -9 of the master and the workers together
{
    my $p = prompt($ng);
    my @all = ($ng->pid, $ng->worker_pids);
    my $r = send_event($ng, $p, 'answer', score => 6);
    kill 'KILL', @all if $r->{status} == 204;
    is $r->{status}, 204, 'answer 204, then kill -9 of master and workers';
    $expect_answered++;
    $expect_dist[6]++;
    $ng->stop;
    ok !(grep { cx_pid_alive($_) } @all), 'every nginx process is gone';
    my ($ok, $entries) = mdb_entries($STORE);
    ok $ok, 'mdb_stat reads the store with nginx down';
    is $entries, $expect_answered, 'mdb_stat: the last answer is on disk';
    $ng->start;
    my $s = nps($ng);
    is $s->{answered}, $expect_answered, 'after kill -9 of everything: answers in the report';
    is_deeply $s->{distribution}, \@expect_dist, 'after kill -9 of everything: scores intact';
    is send_event($ng, $p, 'answer', score => 0)->{status}, 409, 'after kill -9 of everything: replay 409';
    $p = prompt($ng);
    is send_event($ng, $p, 'answer', score => 6)->{status}, 204, 'after kill -9 of everything: new answers accepted';
}

undef $ng;

# ---- the store directory -----------------------------------------------------

my $worker_uid_expected = $> == 0 ? scalar getpwnam('nobody') : $>;

{
    my $n = cx_nginx(files => { 'html/index.html' => $PAGE }, conf => conf_for('%%PREFIX%%/var/lib/cx/store'));
    my $dir = $n->prefix . '/var/lib/cx/store';
    ok -d $dir, 'nested store path: created';
    my ($w) = $n->worker_pids;
    my $wuid = uid_of_pid($w);
    is $wuid, $worker_uid_expected, 'worker runs as ' . ($> == 0 ? 'nobody (tests run as root)' : 'the test user');
    is +(stat $dir)[4], $wuid, 'nested store: directory owned by the worker user';
    for my $f ('data.mdb', 'lock.mdb') {
        ok -f "$dir/$f", "nested store: $f created";
        is +(stat "$dir/$f")[4], $wuid, "nested store: $f owned by the worker user";
    }
    unlike $n->error_log, qr/\[(?:alert|crit|emerg)\]/, 'nested store: no alert in the error log';
    my $p = eval { prompt($n) };
    ok $p, 'nested store: prompts offered' or diag $@;
    SKIP: {
        skip 'no prompt with the nested store', 3 unless $p;
        is send_event($n, $p, 'answer', score => 10)->{status}, 204, 'nested store: answer stored';
        is nps($n)->{answered}, 1, 'nested store: in the report';
        my ($ok, $entries) = mdb_entries($dir);
        is $entries, 1, 'nested store: mdb_stat sees the answer';
    }
}

{
    # an existing directory made by root (0755, root-owned) is handed over
    my $n = cx_nginx(files => { 'html/index.html' => $PAGE, 'cxdata/README' => "store\n" },
        conf => conf_for('%%PREFIX%%/cxdata'));
    my $dir = $n->prefix . '/cxdata';
    my ($w) = $n->worker_pids;
    my $wuid = uid_of_pid($w);
    is +(stat $dir)[4], $wuid, 'existing store directory given to the worker user';
    my $p = prompt($n);
    is send_event($n, $p, 'answer', score => 3)->{status}, 204, 'existing directory: answer stored';
    is nps($n)->{answered}, 1, 'existing directory: in the report';
}

done_testing;
