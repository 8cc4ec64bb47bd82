#!/usr/bin/perl
# Configuration checks: every misconfiguration fails `nginx -t` with an
# [emerg] line that says what is wrong and points at the offending line as
# " in <prefix>/conf/nginx.conf:<line>" (README: Directives).  The expected line is the
# one marked "#@E" in the configuration text, found in the file the harness
# wrote (the harness prepends its skeleton, so lines are never hard-coded).
# A few cases may point at either of two marked lines (for a whole block,
# the line that opens it or the one that closes it).
#
# Then the positive side: the full example configuration (adapted: no Lua, no
# cx_quiet_period/cx_respect_gpc, no journey conditions, root instead of
# proxy_pass) passes `nginx -t`, and a configuration whose store directory
# does not exist yet passes `nginx -t`, starts and serves prompts.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use JSON::PP ();
use CXTest;

plan skip_all => 'module not built (run make)' unless cx_have_module();

# ---- configuration builder -----------------------------------------------

my $SURVEY = <<'C';
    cx_survey nps1 {
        type nps;
        question "How likely?";
        followup "Why?";
        labels "Not likely" "Very likely";
    }
C

# A valid http block; every part can be replaced.
#   store    the cx_store line(s)
#   http     extra http-level lines (before the surveys)
#   surveys  the cx_survey blocks
#   endpoint the endpoint location line(s) of the server
#   server   extra server-level lines
#   tp       the cx_touchpoint line(s) of "location /"
#   loc      the cx_prompt line(s) of "location /"
#   after    text after the server (another server, ...)
sub conf {
    my (%o) = @_;
    my %d = (
        store    => "    cx_store %%PREFIX%%/cxdata max_size=64m;\n",
        http     => '',
        surveys  => $SURVEY,
        endpoint => "        location /cx/ { cx_endpoint; }\n",
        server   => '',
        tp       => "            cx_touchpoint browse stage=consideration;\n",
        loc      => "            cx_prompt nps1 sample=100%;\n",
        after    => '',
    );
    for (keys %o) {
        die "conf: unknown part $_" unless exists $d{$_};
        $d{$_} = $o{$_};
    }
    return $d{store} . $d{http} . $d{surveys}
        . "    server {\n"
        . "        listen 127.0.0.1:%%PORT%%;\n"
        . "        root html;\n"
        . $d{endpoint} . $d{server}
        . "        location / {\n"
        . $d{tp} . $d{loc}
        . "        }\n"
        . "    }\n"
        . $d{after};
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return undef;
    binmode $fh;
    local $/;
    return scalar <$fh>;
}

# Runs nginx -t in a fresh prefix that is kept until the end of the test, so
# the written configuration can be read back.  Returns ($ok, $out, $prefix).
sub run_t {
    my ($conf, %o) = @_;
    my $dir = abs_path(tempdir('cx05-XXXXXX', TMPDIR => 1, CLEANUP => 1));
    my ($ok, $out) = cx_test_config($conf, %o, prefix => $dir);
    return ($ok, $out, $dir);
}

