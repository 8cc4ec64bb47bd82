#!/usr/bin/perl
# Visitors across nodes, broken cookies, Global Privacy Control and the
# variables (README: Directives; issue 3).
#
#   - two nginx (own prefixes and stores, the same cx_secret_file content)
#     form a fleet: a cookie from one is the same visitor on the other (visits
#     go on counting, same $cx_visitor), a token from one is accepted by the
#     other, and sample=50% decides the same for 50 visitors on both
#   - every kind of bad cookie (tampered payload byte, altered character,
#     truncated, empty, 4 KB, base64 garbage, signed with another secret,
#     the real cookie of another site, a token, a blob of the token domain)
#     is a new visitor: 200, a prompt, a fresh Set-Cookie with a new id, and
#     one info line "visitor cookie does not verify" in the error log; a
#     version 1 cookie with the right key is still the same visitor
#   - Sec-GPC: 1: no cookie, no prompt, no journey event (report.json the
#     same after the events had time to be written), and headers and body
#     equal to the same file from a location without cx directives;
#     Sec-GPC: 0 is no opt-out; `cx_respect_gpc off` ignores the header
#   - $cx_visitor $cx_touchpoint $cx_prompt through a log_format, request
#     by request
#
# Cookies are built and checked with the layout of src/ngx_cx_token.h:
#   value   = B64URL(payload) "." B64URL(HMAC-SHA256(key, domain || payload)[0..15])
#   key     = HMAC-SHA256(secret, "ngx_cx cookie v1"), domain 0x02 (tokens 0x01)
#   payload = version 3: version id(12) first_seen(4) visits(4) last_display(4) ntp ... nsv ...
#   last_tp(4) last_at(4) stages(1)
# A cookie the test signs with the right secret must verify (checked), so
# the ones signed otherwise differ from a genuine cookie only where meant.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use JSON::PP ();
use Digest::SHA qw(hmac_sha256);
use Time::HiRes qw(sleep);

plan skip_all => 'ngx_cx module not built (run make)' unless cx_have_module();

my $JSON = JSON::PP->new->utf8->canonical;

my $PAGE = "<html><head><title>t</title></head><body>\n<p>page</p>\n</body></html>\n";

my $SECRET       = 'fleet-secret-0123456789abcdef0123456789abcdef';
my $OTHER_SECRET = 'another-site-fedcba9876543210fedcba9876543210';

my $T0  = 1893456000;    # 2030-01-01T00:00:00Z
my $DAY = 86400;

my $VERIFY_FAIL = qr/visitor cookie does not verify/;

# ---- cookies ---------------------------------------------------------------



sub sign_blob {
    my ($secret, $domain, $payload) = @_;
    my $key = hmac_sha256('ngx_cx cookie v1', $secret);
    my $mac = substr hmac_sha256(chr($domain) . $payload, $key), 0, 16;
    return cx_b64url_encode($payload) . '.' . cx_b64url_encode($mac);
}

sub cookie_state {
    my ($value) = @_;
    return {} unless defined $value;
    my $b = cx_signed_payload($value);
    return {} unless defined $b && length $b >= 17;
    my ($ver, $id, $first) = unpack 'C a12 N', $b;
    my %s = (version => $ver, id => unpack('H*', $id), first_seen => $first);
    if ($ver >= 2 && length $b >= 27) {
        @s{qw(visits last_display)} = unpack 'x17 N N', $b;
    }
    return \%s;
}

# ---- the fleet ---------------------------------------------------------------

