#!/usr/bin/perl
# Response intake (README: Answers; docs/behaviours.md 18-21): POST <endpoint>r.
#
# Every refused request is checked for its exact status, a JSON body
# {"error":"..."} naming the problem, Content-Type: application/json, and
# that nothing was stored: report.json's counts and the "responses"
# database (entry count from `mdb_stat -a`, every byte from `mdb_dump`) are
# the same after the request as before it. Refused requests carry an
# otherwise valid token and cookie for a prompt with no record yet, so a
# check that let them through would show up as a stored record.
#
# Also here: the widget script GET <endpoint>w.js, and 503 when the store
# cannot be opened.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use JSON::PP ();
use Digest::SHA qw(hmac_sha256 sha256_hex);
use IO::Socket::INET;
use Time::HiRes qw(sleep);

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

# The key of the main nginx; the module strips the trailing newline.
my $SECRET       = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
my $OTHER_SECRET = 'fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210';

my $PAGE = "<html><head><title>t</title></head><body>\n<p>page</p>\n</body></html>\n";

my $SURVEYS = <<'CONF';
    cx_survey nps1  { type nps;  question "How likely?"; followup "Why?"; labels "Not likely" "Very likely"; }
    cx_survey csat1 { type csat; question "How satisfied?"; }
    cx_survey ces1  { type ces;  question "How easy?"; }
CONF

sub conf_with {
    my ($store, $secret_file) = @_;
    my $conf = "    cx_store $store max_size=64m;\n";
    $conf .= "    cx_secret_file $secret_file;\n" if defined $secret_file;
    $conf .= $SURVEYS . <<'CONF';
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%PREFIX%%/html;
        location /cx/ { cx_endpoint; }
        location /cx-admin/ { cx_report; }
        location /csat/ { cx_touchpoint help stage=usage; cx_prompt csat1 sample=100%; }
        location /ces/ { cx_touchpoint task stage=usage; cx_prompt ces1 sample=100%; }
        location / { cx_touchpoint browse stage=consideration; cx_prompt nps1 sample=100%; }
    }
CONF
    return $conf;
}

my %FILES = cx_pages($PAGE, '', qw(csat ces));

my $ng = cx_nginx(
    files => { %FILES, 'conf/cx.key' => "$SECRET\n" },
    conf  => conf_with('%%PREFIX%%/cxdata', '%%PREFIX%%/conf/cx.key'),
);

# ---- helpers ---------------------------------------------------------------

# Fetches a page and returns the prompt it carries: {token, cookie, res}.
# With $cookie the request is made as that visitor (no new cookie is set then).
sub prompt {
    my ($n, $path, $cookie) = @_;
    my $r = $n->get($path, defined $cookie ? (Cookie => "cx=$cookie") : ());
    my ($token) = $r->{body} =~ /"token":"([^"]*)"/;
    die "no prompt on $path (status $r->{status}):\n$r->{raw}\n" unless defined $token;
    my $set = cx_cookie_from($r, 'cx');
    my $c = defined $set ? $set : $cookie;
    die "no visitor cookie for $path\n" unless defined $c;
    return { token => $token, cookie => $c, res => $r };
}

# An intake body; fields in the given order, values JSON-encoded except
# those passed as \'raw JSON text'.
sub body {
    my (@kv) = @_;
    my @parts;
    while (my ($k, $v) = splice @kv, 0, 2) {
        my $val = ref $v eq 'SCALAR' ? $$v : $JSON->encode($v);
        push @parts, $JSON->encode($k) . ':' . $val;
    }
    return '{' . join(',', @parts) . '}';
}

sub answer_body {
    my ($p, $score) = @_;
    return body(token => $p->{token}, event => 'answer', score => \"$score");
}

sub post {
    my ($n, $p, $body, @headers) = @_;
    unshift @headers, Cookie => "cx=$p->{cookie}" if defined $p && defined $p->{cookie};
    return $n->post_json('/cx/r', $body, @headers);
}

sub store_dir { $_[0]->prefix . '/cxdata' }

sub run_tool {
    my (@cmd) = @_;
    open my $fh, '-|', @cmd or return (undef, "cannot run $cmd[0]: $!");
    local $/;
    my $out = <$fh>;
    close $fh;
    $out = '' unless defined $out;
    return ($? == 0 ? 1 : 0, $out);
}

# Entry count of the "responses" database, by mdb_stat.
sub mdb_entries {
    my ($dir) = @_;
    my ($ok, $out) = run_tool('mdb_stat', '-a', $dir);
    return "mdb_stat failed: $out" unless $ok;
    return $1 if $out =~ /^Status of responses\n(?:[ \t].*\n)*?[ \t]*Entries: (\d+)/m;
    return "no responses database in mdb_stat output: $out";
}

# Every record of the "responses" database, by mdb_dump (header stripped).
sub mdb_records {
    my ($dir) = @_;
    my ($ok, $out) = run_tool('mdb_dump', '-s', 'responses', $dir);
    return "mdb_dump failed: $out" unless $ok;
    $out =~ s/\A.*?^HEADER=END\n//ms;
    return $out;
}


# Per survey: displayed, answered, dismissed, distribution, comments.
sub counts {
    my ($n) = @_;
    my ($rep, $r) = $n->report_json;
    return { error => "report.json: $r->{status} $r->{body}" } unless ref $rep eq 'HASH';
    my %c;
    for my $s (@{ $rep->{surveys} || [] }) {
        $c{ $s->{name} } = {
            map({ $_ => $s->{$_} } qw(displayed answered dismissed distribution)),
            comments => [ map { $_->{comment} } @{ $s->{comments} || [] } ],
        };
    }
    return \%c;
}