# fails(NAME, CONF, QR, files => {...}, in => 'conf/other.conf')
# nginx -t must fail; its first [emerg] line must match QR and end with
# " in FILE:LINE", FILE being the file holding the "#@E" marker(s) (nginx.conf
# unless "in" names an included file) and LINE one of the marked lines.
sub fails {
    my ($name, $conf, $re, %o) = @_;
    my $in = delete $o{in} || 'conf/nginx.conf';
    subtest $name => sub {
        my ($ok, $out, $prefix) = run_t($conf, %o);
        ok !$ok, 'nginx -t fails';
        like $out, qr/test failed/, 'nginx says "test failed"';

        my $file = "$prefix/$in";
        my $text = slurp($file);
        ok defined $text, "the marked file $in was written" or return;
        my @lines = split /\n/, $text, -1;
        my @want = map { $_ + 1 } grep { $lines[$_] =~ /#\@E\b/ } 0 .. $#lines;
        ok @want >= 1, 'the test marks the expected line' or return;

        my ($emerg) = $out =~ /^(.*\[emerg\].*)$/m;
        ok defined $emerg, 'the output has an [emerg] line'
            or return diag "output:\n$out";
        like $emerg, $re, 'the message says what is wrong';
        my ($got_file, $got_line) = $emerg =~ / in (\S+):(\d+)\s*$/;
        is $got_file, $file, 'the message names the file';
        ok defined $got_line && (grep { $_ == $got_line } @want),
            "the message points at line @{[ join ' or ', @want ]}"
            or diag 'got line ' . (defined $got_line ? $got_line : '(none)')
                . " in: $emerg";
    };
}

# passes(NAME, CONF, files => {...})
sub passes {
    my ($name, $conf, %o) = @_;
    my ($ok, $out) = run_t($conf, %o);
    ok $ok, "$name: nginx -t passes" or diag $out;
    unlike $out, qr/\[(?:emerg|alert|crit)\]/, "$name: no [emerg]/[alert]/[crit]"
        or diag $out;
}

sub survey {
    my ($name, $body) = @_;
    return "    cx_survey $name {\n$body    }\n";
}

# ---- a valid base: the cases below differ from it in one place -----------

passes 'the base configuration', conf();
passes 'base without cx_store (default store)', conf(store => '');

# ---- cx_prompt ------------------------------------------------------------

fails 'cx_prompt: unknown survey',
    conf(loc => "            cx_prompt nps2 sample=50%; #\@E\n"),
    qr/cx_prompt: unknown survey "nps2"/;

fails 'cx_prompt: unknown survey on the second prompt line',
    conf(loc => "            cx_prompt nps1 sample=10%;\n"
              . "            cx_prompt nsp1; #\@E\n"),
    qr/cx_prompt: unknown survey "nsp1"/;

fails 'cx_prompt: unknown survey in a nested location',
    conf(server => "        location /shop/ {\n"
                 . "            location /shop/done { cx_prompt gone; } #\@E\n"
                 . "        }\n"),
    qr/cx_prompt: unknown survey "gone"/;

for my $s ('150%', 'abc', '25', '-1%', '100.5%', '2.555%', '%', '', '1e2%', '25%%',
           '.5%', '5.%', '99999999999999999999%')
{
    fails "cx_prompt: bad percentage sample=$s",
        conf(loc => "            cx_prompt nps1 sample=$s; #\@E\n"),
        qr/cx_prompt: sample "\Q$s\E" is not a percentage from 0% to 100%/;
}

for my $d ('abc', '2h', '-1s', '3x', '61m', '11m', '1h') {
    fails "cx_prompt: bad delay=$d",
        conf(loc => "            cx_prompt nps1 delay=$d; #\@E\n"),
        qr/cx_prompt: delay "\Q$d\E" is not a duration up to 10m such as "3s" or "500ms"/;
}

# a number alone would be seconds: "3000" meant as milliseconds is 50 minutes
for my $d ('3000', '5', '10') {
    fails "cx_prompt: delay=$d without a unit",
        conf(loc => "            cx_prompt nps1 delay=$d; #\@E\n"),
        qr/cx_prompt: delay "\Q$d\E" needs a unit, such as "3s" or "500ms"/;
}

for my $p ('foo=bar', 'sample25%', 'Sample=25%', 'quiet') {
    fails "cx_prompt: unknown parameter $p",
        conf(loc => "            cx_prompt nps1 $p; #\@E\n"),
        qr/cx_prompt: unknown parameter "\Q$p\E"; expected sample=, delay=, trigger=, after=, min_visits= or if=/;
}

for my $t ('', 'leave', 'Exit', 'scroll', 'scroll:', 'scroll:60', 'scroll:0%', 'scroll:101%',
           'scroll:x%', 'idle', 'idle:', 'idle:20', 'idle:0s', 'idle:11m', 'idle:xs') {
    fails "cx_prompt: bad trigger=$t",
        conf(loc => "            cx_prompt nps1 \"trigger=$t\"; #\@E\n"),
        qr/cx_prompt: trigger "\Q$t\E" is not exit, scroll:N% \(N from 1 to 100\) or idle:TIME \(with a unit, up to 10m, such as "idle:20s"\)/;
}

for my $p ('after=', 'after=purchase,', 'after=,cart', 'after=a b', 'after=caf\x{e9}') {
    fails "cx_prompt: bad $p",
        conf(loc => "            cx_prompt nps1 \"$p\"; #\@E\n"),
        qr/cx_prompt: "\Q$p\E" must name touchpoints/;
}

for my $p ('min_visits=', 'min_visits=-1', 'min_visits=x', 'min_visits=70000') {
    fails "cx_prompt: bad $p",
        conf(loc => "            cx_prompt nps1 $p; #\@E\n"),
        qr/cx_prompt: min_visits "\Q$p\E" is not a number from 0 to 65535/;
}

fails 'cx_prompt: empty if=',
    conf(loc => "            cx_prompt nps1 if=; #\@E\n"),
    qr/cx_prompt: if= needs a value/;

for my $q ('abc', '-1d') {
    fails "cx_quiet_period $q",
        conf(http => "    cx_quiet_period $q; #\@E\n"),
        qr/"cx_quiet_period" directive invalid value/;
}

fails 'cx_respect_gpc maybe',
    conf(http => "    cx_respect_gpc maybe; #\@E\n"),
    qr/invalid value "maybe" in "cx_respect_gpc" directive, it must be "on" or "off"/;

passes 'the journey conditions of cx_prompt',
    conf(http => "    cx_quiet_period 7d;\n    cx_respect_gpc on;\n",
         loc => "            cx_prompt nps1 after=purchase min_visits=3 if=\$cookie_logged_in;\n"
              . "            cx_prompt nps1 sample=25% delay=3s after=purchase,cart;\n",
         server => "        location /cart { cx_touchpoint cart; }\n"
                 . "        location /done { cx_touchpoint purchase stage=purchase; }\n");

# a touchpoint declared nowhere: the prompt could never show
fails 'cx_prompt: after= names an undeclared touchpoint',
    conf(loc => "            cx_prompt nps1 after=browse,purchase; #\@E\n"),
    qr/cx_prompt: after=purchase names a touchpoint that no location declares \(add "cx_touchpoint purchase;" where it is visited\)/;

passes 'cx_prompt: after= names a touchpoint of another server',
    conf(loc => "            cx_prompt nps1 after=purchase;\n",
         after => "    server {\n        listen 127.0.0.1:%%PORT%%;\n        server_name shop2;\n"
                . "        location /done { cx_touchpoint purchase; }\n    }\n");

fails 'cx_prompt: no argument',
    conf(loc => "            cx_prompt; #\@E\n"),
    qr/invalid number of arguments in "cx_prompt" directive/;

fails 'cx_prompt: not allowed at server level',
    conf(server => "        cx_prompt nps1; #\@E\n"),
    qr/"cx_prompt" directive is not allowed here/;

fails 'cx_prompt in a server without cx_endpoint',
    conf(after => "    server {\n"
                . "        listen 127.0.0.1:%%PORT%%;\n"
                . "        server_name other.example;\n"
                . "        location / { cx_prompt nps1; } #\@E\n"
                . "    }\n"),
    qr/cx_prompt: the server has no cx_endpoint location/;

fails 'cx_prompt in the only server, which has no cx_endpoint',
    conf(endpoint => '', loc => "            cx_prompt nps1; #\@E\n"),
    qr/cx_prompt: the server has no cx_endpoint location/;

# ---- cx_endpoint, cx_report -------------------------------------------------

for my $l ('/cx', '~ ^/cx/', '~* /cx/', '= /cx/', '@cx') {
    fails "cx_endpoint in location $l",
        conf(endpoint => "        location $l { cx_endpoint; } #\@E\n"),
        qr/cx_endpoint must be in a prefix location ending in "\/"/;
}

fails 'cx_endpoint twice in one server',
    conf(endpoint => "        location /cx/ { cx_endpoint; }\n"
                   . "        location /cx2/ { cx_endpoint; } #\@E\n"),
    qr/"cx_endpoint" directive is duplicate/;

fails 'cx_endpoint with an argument',
    conf(endpoint => "        location /cx/ { cx_endpoint on; } #\@E\n"),
    qr/invalid number of arguments in "cx_endpoint" directive/;

for my $l ('/cx-admin', '~ ^/cx-admin/', '= /cx-admin/') {
    fails "cx_report in location $l",
        conf(server => "        location $l { cx_report; } #\@E\n"),
        qr/cx_report must be in a prefix location ending in "\/"/;
}

# ---- cx_store ------------------------------------------------------------

for my $s ('abc', '512k', '0', '', '-1m', '1x', '1048575') {
    fails "cx_store: bad max_size=$s",
        conf(store => "    cx_store %%PREFIX%%/cxdata max_size=$s; #\@E\n"),
        qr/cx_store: max_size "\Q$s\E" is not a size of at least 1m/;
}

fails 'cx_store: unknown parameter',
    conf(store => "    cx_store %%PREFIX%%/cxdata maxsize=1g; #\@E\n"),
    qr/cx_store: unknown parameter "maxsize=1g", expected "max_size="/;

fails 'cx_store: twice',
    conf(store => "    cx_store %%PREFIX%%/a;\n    cx_store %%PREFIX%%/b; #\@E\n"),
    qr/"cx_store" directive is duplicate/;

fails 'cx_store: three arguments',
    conf(store => "    cx_store %%PREFIX%%/a max_size=1g extra; #\@E\n"),
    qr/invalid number of arguments in "cx_store" directive/;

# ---- cx_survey -----------------------------------------------------------

fails 'survey without question',
    conf(surveys => "    cx_survey nps1 { type nps; followup \"Why?\"; } #\@E\n"),
    qr/cx_survey "nps1" has no question in its default language "en"/;

fails 'survey without question, multi-line block',
    conf(surveys => "    cx_survey nps1 { #\@E\n"
                  . "        type nps;\n"
                  . "        thanks \"Thanks\";\n"
                  . "    } #\@E\n"),
    qr/cx_survey "nps1" has no question in its default language "en"/;

fails 'survey with a question only in another language',
    conf(surveys => "    cx_survey nps1 { type nps; question tr \"Soru?\"; } #\@E\n"),
    qr/cx_survey "nps1" has no question in its default language "en"/;

fails 'survey whose "lang" has no question',
    conf(surveys => "    cx_survey nps1 { type nps; question en \"Q?\"; lang de; } #\@E\n"),
    qr/cx_survey "nps1" has no question in its default language "de"/;

fails 'survey without type',
    conf(surveys => "    cx_survey nps1 { question \"How likely?\"; } #\@E\n"),
    qr/cx_survey "nps1" has no type: add "type nps;", "type csat;" or "type ces;"/;

fails 'empty survey block',
    conf(surveys => "    cx_survey nps1 { } #\@E\n"),
    qr/cx_survey "nps1" has no (?:type|question)/;

for my $t ('rating', 'net-promoter', 'nps5', '""') {
    (my $shown = $t) =~ s/^""$//;
    fails "survey with unknown type $t",
        conf(surveys => survey('nps1', "        type $t; #\@E\n        question \"Q?\";\n")),
        qr/cx_survey "nps1": unknown type "\Q$shown\E", the types are nps, csat and ces/;
}

fails 'duplicate survey',
    conf(surveys => $SURVEY . "    cx_survey nps1 { type csat; question \"Q?\"; } #\@E\n"),
    qr/cx_survey "nps1" is declared twice/;

fails 'unknown setting inside cx_survey',
    conf(surveys => survey('nps1', "        type nps;\n        question \"Q?\";\n"
                                 . "        colour blue; #\@E\n")),
    qr/cx_survey "nps1": unknown setting "colour"; the settings are type, question/;

fails 'a directive of nginx inside cx_survey is an unknown setting',
    conf(surveys => survey('nps1', "        type nps;\n        question \"Q?\";\n"
                                 . "        root /tmp; #\@E\n")),
    qr/cx_survey "nps1": unknown setting "root"/;

for my $c (
    [ question => 'question en "a" "b"' ],
    [ question => 'question' ],
    [ type     => 'type nps csat' ],
    [ type     => 'type' ],
    [ labels   => 'labels "only one"' ],
    [ labels   => 'labels en "a" "b" "c"' ],
    [ thanks   => 'thanks en "a" "b"' ],
    [ followup => 'followup en promoter "a" "b"' ],
    [ followup => 'followup' ],
    [ lang     => 'lang en tr' ],
    [ every    => 'every' ],
    [ every    => 'every 90d 30d' ],
) {
    my ($kw, $line) = @$c;
    my $body = $kw eq 'type' ? "        question \"Q?\";\n" : "        type nps;\n";
    $body .= "        question \"Q?\";\n" if $kw eq 'type' ? 0 : $kw ne 'question';
    fails "wrong argument count: $line",
        conf(surveys => survey('nps1', $body . "        $line; #\@E\n")),
        qr/cx_survey "nps1": wrong number of arguments for "$kw"/;
}

for my $c (
    [ 'e',          'question e "Q?"' ],
    [ 'en_US',      'question en_US "Q?"' ],
    [ 'english',    'question english "Q?"' ],
    [ '1e',         'question 1e "Q?"' ],
    [ 'en-',        'question en- "Q?"' ],
    [ '-en',        'question -en "Q?"' ],
    [ 'en--us',     'question en--us "Q?"' ],
    [ 'zh-hant-tw-x-abcdefgh', 'question zh-Hant-TW-x-abcdefgh "Q?"' ],
    [ 'e1',         'thanks e1 "Thanks"' ],
    [ 'x',          'labels x "low" "high"' ],
    [ 'en.us',      'followup en.us detractor "Why?"' ],
    [ 'english',    'lang english' ],
    [ 'de_de',      'lang de_DE' ],
) {
    my ($tag, $line) = @$c;
    fails "bad language tag: $line",
        conf(surveys => survey('nps1', "        type nps;\n        question \"Q?\";\n"
                                     . "        $line; #\@E\n")),
        qr/cx_survey "nps1": "\Q$tag\E" is not a language tag such as "en", "tr" or "pt-BR"/i;
}

for my $b ('detractors', 'Promoter', 'neutral') {
    fails "bad follow-up band: followup en $b",
        conf(surveys => survey('nps1', "        type nps;\n        question \"Q?\";\n"
                                     . "        followup en $b \"Why?\"; #\@E\n")),
        qr/cx_survey "nps1": unknown follow-up band "\Q$b\E", the bands are detractor, passive and promoter/;
}

# Without a language the word could be a band or a language tag: the message
# must at least name the word.
fails 'bad follow-up band without a language: followup detractors',
    conf(surveys => survey('nps1', "        type nps;\n        question \"Q?\";\n"
                                 . "        followup detractors \"Why?\"; #\@E\n")),
    qr/cx_survey "nps1": "detractors" is neither a language tag such as "en", "tr" or "pt-BR" nor a follow-up band \(detractor, passive or promoter\)/;

fails 'bad every duration',
    conf(surveys => survey('nps1', "        type nps;\n        question \"Q?\";\n"
                                 . "        every soon; #\@E\n")),
    qr/cx_survey "nps1": every "soon" is not a duration such as "90d"/;

# target: a score with at most one decimal, within its type's range (checked
# at the end of the block, where the type is known)
for my $t ('forty', '4.55', '1e2', '101') {
    fails "target $t: not a score",
        conf(surveys => survey('nps1', "        type nps;\n        question \"Q?\";\n"
                                     . "        target $t; #\@E\n")),
        qr/cx_survey "nps1": target "\Q$t\E" is not a score such as "40" \(NPS\), "85" \(CSAT %\) or "5\.5" \(CES\), with at most one decimal/;
}

for my $c ([ 'csat', '-5', '-5.0', '0 to 100 \(% of answers 4 or 5\)' ],
           [ 'ces', '8', '8.0', '1 to 7 \(the mean answer\)' ],
           [ 'ces', '0.5', '0.5', '1 to 7 \(the mean answer\)' ]) {
    my ($type, $t, $shown, $range) = @$c;
    fails "target $t of a $type survey: out of range",
        conf(surveys => "    cx_survey s1 {\n        type $type;\n        question \"Q?\";\n"
                      . "        target $t;\n    } #\@E\n"),
        qr/cx_survey "s1": target \Q$shown\E is outside the $type score's range, $range/;
}

# looks: position, color (readable under white text: WCAG AA), title
for my $c ([ 'position top', qr/cx_survey "nps1": position "top" is not bottom-right, bottom-left or center/ ],
           [ 'position', qr/cx_survey "nps1": "position" takes one value/ ],
           [ 'color red', qr/cx_survey "nps1": color "red" is not a colour such as 2457d6 or "#2457d6"/ ],
           [ 'color "#12345"', qr/cx_survey "nps1": color "#12345" is not a colour/ ],
           [ 'color 2457d6x', qr/cx_survey "nps1": color "2457d6x" is not a colour/ ],
           [ "color #2457d6;\n        title \"T\"", qr/cx_survey "nps1": "color" takes one value \(in nginx\.conf # starts a comment: write color 2457d6; or color "#2457d6";\)/ ],
           [ 'color "#ffcc00"', qr/cx_survey "nps1": color "#ffcc00" has a contrast of 1\.51:1 with the white text on it; WCAG AA needs 4\.5:1: choose a darker shade/ ],
           [ 'color 777777', qr/color "777777" has a contrast of 4\.47:1/ ],
           [ 'title ""', qr/cx_survey "nps1": title must be 1 to 200 bytes of UTF-8/ ],
           [ "title \"caf\xe9\"", qr/title must be 1 to 200 bytes of UTF-8/ ],
           [ 'title "A"; title "B"', qr/cx_survey "nps1": "title" is duplicate/ ]) {
    my ($line, $re) = @$c;
    fails "cx_survey $line",
        conf(surveys => survey('nps1', "        type nps;\n        question \"Q?\";\n"
                                     . "        $line; #\@E\n")),
        $re;
}

passes 'position, color and title',
    conf(surveys => "    cx_survey nps1 { type nps; question \"Q?\"; position bottom-left; color \"#767676\"; "
                  . "title \"Après l'achat\"; }\n"
                  . "    cx_survey c { type csat; question \"Q?\"; position center; color 25d; }\n");

passes 'target on each type',
    conf(surveys => "    cx_survey n { target -20; type nps; question \"Q?\"; }\n"
                  . "    cx_survey c { type csat; question \"Q?\"; target 85; }\n"
                  . "    cx_survey e { type ces; question \"Q?\"; target 5.5; }\n",
         loc => "            cx_prompt n;\n");

fails 'target twice',
    conf(surveys => survey('nps1', "        type nps;\n        question \"Q?\";\n"
                                 . "        target 30;\n        target 40; #\@E\n")),
    qr/cx_survey "nps1": "target" is duplicate/;

for my $n ('"bad name"', 'a/b', 'n' x 65, '""') {
    (my $shown = $n) =~ s/^"(.*)"$/$1/;
    my $re = length($shown) && length($shown) <= 64
        ? qr/cx_survey: the name "\Q$shown\E" may contain only letters, digits/
        : qr/cx_survey: a name of 1 to 64 characters is needed/;
    fails "bad survey name $n",
        conf(surveys => "    cx_survey $n { type nps; question \"Q?\"; } #\@E\n",
             loc => ''),
        $re;
}

# Texts: invalid UTF-8 (raw bytes written into nginx.conf), empty, too long.
for my $c (
    [ 'lone continuation byte',   "\x80abc" ],
    [ 'invalid byte 0xff',        "caf\xff" ],
    [ 'truncated sequence',       "caf\xc3" ],
    [ 'overlong encoding of /',   "\xc0\xaf" ],
    [ 'UTF-16 surrogate',         "\xed\xa0\x80" ],
    [ 'beyond U+10FFFF',          "\xf4\x90\x80\x80" ],
) {
    my ($what, $bytes) = @$c;
    for my $line ("question \"$bytes\"", "labels \"low\" \"$bytes\"",
                  "thanks tr \"$bytes\"", "followup detractor \"$bytes\"")
    {
        my $body = "        type nps;\n";
        $body .= "        question \"Q?\";\n" unless $line =~ /^question/;
        (my $kw = $line) =~ s/ .*//;
        fails "invalid UTF-8 ($what) in $kw",
            conf(surveys => survey('nps1', $body . "        $line; #\@E\n")),
            qr/cx_survey: the text ".*" is not valid UTF-8/s;
    }
}

fails 'empty question text',
    conf(surveys => survey('nps1', "        type nps;\n        question \"\"; #\@E\n")),
    qr/cx_survey: texts must be 1 to 1000 bytes long/;

fails 'question text of 1001 bytes',
    conf(surveys => survey('nps1', "        type nps;\n        question \"" . ('x' x 1001)
                                 . "\"; #\@E\n")),
    qr/cx_survey: texts must be 1 to 1000 bytes long/;

fails 'empty high label',
    conf(surveys => survey('nps1', "        type nps;\n        question \"Q?\";\n"
                                 . "        labels \"low\" \"\"; #\@E\n")),
    qr/cx_survey: texts must be 1 to 1000 bytes long/;

for my $c (
    [ question => "        question \"A?\";\n        question \"B?\"; #\@E\n" ],
    [ question => "        question en \"A?\";\n        question \"B?\"; #\@E\n" ],
    [ question => "        question \"A?\";\n        question en \"B?\"; #\@E\n" ],
    [ question => "        question \"A?\";\n        question tr \"A?\";\n"
                . "        question TR \"B?\"; #\@E\n" ],
    [ labels   => "        question \"Q?\";\n        labels \"a\" \"b\";\n"
                . "        labels en \"c\" \"d\"; #\@E\n" ],
    [ thanks   => "        question \"Q?\";\n        thanks \"a\";\n"
                . "        thanks \"b\"; #\@E\n" ],
    [ followup => "        question \"Q?\";\n        followup \"a\";\n"
                . "        followup en \"b\"; #\@E\n" ],
    [ followup => "        question \"Q?\";\n        followup detractor \"a\";\n"
                . "        followup en detractor \"b\"; #\@E\n" ],
) {
    my ($kw, $body) = @$c;
    (my $shown = $body) =~ s/\s+/ /g;
    fails "duplicate text for one language:$shown",
        conf(surveys => survey('nps1', "        type nps;\n" . $body)),
        qr/cx_survey "nps1": "$kw" is given twice for the same language/;
}

# An untagged text follows "lang" even when "lang" comes later: here both
# questions end up being French, which is the same mistake as above.  The
# error may be found at the "lang" line or at the end of the block.
fails 'duplicate question once a later "lang" applies',
    conf(surveys => "    cx_survey nps1 {\n"
                  . "        type nps;\n"
                  . "        question \"Q?\";\n"
                  . "        question fr \"Q fr?\"; #\@E\n"
                  . "        lang fr; #\@E\n"
                  . "    } #\@E\n"),
    qr/cx_survey "nps1": "question" is given twice for the same language/;

# A setting given twice would silently keep only one of them.
for my $c (
    [ type  => "        type nps;\n        question \"Q?\";\n        type csat; #\@E\n" ],
    [ lang  => "        type nps;\n        lang en;\n        question \"Q?\";\n        lang tr; #\@E\n" ],
    [ every => "        type nps;\n        question \"Q?\";\n        every 90d;\n        every 30d; #\@E\n" ],
) {
    my ($kw, $body) = @$c;
    fails "\"$kw\" given twice in one survey",
        conf(surveys => survey('nps1', $body)),
        qr/cx_survey "nps1": .*"$kw"/;
}

fails 'cx_survey outside the http block',
    conf(server => "        cx_survey s2 { type nps; question \"Q?\"; } #\@E\n"),
    qr/"cx_survey" directive is not allowed here/;

# ---- cx_touchpoint -------------------------------------------------------

for my $s ('shopping', '', 'Purchase ', 'purchases') {
    fails "unknown stage \"$s\"",
        conf(tp => "            cx_touchpoint browse \"stage=$s\"; #\@E\n"),
        qr/cx_touchpoint: unknown stage "\Q$s\E"; the stages are awareness, consideration, purchase, usage, loyalty and advocacy/;
}

fails 'cx_touchpoint: unknown parameter',
    conf(tp => "            cx_touchpoint browse phase=usage; #\@E\n"),
    qr/cx_touchpoint: unknown parameter "phase=usage", expected "stage="/;

for my $n ('"check out"', 'a/b', '"a;b"', 'caf\xc3\xa9') {
    my $raw = $n;
    $raw =~ s/\\x([0-9a-f]{2})/chr hex $1/ge;
    (my $shown = $raw) =~ s/^"(.*)"$/$1/;
    fails "bad touchpoint name $n",
        conf(tp => "            cx_touchpoint $raw; #\@E\n"),
        qr/cx_touchpoint: the name "\Q$shown\E" may contain only letters, digits/;
}

for my $n ('""', 't' x 65) {
    fails 'touchpoint name of length ' . ($n eq '""' ? 0 : length $n),
        conf(tp => "            cx_touchpoint $n; #\@E\n"),
        qr/cx_touchpoint: a name of 1 to 64 characters is needed/;
}

fails 'two touchpoints in one location',
    conf(tp => "            cx_touchpoint browse;\n            cx_touchpoint other; #\@E\n"),
    qr/"cx_touchpoint" directive is duplicate/;

fails 'cx_touchpoint with three arguments',
    conf(tp => "            cx_touchpoint browse stage=usage x; #\@E\n"),
    qr/invalid number of arguments in "cx_touchpoint" directive/;

# ---- cx_cookie -----------------------------------------------------------

fails 'cx_cookie samesite=none without secure',
    conf(http => "    cx_cookie cx samesite=none; #\@E\n"),
    qr/cx_cookie: samesite=none needs "secure"/;

fails 'cx_cookie samesite=None without secure (any case)',
    conf(http => "    cx_cookie cx max_age=30d samesite=None domain=.example.com; #\@E\n"),
    qr/cx_cookie: samesite=none needs "secure"/;

for my $n ('"c x"', 'c=x', '"c;x"', 'c,x', 'c:x', 'c@x') {
    (my $shown = $n) =~ s/^"(.*)"$/$1/;
    $shown =~ s/\\"/"/;
    fails "bad cookie name $n",
        conf(http => "    cx_cookie $n; #\@E\n"),
        qr/cx_cookie: the name "\Q$shown\E" may contain only letters, digits/;
}

fails 'empty cookie name',
    conf(http => "    cx_cookie \"\"; #\@E\n"),
    qr/cx_cookie: .*name/;

fails 'cx_cookie: bad samesite',
    conf(http => "    cx_cookie cx samesite=loose; #\@E\n"),
    qr/cx_cookie: samesite must be "lax", "strict" or "none", not "loose"/;

for my $a ('forever', '0', '', '-5d') {
    fails "cx_cookie: bad max_age=$a",
        conf(http => "    cx_cookie cx max_age=$a; #\@E\n"),
        qr/cx_cookie: max_age "\Q$a\E" is not a duration such as "400d"/;
}

for my $d ('domain=', '"domain=exa mple.com"', 'domain=example.com;x', 'domain=ex/ample') {
    (my $shown = $d) =~ s/^"(.*)"$/$1/;
    my $line = "    cx_cookie cx $d; #\@E\n";
    $line = "    cx_cookie cx \"$shown\"; #\@E\n" if $d =~ /;/;
    fails "cx_cookie: bad $d",
        conf(http => $line),
        qr/cx_cookie: "\Q$shown\E" is not a domain such as "domain=\.example\.com"/;
}

fails 'cx_cookie: unknown parameter',
    conf(http => "    cx_cookie cx httponly; #\@E\n"),
    qr/cx_cookie: unknown parameter "httponly"; expected max_age=, samesite=, secure or domain=/;

fails 'cx_cookie twice',
    conf(http => "    cx_cookie cx;\n    cx_cookie cy; #\@E\n"),
    qr/"cx_cookie" directive is duplicate/;

# ---- cx_secret_file --------------------------------------------------------

fails 'cx_secret_file: missing file',
    conf(http => "    cx_secret_file %%PREFIX%%/conf/missing.key; #\@E\n"),
    qr/cx_secret_file: cannot open "[^"]*\/conf\/missing\.key"/;

fails 'cx_secret_file: missing file, relative path',
    conf(http => "    cx_secret_file missing.key; #\@E\n"),
    qr/cx_secret_file: cannot open "[^"]*\/conf\/missing\.key"/;   # nginx.conf's directory, like include

for my $c ([ 31, 'x' x 31 ], [ 31, ('a' x 31) . "\n" ], [ 0, '' ], [ 30, ('k' x 30) . "\r\n\n" ]) {
    my ($n, $content) = @$c;
    fails 'cx_secret_file: too short (' . length($content) . " bytes, $n of key)",
        conf(http => "    cx_secret_file %%PREFIX%%/conf/short.key; #\@E\n"),
        qr/cx_secret_file: "[^"]*short\.key" holds $n bytes, at least 32 are needed/,
        files => { 'conf/short.key' => $content };
}

