#!/usr/bin/perl
# Real-browser tests of the survey widget (/cx/w.js): nginx with ngx_cx serves pages
# with prompts; t/browser/widget.js drives Debian's chromium through playwright-core
# and prints one JSON line with one result per check (see its header comment).
#
# Needs /usr/bin/chromium (or CX_CHROMIUM), node, and `npm install` in t/browser
# (playwright-core, axe-core); skips cleanly without them.
# Screenshots go to t/artifacts/ (git-ignored).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use CXBrowser;

if (my $why = cx_browser_missing()) { plan skip_all => $why }

sub page {
    my ($title, $extra) = @_;
    $extra //= '';
    return <<"HTML";
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>$extra</head>
<body>
<main><h1>$title</h1><p>Host page content.</p></main>
</body>
</html>
HTML
}

my %files;
$files{"html/$_/index.html"} = page("Page $_")
    for qw(mouse kbd esc lang axe csp-self csp-nonce csp-style langs rtl live media own reuse);
$files{'html/plain.html'} = page('No prompt here');
# a single-page application: the widget once in the shell, cx.touch() on a route change
$files{'html/spa/index.html'} = page('Shop app', <<'JS');
<script src="/cx/w.js" async></script>
<script>
function go(route, touchpoint) {
  history.pushState(null, '', route);
  document.querySelector('h1').textContent = 'Route ' + route;
  window.cx.touch(touchpoint);
}
</script>
JS
$files{'html/spa/index.html'} =~ s{<p>Host page content.</p>}{<p><button id="orders" type="button" onclick="go('/spa/orders/42', 'spa_orders')">Orders</button></p>};
$files{"html/$_/index.html"} = page("Page $_") for qw(trig-exit trig-idle looks);
$files{'html/trig-scroll/index.html'} = page('A long page', '<style>main{height:3000px}</style>');
$files{'html/focus/index.html'} = <<'HTML';
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Focus page</title></head>
<body>
<main><h1>Focus page</h1><label for="inp">Search</label> <input id="inp" type="text"></main>
</body>
</html>
HTML
$files{'html/host/index.html'} = <<'HTML';
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Host page</title>
<style>button { background: red !important; } #hostbox { height: 300px; margin: 20px; }</style></head>
<body>
<main><h1>Host page</h1>
<div id="hostbox"><p>Host box</p><button id="pagebtn" type="button">Page button</button></div>
<p>After the box.</p></main>
</body>
</html>
HTML

my $survey = sub {
    my ($name, $extra) = @_;
    $extra //= '';
    return "    cx_survey $name { type nps; question \"How likely?\"; followup \"Why?\"; "
        . "labels \"Not likely\" \"Very likely\"; thanks \"Thank you!\"; $extra }\n";
};
my $conf = "    cx_store %%PREFIX%%/cxdata max_size=64m;\n";
$conf .= $survey->($_) for qw(nps_mouse nps_kbd nps_esc nps_axe nps_host nps_csp);
$conf .= $survey->('nps_lang', 'question tr "Bizi tavsiye eder misiniz?";');
$conf .= $survey->($_) for qw(nps_focus nps_live nps_media nps_own nps_reuse nps_trig);
$conf .= $survey->('nps_looks', 'position bottom-left; color 0b6e4f;');
$conf .= $survey->('nps_spa');
# one question and follow-up per language; t/browser/widget.js has the same texts
$conf .= $survey->('nps_langs', join ' ',
    'question tr "Bizi tavsiye eder misiniz?";', 'question nb "Vil du anbefale oss?";',
    'question de "Würden Sie uns empfehlen?";', 'question fr "Nous recommanderiez-vous ?";',
    'question es "¿Nos recomendaría?";',
    'followup tr "Neden?";', 'followup nb "Hvorfor?";', 'followup de "Warum?";',
    'followup fr "Pourquoi ?";', 'followup es "¿Por qué?";');
