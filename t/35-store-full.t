# A full store never breaks the site: pages are served (without prompts once
# the worker knows), intake answers 503 with Retry-After, nothing half-stored,
# and the error log says why.
use strict;
use warnings;
use Test::More;
use CXTest;

plan skip_all => 'module not built' unless cx_have_module();

my $ng = cx_nginx(
    conf => <<'CONF',
    cx_store %%PREFIX%%/cxdata max_size=1m;
    cx_survey nps1 { type nps; question "How likely?"; followup "Why?"; }
    server {
        %%CX_SITE%%
        location / { cx_touchpoint browse; cx_prompt nps1; }
    }
CONF
    files => { 'html/index.html' => "<html><body><p>shop</p></body></html>\n" },
);

my $comment = 'x' x 2000;
my ($stored, $full, $other) = (0, 0, 0);
my $last_full;

for my $i (1 .. 1500) {
    my $page = $ng->get('/index.html');
    my ($token) = $page->{body} =~ /"token":"([^"]*)"/ or last;
    my $cookie = cx_cookie_from($page, 'cx');
    my $res = $ng->post_json('/cx/r', qq({"token":"$token","event":"answer","score":7}),
                             Cookie => "cx=$cookie");
    if ($res->{status} == 204) {
        $res = $ng->post_json('/cx/r',
            qq({"token":"$token","event":"comment","comment":"$comment"}),
            Cookie => "cx=$cookie");
    }
    if ($res->{status} == 204) { $stored++; next }
    if ($res->{status} == 503) { $full++; $last_full = $res; last }
    $other++;
    last;
}

ok $stored > 50, "answers stored until the store filled ($stored)";
is $other, 0, 'no status other than 204 and 503';
ok $full, 'a full store answers 503';
SKIP: {
    skip 'store never filled', 4 unless $last_full;
    like $last_full->{body}, qr/^\{"error":"store is full"\}/, 'the error says the store is full';
    ok $last_full->{headers}{'retry-after'}, 'with Retry-After';
    like $ng->error_log, qr/cx_store: commit to ".*cxdata" failed: MDB_MAP_FULL.*raise max_size=/,
        'the error log says why and what to do';
}

# the site stays up, and stops offering what it could not keep
my $page = $ng->get('/index.html');
is $page->{status}, 200, 'pages are still served';
is $page->{body}, "<html><body><p>shop</p></body></html>\n",
    'byte-identical, without a prompt, while the store is full';

# what was acknowledged is all there, readable
my $report = $ng->get('/cx-admin/report.json');
is $report->{status}, 200, 'report readable from a full store';
my ($answered) = $report->{body} =~ /"answered":(\d+)/;
ok defined $answered && $answered >= $stored, "every acknowledged answer is in the report ($answered >= $stored)";

done_testing;
