#!/usr/bin/perl
# Preview (README: Preview; issue 17 item 4): <report>preview?survey=S&page=P
# sets a signed preview cookie and redirects to P?cx_preview=S; with that
# cookie any page of the site gets S's prompt, marked preview, and nothing
# is counted, drawn, set or stored. Without the cookie, with a forged or
# expired one, or for an unknown survey, the page is unchanged.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256);
use CXTest;

plan skip_all => "module not built" unless cx_have_module();

my $J = $CXTest::JSON;
my $SECRET = 'preview-test-secret-' . ('x' x 40);
my $PAGE = "<html><body><p>page</p></body></html>\n";

my $ng = cx_nginx(files => {
    cx_pages($PAGE, qw(plain tp strict)),
    'conf/cx.key' => $SECRET,
}, conf => <<'CONF');
    cx_store %%PREFIX%%/cxdata max_size=16m;
    cx_secret_file %%PREFIX%%/conf/cx.key;
    cx_survey nps_live { type nps; question "Recommend us?"; }
    cx_survey csat_draft { type csat; question "Happy?"; position center; color 0b6e4f; }
    server {
        %%CX_SITE%%
        location /plain/ { }
        location /tp/ { cx_touchpoint tp stage=purchase; cx_prompt nps_live sample=0%; }
        location /strict/ { add_header Content-Security-Policy "script-src 'none'"; }
    }
CONF

# --- the dashboard's link: a cookie, then the page ---
my $r = $ng->get('/cx-admin/preview?survey=csat_draft&page=%2Fplain%2F');
is $r->{status}, 303, 'preview: 303';
like $r->{headers}{location}, qr{^http://127\.0\.0\.1:\d+/plain/\?cx_preview=csat_draft$}, '... to the page, with cx_preview= (made absolute by nginx)';
my $set = $r->{headers}{'set-cookie'};
like $set, qr/^cx_preview=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+; Max-Age=3600; Path=\/; HttpOnly; SameSite=Lax$/,
    '... an hour\'s HttpOnly cookie';
is $r->{headers}{'cache-control'}, 'no-store', '... never cached';
my ($cookie) = $set =~ /^(cx_preview=[^;]+)/;

$r = $ng->get('/cx-admin/preview?survey=nps_live&page=%2Fplain%2F%3Fq%3D1');
like $r->{headers}{location}, qr{/plain/\?q=1&cx_preview=nps_live$}, 'a page with a query keeps it';

# --- the page, previewed ---
$r = $ng->get('/plain/?cx_preview=csat_draft', Cookie => $cookie);
is $r->{status}, 200, 'the page: 200';
my $p = cx_prompt_of($r);
is $p->{survey}, 'csat_draft', 'the survey previewed, on a page without cx_prompt';
is $p->{preview}, JSON::PP::true(), '... marked preview';
like $p->{token}, qr/^preview\.[0-9a-f]{16}$/, '... with a token no intake takes';
is $p->{delay}, 0, '... at once';
is $p->{position}, 'center', '... in its look';
is $r->{headers}{'cache-control'}, 'private, no-store', '... private, as every prompted page';
ok !defined cx_cookie_from($r, 'cx'), '... no visitor cookie';

my $p2 = cx_prompt_of($ng->get('/plain/?cx_preview=csat_draft', Cookie => $cookie));
isnt $p2->{token}, $p->{token}, 'a new token each time (the widget remembers answered ones)';

# a touchpoint page with its own prompt (sampled out): the preview, not counted
$r = $ng->get('/tp/?cx_preview=nps_live', Cookie => $cookie, 'X-Forwarded-For' => '1');
is cx_offered($r), 'nps_live', 'a touchpoint page sampled at 0%: previewed';
ok !defined cx_cookie_from($r, 'cx'), '... no visitor cookie, no visit';

# the token is not an answer's
$r = $ng->answer(event => 'answer', token => $p->{token}, score => 5, cookie => 'x');
is $r->{status}, 403, 'a preview token posted to intake: 403';

# --- ignored: the page as it is ---
my $plain = $ng->get('/plain/');
for my $t (
    ['no cookie',        '/plain/?cx_preview=csat_draft', undef],
    ['a forged cookie',  '/plain/?cx_preview=csat_draft', do { (my $c = $cookie) =~ s/\.(.)/'.' . ($1 eq 'A' ? 'B' : 'A')/e; $c }],
    ['an unknown survey', '/plain/?cx_preview=nope', $cookie],
    ['the visitor cookie only', '/plain/?cx_preview=csat_draft', 'cx=abc'],
    ['a CSP that blocks the widget', '/strict/?cx_preview=csat_draft', $cookie],
) {
    my ($name, $path, $c) = @$t;
    my $res = $ng->get($path, defined $c ? (Cookie => $c) : ());
    is $res->{status}, 200, "$name: 200";
    unlike $res->{body}, qr/cx-prompt/, "... no prompt";
}
is $ng->get('/plain/?cx_preview=csat_draft')->{body}, $plain->{body}, 'the body byte for byte';

# cookies signed by the test with the secret: expired, and valid (the format)
sub preview_cookie {
    my ($expires) = @_;
    my $key = hmac_sha256('ngx_cx token v1', $SECRET);
    my $payload = pack 'N', $expires;
    my $mac = substr hmac_sha256("\x05" . $payload, $key), 0, 16;
    return 'cx_preview=' . cx_b64url_encode($payload) . '.' . cx_b64url_encode($mac);
}
$r = $ng->get('/plain/?cx_preview=csat_draft', Cookie => preview_cookie(time + 600));
is cx_offered($r), 'csat_draft', 'a cookie signed for domain 0x05 with the token key: previewed';
$r = $ng->get('/plain/?cx_preview=csat_draft', Cookie => preview_cookie(time - 1));
unlike $r->{body}, qr/cx-prompt/, 'an expired cookie: ignored';

# --- the issuing end refuses what it cannot send to ---
for my $t (
    ['page=%2Fplain%2F',                              'survey= must name'],
    ['survey=nope&page=%2Fplain%2F',                  'survey= must name'],
    ['survey=nps_live',                               'page= must be'],
    ['survey=nps_live&page=plain',                    'page= must be'],
    ['survey=nps_live&page=%2F%2Fevil.example%2F',    'page= must be'],
    ['survey=nps_live&page=%2F%5Cevil.example',       'page= must be'],
    ['survey=nps_live&page=https%3A%2F%2Fevil.example', 'page= must be'],
    ['survey=nps_live&page=%2Fa%0d%0aSet-Cookie%3A%20x%3D1', 'page= must be'],
) {
    my ($q, $err) = @$t;
    my $res = $ng->get("/cx-admin/preview?$q");
    is $res->{status}, 400, "preview?$q: 400";
    like $res->{body}, qr/\Q$err\E/, '... says why';
    ok !defined $res->{headers}{'set-cookie'}, '... no cookie';
}

# nothing was counted: no visit, no offer, no response
my $rep = $ng->report_json;
my ($tp) = grep { $_->{name} eq 'tp' } @{ $rep->{touchpoints} || [] };
ok !$tp || !$tp->{visits}, 'no visit of tp counted';
my %offered = map { $_->{name} => $_->{offered} } @{ $rep->{surveys} || [] };
ok !$offered{nps_live} && !$offered{csat_draft}, 'no offer counted' or diag explain \%offered;
is $ng->get('/cx-admin/responses.ndjson')->{body}, '', 'no response stored';

done_testing;