sub state {
    my ($n) = @_;
    return {
        report  => counts($n),
        entries => mdb_entries(store_dir($n)),
        records => sha256_hex(mdb_records(store_dir($n))),
    };
}

# Runs $code (which sends one request) and checks that it was refused with
# $status and an error matching $msg, and that nothing was stored.
sub refused {
    my ($n, $name, $status, $msg, $code) = @_;
    my $before = state($n);
    my $r = $code->();
    is $r->{status}, $status, "$name: $status"
        or diag "response:\n$r->{raw}";
    like $r->{headers}{'content-type'} // '', qr{^application/json\s*(?:;|\z)},
        "$name: Content-Type application/json";
    my $j = eval { $JSON->decode($r->{body}) };
    ok ref $j eq 'HASH' && join(',', keys %$j) eq 'error' && defined $j->{error} && !ref $j->{error},
        qq{$name: body is {"error":"..."}} or diag "body: $r->{body}";
    like ref $j eq 'HASH' ? $j->{error} // '' : '', $msg, "$name: error says what is wrong";
    my $after = state($n);
    is $after->{entries}, $before->{entries}, "$name: responses entry count unchanged (mdb_stat)";
    is $after->{records}, $before->{records}, "$name: stored records unchanged (mdb_dump)";
    is_deeply $after->{report}, $before->{report}, "$name: report.json counts unchanged";
    return $r;
}

# A 204 that stores: checks the status, empty body and refreshed cookie.
sub accepted {
    my ($name, $r) = @_;
    is $r->{status}, 204, "$name: 204" or diag "response:\n$r->{raw}";
    is $r->{body_raw}, '', "$name: no body";
    ok defined cx_cookie_from($r, 'cx'), "$name: visitor cookie refreshed";
    return $r;
}


# A token signed as src/ngx_cx_token.c does: key = HMAC(secret, "ngx_cx token
# v1") (src/ngx_http_cx_keys.c), MAC = first 16 bytes of
# HMAC-SHA256(key, 0x01 || payload), both parts base64url without padding.
sub sign_token {
    my ($secret, $payload) = @_;
    my $key = hmac_sha256('ngx_cx token v1', $secret);
    return cx_b64url_encode($payload) . '.'
        . cx_b64url_encode(substr(hmac_sha256("\x01" . $payload, $key), 0, 16));
}

# Changes the character at $pos to another one of the base64url alphabet
# that keeps the encoding canonical (so only the signature can reject it).
sub flip_char {
    my ($s, $pos) = @_;
    my $c = substr $s, $pos, 1;
    substr($s, $pos, 1) = $c eq 'A' ? 'B' : 'A';
    return $s;
}

my $today_counts = sub { counts($ng)->{ $_[0] } };

# ---- the set-up works ------------------------------------------------------

my $v = prompt($ng, '/');              # the visitor used by most cases
my $C = $v->{cookie};
like $C, qr/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'visitor cookie is a signed blob';
like $v->{token}, qr/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/, 'token is a signed blob';
like mdb_entries(store_dir($ng)), qr/^\d+$/, 'mdb_stat reads the store';
{
    my $c = counts($ng);
    is_deeply [ sort keys %$c ], [qw(ces1 csat1 nps1)], 'report lists the configured surveys';
}

# ---- malformed JSON --------------------------------------------------------