fails 'cx_secret_file: too long',
    conf(http => "    cx_secret_file %%PREFIX%%/conf/long.key; #\@E\n"),
    qr/cx_secret_file: "[^"]*long\.key" must be a file of 32 to 4096 bytes/,
    files => { 'conf/long.key' => 'z' x 4097 };

fails 'cx_secret_file twice',
    conf(http => "    cx_secret_file %%PREFIX%%/conf/a.key;\n"
               . "    cx_secret_file %%PREFIX%%/conf/b.key; #\@E\n"),
    qr/"cx_secret_file" directive is duplicate/,
    files => { 'conf/a.key' => 'a' x 32, 'conf/b.key' => 'b' x 32 };

# ---- cx_thread_pool ---------------------------------------------------------

fails 'cx_thread_pool names a pool that is not declared',
    conf(http => "    cx_thread_pool nosuch; #\@E\n"),
    qr/thread pool "nosuch"/;

# ---- errors in an included file name that file -------------------------------

fails 'unknown survey in an included file',
    conf(loc => "            include cx-prompts.conf;\n"),
    qr/cx_prompt: unknown survey "nps9"/,
    in    => 'conf/cx-prompts.conf',
    files => { 'conf/cx-prompts.conf' => "# prompts\n\ncx_prompt nps1 sample=5%;\ncx_prompt nps9; #\@E\n" };

