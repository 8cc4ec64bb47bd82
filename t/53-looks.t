#!/usr/bin/perl
# What marketers set per survey and per prompt line reaches the page and the
# dashboard (README: Directives, cx_survey; issue 17 items 1-2): position,
# color (normalised), trigger= in the prompt JSON; title in report.json; a
# survey without them carries none of these fields.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;

plan skip_all => "module not built" unless cx_have_module();

my $ng = cx_nginx(files => { cx_pages("<html><body><p>page</p></body></html>\n", qw(a b c)) }, conf => <<'CONF');
    cx_store %%PREFIX%%/cxdata max_size=16m;
    cx_survey looks { type nps; question "Q?"; position bottom-left; color 0B6E4F; title "After the purchase"; }
    cx_survey centre { type csat; question "Q?"; position center; color "#25d"; }
    cx_survey plain { type ces; question "Q?"; }
    server {
        %%CX_SITE%%
        location /a/ { cx_touchpoint a; cx_prompt looks delay=2s trigger=scroll:60%; }
        location /b/ { cx_touchpoint b; cx_prompt centre trigger=idle:20s; }
        location /c/ { cx_touchpoint c; cx_prompt plain trigger=exit; }
    }
CONF

my $p = $ng->visit(cx_browser('a'), '/a/')->{prompt};
is $p->{position}, 'bottom-left', 'position bottom-left';
is $p->{color}, '#0b6e4f', 'color, written #rrggbb in lower case';
is $p->{trigger}, 'scroll', 'trigger scroll';
is $p->{at}, 60, '... at 60%';
is $p->{delay}, 2000, 'the delay beside it';

$p = $ng->visit(cx_browser('b'), '/b/')->{prompt};
is $p->{position}, 'center', 'position center';
is $p->{color}, '#2255dd', '#25d is #2255dd';
is $p->{trigger}, 'idle', 'trigger idle';
is $p->{at}, 20000, '... 20 s';

$p = $ng->visit(cx_browser('c'), '/c/')->{prompt};
ok !exists $p->{position} && !exists $p->{color}, 'no position, no color: none in the JSON (the widget\'s defaults)';
is $p->{trigger}, 'exit', 'trigger exit';
ok !exists $p->{at}, '... without "at"';

my ($rep) = $ng->report_json;
my %title = map { $_->{name} => $_->{title} } @{ $rep->{surveys} };
is $title{looks}, 'After the purchase', 'report.json: the title';
ok !defined $title{plain}, 'report.json: no title, none';

done_testing;