sub conf {
    my ($extra) = @_;
    return <<"CONF";
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_secret_file %%PREFIX%%/conf/cx.key;
    cx_test_clock on;
    $extra
    cx_survey s_full { type nps; question "Full?"; }
    cx_survey s_half { type nps; question "Half?"; }
    log_format cx '\$cx_visitor|\$cx_touchpoint|\$cx_prompt|\$request_method|\$request_uri|\$status';
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%PREFIX%%/html;
        access_log logs/cx.log cx;
        location /cx/       { cx_endpoint; }
        location /cx-admin/ { cx_report; }
        location /home/     { cx_touchpoint home stage=awareness; }
        location /s100/     { cx_touchpoint s100 stage=consideration; cx_prompt s_full sample=100%; }
        location /s50/      { cx_touchpoint s50; cx_prompt s_half sample=50%; }
        location /plain/    { alias %%PREFIX%%/html/s100/; }
    }
CONF
}

sub files {
    my ($secret) = @_;
    return {
        'conf/cx.key'          => $secret,
        cx_pages($PAGE, qw(home s100 s50)),
    };
}

my $ng1 = cx_nginx(files => files($SECRET), conf => conf(''));
my $ng2 = cx_nginx(files => files($SECRET), conf => conf(''));
my $ng3 = cx_nginx(files => files($OTHER_SECRET), conf => conf('cx_respect_gpc off;'));

isnt $ng1->prefix, $ng2->prefix, 'two nginx, two prefixes (two stores)';

# ---- helpers -------------------------------------------------------------------





sub event {
    my ($ng, $b, $event, %o) = @_;
    my $p = $o{prompt} || $b->{last_prompt};
    return $ng->answer(token => $p->{token}, jar => $b, event => $event, now => $o{now});
}


sub visits_of {
    my ($rep, $name) = @_;
    my ($t) = grep { $_->{name} eq $name } @{ $rep->{touchpoints} || [] };
    return $t ? "$t->{visits}/$t->{visitors}" : '0/0';
}

sub offered_of {
    my ($rep, $name) = @_;
    my ($s) = grep { $_->{name} eq $name } @{ $rep->{surveys} || [] };
    return $s ? $s->{offered} : -1;
}

sub count_lines { my ($text, $re) = @_; my $n = () = $text =~ /$re/g; return $n }

# The headers of a response without Date (which may tick between two requests).
sub headers_but_date {
    my ($r) = @_;
    my @l = @{ $r->{header_list} };
    my @out;
    for (my $i = 0; $i < @l; $i += 2) {
        push @out, "$l[$i]: $l[$i+1]" unless lc $l[$i] eq 'date';
    }
    return \@out;
}

# ---- the cookie format the tests rely on ---------------------------------------------

my %seen_ids;
my $genuine;
subtest 'genuine cookie, re-signed by the test with the fleet secret, verifies' => sub {
    my $b = cx_browser('genuine');
    my $r = $ng1->visit($b, '/home/', now => $T0);
    $genuine = $b->{cookie};
    ok defined $genuine, 'Set-Cookie cx';
    my $s = cookie_state($genuine);
    $seen_ids{ $s->{id} } = 1;
    is $s->{version}, 3, 'version 3';
    is $s->{visits}, 1, 'visits 1';
    is sign_blob($SECRET, 2, cx_signed_payload($genuine)), $genuine,
        'the test signs a payload exactly as the module does';

    # a version 1 cookie (id, first_seen) is still read: same visitor
    my $id = pack 'H*', 'a1b2c3d4e5f60718293a4b5c';
    my $v1 = sign_blob($SECRET, 2, pack('C a12 N', 1, $id, $T0 - 10 * $DAY));
    my $log0 = count_lines($ng1->error_log, $VERIFY_FAIL);
    my $c = cx_browser('v1');
    $r = $ng1->visit($c, '/home/', now => $T0, raw_cookie => "cx=$v1");
    is $r->{status}, 200, 'v1 cookie: 200';
    my $n = cookie_state($c->{cookie});
    is $n->{id}, 'a1b2c3d4e5f60718293a4b5c', 'v1 cookie: the same visitor id';
    is $n->{first_seen}, $T0 - 10 * $DAY, 'v1 cookie: first_seen kept';
    is $n->{version}, 3, 'v1 cookie: rewritten as version 3';
    is $n->{visits}, 1, 'v1 cookie: visits 1';
    is count_lines($ng1->error_log, $VERIFY_FAIL), $log0, 'v1 cookie: no verify failure logged';
};