fails 'bad survey in an included file',
    conf(surveys => "    include cx-surveys.conf;\n", loc => ''),
    qr/cx_survey "s1": unknown type "bogus"/,
    in    => 'conf/cx-surveys.conf',
    files => { 'conf/cx-surveys.conf' => "cx_survey s1 {\n    type bogus; #\@E\n    question \"Q\";\n}\n" };

# ---- what is valid passes -------------------------------------------------------

passes 'edge values that are valid', conf(
    store   => "    cx_store %%PREFIX%%/cxdata max_size=1m;\n",
    http    => "    cx_cookie my_cx-2 max_age=1d samesite=none secure domain=.example.com;\n"
             . "    cx_secret_file %%PREFIX%%/conf/edge.key;\n"
             . "    cx_types text/html application/xhtml+xml;\n",
    surveys => survey('nps1', "        type NPS;\n"
                            . "        lang pt-BR;\n"
                            . "        question \"Qual a probabilidade?\";\n"
                            . "        question en \"How likely?\";\n"
                            . "        question ar \"\xd9\x85\xd8\xa7 \xd9\x85\xd8\xaf\xd9\x89\xd8\x9f\";\n"
                            . "        question zh-Hant-TW \"" . "\xe5\x8f\xaf" . "\";\n"
                            . "        followup \"Por qu\xc3\xa9?\";\n"
                            . "        followup detractor \"O que melhorar?\";\n"
                            . "        followup passive \"E?\";\n"
                            . "        followup en promoter \"Great!\";\n"
                            . "        followup promoter \"\xf0\x9f\x8e\x89\";\n"
                            . "        labels \"Baixa\" \"Alta\";\n"
                            . "        labels en \"Low\" \"High\";\n"
                            . "        thanks \"" . ('t' x 1000) . "\";\n"
                            . "        every 0;\n")
             . survey('c' x 64, "        type csat;\n        question \"Happy?\";\n")
             . survey('ces.v2_x-y', "        type ces;\n        question \"Easy?\";\n        every 1y;\n"),
    tp      => "            cx_touchpoint " . ('t' x 64) . " stage=advocacy;\n",
    loc     => "            cx_prompt nps1 sample=0% delay=0;\n"
             . "            cx_prompt " . ('c' x 64) . " sample=2.5% delay=500ms;\n"
             . "            cx_prompt ces.v2_x-y sample=33.33% delay=10m;\n"
             . "            cx_prompt nps1 sample=100.00%;\n"
             . "            cx_prompt nps1;\n",
    server  => "        location /cx-admin/ { cx_report; allow 127.0.0.1; deny all; }\n"
             . "        location /a/ { cx_touchpoint a.b_c-d stage=awareness; cx_prompt nps1; }\n"
             . "        location /b/ { cx_touchpoint b stage=purchase; }\n"
             . "        location /c/ { cx_touchpoint c stage=usage; }\n"
             . "        location /d/ { cx_touchpoint d stage=loyalty; }\n",
    after   => "    server {\n"
             . "        listen 127.0.0.1:%%PORT%%;\n"
             . "        server_name second.example;\n"
             . "        location /feedback/ { cx_endpoint; }\n"
             . "        location / { cx_prompt nps1 sample=1%; }\n"
             . "    }\n",
), files => { 'conf/edge.key' => ('k' x 32) . "\n" };

