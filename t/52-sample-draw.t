#!/usr/bin/perl
# A sample draw sticks (docs/behaviours.md 26): at a cx_prompt location that
# is not a touchpoint, a visitor without a cookie who is drawn out of the
# sample gets the cookie anyway, so that the next page is the same draw and
# not a new one.  Before, every page view of a cookieless visitor was a new
# draw: at sample=30% most visitors were eventually asked.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;

plan skip_all => 'module not built (run make)' unless cx_have_module();

my $VISITORS = 120;
my $VIEWS    = 5;
my $PAGE     = "<html><head><title>t</title></head><body>\n<p>page</p>\n</body></html>\n";

my $ng = cx_nginx(files => { 'html/index.html' => $PAGE },
                  conf  => cx_prompt_conf('s30', '30%', 'Q?'));

my ($ever, $first, $later_only, $no_cookie) = (0, 0, 0, 0);
for my $v (1 .. $VISITORS) {
    my $b = cx_browser("v$v");
    my @offered;
    for my $i (1 .. $VIEWS) {
        my $r = $ng->visit($b, '/index.html');
        push @offered, cx_offered($r) eq 's30' ? 1 : 0;
        $no_cookie++ if $i == 1 && !defined $b->{cookie};
    }
    $first++ if $offered[0];
    $ever++ if grep { $_ } @offered;
    $later_only++ if !$offered[0] && grep { $_ } @offered;
}

note sprintf '%d visitors, %d views each: %d offered on their first view, %d ever',
    $VISITORS, $VIEWS, $first, $ever;

is $no_cookie, 0, 'every visitor has a cookie after the first view, drawn in or out';
is $later_only, 0, 'a visitor drawn out on the first view is never offered later';
cmp_ok $ever / $VISITORS, '<=', 0.45, 'about 30% of visitors are ever asked (not 1 - 0.7^5)';
cmp_ok $ever / $VISITORS, '>=', 0.15, '... and some are';

# a response that sets the cookie is personal
my $r = $ng->get('/index.html');
is $r->{status}, 200, 'a new visitor: 200';
ok defined cx_cookie_from($r, 'cx'), 'a new visitor gets the cookie';
like $r->{headers}{'cache-control'} // '', qr/\bprivate\b/, '... and Cache-Control: private';

done_testing;