# ---- bad cookies ---------------------------------------------------------------------

subtest 'bad cookies: a new visitor, never an error' => sub {
    my $b = cx_browser('victim');
    $ng1->visit($b, '/home/', now => $T0) for 1 .. 3;
    my $good = $b->{cookie};
    my $good_state = cookie_state($good);
    is $good_state->{visits}, 3, 'the genuine cookie: visits 3';
    $seen_ids{ $good_state->{id} } = 1;

    my ($p64, $m64) = split /\./, $good;
    my $payload = cx_signed_payload($good);

    my $more_visits = $payload;
    substr($more_visits, 17, 4) = pack 'N', 1000;       # visits 3 -> 1000, MAC kept
    my $flip = sub {
        my ($s, $i) = @_;
        my $c = substr $s, $i, 1;
        substr($s, $i, 1) = $c eq 'A' ? 'B' : 'A';
        return $s;
    };

    my $other_site = cx_browser('other site');
    $ng3->visit($other_site, '/home/', now => $T0);
    ok defined $other_site->{cookie}, 'a real cookie from the other site';

    my $tok = cx_browser('token holder');
    my $tr = $ng1->visit($tok, '/s100/', now => $T0);
    my $token = $tr->{prompt} ? $tr->{prompt}{token} : 'none';
    $seen_ids{ cookie_state($tok->{cookie})->{id} } = 1;

    my @cases = (
        [ 'payload byte changed (visits 3 -> 1000), MAC kept' => cx_b64url_encode($more_visits) . ".$m64" ],
        [ 'one payload character altered'   => $flip->($p64, 7) . ".$m64" ],
        [ 'one MAC character altered'       => "$p64." . $flip->($m64, 5) ],
        [ 'truncated by 3 characters'       => substr($good, 0, -3) ],
        [ 'truncated to the payload'        => $p64 ],
        [ 'truncated to the payload and dot' => "$p64." ],
        [ 'truncated to half'               => substr($good, 0, int(length($good) / 2)) ],
        [ 'empty'                           => '' ],
        [ 'genuine + 4 KB'                  => $good . ('A' x 4096) ],
        [ '4 KB of base64'                  => 'A' x 4096 ],
        [ 'base64 garbage'                  => 'dGhpcyBpcyBub3QgYSBjb29raWU.Z2FyYmFnZQ' ],
        [ 'not base64url at all'            => 'a+b/c==.d+e/f==' ],
        [ 'padding added'                   => "$p64.$m64==" ],
        [ 'signed with another secret'      => sign_blob($OTHER_SECRET, 2, $payload) ],
        [ "the other site's real cookie"    => $other_site->{cookie} ],
        [ 'a prompt token'                  => $token ],
        [ 'signed for the token domain'     => sign_blob($SECRET, 1, $payload) ],
        [ 'trailing byte, re-signed'        => sign_blob($SECRET, 2, $payload . "\0") ],
        [ 'version 4, re-signed'            => sign_blob($SECRET, 2, chr(4) . substr($payload, 1)) ],
    );

    my $now = $T0 + $DAY;
    for my $case (@cases) {
        my ($what, $value) = @$case;
        my $log0 = count_lines($ng1->error_log, $VERIFY_FAIL);
        my $v = cx_browser($what);
        my $r = $ng1->visit($v, '/s100/', now => $now, raw_cookie => "cx=$value");
        is $r->{status}, 200, "$what: 200";
        is cx_offered($r), 's_full', "$what: served as a new visitor, prompt included";
        my $set = cx_cookie_from($r, 'cx');
        ok defined $set, "$what: a fresh Set-Cookie";
        my $s = cookie_state($set);
        like $s->{id} // '', qr/^[0-9a-f]{24}\z/, "$what: an id";
        ok !$seen_ids{ $s->{id} // '' }, "$what: a new id, not one seen before";
        $seen_ids{ $s->{id} // '' } = 1;
        is $s->{visits}, 1, "$what: visits 1";
        is $s->{first_seen}, $now, "$what: first_seen now";
        ok((wait_for { count_lines($ng1->error_log, $VERIFY_FAIL) == $log0 + 1 } 2),
            "$what: one info line in the error log");
    }
    like $ng1->error_log, qr/\[info\] .*cx: visitor cookie does not verify, treating as a new visitor/,
        'the line is at info level';
    unlike $ng1->error_log, qr/exited on signal|\[(?:alert|crit|emerg)\]/, 'no crash, no alert';

    # the genuine cookie still works after all that
    my $r = $ng1->visit($b, '/home/', now => $now);
    is cookie_state($b->{cookie})->{id}, $good_state->{id}, 'the genuine cookie: still the same visitor';
    is cookie_state($b->{cookie})->{visits}, 4, 'the genuine cookie: visits 4';
};

# ---- two nodes, one secret -----------------------------------------------------------------

subtest 'a cookie from one node is the same visitor on the other' => sub {
    my $log2 = count_lines($ng2->error_log, $VERIFY_FAIL);
    my $b = cx_browser('fleet');
    $ng1->visit($b, '/home/', now => $T0 + 2 * $DAY);
    my $s1 = cookie_state($b->{cookie});
    is $s1->{visits}, 1, 'node 1: visits 1';

    my $r = $ng2->visit($b, '/home/', now => $T0 + 2 * $DAY + 60);
    is $r->{status}, 200, 'node 2: 200';
    my $s2 = cookie_state($b->{cookie});
    is $s2->{id}, $s1->{id}, 'node 2: the same visitor id';
    is $s2->{first_seen}, $s1->{first_seen}, 'node 2: first_seen kept';
    is $s2->{visits}, 2, 'node 2: visits 2';

    $ng1->visit($b, '/home/', now => $T0 + 2 * $DAY + 120);
    is cookie_state($b->{cookie})->{visits}, 3, 'back on node 1: visits 3';
    $ng2->visit($b, '/s100/', now => $T0 + 2 * $DAY + 180);
    is cookie_state($b->{cookie})->{id}, $s1->{id}, 'node 2 again: same id';
    is cookie_state($b->{cookie})->{visits}, 4, 'node 2 again: visits 4';
    is count_lines($ng2->error_log, $VERIFY_FAIL), $log2, 'node 2 logged no verify failure';

    my $line = wait_for { my @l = grep { m{\|/home/\|} } split /\n/, $ng2->read_file('logs/cx.log'); $l[-1] } 2;
    is $line, "$s1->{id}|home|-|GET|/home/|200", 'node 2: $cx_visitor is the id from node 1';

    # a prompt served by node 1, displayed through node 2
    $r = $ng1->visit($b, '/s100/', now => $T0 + 2 * $DAY + 240);
    is cx_offered($r), 's_full', 'node 1 offers s_full';
    my $e = event($ng2, $b, 'display', now => $T0 + 2 * $DAY + 250);
    is $e->{status}, 204, "node 2 accepts node 1's token" or diag $e->{raw};
    is cookie_state($b->{cookie})->{last_display}, $T0 + 2 * $DAY + 250,
        "node 2's cookie: last_display";
};

subtest 'sample=50% decides the same on both nodes' => sub {
    my $now = $T0 + 3 * $DAY;
    my (@d1, @d2);
    for my $i (1 .. 50) {
        my $b = cx_browser("half-$i");
        $ng1->visit($b, '/home/', now => $now);
        my $first = $i % 2 ? $ng1 : $ng2;    # half ask node 1 first, half node 2
        my $second = $i % 2 ? $ng2 : $ng1;
        my $a = cx_offered($first->visit($b, '/s50/', now => $now + 1));
        my $z = cx_offered($second->visit($b, '/s50/', now => $now + 2));
        push @d1, $i % 2 ? $a : $z;
        push @d2, $i % 2 ? $z : $a;
    }
    is_deeply \@d2, \@d1, 'node 1 and node 2: the same decision for all 50 visitors';
    my $yes = grep { $_ eq 's_half' } @d1;
    my $bad = grep { $_ ne 's_half' && $_ ne '' } @d1, @d2;
    is $bad, 0, 'only s_half or nothing';
    # 0 or 50 of 50 at 50% happens with probability 2^-49: sampling not applied
    cmp_ok $yes, '>', 0, "some offered ($yes)";
    cmp_ok $yes, '<', 50, 'some not offered';

    # and a node with another secret buckets differently (same ids are not
    # possible there: its cookies are refused), so nothing to compare
};

# ---- Global Privacy Control ----------------------------------------------------------------

subtest 'Sec-GPC: 1 -> no cookie, no prompt, no event; the page as without cx' => sub {
    my $b = cx_browser('gpc');
    $ng1->visit($b, '/home/', now => $T0 + 4 * $DAY);
    my $cookie = $b->{cookie};

    my $rep0;
    wait_for { $rep0 = $ng1->report_json; visits_of($rep0, 'home') ne '0/0' } 3;
    sleep 1.1;    # everything queued so far is written
    $rep0 = $ng1->report_json;

    my $plain = $ng1->get('/plain/index.html');
    is $plain->{status}, 200, 'the file from the location without cx: 200';
    is $plain->{body}, $PAGE, 'plain: the file';

    for my $case ([ 'new visitor', undef ], [ 'known visitor', $cookie ]) {
        my ($what, $c) = @$case;
        for my $path ('/s100/index.html', '/home/index.html') {
            my $r = $ng1->visit(cx_browser('gpc'), $path, now => $T0 + 4 * $DAY + 60,
                raw_cookie => defined $c ? "cx=$c" : undef, headers => [ 'Sec-GPC' => '1' ]);
            is $r->{status}, 200, "$what $path: 200";
            ok !exists $r->{headers}{'set-cookie'}, "$what $path: no Set-Cookie";
            is $r->{body}, $PAGE, "$what $path: the file byte for byte, no prompt";
            is_deeply headers_but_date($r), headers_but_date($plain),
                "$what $path: headers equal to the location without cx"
                or diag $r->{raw_headers}, $plain->{raw_headers};
        }
    }
    my $r = $ng1->visit(cx_browser('gpc'), '/s100/', now => $T0 + 4 * $DAY + 60,
        raw_cookie => 'cx=garbage', headers => [ 'Sec-GPC' => '1' ]);
    ok !exists $r->{headers}{'set-cookie'}, 'bad cookie + GPC: no Set-Cookie';
    is $r->{body}, $PAGE, 'bad cookie + GPC: no prompt';

    sleep 1.1;    # two flushes: an event queued by a GPC request would be written now
    my $rep1 = $ng1->report_json;
    is visits_of($rep1, 'home'), visits_of($rep0, 'home'), 'home visits/visitors unchanged';
    is visits_of($rep1, 's100'), visits_of($rep0, 's100'), 's100 visits/visitors unchanged';
    is offered_of($rep1, 's_full'), offered_of($rep0, 's_full'), 's_full offered unchanged';

    # Sec-GPC: 0 is not an opt-out
    my $z = cx_browser('gpc0');
    $r = $ng1->visit($z, '/s100/', now => $T0 + 4 * $DAY, headers => [ 'Sec-GPC' => '0' ]);
    ok defined cx_cookie_from($r, 'cx'), 'Sec-GPC: 0: Set-Cookie';
    is cx_offered($r), 's_full', 'Sec-GPC: 0: prompt';
};

subtest 'cx_respect_gpc off: the header is ignored' => sub {
    my $b = cx_browser('gpc-off');
    my $rep0 = $ng3->report_json;
    my $r = $ng3->visit($b, '/s100/', now => $T0 + 5 * $DAY, headers => [ 'Sec-GPC' => '1' ]);
    is $r->{status}, 200, 'GET with Sec-GPC: 1: 200';
    ok defined cx_cookie_from($r, 'cx'), 'Set-Cookie';
    is cx_offered($r), 's_full', 'prompt';
    $r = $ng3->visit($b, '/s100/', now => $T0 + 5 * $DAY + 1, headers => [ 'Sec-GPC' => '1' ]);
    is cookie_state($b->{cookie})->{visits}, 2, 'the cookie counts visits: 2';
    my $want = do { my ($v, $n) = split m{/}, visits_of($rep0, 's100'); ($v + 2) . '/' . ($n + 1) };
    my $got = wait_for { my $x = visits_of(scalar($ng3->report_json), 's100'); $x eq $want ? $x : 0 } 5;
    is $got || visits_of(scalar($ng3->report_json), 's100'), $want, 's100 visits counted in report.json';
};

# ---- variables ---------------------------------------------------------------------------------

subtest '$cx_visitor $cx_touchpoint $cx_prompt per request' => sub {
    my $log = sub { grep { !m{\|/cx-admin/} } split /\n/, $ng1->read_file('logs/cx.log') };
    my @before = $log->();
    my $now = $T0 + 6 * $DAY;
    my $b = cx_browser('vars');
    my @want;

    my $r = $ng1->visit($b, '/s100/', now => $now);
    my $id = cookie_state($b->{cookie})->{id} // 'none';
    my $p1 = $r->{prompt};
    push @want, "$id|s100|s_full|GET|/s100/|200";
    $ng1->visit($b, '/home/', now => $now + 1);
    push @want, "$id|home|-|GET|/home/|200";
    my $half = cx_offered($ng1->visit($b, '/s50/', now => $now + 2));
    push @want, "$id|s50|" . ($half || '-') . '|GET|/s50/|200';
    $ng1->visit($b, '/plain/index.html', now => $now + 3);
    push @want, "$id|-|-|GET|/plain/index.html|200";
    $ng1->visit(cx_browser('nobody'), '/plain/index.html', now => $now + 4);
    push @want, '-|-|-|GET|/plain/index.html|200';
    $ng1->visit($b, '/s100/', now => $now + 5, headers => [ 'Sec-GPC' => '1' ]);
    push @want, '-|s100|-|GET|/s100/|200';
    $r = $ng1->visit($b, '/s100/', now => $now + 6, method => 'HEAD');
    push @want, "$id|s100|-|HEAD|/s100/|200";    # a HEAD response carries no prompt
    my $nb = cx_browser('bad');
    $ng1->visit($nb, '/home/', now => $now + 7, raw_cookie => 'cx=bad');
    my $nid = cookie_state($nb->{cookie})->{id} // 'none';
    isnt $nid, $id, 'the bad cookie got a new id';
    push @want, "$nid|home|-|GET|/home/|200";
    is event($ng1, $b, 'display', prompt => $p1, now => $now + 8)->{status}, 204, 'display: 204';
    push @want, "$id|-|-|POST|/cx/r|204";
    $ng1->visit($b, '/s100/missing.html', now => $now + 9);
    push @want, "$id|s100|-|GET|/s100/missing.html|404";
    $ng1->visit($b, '/s100/', now => $now + 10);
    push @want, "$id|s100|s_full|GET|/s100/|200";

    my @got;
    wait_for { @got = $log->(); @got >= @before + @want } 3;
    splice @got, 0, scalar @before;
    is_deeply \@got, \@want, 'the log lines, one per request' or diag explain \@got;
};

for my $n ([ 'node 1', $ng1 ], [ 'node 2', $ng2 ], [ 'node 3', $ng3 ]) {
    unlike $n->[1]->error_log, qr/exited on signal|\[(?:alert|crit|emerg)\]/,
        "$n->[0]: no worker crashed, no alert";
}

done_testing;