$conf .= $survey->('nps_rtl', 'question ar "ما مدى احتمال أن توصي بنا؟";');

my $loc = sub {
    my ($path, $survey, $extra, $delay, $more) = @_;
    $extra //= '';
    $delay //= '200ms';
    $more = $more ? " $more" : '';
    return "        location /$path/ { cx_touchpoint $path stage=consideration; "
        . "cx_prompt $survey sample=100% delay=$delay$more; $extra }\n";
};
$conf .= "    server {\n        listen 127.0.0.1:%%PORT%%;\n        root html;\n"
    . "        location /cx/ { cx_endpoint; }\n"
    . "        location /cx-admin/ { cx_report; }\n"
    . $loc->('mouse', 'nps_mouse') . $loc->('kbd', 'nps_kbd') . $loc->('esc', 'nps_esc')
    . $loc->('lang', 'nps_lang') . $loc->('axe', 'nps_axe') . $loc->('host', 'nps_host')
    . $loc->('csp-self', 'nps_csp', q{add_header Content-Security-Policy "script-src 'self'";})
    . $loc->('csp-nonce', 'nps_csp',
        q{add_header Content-Security-Policy "script-src 'nonce-abc' 'strict-dynamic'";})
    . $loc->('csp-style', 'nps_csp', q{add_header Content-Security-Policy "style-src 'self'";})
    . $loc->('langs', 'nps_langs') . $loc->('rtl', 'nps_rtl')
    . $loc->('focus', 'nps_focus', '', '500ms') . $loc->('live', 'nps_live')
    . $loc->('media', 'nps_media') . $loc->('own', 'nps_own') . $loc->('reuse', 'nps_reuse')
    . $loc->('trig-exit', 'nps_trig', '', '200ms', 'trigger=exit')
    . $loc->('trig-scroll', 'nps_trig', '', '200ms', 'trigger=scroll:50%')
    . $loc->('trig-idle', 'nps_trig', '', '200ms', 'trigger=idle:1s')
    . $loc->('looks', 'nps_looks')
    . "        location /spa-orders/ { cx_touchpoint spa_orders stage=usage; "
    . "cx_prompt nps_spa sample=100% delay=200ms; }\n"
    . "    }\n";

my $ng   = cx_nginx(conf => $conf, files => \%files);
my $base = 'http://127.0.0.1:' . $ng->port;

# sanity, without a browser: the pages carry a prompt and the CSP header
{
    my $r = $ng->get('/csp-nonce/');
    is $r->{status}, 200, 'GET /csp-nonce/ 200';
    is $r->{headers}{'content-security-policy'}, q{script-src 'nonce-abc' 'strict-dynamic'},
        'CSP header from add_header';
    like $r->{body}, qr{<script\b[^>]*\bnonce="abc"[^>]*\bsrc="/cx/w\.js"|<script\b[^>]*\bsrc="/cx/w\.js"[^>]*\bnonce="abc"},
        'w.js tag carries nonce abc';
    my $w = $ng->get('/cx/w.js');
    is $w->{status}, 200, 'GET /cx/w.js 200';
}

my $res = cx_browser_run('widget.js', $base, timeout => 280, clear => 'widget-*.png');
my $art = $res->{art};

# Known widget bugs: check name => reason. Keep asserting the correct behaviour.
my %TODO = (
);

cx_browser_checks($res, [qw(mouse_answer keyboard_answer escape_dismiss language_tr csp_script_self
    csp_nonce_strict_dynamic csp_style_self axe axe_followup screenshots host_unchanged
    languages rtl no_focus_steal polite_announce media only_own_requests reused_page triggers
    looks preview spa_route survey_link)], %TODO);

# the screenshots exist and are PNGs, whatever the check said
cx_png_ok($_) for "$art/widget-1280x800.png", "$art/widget-375x667.png", "$art/widget-rtl.png";

done_testing;