# The full example configuration, adapted (see the top of this file).  The key file is
# given by absolute path: whether a relative cx_secret_file is resolved
# against the prefix or the configuration directory is not what this checks.
my $SPEC_CONF = <<'C';
    cx_store          %%PREFIX%%/var/cx  max_size=1g;
    cx_secret_file    %%PREFIX%%/conf/cx.key;
    cx_cookie         cx  max_age=400d  samesite=lax;
    cx_types          text/html;

    cx_survey nps_after_purchase {
        type       nps;
        question   "How likely are you to recommend us to a friend?";
        question   tr "Bizi bir arkadaşınıza tavsiye etme olasılığınız nedir?";
        followup   "What is the main reason for your score?";
        followup   detractor "What should we do better?";
        labels     "Not likely" "Very likely";
        thanks     "Thank you!";
        every      90d;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        root   html;

        location /cx/        { cx_endpoint; }
        location /cx-admin/  { cx_report; allow 127.0.0.1; deny all; }

        location = /checkout/done {
            cx_touchpoint  purchase  stage=purchase;
            cx_prompt      nps_after_purchase  sample=25%  delay=3s;
            root           html;
        }
        location / {
            cx_touchpoint  browse  stage=consideration;
            cx_prompt      nps_after_purchase;
        }
    }
