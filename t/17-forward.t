#!/usr/bin/perl
# Fleets (README: Fleets): cx_forward and cx_node checked at nginx -t; two
# nginx nodes forwarding to one real clickhouse-server (t/lib/CXClickHouse.pm);
# every response, journey event and alert arrives with its node; ClickHouse
# stopped mid-way: pages and answers go on, the outbox grows and is logged and
# shown by cxctl stats, and drains when ClickHouse is back; kill -9 of a node
# with a full outbox loses nothing; a re-sent backfill (cxctl forward) counts
# once; the fleet's counts are the sum of the nodes' own reports.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use CXClickHouse;
use JSON::PP ();
use POSIX qw(_exit WNOHANG);
use Time::HiRes qw(sleep time);

my $CXCTL = cx_repo_root() . '/build/cxctl';

plan skip_all => "module not built" unless cx_have_module();
plan skip_all => "build/cxctl not built" unless -x $CXCTL;

my $J = JSON::PP->new->utf8->canonical;
my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";

sub cxctl {
    my ($store, @args) = @_;
    my $out = "$store.cxctl.out";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>', $out or _exit(126);
        open STDERR, '>&', \*STDOUT or _exit(126);
        exec { $CXCTL } $CXCTL, '--store', $store, @args or _exit(127);
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    open my $fh, '<', $out or return { rc => $rc, out => '' };
    local $/;
    return { rc => $rc, out => scalar <$fh> };
}

# ---- nginx -t ----------------------------------------------------------------

my $STORE = "    cx_store %%PREFIX%%/cxdata max_size=64m;\n";
my $SITE = "    server { %%CX_SITE%% }\n";

my @BAD = (
    [ 'unknown destination', "cx_forward kafka http://127.0.0.1:9/ database=cx;",
      qr/cx_forward: unknown destination "kafka" \(the one there is: clickhouse\) in \S+nginx\.conf:\d+/ ],
    [ 'no database', "cx_forward clickhouse http://127.0.0.1:9/;",
      qr/cx_forward: database=NAME is missing/ ],
    [ 'bad database name', "cx_forward clickhouse http://127.0.0.1:9/ database=cx-prod;",
      qr/cx_forward: database name "cx-prod" must be letters, digits and "_"/ ],
    [ 'bad URL', "cx_forward clickhouse ftp://127.0.0.1:9/ database=cx;",
      qr/cx_forward: "ftp:\/\/127\.0\.0\.1:9\/" is not an http:\/\/ or https:\/\/ URL/ ],
    [ 'batch 0', "cx_forward clickhouse http://127.0.0.1:9/ database=cx batch=0;",
      qr/batch must be a number from 1 to 100000/ ],
    [ 'interval without a time', "cx_forward clickhouse http://127.0.0.1:9/ database=cx interval=soon;",
      qr/interval must be a time from 1ms to 1h/ ],
    [ 'unknown parameter', "cx_forward clickhouse http://127.0.0.1:9/ database=cx table=x;",
      qr/cx_forward: unknown parameter "table=x" \(database=, user=, password_file=, batch=, interval=\)/ ],
    [ 'missing password file', "cx_forward clickhouse http://127.0.0.1:9/ database=cx user=cx password_file=nothere.txt;",
      qr/cx_forward: cannot open password_file "\S*nothere\.txt"/ ],
    [ 'password file of two lines', "cx_forward clickhouse http://127.0.0.1:9/ database=cx user=cx password_file=two.txt;",
      qr/password_file "\S*two\.txt" must hold one line/ ],
    [ 'a host name without a resolver', "cx_forward clickhouse http://ch.example.com:8123/ database=cx;",
      qr/ch\.example\.com.*needs a "resolver"/ ],
    [ 'twice', "cx_forward clickhouse http://127.0.0.1:9/ database=cx; cx_forward clickhouse http://127.0.0.1:9/ database=cy;",
      qr/"cx_forward" directive is duplicate/ ],
    [ 'bad node name', "cx_forward clickhouse http://127.0.0.1:9/ database=cx; cx_node \"web 1\";",
      qr/cx_node "web 1": a node name is letters, digits, "\.", "-" and "_"/ ],
);

for my $case (@BAD) {
    my ($name, $line, $re) = @$case;
    my ($ok, $out) = cx_test_config("$STORE    $line\n$SITE",
        files => { 'conf/two.txt' => "a\nb\n" });
    ok !$ok, "nginx -t fails: $name";
    like $out, $re, "... and says why: $name" or diag $out;
}

