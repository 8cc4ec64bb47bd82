#!/usr/bin/perl
# Survey links (README: Survey links; issue 17 item 4b): <report>link makes a
# signed link for a touchpoint off the site; <endpoint>s/<link> serves a small
# page with the survey, counted as a visit and an offer at the link's
# touchpoint and stage; intake takes the link as the token: one answer per
# link, none after expiry, none from a forged link. Bad requests say why and
# make nothing.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;

plan skip_all => "module not built" unless cx_have_module();

my $J = $CXTest::JSON;
my $T0 = 1_790_000_000;

my $ng = cx_nginx(files => { cx_pages("<html><body>x</body></html>\n", qw(checkout)) }, conf => <<'CONF');
    cx_store %%PREFIX%%/cxdata max_size=16m;
    cx_test_clock on;
    cx_survey csat_support { type csat; question "How did we do?"; question tr "Nasıldık?";
                             title "Support <calls> & more"; followup "Why?"; }
    cx_survey nps_delivery { type nps; question "Recommend us?"; }
    server {
        %%CX_SITE%%
        location /checkout/ { cx_touchpoint checkout stage=purchase; }
    }
CONF

sub issue {
    my ($q, %o) = @_;
    my $r = $ng->req(method => $o{method} || 'GET', path => "/cx-admin/link?$q",
                     headers => ['X-CX-Test-Now' => $o{now} // $T0]);
    my $j = eval { $J->decode($r->{body}) };
    return ($r, $j);
}

sub post_answer {
    my (%o) = @_;
    my @h = ('X-CX-Test-Now' => $o{now} // $T0);
    push @h, 'Accept-Language' => $o{lang} if $o{lang};
    push @h, Cookie => $o{cookie} if $o{cookie};
    my $body = { token => $o{token}, event => $o{event} };
    $body->{score} = $o{score} + 0 if defined $o{score};
    $body->{comment} = $o{comment} if defined $o{comment};
    return $ng->post_json('/cx/r', $J->encode($body), @h);
}

sub rows {
    my $nd = $ng->get('/cx-admin/responses.ndjson');
    return [ map { $J->decode($_) } grep { /\S/ } split /\n/, $nd->{body} ];
}

sub visits {
    my ($name) = @_;
    my ($tp) = grep { $_->{name} eq $name } @{ $ng->report_json->{touchpoints} || [] };
    return $tp ? $tp->{visits} : 0;
}

# --- making a link ---
my ($r, $j) = issue('survey=csat_support&touchpoint=support_call&stage=usage&attr.ticket=T-42'
    . '&attr.tier=gold&attr.note=caf%C3%A9%20%26%20co&expires=7d');
is $r->{status}, 200, 'link: 200';
like $r->{headers}{'content-type'}, qr{^application/json}, '... JSON';
is $r->{headers}{'cache-control'}, 'no-store', '... never cached';
like $j->{path}, qr{^/cx/s/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$}, '... a path under the endpoint';
like $j->{url}, qr{^http://127\.0\.0\.1:\d+\Q$j->{path}\E$}, '... and a URL with the Host asked';
is $j->{expires}, '2026-09-28T14:13:20Z', '... expires 7 days after (the test clock)';
my ($link) = $j->{path} =~ m{^/cx/s/(.+)$};
unlike $link, qr/T-42|gold/, 'the attributes are not readable in the link';

my (undef, $again) = issue('survey=csat_support&touchpoint=support_call&stage=usage');
isnt $again->{path}, $j->{path}, 'each link is new';

# --- its page ---
$r = $ng->get($j->{path}, 'X-CX-Test-Now' => $T0 + 60, 'Accept-Language' => 'tr');
is $r->{status}, 200, 'the page: 200';
like $r->{headers}{'content-type'}, qr{^text/html}, '... HTML';
like $r->{headers}{'content-security-policy'}, qr/default-src 'none'; script-src 'self'/, '... a strict CSP';
like $r->{body}, qr{<h1>Support &lt;calls&gt; &amp; more</h1>}, '... the survey\'s title, escaped';
like $r->{body}, qr{<meta name="robots" content="noindex">}, '... not indexed';
my $p = cx_prompt_of($r);
is $p->{survey}, 'csat_support', '... the survey\'s prompt';
is $p->{token}, $link, '... whose token is the link';
is $p->{delay}, 0, '... at once';
is $p->{question}, "Nas\x{131}ld\x{131}k?", '... in the visitor\'s language';
ok !defined cx_cookie_from($r, 'cx'), '... no visitor cookie';
ok((wait_for { visits('support_call') == 1 } 5), 'the page counts a visit of support_call');
is $ng->head($j->{path}, 'X-CX-Test-Now' => $T0 + 61)->{status}, 200, 'HEAD: 200';

# --- one answer ---
is post_answer(token => $link, event => 'display', lang => 'tr', now => $T0 + 70)->{status}, 204, 'display: 204';
is post_answer(token => $link, event => 'dismiss', now => $T0 + 75)->{status}, 204, 'dismiss: 204 ...';
$r = post_answer(token => $link, event => 'answer', score => 2, lang => 'tr', now => $T0 + 80);
is $r->{status}, 204, '... not kept: the answer after it is taken';
ok !defined cx_cookie_from($r, 'cx'), '... no cookie from the answer';
is post_answer(token => $link, event => 'comment', comment => 'slow', now => $T0 + 90)->{status}, 204, 'the comment';
$r = post_answer(token => $link, event => 'answer', score => 5, cookie => 'cx=another', now => $T0 + 100);
is $r->{status}, 409, 'a second answer, from another browser: 409';

my @rows = grep { $_->{survey} eq 'csat_support' } @{ rows() };
is scalar @rows, 1, 'one response stored';
my $row = $rows[0];
is $row->{touchpoint}, 'support_call', '... at the link\'s touchpoint';
is $row->{stage}, 'usage', '... and stage';
is $row->{score}, 2, '... the first score';
is $row->{comment}, 'slow', '... the comment';
is $row->{lang}, 'tr', '... the language the page was shown in';
is $row->{path}, '', '... no path';
is_deeply $row->{attributes} // $row->{attrs}, { ticket => 'T-42', tier => 'gold', note => "caf\x{e9} & co" },
    '... the link\'s attributes' or diag explain $row;

# --- the stage of a touchpoint some location declares ---
(undef, $j) = issue('survey=nps_delivery&touchpoint=checkout');
($link) = $j->{path} =~ m{^/cx/s/(.+)$};
is post_answer(token => $link, event => 'answer', score => 9, now => $T0 + 200)->{status}, 204, 'a checkout link answered';
($row) = grep { $_->{survey} eq 'nps_delivery' } @{ rows() };
is $row->{stage}, 'purchase', '... at the stage its location declares';

# --- expiry ---
(undef, $j) = issue('survey=nps_delivery&touchpoint=delivery&expires=1h');
($link) = $j->{path} =~ m{^/cx/s/(.+)$};
is $ng->get($j->{path}, 'X-CX-Test-Now' => $T0 + 3599)->{status}, 200, 'within the hour: 200';
$r = $ng->get($j->{path}, 'X-CX-Test-Now' => $T0 + 3601);
is $r->{status}, 410, 'after: 410';
like $r->{body}, qr/This survey link has expired\./, '... says so';
unlike $r->{body}, qr/cx-prompt/, '... no prompt';
$r = post_answer(token => $link, event => 'answer', score => 9, now => $T0 + 3601);
is $r->{status}, 403, 'an answer after expiry: 403';
like $r->{body}, qr/link expired/, '... says why';

# --- forged, or not a link ---
(my $forged = $link) =~ s/^(.)/$1 eq 'A' ? 'B' : 'A'/e;
$r = $ng->get("/cx/s/$forged", 'X-CX-Test-Now' => $T0);
is $r->{status}, 404, 'a forged link: 404';
like $r->{body}, qr/This survey link is not valid\./, '... says so';
is post_answer(token => $forged, event => 'answer', score => 9)->{status}, 403, '... intake: 403';
my $b = cx_browser('page');
my $page = $ng->get('/cx/s/', 'X-CX-Test-Now' => $T0);
is $page->{status}, 404, '<endpoint>s/ alone: 404';
is $ng->get('/cx/s/' . ('A' x 3000))->{status}, 404, 'a long junk link: 404';

# --- bad requests make nothing ---
my $before = scalar @{ rows() };
for my $t (
    ['touchpoint=x',                                       'survey= must name'],
    ['survey=nope&touchpoint=x',                           'survey= must name'],
    ['survey=nps_delivery',                                'touchpoint= must be'],
    ['survey=nps_delivery&touchpoint=',                    'touchpoint= must be'],
    ['survey=nps_delivery&touchpoint=a%20b',               'touchpoint= must be'],
    ['survey=nps_delivery&touchpoint=' . ('t' x 65),       'touchpoint= must be'],
    ['survey=nps_delivery&touchpoint=x&stage=nope',        'stage= must be'],
    ['survey=nps_delivery&touchpoint=x&expires=0',         'expires= must be'],
    ['survey=nps_delivery&touchpoint=x&expires=400d',      'expires= must be'],
    ['survey=nps_delivery&touchpoint=x&expires=soon',      'expires= must be'],
    ['survey=nps_delivery&touchpoint=x&attr.a-b=1',        'attr.KEY=VALUE'],
    ['survey=nps_delivery&touchpoint=x&attr.=1',           'attr.KEY=VALUE'],
    ['survey=nps_delivery&touchpoint=x&attr.k',            'attr.KEY=VALUE'],
    ['survey=nps_delivery&touchpoint=x&attr.k=a%0Ab',      'attr.KEY=VALUE'],
    ['survey=nps_delivery&touchpoint=x&attr.k=%FF',        'attr.KEY=VALUE'],
    ['survey=nps_delivery&touchpoint=x&attr.k=' . ('v' x 300), 'attr.KEY=VALUE'],
) {
    my ($q, $err) = @$t;
    my ($res) = issue($q);
    is $res->{status}, 400, "link?$q: 400";
    like $res->{body}, qr/"error":"\Q$err\E/, '... says why';
}
is $ng->req(method => 'DELETE', path => '/cx-admin/link?survey=nps_delivery&touchpoint=x')->{status}, 405, 'DELETE: 405';
($r, $j) = issue('survey=nps_delivery&touchpoint=x', method => 'POST');
is $r->{status}, 200, 'POST works as GET (for a help desk\'s webhook)';
is scalar @{ rows() }, $before, 'no response stored by any of them';

# --- cxctl link: the same links from the store's secret ---
my $CXCTL = cx_repo_root() . '/build/cxctl';
SKIP: {
    skip 'build/cxctl not built', 30 unless -x $CXCTL;
    my $store = $ng->prefix . '/cxdata';
    my $cx = sub {
        my $out = qx{$CXCTL @_ 2>&1};
        return ($? >> 8, $out);
    };
    my $base = 'http://127.0.0.1:' . $ng->port . '/cx/';
    my ($rc, $out) = $cx->("--store $store link --survey nps_delivery --touchpoint checkout"
        . " --attr order=1001 --attr 'who=Ana Lima' --expires 2d --base $base");
    is $rc, 0, 'cxctl link: exit 0';
    like $out, qr{^\Q${base}\Es/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n\z}, '... one line: the URL' or diag $out;
    my ($l) = $out =~ m{/s/(\S+)};
    $r = $ng->get("/cx/s/$l", 'X-CX-Test-Now' => $T0);
    is $r->{status}, 200, '... its page: 200';
    is cx_prompt_of($r)->{survey}, 'nps_delivery', '... the survey';
    is post_answer(token => $l, event => 'answer', score => 7, now => $T0 + 10)->{status}, 204, '... answered';
    my ($row) = grep { $_->{attributes} && ($_->{attributes}{order} // '') eq '1001' } @{ rows() };
    ok $row, '... stored with its attributes';
    is $row && $row->{stage}, 'purchase', '... at the stage the location declares (no --stage)';
    is $row && $row->{attributes}{who}, 'Ana Lima', '... a value with a space';

    ($rc, $out) = $cx->("--store $store link --survey nps_delivery --touchpoint delivery --stage loyalty");
    is $rc, 0, 'cxctl link --stage: exit 0';
    like $out, qr{^/cx/s/}, '... the default base /cx/';

    # a secret other than nginx's: a link nginx does not take
    my $key = $ng->prefix . '/other.key';
    open my $fh, '>', $key or die; print {$fh} ('k' x 40) . "\n"; close $fh;
    ($rc, $out) = $cx->("link --secret-file $key --survey nps_delivery --touchpoint delivery");
    is $rc, 0, 'cxctl link --secret-file (no store needed): exit 0';
    ($l) = $out =~ m{/s/(\S+)};
    is $ng->get("/cx/s/$l")->{status}, 404, '... another secret\'s link: 404';

    for my $t (
        ['--touchpoint x',                                 2, qr/--survey NAME is needed/],
        ['--survey "a b" --touchpoint x',                  2, qr/--survey NAME is needed/],
        ['--survey s --touchpoint ""',                     2, qr/--touchpoint NAME is needed/],
        ['--survey s --touchpoint x --stage later',        2, qr/--stage "later"/],
        ['--survey s --touchpoint x --expires 367d',       2, qr/--expires "367d"/],
        ['--survey s --touchpoint x --expires 5x',         2, qr/--expires "5x"/],
        ['--survey s --touchpoint x --attr novalue',       2, qr/--attr "novalue"/],
        ['--survey s --touchpoint x --attr a-b=1',         2, qr/--attr "a-b=1"/],
        ['--survey s --touchpoint x --secret-file /nonexistent', 1, qr{--secret-file /nonexistent: No such file}],
    ) {
        my ($args, $want, $msg) = @$t;
        ($rc, $out) = $cx->("--store $store link $args");
        is $rc, $want, "cxctl link $args: exit $want";
        like $out, $msg, '... says why';
    }
}

done_testing;