C

my %SPEC_FILES = (
    'conf/cx.key'        => "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
    'html/index.html'    => "<html><body>\n<h1>Shop</h1>\n</body></html>\n",
    'html/checkout/done' => "<html><body><p>Thanks for your order</p></body></html>\n",
);

passes 'cx_store max_size=1g (the unit of the full example)',
    conf(store => "    cx_store %%PREFIX%%/cxdata max_size=1g;\n");
passes 'cx_store max_size=1024m', conf(store => "    cx_store %%PREFIX%%/cxdata max_size=1024m;\n");

passes 'the full example configuration', $SPEC_CONF, files => \%SPEC_FILES;

{
    (my $alt = $SPEC_CONF) =~ s/samesite=lax;/samesite=strict  secure  domain=.example.com;/;
    passes 'the full example configuration with secure and domain=', $alt, files => \%SPEC_FILES;
}

# ---- nginx -t without the store directory; then start and serve --------------------

# max_size=1024m rather than the example's 1g: this part checks start-up and
# serving, the "g" unit is checked above.
(my $SERVE_CONF = $SPEC_CONF) =~ s/max_size=1g/max_size=1024m/ or die;

subtest 'nginx -t passes without the store directory, then nginx starts and serves' => sub {
    my $prefix = abs_path(tempdir('cx05-XXXXXX', TMPDIR => 1, CLEANUP => 1));
    my $store  = "$prefix/var/cx";
    mkdir "$prefix/var" or die "mkdir: $!";
    chmod 0755, "$prefix/var";
    ok !-e $store, 'the store directory does not exist';

    my ($ok, $out) = cx_test_config($SERVE_CONF, prefix => $prefix, files => \%SPEC_FILES);
    ok $ok, 'nginx -t passes' or diag $out;
    like $out, qr/syntax is ok/, 'nginx says "syntax is ok"';
    unlike $out, qr/\[(?:emerg|alert|crit)\]/, 'no [emerg]/[alert]/[crit] from nginx -t';

    # the same prefix, now for real (whatever nginx -t left in the store)
    my $ng = eval { cx_nginx(conf => $SERVE_CONF, prefix => $prefix, files => \%SPEC_FILES) };
    ok $ng && $ng->running, 'nginx starts' or return diag $@;
    ok -d $store, 'the store directory exists once nginx runs';
    ok -f "$store/data.mdb", 'the store holds data.mdb';
    unlike $ng->error_log, qr/\[(?:emerg|alert|crit)\]/, 'no [emerg]/[alert]/[crit] in the error log'
        or diag $ng->error_log;

    my $r = $ng->get('/', 'Accept-Language' => 'tr-TR,tr;q=0.9,en;q=0.5');
    is $r->{status}, 200, 'GET /: 200';
    my ($json) = $r->{body} =~ m{<script type="application/json" id="cx-prompt"(?: nonce="[^"]*")?>(.*?)</script>}s;
    ok defined $json, 'GET /: the page carries the prompt' or diag $r->{body};
    my $p = defined $json ? eval { JSON::PP->new->utf8->decode($json) } : undef;
    is ref $p, 'HASH', 'the prompt data is JSON';
    $p ||= {};
    is $p->{survey}, 'nps_after_purchase', 'prompt: survey';
    is $p->{type}, 'nps', 'prompt: type';
    is $p->{endpoint}, '/cx/', 'prompt: endpoint';
    is $p->{lang}, 'tr', 'prompt: Turkish for Accept-Language tr-TR';
    is $p->{question}, "Bizi bir arkada\x{15f}\x{131}n\x{131}za tavsiye etme olas\x{131}l\x{131}\x{11f}\x{131}n\x{131}z nedir?",
        'prompt: the Turkish question';
    like $r->{body}, qr{</script><script src="/cx/w\.js" async></script></body></html>\n\z},
        'the widget script sits right before </body>';
    my $cookie = cx_cookie_from($r, 'cx');
    ok defined $cookie && length $cookie, 'a cx cookie is set';

    is $ng->get('/cx/w.js')->{status}, 200, 'the widget script is served';

    # an answer goes through: the store works
    if (defined $cookie && $p->{token}) {
        my $a = $ng->post_json('/cx/r',
            qq({"token":"$p->{token}","event":"answer","score":9}),
            Cookie => "cx=$cookie", Origin => 'http://127.0.0.1:' . $ng->port);
        is $a->{status}, 204, 'the answer is stored (204)' or diag $a->{raw};
    } else {
        fail 'no token/cookie to answer with';
    }

    my $rep = $ng->get('/cx-admin/report.json');
    is $rep->{status}, 200, 'report.json: 200';
    my $data = eval { JSON::PP->new->utf8->decode($rep->{body}) } || {};
    my ($s) = grep { $_->{name} eq 'nps_after_purchase' } @{ $data->{surveys} || [] };
    ok $s, 'report.json lists the survey' or diag $rep->{body};
    is $s && $s->{answered}, 1, 'report.json: one answer';

    $ng->stop;
    undef $ng;
};

done_testing;
