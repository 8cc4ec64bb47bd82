# The prompt's language: the survey text by Accept-Language among the
# survey's languages, the widget's own words (close, send, skip) in that
# language where the module knows them, and the writing direction.
use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP ();
use Encode ();
use CXTest;

plan skip_all => 'module not built' unless cx_have_module();

my $ng = cx_nginx(
    conf => Encode::encode_utf8(<<'CONF'),
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_survey s1 {
        type nps;
        question "How likely?";
        question tr "Ne kadar olası?";
        question de "Wie wahrscheinlich?";
        question fr "Quelle probabilité ?";
        question es "¿Qué probabilidad?";
        question nb "Hvor sannsynlig?";
        question ar "ما مدى احتمال؟";
        question pt-BR "Qual a probabilidade?";
    }
    cx_survey s2 {
        type nps;
        question "How likely?";
        question tr "Ne kadar olası?";
        followup "Why?";
        followup tr "Neden?";
        followup detractor "What should we do better?";
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%PREFIX%%/html;
        location /cx/ { cx_endpoint; }
        location /s2/ { alias %%PREFIX%%/html/; cx_prompt s2; }
        location / { cx_prompt s1; }
    }
CONF
    files => { 'html/index.html' => "<html><body>x</body></html>\n" },
);

sub prompt_for {
    my ($al, $path) = @_;
    my $r = $ng->get($path // '/index.html', defined $al ? ('Accept-Language' => $al) : ());
    my ($json) = $r->{body} =~ m{<script type="application/json" id="cx-prompt">(.*?)</script>}s;
    unlike $json // '', qr/[^\x20-\x7e]/, "($al) the snippet is ASCII only" if defined $al;
    return $json ? JSON::PP->new->decode($json) : {};
}

my %ui = (
    en => ['Close', 'Send', 'Skip'],
    tr => ['Kapat', "G\x{f6}nder", 'Atla'],
    de => ["Schlie\x{df}en", 'Senden', "\x{dc}berspringen"],
    fr => ['Fermer', 'Envoyer', 'Passer'],
    es => ['Cerrar', 'Enviar', 'Omitir'],
    nb => ['Lukk', 'Send', 'Hopp over'],
);

for my $case (
    [ undef,                 'en', 'How likely?' ],
    [ 'tr-TR,tr;q=0.9',      'tr', 'Ne kadar olası?' ],
    [ 'de',                  'de', 'Wie wahrscheinlich?' ],
    [ 'fr-CA, en;q=0.5',     'fr', 'Quelle probabilité ?' ],
    [ 'es-ES',               'es', '¿Qué probabilidad?' ],
    [ 'nb-NO',               'nb', 'Hvor sannsynlig?' ],
    [ 'en;q=0.4, de;q=0.8',  'de', 'Wie wahrscheinlich?' ],
    [ 'xx, yy',              'en', 'How likely?' ],
    [ 'pt-BR',               'pt-br', 'Qual a probabilidade?' ],
) {
    my ($al, $lang, $q) = @$case;
    my $p = prompt_for($al);
    my $name = defined $al ? $al : '(none)';
    is $p->{lang}, $lang, "$name: language $lang";
    is $p->{question}, $q, "$name: the question in it";
    is $p->{dir}, 'ltr', "$name: left to right";
    if (my $w = $ui{$lang}) {
        is_deeply [ @{ $p->{ui} || {} }{qw(close send skip)} ], $w, "$name: the widget's words";
    } else {
        ok !exists $p->{ui}, "$name: no words of its own (the widget's English)";
    }
}

my $ar = prompt_for('ar');
is $ar->{lang}, 'ar', 'ar: Arabic';
is $ar->{dir}, 'rtl', 'ar: right to left';
is $ar->{question}, 'ما مدى احتمال؟', 'ar: the question';

# The visitor's language wins over a band: a Turkish visitor of a survey
# with a Turkish follow-up and an English-only detractor follow-up gets the
# Turkish one, whatever the score.
my $tr = prompt_for('tr', '/s2/index.html');
is $tr->{lang}, 'tr', 'band vs language: tr';
is $tr->{followup}, 'Neden?', 'band vs language: the Turkish follow-up';
ok !defined(($tr->{followup_by_band} // {})->{detractor}),
    'band vs language: no English detractor follow-up for a Turkish visitor';
my $en = prompt_for(undef, '/s2/index.html');
is $en->{followup}, 'Why?', 'band vs language: en, the general follow-up';
is(($en->{followup_by_band} // {})->{detractor}, 'What should we do better?',
    'band vs language: en, the detractor one');

# Translated in part: nginx -t warns (and passes), naming what is missing.
my ($ok, $out) = cx_test_config(<<'CONF');
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_survey part {
        type csat;
        question "How satisfied?";
        question tr "Ne kadar memnunsunuz?";
        labels "Not at all" "Very";
        thanks "Thanks!";
    }
    cx_survey whole { type nps; question "Q?"; question tr "S?"; }
CONF
ok $ok, 'a survey translated in part: nginx -t passes';
like $out, qr/\[warn\].*cx_survey "part": the "tr" texts have no labels, thanks: those are shown in the default language/,
    'a survey translated in part: a warning naming what is missing';
unlike $out, qr/cx_survey "whole"/, 'a survey translated whole: no warning';

done_testing;