{
    my ($ok, $out) = cx_test_config("$STORE    server { %%CX_SITE%% location /fleet/ { cx_report source=clickhouse; } }\n");
    ok !$ok, 'nginx -t fails: cx_report source=clickhouse without cx_forward';
    like $out, qr/cx_report source=clickhouse needs cx_forward clickhouse URL database=NAME \(the ClickHouse the fleet forwards to\) in \S+nginx\.conf:\d+/,
        '... and says why' or diag $out;
    ($ok, $out) = cx_test_config("$STORE    server { %%CX_SITE%% location /fleet/ { cx_report source=kafka; } }\n");
    ok !$ok, 'nginx -t fails: cx_report source=kafka';
    like $out, qr/cx_report: unknown parameter "source=kafka" \(source=store or source=clickhouse\)/, '... and says why' or diag $out;
}

{
    my ($ok, $out) = cx_test_config("    cx_forward clickhouse http://127.0.0.1:9/ database=cx;\n$SITE");
    ok !$ok, 'nginx -t fails: cx_forward without cx_store';
    like $out, qr/cx_forward needs cx_store: records wait in the store's outbox until ClickHouse has them, in \S+nginx\.conf:\d+/,
        '... and says why' or diag $out;

    ($ok, $out) = cx_test_config("$STORE    cx_forward clickhouse http://127.0.0.1:9/ database=cx user=cx"
        . " password_file=pw.txt batch=100 interval=250ms;\n    cx_node web-1.eu_west;\n$SITE",
        files => { 'conf/pw.txt' => "s3cret\n" });
    ok $ok, 'every parameter, a password file, a node name: nginx -t passes' or diag $out;
}

# examples/fleet: a node's and the balancer's configuration pass nginx -t
{
    my $root = cx_repo_root();
    my $read = sub { open my $fh, '<', "$root/examples/fleet/$_[0]" or die "$_[0]: $!"; local $/; <$fh> };
    my $node = $read->('node.conf');
    $node =~ s{/var/lib/nginx/cx}{%%PREFIX%%/cxdata}; 
    $node =~ s{/etc/nginx/(cx\.key|clickhouse\.pass)}{$1}g;
    $node =~ s{/var/www/shop}{%%PREFIX%%/html};
    $node =~ s{listen 80;}{listen 127.0.0.1:%%PORT%%;};
    my ($ok, $out) = cx_test_config($node, files => { 'conf/cx.key' => ('ab' x 32) . "\n", 'conf/clickhouse.pass' => "pw\n" });
    ok $ok, 'examples/fleet/node.conf passes nginx -t' or diag $out;
    unlike $out, qr/\[(?:warn|alert|crit|emerg)\]/, '... without a warning' or diag $out;
    my $lb = $read->('balancer.conf') =~ s{listen 80;}{listen 127.0.0.1:%%PORT%%;}r;
    ($ok, $out) = cx_test_config($lb, no_module => 1);
    ok $ok, 'examples/fleet/balancer.conf passes nginx -t' or diag $out;
}

# ---- a store running short of space names the outbox first ---------------------------

{
    my ($closed) = cx_free_ports(1);
    my $ng = cx_nginx(files => { cx_pages($PAGE, 'home') }, conf => <<CONF);
    cx_store %%PREFIX%%/cxdata max_size=1m;
    cx_forward clickhouse http://127.0.0.1:$closed/ database=cx interval=100ms;
    server {
        %%CX_SITE%%
        location /home/ { cx_touchpoint home stage=awareness; }
    }
CONF
    my $warned;
    my $CXLOAD = cx_repo_root() . '/build/cxload';
    my $used = sub { cxctl($ng->prefix . '/cxdata', 'stats')->{out} =~ /^used .*, ([\d.]+)%\)/m ? $1 : 0 };
    for my $burst (1 .. 15) {
        # new visitors, each visit an event: fast to 60%, then by hundreds
        last if $used->() >= 60;
        system("timeout 20 $CXLOAD -c 1 -d 1 -u /home/ " . $ng->port . " >/dev/null 2>&1");
    }
    for my $step (1 .. 100) {
        last if $used->() >= 81;
        $ng->get('/home/') for 1 .. 100;
    }
    $warned = wait_for { $ng->error_log =~ /cx_store: "[^"]+cxdata" is (\d+)% full and its outbox holds (\d+) entries not yet in ClickHouse \(oldest \d+s\); the store refuses answers when full: bring ClickHouse back or raise max_size= of cx_store/ ? [$1, $2] : undef } 12;
    ok $warned, 'visits while ClickHouse is away: the store nears max_size and the log names the outbox'
        or diag $ng->error_log;
    ok $warned && $warned->[0] >= 80 && $warned->[1] >= 10, "... at $warned->[0]% with $warned->[1] entries waiting" if $warned;
    unlike $ng->error_log, qr/MDB_MAP_FULL/, '... before the store is full';
    diag cxctl($ng->prefix . "/cxdata", "stats")->{out} unless $warned;
    $ng->stop;
}