{
    my @bad = (
        [ 'truncated object',        sub { my $t = shift; qq({"token":"$t","event":"answer","score":9) } ],
        [ 'truncated in a string',   sub { my $t = shift; qq({"token":"$t","event":"ans) } ],
        [ 'trailing garbage',        sub { my $t = shift; qq({"token":"$t","event":"answer","score":9}x) } ],
        [ 'two objects',             sub { my $t = shift; qq({"token":"$t","event":"answer","score":9}{}) } ],
        [ 'top-level array',         sub { my $t = shift; qq([{"token":"$t","event":"answer","score":9}]) } ],
        [ 'top-level string',        sub { my $t = shift; qq("$t") } ],
        [ 'single quotes',           sub { my $t = shift; qq({'token':'$t','event':'answer','score':9}) } ],
        [ 'trailing comma',          sub { my $t = shift; qq({"token":"$t","event":"answer","score":9,}) } ],
        [ 'leading zero',            sub { my $t = shift; qq({"token":"$t","event":"answer","score":09}) } ],
        [ 'unquoted key',            sub { my $t = shift; qq({token:"$t","event":"answer","score":9}) } ],
        [ 'raw tab in a string',     sub { my $t = shift; qq({"token":"$t","event":"answer","score":9,"x":"a\tb"}) } ],
        [ 'byte order mark',         sub { my $t = shift; qq(\xEF\xBB\xBF{"token":"$t","event":"answer","score":9}) } ],
        [ 'nested too deep',         sub { my $t = shift; qq({"token":"$t","event":"answer","score":9,"x":) . ('[' x 40) . (']' x 40) . '}' } ],
        [ 'empty body',              sub { '' } ],
        [ 'whitespace only',         sub { " \n" } ],
    );
    for my $case (@bad) {
        my ($name, $make) = @$case;
        my $p = prompt($ng, '/', $C);
        refused($ng, "malformed JSON ($name)", 400, qr/malformed JSON/,
            sub { post($ng, $p, $make->($p->{token})) });
    }
}

# ---- score -----------------------------------------------------------------

for my $case (['9.5', qr/integer/], ['"9"', qr/integer/], ['1e1', qr/integer/],
              ['9.0', qr/integer/], ['true', qr/integer/], ['null', qr/integer/],
              ['99999999999999999999', qr/integer/], ['11', qr/range/], ['-1', qr/range/])
{
    my ($score, $msg) = @$case;
    my $p = prompt($ng, '/', $C);
    refused($ng, "nps score $score", 400, $msg, sub { post($ng, $p, answer_body($p, $score)) });
}
for my $case (['csat1', '/csat/', 0], ['csat1', '/csat/', 6], ['ces1', '/ces/', 0], ['ces1', '/ces/', 8]) {
    my ($survey, $path, $score) = @$case;
    my $p = prompt($ng, $path, $C);
    refused($ng, "$survey score $score", 400, qr/range/, sub { post($ng, $p, answer_body($p, $score)) });
}
{
    my $p = prompt($ng, '/', $C);
    refused($ng, 'answer without score', 400, qr/score is required/,
        sub { post($ng, $p, body(token => $p->{token}, event => 'answer')) });
}
# the bounds themselves are accepted
for my $case (['nps1', '/', 0, 0], ['nps1', '/', 10, 10], ['csat1', '/csat/', 1, 0], ['csat1', '/csat/', 5, 4],
              ['ces1', '/ces/', 1, 0], ['ces1', '/ces/', 7, 6], ['nps1', '/', '-0', 0])
{
    my ($survey, $path, $score, $idx) = @$case;
    my $p = prompt($ng, $path, $C);
    my $before = $today_counts->($survey);
    accepted("$survey score $score", post($ng, $p, answer_body($p, $score)));
    my $after = $today_counts->($survey);
    is $after->{answered}, $before->{answered} + 1, "$survey score $score: answered +1";
    is $after->{distribution}[$idx], $before->{distribution}[$idx] + 1,
        "$survey score $score: counted at scale point $idx";
}

# ---- event and token fields ------------------------------------------------

for my $case (['vote', qr/unknown event/], ['Answer', qr/unknown event/], ['', qr/unknown event|missing event/]) {
    my ($event, $msg) = @$case;
    my $p = prompt($ng, '/', $C);
    refused($ng, "event \"$event\"", 400, $msg,
        sub { post($ng, $p, body(token => $p->{token}, event => $event, score => \'9')) });
}
{
    my $p = prompt($ng, '/', $C);
    refused($ng, 'missing event', 400, qr/missing event/,
        sub { post($ng, $p, body(token => $p->{token}, score => \'9')) });
    refused($ng, 'missing token', 400, qr/missing token/,
        sub { post($ng, $p, body(event => 'answer', score => \'9')) });
    refused($ng, 'empty token', 400, qr/missing token/,
        sub { post($ng, $p, body(token => '', event => 'answer', score => \'9')) });
    refused($ng, 'token not a string', 400, qr/token must be a string/,
        sub { post($ng, $p, body(token => \'12', event => 'answer', score => \'9')) });
    refused($ng, 'duplicate token field', 400, qr/duplicate/,
        sub { post($ng, $p, body(token => $p->{token}, token => $p->{token}, event => 'answer', score => \'9')) });
}

# ---- comment length and text -----------------------------------------------

{
    my $p = prompt($ng, '/', $C);
    accepted('answer before comments', post($ng, $p, answer_body($p, 8)));
    refused($ng, 'comment of 2001 characters', 400, qr/too long/,
        sub { post($ng, $p, body(token => $p->{token}, event => 'comment', comment => 'c' x 2001)) });
    my $before = $today_counts->('nps1');
    accepted('comment of 2000 characters',
        post($ng, $p, body(token => $p->{token}, event => 'comment', comment => 'c' x 2000)));
    my $after = $today_counts->('nps1');
    is $after->{comments}[0], 'c' x 2000, 'comment of 2000 characters stored whole';
    is $after->{answered}, $before->{answered}, 'a comment adds no answer';

    # the limit counts characters, not bytes
    $p = prompt($ng, '/', $C);
    accepted('answer before a multi-byte comment', post($ng, $p, answer_body($p, 8)));
    my $e = "\xC3\xA9";    # U+00E9 in UTF-8
    refused($ng, 'comment of 2001 two-byte characters', 400, qr/too long/,
        sub { post($ng, $p, qq({"token":"$p->{token}","event":"comment","comment":") . ($e x 2001) . '"}') });
    accepted('comment of 2000 two-byte characters (4000 bytes)',
        post($ng, $p, qq({"token":"$p->{token}","event":"comment","comment":") . ($e x 2000) . '"}'));
    is $today_counts->('nps1')->{comments}[0], "\x{e9}" x 2000, 'two-byte comment stored whole';

    # 2000 four-byte characters: 8000 bytes of comment, still accepted
    $p = prompt($ng, '/', $C);
    accepted('answer before a four-byte comment', post($ng, $p, answer_body($p, 8)));
    my $emoji = "\xF0\x9F\x98\x80";    # U+1F600
    accepted('comment of 2000 four-byte characters (8000 bytes)',
        post($ng, $p, qq({"token":"$p->{token}","event":"comment","comment":") . ($emoji x 2000) . '"}'));
    is $today_counts->('nps1')->{comments}[0], "\x{1F600}" x 2000, 'four-byte comment stored whole';

    # escapes decode to UTF-8; a surrogate pair is one character
    $p = prompt($ng, '/', $C);
    accepted('answer before an escaped comment', post($ng, $p, answer_body($p, 8)));
    accepted('comment with \\u escapes and a surrogate pair',
        post($ng, $p, qq({"token":"$p->{token}","event":"comment","comment":"caf\\u00e9 \\ud83d\\ude00 \\"q\\""})));
    is $today_counts->('nps1')->{comments}[0], "caf\x{e9} \x{1F600} \"q\"", 'escaped comment decoded';
}
{
    my @utf8 = (
        [ 'invalid byte 0xFF',       "ok \xFF" ],
        [ 'truncated sequence',      "\xC3\x28" ],
        [ 'overlong slash',          "\xC0\xAF" ],
        [ 'UTF-8 encoded surrogate', "\xED\xA0\x80" ],
        [ 'above U+10FFFF',          "\xF4\x90\x80\x80" ],
    );
    for my $case (@utf8) {
        my ($name, $bytes) = @$case;
        my $p = prompt($ng, '/', $C);
        accepted("answer before $name", post($ng, $p, answer_body($p, 5)));
        refused($ng, "comment with $name", 400, qr/UTF-8/,
            sub { post($ng, $p, qq({"token":"$p->{token}","event":"comment","comment":"$bytes"})) });
    }
    for my $esc ('\\ud800', '\\udc00', '\\ud83d x', '\\ude00\\ud83d') {
        my $p = prompt($ng, '/', $C);
        accepted("answer before lone surrogate $esc", post($ng, $p, answer_body($p, 5)));
        refused($ng, "comment with lone surrogate escape $esc", 400, qr/UTF-8/,
            sub { post($ng, $p, qq({"token":"$p->{token}","event":"comment","comment":"a$esc"})) });
    }
    # invalid UTF-8 anywhere refuses the whole body, even in an unknown field
    my $p = prompt($ng, '/', $C);
    refused($ng, 'answer with invalid UTF-8 in an unknown field', 400, qr/UTF-8/,
        sub { post($ng, $p, qq({"token":"$p->{token}","event":"answer","score":9,"x":"\xFF"})) });
}

# ---- tokens ----------------------------------------------------------------

{
    my $p = prompt($ng, '/', $C);
    my ($pay, $mac) = split /\./, $p->{token};
    refused($ng, 'forged token (payload character changed)', 403, qr/token/,
        sub { post($ng, { %$p, token => flip_char($p->{token}, 10) }, answer_body({ token => flip_char($p->{token}, 10) }, 9)) });
    my $bad_mac = $pay . '.' . flip_char($mac, 5);
    refused($ng, 'forged token (signature character changed)', 403, qr/token/,
        sub { post($ng, $p, answer_body({ token => $bad_mac }, 9)) });
    refused($ng, 'token truncated by one character', 403, qr/token/,
        sub { post($ng, $p, answer_body({ token => substr($p->{token}, 0, -1) }, 9)) });
    refused($ng, 'token without signature', 403, qr/token/,
        sub { post($ng, $p, answer_body({ token => $pay }, 9)) });
    refused($ng, 'visitor cookie used as a token', 403, qr/token/,
        sub { post($ng, $p, answer_body({ token => $C }, 9)) });

    # the genuine token still works afterwards
    accepted('genuine token after the forgeries', post($ng, $p, answer_body($p, 9)));
}

# Another nginx with another secret: its tokens and cookies mean nothing here.
my $other = cx_nginx(
    files => { %FILES, 'conf/cx.key' => "$OTHER_SECRET\n" },
    conf  => conf_with('%%PREFIX%%/cxdata', '%%PREFIX%%/conf/cx.key'),
);
{
    my $o = prompt($other, '/');
    refused($ng, 'token and cookie from an nginx with another secret', 403, qr/token/,
        sub { post($ng, $o, answer_body($o, 9)) });
    refused($ng, 'token from an nginx with another secret, own cookie', 403, qr/token/,
        sub { post($ng, { cookie => $C }, answer_body($o, 9)) });
    my $p = prompt($ng, '/', $C);
    refused($ng, 'own token with a cookie from an nginx with another secret', 403, qr/visitor/,
        sub { post($ng, { cookie => $o->{cookie} }, answer_body($p, 9)) });
}

# A node that shares the secret accepts the other node's token (a fleet).
my $twin = cx_nginx(
    files => { %FILES, 'conf/cx.key' => "$SECRET\n" },
    conf  => conf_with('%%PREFIX%%/cxdata', '%%PREFIX%%/conf/cx.key'),
);
{
    my $t = prompt($twin, '/');
    my $before = $today_counts->('nps1');
    accepted('token and cookie from a node with the same secret', post($ng, $t, answer_body($t, 6)));
    is $today_counts->('nps1')->{answered}, $before->{answered} + 1, 'same-secret token: answer stored';
}
undef $twin;

# Expired and future tokens, signed here with the known key.
{
    my $p = prompt($ng, '/', $C);
    my $payload = cx_signed_payload($p->{token});
    is sign_token($SECRET, $payload), $p->{token}, 'token re-signed in Perl matches the module (key derivation known)';
    is ord(substr $payload, 0, 1), 3, 'token payload version 3 (attributes encrypted, none here)';
    my $issued = unpack 'N', substr($payload, 1, 4);
    ok abs($issued - time) < 60, 'token issued_at is now';

    my $with_time = sub {
        my ($t) = @_;
        my $x = $payload;
        substr($x, 1, 4) = pack 'N', $t;
        return sign_token($SECRET, $x);
    };
    my $old = $with_time->(time - 86400 - 600);
    refused($ng, 'expired token (issued a day and 10 minutes ago)', 403, qr/expired/,
        sub { post($ng, $p, answer_body({ token => $old }, 9)) });
    my $ancient = $with_time->(1);
    refused($ng, 'expired token (issued in 1970)', 403, qr/expired/,
        sub { post($ng, $p, answer_body({ token => $ancient }, 9)) });
    my $future = $with_time->(time + 3600);
    refused($ng, 'token issued an hour in the future', 403, qr/expired|token/,
        sub { post($ng, $p, answer_body({ token => $future }, 9)) });

    # control: the same forgery inside the validity window is accepted
    my $recent = $with_time->(time - 86400 + 600);
    my $before = $today_counts->('nps1');
    accepted('token re-signed with issued_at 23h50m ago', post($ng, $p, answer_body({ token => $recent }, 4)));
    is $today_counts->('nps1')->{answered}, $before->{answered} + 1, 're-signed recent token: answer stored';
}

# The token is bound to the visitor's cookie.
{
    my $p = prompt($ng, '/', $C);
    my $w = prompt($ng, '/');    # a second visitor
    isnt $w->{cookie}, $C, 'a new visitor gets another cookie';
    refused($ng, 'token without cookie', 403, qr/visitor/,
        sub { $ng->post_json('/cx/r', answer_body($p, 9)) });
    refused($ng, "token with another visitor's cookie", 403, qr/visitor/,
        sub { post($ng, { cookie => $w->{cookie} }, answer_body($p, 9)) });
    my ($cpay, $cmac) = split /\./, $C;
    refused($ng, 'token with a tampered cookie (id changed)', 403, qr/visitor/,
        sub { post($ng, { cookie => flip_char($C, 3) }, answer_body($p, 9)) });
    refused($ng, 'token with a tampered cookie (signature changed)', 403, qr/visitor/,
        sub { post($ng, { cookie => $cpay . '.' . flip_char($cmac, 4) }, answer_body($p, 9)) });
    refused($ng, 'token as the cookie', 403, qr/visitor/,
        sub { post($ng, { cookie => $p->{token} }, answer_body($p, 9)) });
    refused($ng, 'token with X-Forwarded-For and no cookie', 403, qr/visitor/,
        sub { $ng->post_json('/cx/r', answer_body($p, 9), 'X-Forwarded-For' => '127.0.0.1') });
    accepted('the token with its own cookie', post($ng, $p, answer_body($p, 9)));
}

# ---- cross-site ------------------------------------------------------------

{
    my $port = $ng->port;
    for my $case (['Origin' => 'http://evil.example'], ['Origin' => 'null'],
                  ['Origin' => 'http://127.0.0.1:1'], ['Origin' => "http://127.0.0.1:$port.evil.example"],
                  ['Sec-Fetch-Site' => 'cross-site'],
                  ['Sec-Fetch-Site' => 'cross-site', 'Origin' => "http://127.0.0.1:$port"])
    {
        my @h = @$case;
        my $p = prompt($ng, '/', $C);
        refused($ng, "cross-site (@h)", 403, qr/cross-site/, sub { post($ng, $p, answer_body($p, 9), @h) });
    }

    # A browser sends one Origin and one Sec-Fetch-Site; a repeated one is
    # forged or mangled, and the check must not read only the first: any
    # request with two is refused, whatever their values.
    my $same = "http://127.0.0.1:$port";
    for my $case (['Origin' => $same, 'Origin' => 'http://evil.example'],
                  ['Origin' => 'http://evil.example', 'Origin' => $same],
                  ['Origin' => $same, 'Origin' => $same],
                  ['Origin' => $same, 'origin' => 'null'],
                  ['Origin' => $same, 'Sec-Fetch-Site' => 'same-origin', 'Origin' => 'http://evil.example'],
                  ['Sec-Fetch-Site' => 'same-origin', 'Sec-Fetch-Site' => 'cross-site'],
                  ['Sec-Fetch-Site' => 'cross-site', 'Sec-Fetch-Site' => 'same-origin'],
                  ['Sec-Fetch-Site' => 'same-origin', 'Sec-Fetch-Site' => 'same-origin'],
                  ['Origin' => $same, 'Sec-Fetch-Site' => 'same-origin', 'sec-fetch-site' => 'cross-site'])
    {
        my @h = @$case;
        my $p = prompt($ng, '/', $C);
        refused($ng, "repeated (@h)", 403, qr/cross-site/, sub { post($ng, $p, answer_body($p, 9), @h) });
        # the token was good: only the repeated header was refused
        my $before = $today_counts->('nps1');
        accepted("repeated (@h), then once", post($ng, $p, answer_body($p, 9), 'Origin' => $same));
        is $today_counts->('nps1')->{answered}, $before->{answered} + 1, "repeated (@h), then once: stored";
    }

    for my $case (['Origin' => "http://127.0.0.1:$port"], ['Sec-Fetch-Site' => 'same-origin'],
                  ['Origin' => "http://127.0.0.1:$port", 'Sec-Fetch-Site' => 'same-origin'])
    {
        my @h = @$case;
        my $p = prompt($ng, '/', $C);
        my $before = $today_counts->('nps1');
        accepted("same origin (@h)", post($ng, $p, answer_body($p, 9), @h));
        is $today_counts->('nps1')->{answered}, $before->{answered} + 1, "same origin (@h): stored";
    }
}

# ---- method and content type -----------------------------------------------

{
    my $p = prompt($ng, '/', $C);
    my $r = refused($ng, 'GET /cx/r', 405, qr/POST/,
        sub { $ng->get('/cx/r', Cookie => "cx=$C") });
    is $r->{headers}{allow}, 'POST', 'GET /cx/r: Allow: POST';
    $r = refused($ng, 'PUT /cx/r', 405, qr/POST/,
        sub { $ng->req(method => 'PUT', path => '/cx/r', body => answer_body($p, 9),
                  headers => ['Content-Type' => 'application/json', Cookie => "cx=$C"]) });
    is $r->{headers}{allow}, 'POST', 'PUT /cx/r: Allow: POST';

    for my $ct ('text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded',
                'multipart/form-data; boundary=xyz', 'application/jsonx', 'application/json-seq', undef)
    {
        my $q = prompt($ng, '/', $C);
        my $label = defined $ct ? $ct : 'no Content-Type';
        refused($ng, "Content-Type $label", 415, qr/application\/json/, sub {
            $ng->req(method => 'POST', path => '/cx/r', body => answer_body($q, 9),
                headers => [ (defined $ct ? ('Content-Type' => $ct) : ()), Cookie => "cx=$C" ]);
        });
    }
    for my $ct ('application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON') {
        my $q = prompt($ng, '/', $C);
        my $before = $today_counts->('nps1');
        accepted("Content-Type $ct", post($ng, $q, answer_body($q, 9), 'Content-Type' => $ct));
        is $today_counts->('nps1')->{answered}, $before->{answered} + 1, "Content-Type $ct: stored";
    }
}

# ---- size ------------------------------------------------------------------

# A valid answer padded with an unknown field to exactly $len bytes.
sub padded {
    my ($p, $len) = @_;
    my $head = qq({"token":"$p->{token}","event":"answer","score":9,"pad":");
    my $pad = $len - length($head) - 2;
    die "cannot pad to $len" if $pad < 0;
    return $head . ('x' x $pad) . '"}';
}

sub chunked {
    my ($data, $size) = @_;
    my $out = '';
    for (my $o = 0; $o < length $data; $o += $size) {
        my $c = substr $data, $o, $size;
        $out .= sprintf("%x\r\n", length $c) . $c . "\r\n";
    }
    return $out . "0\r\n\r\n";
}

sub post_chunked {
    my ($n, $p, $data) = @_;
    return $n->req(method => 'POST', path => '/cx/r', body => chunked($data, 4000),
        headers => ['Content-Type' => 'application/json', 'Transfer-Encoding' => 'chunked',
                    Cookie => "cx=$p->{cookie}"]);
}

# POSTs $body to /cx/r in pieces of $piece bytes, 0.1 s apart (a slow
# client: the body arrives over several reads), chunked or with
# Content-Length. Returns {status, headers (lc name => value), body}.
sub post_slowly {
    my ($n, $p, $body, $piece, $chunked) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $n->port(0),
                                  Proto => 'tcp', Timeout => 10)
        or return { status => 0, error => "connect: $!" };
    my $data = $chunked ? chunked($body, $piece) : $body;
    my $head = "POST /cx/r HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
             . "Content-Type: application/json\r\nCookie: cx=$p->{cookie}\r\n"
             . ($chunked ? "Transfer-Encoding: chunked\r\n" : 'Content-Length: ' . length($body) . "\r\n")
             . "\r\n";
    cx_put($s, $head);
    for (my $o = 0; $o < length $data; $o += $piece) {
        sleep 0.1;
        cx_put($s, substr($data, $o, $piece)) or last;
    }
    local $/;
    my $raw = <$s> // '';
    close $s;
    my ($h, $b) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($h // '') =~ m{^HTTP/1\.1 (\d+)};
    my %hd = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r\n/, $h // '';
    return { status => $status // 0, headers => \%hd, body => $b // '', body_raw => $b // '', raw => $raw };
}

{
    # The module's limit (16 KB) is the endpoint's only one: nginx's own
    # client_max_body_size (1m by default) must not answer first with its
    # HTML page, for a body just over it, sent whole or chunked, either.
    for my $len (20000, 16385, 1048576, 1048577, 2 * 1048576) {
        my $p = prompt($ng, '/', $C);
        my $b = padded($p, $len);
        is length($b), $len, "padded body is $len bytes";
        refused($ng, "body of $len bytes with Content-Length", 413, qr/too large/, sub { post($ng, $p, $b) });
        refused($ng, "body of $len bytes chunked", 413, qr/too large/, sub { post_chunked($ng, $p, $b) });
        accepted("same token after the $len-byte bodies", post($ng, $p, answer_body($p, 9)));
    }
    my $p = prompt($ng, '/', $C);
    for my $cl (1048576, 1048577, 10 * 1024 ** 3) {
        refused($ng, "Content-Length of $cl announced, a short body sent", 413, qr/too large/, sub {
            $ng->req(method => 'POST', path => '/cx/r', body => answer_body($p, 9),
                headers => ['Content-Type' => 'application/json', 'Content-Length' => $cl,
                            Cookie => "cx=$C"], timeout => 5);
        });
    }

    # A chunked body is refused once it is over the limit, not read to its
    # end first: 64 KB of chunks that never end get their 413 at once.
    refused($ng, 'chunked body over the limit that never ends', 413, qr/too large/, sub {
        my $chunks = chunked(padded($p, 65536), 4000);
        $chunks =~ s/0\r\n\r\n\z//;
        $ng->req(method => 'POST', path => '/cx/r', body => $chunks,
            headers => ['Content-Type' => 'application/json', 'Transfer-Encoding' => 'chunked',
                        Cookie => "cx=$C"], timeout => 5);
    });
    accepted('same token after the bodies of 1 MB and more', post($ng, $p, answer_body($p, 9)));

    # read piece by piece: a slow client's answer is whole, its oversized
    # body refused once it is over
    for my $chunked (0, 1) {
        my $how = $chunked ? 'chunked' : 'with Content-Length';
        $p = prompt($ng, '/', $C);
        my $before = $today_counts->('nps1');
        accepted("12000 bytes $how, in pieces of 3000", post_slowly($ng, $p, padded($p, 12000), 3000, $chunked));
        is $today_counts->('nps1')->{answered}, $before->{answered} + 1, "... stored";
        $p = prompt($ng, '/', $C);
        refused($ng, "20000 bytes $how, in pieces of 6000", 413, qr/too large/,
            sub { post_slowly($ng, $p, padded($p, 20000), 6000, $chunked) }) if $chunked;
    }

    # bodies up to the limit are read whole, whatever nginx's own
    # client_body_buffer_size (8k by default on x86-64)
    for my $len (12000, 16384) {
        $p = prompt($ng, '/', $C);
        my $before = $today_counts->('nps1');
        accepted("body of $len bytes with Content-Length", post($ng, $p, padded($p, $len)));
        is $today_counts->('nps1')->{answered}, $before->{answered} + 1, "$len-byte body: stored";
        $p = prompt($ng, '/', $C);
        accepted("body of $len bytes chunked", post_chunked($ng, $p, padded($p, $len)));
        is $today_counts->('nps1')->{answered}, $before->{answered} + 2, "$len-byte chunked body: stored";
    }
}

# ---- one answer per prompt (409) -------------------------------------------

{
    my $p = prompt($ng, '/', $C);
    my $before = $today_counts->('nps1');
    accepted('first answer (9)', post($ng, $p, answer_body($p, 9)));
    my $r = refused($ng, 'second answer (3)', 409, qr/already answered/,
        sub { post($ng, $p, answer_body($p, 3)) });
    my $after = $today_counts->('nps1');
    is $after->{answered}, $before->{answered} + 1, 'answered twice: counted once';
    is $after->{distribution}[9], $before->{distribution}[9] + 1, 'answered twice: the first score (9) is kept';
    is $after->{distribution}[3], $before->{distribution}[3], 'answered twice: the second score (3) is not stored';
    refused($ng, 'dismiss after answer', 409, qr/already answered/,
        sub { post($ng, $p, body(token => $p->{token}, event => 'dismiss')) });
    accepted('comment after answer', post($ng, $p, body(token => $p->{token}, event => 'comment', comment => 'first')));
    refused($ng, 'second comment', 409, qr/already commented/,
        sub { post($ng, $p, body(token => $p->{token}, event => 'comment', comment => 'second')) });
    is $today_counts->('nps1')->{comments}[0], 'first', 'second comment: the first is kept';
    refused($ng, 'answer after comment', 409, qr/already answered/,
        sub { post($ng, $p, answer_body($p, 1)) });
}
{
    my $p = prompt($ng, '/', $C);
    refused($ng, 'comment before answer', 409, qr/answer/,
        sub { post($ng, $p, body(token => $p->{token}, event => 'comment', comment => 'early')) });
    refused($ng, 'comment without text', 400, qr/comment is required/,
        sub { post($ng, $p, body(token => $p->{token}, event => 'comment')) });
    my $before = $today_counts->('nps1');
    accepted('dismiss', post($ng, $p, body(token => $p->{token}, event => 'dismiss')));
    is $today_counts->('nps1')->{dismissed}, $before->{dismissed} + 1, 'dismiss: counted';
    refused($ng, 'dismiss twice', 409, qr/already dismissed/,
        sub { post($ng, $p, body(token => $p->{token}, event => 'dismiss')) });
    refused($ng, 'answer after dismiss', 409, qr/already dismissed/,
        sub { post($ng, $p, answer_body($p, 9)) });
    refused($ng, 'comment after dismiss', 409, qr/answer|dismissed/,
        sub { post($ng, $p, body(token => $p->{token}, event => 'comment', comment => 'late')) });
}
{
    my $p = prompt($ng, '/', $C);
    my $entries = mdb_entries(store_dir($ng));
    my $before = $today_counts->('nps1');
    accepted('display', post($ng, $p, body(token => $p->{token}, event => 'display')));
    my $records = mdb_records(store_dir($ng));
    accepted('display again', post($ng, $p, body(token => $p->{token}, event => 'display')));
    my $after = $today_counts->('nps1');
    is $after->{displayed}, $before->{displayed} + 1, 'display twice: displayed counted once';
    is $after->{answered}, $before->{answered}, 'display: no answer';
    is mdb_entries(store_dir($ng)), $entries + 1, 'display twice: one record';
    is mdb_records(store_dir($ng)), $records, 'repeated display changes nothing';
    accepted('answer after display', post($ng, $p, answer_body($p, 10)));
    is mdb_entries(store_dir($ng)), $entries + 1, 'answer after display: same record';
    $after = $today_counts->('nps1');
    is $after->{displayed}, $before->{displayed} + 1, 'answer after display: displayed unchanged';
    is $after->{answered}, $before->{answered} + 1, 'answer after display: answered +1';
}

# ---- unknown fields are ignored --------------------------------------------

{
    my $p = prompt($ng, '/', $C);
    my $before = $today_counts->('nps1');
    accepted('unknown fields', post($ng, $p,
        qq({"v":1,"token":"$p->{token}","extra":{"a":[1,2.5,{"b":null}],"c":"d"},"event":"answer","flag":true,"score":7,"x":"\\u00e9","x":[]})));
    my $after = $today_counts->('nps1');
    is $after->{answered}, $before->{answered} + 1, 'unknown fields: answer stored';
    is $after->{distribution}[7], $before->{distribution}[7] + 1, 'unknown fields: score 7 stored';
}

# ---- the widget script ------------------------------------------------------

{
    my $r = $ng->get('/cx/w.js');
    is $r->{status}, 200, 'w.js: 200';
    like $r->{headers}{'content-type'} // '', qr{^application/javascript(?:;|$)}, 'w.js: Content-Type application/javascript';
    ok length($r->{body}) > 100, 'w.js: a script body';
    is $r->{headers}{'content-length'}, length($r->{body}), 'w.js: Content-Length';
    my $etag = $r->{headers}{etag};
    like $etag // '', qr/^(?:W\/)?"[^"]+"$/, 'w.js: ETag';
    like $r->{headers}{'cache-control'} // '', qr/\bmax-age=[1-9]\d*\b/, 'w.js: Cache-Control max-age';
    ok !defined cx_cookie_from($r, 'cx'), 'w.js: sets no cookie';

    my $r2 = $ng->get('/cx/w.js', 'If-None-Match' => $etag);
    is $r2->{status}, 304, 'w.js with If-None-Match: 304';
    is $r2->{body_raw}, '', 'w.js 304: no body';
    is $r2->{headers}{etag}, $etag, 'w.js 304: same ETag';

    my $r3 = $ng->get('/cx/w.js', 'If-None-Match' => '"something-else"');
    is $r3->{status}, 200, 'w.js with another ETag: 200';
    is $r3->{body}, $r->{body}, 'w.js: same body every time';

    my $h = $ng->head('/cx/w.js');
    is $h->{status}, 200, 'HEAD w.js: 200';
    is $h->{body_raw}, '', 'HEAD w.js: no body';

    is $ng->get('/cx/other')->{status}, 404, 'unknown endpoint path: 404';
}

is scalar(() = $ng->error_log =~ /\[(?:alert|crit|emerg)\]/g), 0, 'no alert in the error log'
    or diag $ng->error_log;

# ---- the endpoint's size limit is its own -----------------------------------

# client_max_body_size set lower around the endpoint neither cuts answers
# short nor answers in HTML; set in the endpoint's location it is refused
# (it could only mislead).
{
    my $small = cx_nginx(
        files => { %FILES, 'conf/cx.key' => "$SECRET\n" },
        conf  => "    client_max_body_size 1k;\n"
                 . conf_with('%%PREFIX%%/cxdata', '%%PREFIX%%/conf/cx.key'),
    );
    my $q = prompt($small, '/');
    accepted('client_max_body_size 1k around: a 12000-byte answer', post($small, $q, padded($q, 12000)));
    $q = prompt($small, '/', $q->{cookie});
    accepted('client_max_body_size 1k around: a 12000-byte chunked answer',
        post_chunked($small, $q, padded($q, 12000)));
    $q = prompt($small, '/', $q->{cookie});
    refused($small, 'client_max_body_size 1k around: a 20000-byte body', 413, qr/too large/,
        sub { post($small, $q, padded($q, 20000)) });
    refused($small, 'client_max_body_size 1k around: a 20000-byte chunked body', 413, qr/too large/,
        sub { post_chunked($small, $q, padded($q, 20000)) });

    for my $loc ('location /cx/ { cx_endpoint; client_max_body_size 1m; }',
                 'location /cx/ { client_max_body_size 1m; cx_endpoint; }') {
        my ($ok, $out) = cx_test_config($SURVEYS . "    server { listen 127.0.0.1:1; $loc }\n");
        ok !$ok, "refused: $loc";
        like $out, qr/client_max_body_size/, '... naming client_max_body_size';
    }
}

# ---- 503 when the store is unavailable ----------------------------------------

undef $other;
{
    my $bad = cx_nginx(
        files => { %FILES, 'afile' => 'x' },
        conf  => conf_with('%%PREFIX%%/afile/sub'),
    );
    for my $path ('/index.html', '/csat/index.html') {
        my $r = $bad->get($path);
        is $r->{status}, 200, "store unavailable: $path served";
        is $r->{body}, $PAGE, "store unavailable: $path unchanged (no prompt)";
        is $r->{headers}{'content-length'}, length($PAGE), "store unavailable: $path keeps Content-Length";
        ok !defined $r->{headers}{'set-cookie'}, "store unavailable: $path sets no cookie";
        ok !defined $r->{headers}{'cache-control'}, "store unavailable: $path not made private";
    }

    my $p = prompt($ng, '/', $C);    # a token from elsewhere: the store is checked first
    my $r = post($bad, $p, answer_body($p, 9));
    is $r->{status}, 503, 'store unavailable: intake 503';
    like $r->{headers}{'retry-after'} // '', qr/^\d+$/, 'store unavailable: Retry-After';
    like $r->{headers}{'content-type'} // '', qr{^application/json\s*(?:;|\z)}, 'store unavailable: JSON';
    my $j = eval { $JSON->decode($r->{body}) } || {};
    like $j->{error} // '', qr/store/, 'store unavailable: error names the store' or diag $r->{body};

    my $log = $bad->error_log;
    like $log, qr/\[(?:alert|crit|error|emerg)\].*afile\/sub.*Not a directory/,
        'store unavailable: the error log names the path and the reason';
    like $log, qr/\[(?:alert|crit|error|emerg)\].*(?:unavailable|no prompts)/,
        'store unavailable: the error log says prompts and answers are off';
    ok !-e $bad->prefix . '/afile/sub', 'store unavailable: nothing created';
}

done_testing;