# ---- two nodes, one ClickHouse ---------------------------------------------------

my $ch = cx_clickhouse();
SKIP: {
skip "no ClickHouse: $CXClickHouse::WHY", 1 unless $ch;

my $CHP = $ch->http_port;

# web-2 signs in as the user cx (the harness's), web-1 as default
sub node_conf {
    my ($node) = @_;
    my $cred = $node eq 'web-2' ? ' user=cx password_file=ch.pass' : '';
    return <<CONF;
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_secret_file cx.key;
    cx_forward clickhouse http://127.0.0.1:$CHP/ database=cx interval=200ms batch=3$cred;
    cx_node $node;
    cx_survey nps { type nps; question "Recommend us?"; followup "Why?";
                    followup detractor "What went wrong?"; }
    cx_survey csat { type csat; question "Helped?"; }
    cx_alert unhappy {
        survey nps;
        when band=detractor;
        notify http://127.0.0.1:9/hook secret=hook.key;
    }
    server {
        %%CX_SITE%%
        location /home/ { cx_touchpoint home stage=awareness; }
        location /buy/  { cx_touchpoint buy stage=purchase; cx_prompt nps sample=100%;
                          cx_target_by_lua_file %%PREFIX%%/conf/buy.lua; }
        location /help/ { cx_touchpoint help stage=usage; cx_prompt csat sample=100%;
                          cx_target_by_lua_file %%PREFIX%%/conf/help.lua; }
        location /fleet/ { cx_report source=clickhouse; }
    }
CONF
}

my %FILES = (cx_pages($PAGE, qw(home buy help)), 'conf/ch.pass' => "s3cret-cx\n",
             'conf/cx.key' => "4f1d0c7e9a2b5d8c3e6f1a4b7c0d9e2f5a8b1c4d7e0f3a6b\n",
             'conf/hook.key' => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
             # attributes with other keys per touchpoint, numbers among them
             'conf/buy.lua' => qq{return function(cx) return true, { total = 129.9, plan = "=pro" } end\n},
             'conf/help.lua' => qq{return function(cx) return true, { ticket = 7 } end\n});

# a responses table as the first fleet release made it: the nodes add the
# columns it lacks (ALTER TABLE ... ADD COLUMN IF NOT EXISTS)
{
    my $old = `$CXCTL clickhouse-schema`;
    $old =~ s/^    (?:followup String|attr_numeric Array\(UInt8\)|device String),\n//mg;
    my ($db, $responses) = (split /;\n\n/, $old)[0, 1];
    unlike $responses, qr/followup|attr_numeric|device/, 'the old responses table, without the new columns';
    is $ch->query($db)->{status}, 200, 'CREATE DATABASE cx';
    is $ch->query($responses)->{status}, 200, 'CREATE TABLE cx.responses, the old way';
}
my %node = (
    'web-1' => cx_nginx(files => \%FILES, conf => node_conf('web-1')),
    'web-2' => cx_nginx(files => \%FILES, conf => node_conf('web-2')),
);
my %store = map { $_ => $node{$_}->prefix . '/cxdata' } keys %node;

# a wrong password: ClickHouse's reason in the log, nothing stored there
{
    my $conf = node_conf('web-x') =~ s/database=cx /database=cx user=cx password_file=bad.pass /r;
    my $ng = cx_nginx(files => { %FILES, 'conf/bad.pass' => "nope\n" }, conf => $conf);
    is $ng->get('/home/')->{status}, 200, 'a node with a wrong ClickHouse password serves its pages';
    ok((wait_for { $ng->error_log =~ /cx_forward: ClickHouse "[^"]+" answered \d+ to CREATE \.\.\. IF NOT EXISTS: "Code: 193, [^"]*Wrong password for user cx[^"]*"; records wait in the outbox/ } 10),
        '... and logs ClickHouse\'s reason: wrong password') or diag $ng->error_log;
    ok((wait_for { ch_count("SELECT count() FROM system.tables WHERE database = 'cx'") == 3 } 10),
        '(the other nodes made the tables)');
    is ch_count("SELECT count() FROM cx.events WHERE node = 'web-x'"), 0, '... its visit did not reach ClickHouse';
    $ng->stop;
}

my $n = 0;
# a visitor on a node: home, then a page with a prompt, answered
sub visitor {
    my ($name, $path, $score, $comment) = @_;
    my $ng = $node{$name};
    my $b = cx_browser('v' . ++$n);
    is $ng->visit($b, '/home/')->{status}, 200, "$name: /home/";
    my $r = $ng->visit($b, $path);
    is $r->{status}, 200, "$name: $path";
    my $token = $r->{prompt} && $r->{prompt}{token};
    ok $token, "$name $path: a prompt" or return;
    for my $e ([display => ()], [answer => (score => $score)],
               defined $comment ? [comment => (comment => $comment)] : ()) {
        my ($event, %f) = @$e;
        # every other visitor on a phone: segments by device class
        my $a = $ng->answer(token => $token, jar => $b, event => $event, %f,
                            headers => ['User-Agent' => $n % 2 ? 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148'
                                                               : 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0']);
        is $a->{status}, 204, "$name: $event 204" or diag $a->{raw};
    }
}

sub ch_rows {
    my ($sql) = @_;
    my $r = $ch->query("$sql FORMAT JSONEachRow");
    return undef unless $r->{status} == 200;
    return [ map { $J->decode($_) } grep { length } split /\n/, $r->{body} ];
}
sub ch_count {
    my ($sql) = @_;
    my $r = $ch->query("$sql FORMAT TSV");
    return $r->{status} == 200 ? $r->{body} + 0 : -1;
}
sub outbox_of {
    my ($name) = @_;
    my $s = cxctl($store{$name}, 'stats');
    return $s->{out} =~ /^outbox\s+(\d+) entr/m ? $1 : $s->{out} =~ /^outbox\s+empty/m ? 0 : undef;
}
sub answered_in_ch { ch_count('SELECT count() FROM cx.responses FINAL WHERE answered = 1') }

visitor('web-1', '/buy/', 9, "Fast \"delivery\" <3 \x{e9}t\x{e9}");
visitor('web-1', '/buy/', 2, 'Broken');
visitor('web-1', '/help/', 5);
visitor('web-2', '/buy/', 3);
visitor('web-2', '/help/', 2, 'Slow');

ok((wait_for { answered_in_ch() == 5 } 15), 'ClickHouse has the 5 answers of both nodes')
    or diag 'answered: ' . answered_in_ch() . "\n" . $node{'web-1'}->error_log;
is ch_count("SELECT count() FROM system.columns WHERE database = 'cx' AND table = 'responses' "
            . "AND name IN ('followup', 'attr_numeric')"), 2, 'the old responses table got the new columns';
like $node{'web-1'}->error_log . $node{'web-2'}->error_log,
    qr/cx_forward: adding the columns of this version to "cx\.responses"/, '... and the log says so';

# every export column, as the node's own export says it
for my $name (sort keys %node) {
    my $r = $node{$name}->get('/cx-admin/responses.ndjson');
    is $r->{status}, 200, "$name: responses.ndjson";
    my @mine = map { $J->decode($_) } grep { length } split /\n/, $r->{body};
    my $rows = ch_rows("SELECT * FROM cx.responses FINAL WHERE node = '$name' ORDER BY id");
    my %ch = map { $_->{id} => $_ } @{ $rows || [] };
    is scalar(keys %ch), scalar(@mine), "$name: as many responses in ClickHouse as in the node's export";
    for my $m (@mine) {
        my $c = $ch{ $m->{id} } or do { fail "$name: response $m->{id} in ClickHouse"; next };
        for my $f (qw(survey type touchpoint stage comment visitor lang path)) {
            is $c->{$f}, $m->{$f}, "$name $m->{id}: $f";
        }
        is $c->{score}, $m->{score}, "$name $m->{id}: score";
        is $c->{previous_score}, $m->{previous_score}, "$name $m->{id}: previous_score";
        is $c->{answered}, $m->{answered} ? 1 : 0, "$name $m->{id}: answered";
        is $c->{displayed}, $m->{displayed} ? 1 : 0, "$name $m->{id}: displayed";
        is $c->{node}, $name, "$name $m->{id}: node";
        my @pairs = map { [ $c->{attr_keys}[$_], $c->{attr_values}[$_], $c->{attr_numeric}[$_] ] }
            0 .. $#{ $c->{attr_keys} };
        is_deeply { map { $_->[0] => $_->[2] ? $_->[1] + 0 : $_->[1] } @pairs }, $m->{attributes} || {},
            "$name $m->{id}: attributes, numbers marked in attr_numeric";
        is $c->{followup}, $m->{followup}, "$name $m->{id}: followup";
    }
    my $ev = cxctl($store{$name}, 'stats')->{out} =~ /^events\s+(\d+)/m ? $1 : -1;
    ok((wait_for { ch_count("SELECT count() FROM cx.events FINAL WHERE node = '$name'") == $ev } 5),
        "$name: its $ev journey events in ClickHouse");
}

is ch_count("SELECT count() FROM cx.events FINAL WHERE kind = 'visit' AND name = 'home'"), 5,
    'visits of home: one per visitor, over both nodes';
ok((wait_for { ch_count("SELECT count() FROM cx.alerts FINAL") == 2 } 5),
    'the two detractors\' alerts (one per node) are in ClickHouse');
is_deeply ch_rows("SELECT node, rule, state FROM cx.alerts FINAL ORDER BY node"),
    [ { node => 'web-1', rule => 'unhappy', state => 'open' },
      { node => 'web-2', rule => 'unhappy', state => 'open' } ], '... with node, rule and state';
is outbox_of($_), 0, "$_: cxctl stats: outbox empty" for sort keys %node;

# ---- behind one address: the README's balancing by visitor keeps a prompt on one node

{
    my ($p1, $p2) = map { $node{$_}->port } qw(web-1 web-2);
    my $lb = cx_nginx(no_module => 1, conf => <<CONF);
    map \$cookie_cx \$cx_sticky { "~^(?<id>[A-Za-z0-9_-]{17})" \$id; default \$remote_addr; }
    upstream fleet { hash \$cx_sticky consistent; server 127.0.0.1:$p1; server 127.0.0.1:$p2; keepalive 4; }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { proxy_pass http://fleet; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
CONF
    my %on;
    my $all204 = 1;
    for my $i (1 .. 6) {
        my $b = cx_browser("lb$i");
        $lb->visit($b, '/home/');
        my $t = $lb->visit($b, '/buy/')->{prompt};
        $t = $t && $t->{token} or do { $all204 = 0; next };
        for my $e ([display => ()], [answer => (score => $i)], [comment => (comment => "via the balancer $i")]) {
            my ($event, %f) = @$e;
            $all204 = 0 if $lb->answer(token => $t, jar => $b, event => $event, %f)->{status} != 204;
        }
    }
    ok $all204, 'six visitors through the balancer: every display, answer and comment 204';
    for my $name (sort keys %node) {
        for (split /\n/, $node{$name}->get('/cx-admin/responses.ndjson')->{body}) {
            my $o = $J->decode($_);
            $on{ $o->{id} }{$name} = 1 if $o->{comment} =~ /via the balancer/ && $o->{answered};
        }
    }
    is scalar(keys %on), 6, '... each answer and its comment stored, in one record'
        or diag explain \%on;
    is scalar(grep { keys %{ $on{$_} } > 1 } keys %on), 0, '... each on one node only';
    $lb->stop;
}

# ---- ClickHouse down: nothing waits, the outbox grows ------------------------------

$ch->stop;
my $t0 = time;
visitor('web-1', '/buy/', 7);
visitor('web-2', '/buy/', 8, 'Fine');
visitor('web-2', '/help/', 4);
ok time - $t0 < 5, sprintf('three visitors answered while ClickHouse is down, in %.2f s', time - $t0);

ok((wait_for { ($node{'web-2'}->error_log =~ /cx_forward: ClickHouse "http:\/\/127\.0\.0\.1:$CHP\/" failed: connection (?:refused|reset); (?:\d+ entries|records) wait in the outbox/) } 5),
    'web-2 logs that ClickHouse refuses and records wait in the outbox') or diag $node{'web-2'}->error_log;
my $ob = outbox_of('web-2');
ok $ob && $ob >= 2, "web-2: cxctl stats shows the outbox ($ob entries)";
like cxctl($store{'web-2'}, 'stats')->{out}, qr/^outbox\s+\d+ entr(?:y|ies) for ClickHouse, oldest \d+s ago$/m,
    '... with its age';

# kill -9 of web-2 with its outbox full; it comes back, ClickHouse too
my @pids = ($node{'web-2'}->pid, $node{'web-2'}->worker_pids);
kill 'KILL', @pids;
ok((wait_for { waitpid $_, WNOHANG for @pids; !grep { cx_pid_alive($_) } @pids } 5), 'web-2 killed with -9');
is outbox_of('web-2'), $ob, 'its outbox is on disk, as it was';
$node{'web-2'}->restart;
$ch->start;

ok((wait_for { answered_in_ch() == 14 } 20), 'ClickHouse back: all 14 answers arrive, none lost')
    or diag 'answered: ' . answered_in_ch();
ok((wait_for { outbox_of('web-1') == 0 && outbox_of('web-2') == 0 } 10), 'both outboxes drain');
like $node{'web-1'}->error_log, qr/cx_forward: ClickHouse "[^"]+" takes records again; the outbox drains/,
    'web-1 logs that ClickHouse takes records again';

# ---- a re-sent backfill counts once ------------------------------------------------

my $before = ch_count('SELECT count() FROM cx.responses FINAL');
my $alerts_before = ch_count('SELECT count() FROM cx.alerts FINAL');
my ($w1_responses) = cxctl($store{'web-1'}, 'stats')->{out} =~ /^responses\s+(\d+)/m;
my $bf = cxctl($store{'web-1'}, 'forward', '--since', '1970-01-01');
is $bf->{rc}, 0, 'cxctl forward --since 1970-01-01: exit 0' or diag $bf->{out};
like $bf->{out}, qr/^queued $w1_responses responses, \d+ journey events, \d+ alerts? for ClickHouse$/m, '... says what it queued';
ok((wait_for { outbox_of('web-1') == 0 } 10), 'web-1 sends the backfill');
is ch_count('SELECT count() FROM cx.responses FINAL'), $before, 'responses counted once (FINAL) after the re-send';
is ch_count("SELECT count() FROM cx.alerts FINAL"), $alerts_before, 'alerts counted once';
is cxctl($store{'web-1'}, 'forward')->{rc}, 2, 'cxctl forward without --since: exit 2';

# ---- the fleet is the sum of the nodes ------------------------------------------------

my %sum;
for my $name (sort keys %node) {
    my ($rep, $res) = $node{$name}->report_json;
    is $res->{status}, 200, "$name: report.json";
    $sum{ $_->{name} } += $_->{answered} for @{ $rep->{surveys} };
}
my %fleet = map { $_->{survey} => $_->{n} + 0 }
    @{ ch_rows('SELECT survey, count() AS n FROM cx.responses FINAL WHERE answered = 1 GROUP BY survey') || [] };
is_deeply \%fleet, \%sum, 'answers per survey in ClickHouse = the sum of the nodes\' report.json';

# ---- cx_report source=clickhouse: the same report over the fleet ---------------------

sub strip { my ($rep) = @_; delete @$rep{qw(generated_at events_dropped nodes)}; $rep }
for my $name (sort keys %node) {
    for my $q ('', 'from=' . POSIX::strftime('%Y-%m-%d', gmtime), 'survey=nps', 'touchpoint=buy') {
        my ($own) = $node{$name}->report_json(length $q ? $q : undef);
        my $r = $node{'web-1'}->get("/fleet/report.json?node=$name" . (length $q ? "&$q" : ''));
        is $r->{status}, 200, "fleet report.json?node=$name&$q: 200" or diag $r->{body};
        my $fleet = eval { $J->decode($r->{body}) } || {};
        is_deeply strip($fleet), strip($own), "fleet report.json?node=$name&$q = ${name}'s own report.json"
            or diag "fleet: $r->{body}\nown: " . $J->encode($own);
    }
}
# the exports: a node's own bytes, paged 3 responses at a time (batch=3),
# the CSV's attr_ columns from ClickHouse's key set
for my $name (sort keys %node) {
    for my $fmt (qw(csv ndjson)) {
        for my $q ('', '&survey=nps', '&touchpoint=help', $fmt eq 'csv' ? ('&excel=1') : ()) {
            my $own = $node{$name}->get("/cx-admin/responses.$fmt?x=1$q");
            my $fleet = $node{'web-1'}->get("/fleet/responses.$fmt?node=$name$q");
            is $fleet->{status}, 200, "fleet responses.$fmt?node=$name$q: 200";
            is $fleet->{body}, $own->{body}, "... the bytes of ${name}'s own responses.$fmt$q"
                or diag "fleet:\n$fleet->{body}\nown:\n$own->{body}";
        }
    }
}
{
    my $csv = $node{'web-2'}->get('/fleet/responses.csv');
    is $csv->{status}, 200, 'fleet responses.csv (both nodes)';
    my @rows = split /\r\n/, $csv->{body};
    like $rows[0], qr/,received_at_utc,band,followup,attr_plan,attr_ticket,attr_total$/,
        '... the attr_ columns of both touchpoints\' hooks';
    ok((grep { /,detractor,What went wrong\?,'=pro,,129\.9$/ } @rows), '... a detractor of /buy/ with its follow-up');
    ok((grep { /,detractor,,,7,$/ } @rows), '... a detractor of /help/ (no follow-up), its ticket');
    is scalar(@rows) - 1, ch_count('SELECT count() FROM cx.responses FINAL'), '... a row per response of the fleet';
    like $csv->{headers}{'content-disposition'} // '', qr/attachment; filename="responses\.csv"/, '... as an attachment';
}
# comments.json: a node's own pages, read from ClickHouse
sub comments_chain {
    my ($n, $path) = @_;
    my (@ids, $next);
    for (1 .. 50) {
        my $r = $n->get($path . (defined $next ? "&before=$next" : ''));
        my $j = eval { $J->decode($r->{body}) } || {};
        push @ids, map { $_->{id} } @{ $j->{comments} || [] };
        $next = $j->{next};
        last unless defined $next;
    }
    return \@ids;
}
for my $name (sort keys %node) {
    for my $q ('limit=100', 'q=SLOW', 'q=%C3%A9T%C3%A9', 'band=detractor', 'band=promoter', 'touchpoint=buy',
               'from=' . POSIX::strftime('%Y-%m-%d', gmtime))
    {
        my $own = $J->decode($node{$name}->get("/cx-admin/comments.json?$q")->{body});
        my $r = $node{'web-1'}->get("/fleet/comments.json?node=$name&$q");
        is $r->{status}, 200, "fleet comments.json?node=$name&$q: 200" or diag $r->{body};
        my $fleet = eval { $J->decode($r->{body}) } || {};
        is_deeply $fleet->{comments}, $own->{comments},
            "fleet comments.json?node=$name&$q = ${name}'s own (" . scalar(@{ $own->{comments} }) . ')'
            or diag "fleet: $r->{body}\nown: " . $J->encode($own);
    }
    is_deeply comments_chain($node{'web-1'}, "/fleet/comments.json?node=$name&limit=1"),
        comments_chain($node{$name}, '/cx-admin/comments.json?limit=1'),
        "fleet comments.json?node=$name, a comment a page: the node's own chain";
}
{
    my @all = sort { $b cmp $a } map { @{ comments_chain($_, '/cx-admin/comments.json?limit=100') } } values %node;
    ok @all >= 8, 'the fleet\'s comments: ' . scalar(@all);
    is_deeply comments_chain($node{'web-2'}, '/fleet/comments.json?limit=3'), \@all,
        'fleet comments.json (both nodes) in pages of 3: every comment once, newest first';
    my $r = $node{'web-1'}->get('/fleet/comments.json?band=angry');
    is $r->{status}, 400, 'fleet comments.json?band=angry: 400';
    like $r->{body}, qr/"parameter":"band"/, '... naming band';
    $r = $node{'web-1'}->get('/fleet/comments.json?before=%27%20OR%201=1--%20aaaaaa');
    is $r->{status}, 400, 'fleet comments.json?before= that is not an id: 400 (nothing of it reaches SQL)';
}
# segments.json: a node's own split (values, scores, days, touchpoints), read from ClickHouse
{
    my $seg = sub { my $o = eval { $J->decode($_[0]{body}) } || {}; delete $o->{scanned}; $o };
    for my $name (sort keys %node) {
        for my $q ('by=lang', 'by=device', 'by=attr.plan', 'by=attr.total&survey=nps',
                   'by=attr.ticket&touchpoint=help', 'by=attr.nope&from=2000-01-01') {
            my $own = $seg->($node{$name}->get("/cx-admin/segments.json?$q"));
            my $r = $node{'web-1'}->get("/fleet/segments.json?node=$name&$q");
            is $r->{status}, 200, "fleet segments.json?node=$name&$q: 200" or diag $r->{body};
            is_deeply $seg->($r), $own, "... = ${name}'s own"
                or diag "fleet: $r->{body}\nown: " . $J->encode($own);
        }
    }
    my $both = $seg->($node{'web-2'}->get('/fleet/segments.json?by=device'));
    my %n;
    for my $name (sort keys %node) {
        for my $s (@{ $seg->($node{$name}->get('/cx-admin/segments.json?by=device'))->{surveys} }) {
            $n{ $s->{name} }{ $_->{value} } += $_->{answered} for @{ $s->{segments} };
        }
    }
    is_deeply { map { my $s = $_; ($s->{name} => { map { ($_->{value} => $_->{answered}) } @{ $s->{segments} } }) } @{ $both->{surveys} } },
        \%n, 'fleet segments.json?by=device (both nodes): the sum of the nodes\' values';
    ok scalar(grep { $_ } map { keys %$_ } values %n), '... with a device class stored and forwarded';
    my $r = $node{'web-1'}->get("/fleet/segments.json?by=attr.x'%20OR%201=1");
    is $r->{status}, 400, 'fleet segments.json?by= with a quote: 400 (nothing of it reaches SQL)';
}
{
    my $r = $node{'web-2'}->get('/fleet/report.json');
    is $r->{status}, 200, 'fleet report.json (both nodes), from web-2';
    my $fleet = $J->decode($r->{body});
    my %fa = map { $_->{name} => $_->{answered} } @{ $fleet->{surveys} };
    is_deeply \%fa, \%sum, 'fleet report.json: answered per survey = the sum of the nodes';
    my $open = 0;
    $open += ($_->report_json)[0]{alerts}{open} for values %node;
    is $fleet->{alerts}{open}, $open, "fleet report.json: both nodes' open alerts ($open)";
    is_deeply [ map { [ $_->{node}, $_->{answered} ] } @{ $fleet->{nodes} } ],
        [ map { [ $_, ch_count("SELECT count() FROM cx.responses FINAL WHERE answered = 1 AND node = '$_'") ] } sort keys %node ],
        'fleet report.json: "nodes", each with its answers';
    my ($own) = $node{'web-1'}->report_json;
    ok !exists $own->{nodes}, 'a node\'s own report.json has no "nodes"';
    like $node{'web-1'}->get('/fleet/report.json?node=a%20b')->{status}, qr/^400$/, 'node= with a space: 400';
}

# ---- cxctl erase reaches ClickHouse --------------------------------------------------

{
    my $rows = ch_rows("SELECT visitor FROM cx.responses FINAL WHERE node = 'web-2' AND comment = 'Slow'");
    my $v = $rows && $rows->[0] && $rows->[0]{visitor};
    ok $v, "web-2's visitor who said \"Slow\" is in ClickHouse";
    my $e = cxctl($store{'web-2'}, 'erase', '--visitor', $v // '');
    is $e->{rc}, 0, 'cxctl erase on web-2: exit 0' or diag $e->{out};
    like $e->{out}, qr/^queued for ClickHouse: cx_forward deletes the visitor's rows there too$/m, '... queued for ClickHouse';
    ok((wait_for { ch_count("SELECT count() FROM cx.responses WHERE visitor = '$v'") == 0
                   && ch_count("SELECT count() FROM cx.events WHERE visitor = '$v'") == 0 } 15),
        '... and ClickHouse has no row of that visitor left, responses or events');
    like $node{'web-2'}->error_log, qr/cx_forward: a visitor erased with cxctl erase is being deleted from ClickHouse/, '... logged';
    ok((wait_for { outbox_of('web-2') == 0 } 10), '... the erasure leaves the outbox');
    # the answers leave both reports alike (a node's rollups keep anonymous
    # visit counts, ClickHouse's visits go with the visitor's rows)
    my ($own) = $node{'web-2'}->report_json;
    my $fleet = $J->decode($node{'web-1'}->get('/fleet/report.json?node=web-2')->{body});
    is_deeply [ map { [ $_->{name}, $_->{answered}, $_->{distribution} ] } @{ $fleet->{surveys} } ],
        [ map { [ $_->{name}, $_->{answered}, $_->{distribution} ] } @{ $own->{surveys} } ],
        '... answers and distributions: the fleet report for web-2 = web-2\'s own, after the erasure';
}

# ---- a table dropped under it: the reason logged, the table made again ------------

is $ch->query('DROP TABLE cx.events')->{status}, 200, 'DROP TABLE cx.events';
is $node{'web-1'}->visit(cx_browser('late'), '/home/')->{status}, 200, 'a visit on web-1';
ok((wait_for { $node{'web-1'}->error_log =~ /cx_forward: ClickHouse "[^"]+" answered \d+ to INSERT INTO cx\.events: "Code: 60, [^"]*cx\.events doesn't exist[^"]*"; \d+ entries wait in the outbox/ } 10),
    'web-1 logs ClickHouse\'s reason: the table does not exist') or diag $node{'web-1'}->error_log;
ok((wait_for { ch_count("SELECT count() FROM cx.events WHERE node = 'web-1'") == 1 } 15),
    'the table is created again and the visit arrives');

# ClickHouse down: the fleet report says so, with a 502
$ch->stop;
{
    my $r = $node{'web-1'}->get('/fleet/report.json');
    is $r->{status}, 502, 'fleet report.json while ClickHouse is down: 502';
    like $r->{body}, qr/"error":"ClickHouse connection refused"/, '... saying why' or diag $r->{body};
    $r = $node{'web-1'}->get('/fleet/responses.ndjson');
    is $r->{status}, 502, 'fleet responses.ndjson while ClickHouse is down: 502';
    like $r->{body}, qr/"error":"ClickHouse connection refused"/, '... saying why';
    $r = $node{'web-1'}->get('/fleet/comments.json');
    is $r->{status}, 502, 'fleet comments.json while ClickHouse is down: 502';
    like $r->{body}, qr/"error":"ClickHouse connection refused"/, '... saying why';
}
$ch->start;

$_->stop for values %node;
}

done_testing;
