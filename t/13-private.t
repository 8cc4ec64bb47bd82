#!/usr/bin/perl
# Shared caches (docs/behaviours.md 13, on its own): a response that carries
# a prompt is for one visitor only, so it leaves as "Cache-Control: private,
# no-store" ("public" and "s-maxage" gone, and no-store for behaviour 24);
# one without a prompt keeps its header as it was.
#
# t/10 checks this on a first visit, whose response also sets the visitor
# cookie (and a Set-Cookie alone keeps many caches away).  Here the visitor
# is a returning one whose cookie does not change: no Set-Cookie, so
# Cache-Control is all that keeps a shared cache from serving this visitor's
# prompt, token included, to everyone else.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;

plan skip_all => 'module not built (run make)' unless cx_have_module();

my $PAGE = "<html><body>\n<p>page</p>\n</body></html>\n";
my $CC = 'public, max-age=60, s-maxage=300';
my $NOW = 1_800_000_000;

my $ng = cx_nginx(ports => 2,
    files => { 'html/index.html' => $PAGE, 'up/cc/index.html' => $PAGE },
    conf => <<"CONF");
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_test_clock on;
    cx_survey nps1 { type nps; question "How likely?"; }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%PREFIX%%/html;
        location /cx/ { cx_endpoint; }
        location /cc/ { alias %%PREFIX%%/html/;
            add_header Cache-Control "$CC"; cx_prompt nps1 sample=100%; }
        location /cc-none/ { alias %%PREFIX%%/html/;
            add_header Cache-Control "$CC"; cx_prompt nps1 sample=0%; }
        location /cc-plain/ { alias %%PREFIX%%/html/;
            add_header Cache-Control "$CC"; }
        location /cc-up/ { proxy_pass http://127.0.0.1:%%PORT1%%/cc/;
            cx_prompt nps1 sample=100%; }
        location /cc-up-none/ { proxy_pass http://127.0.0.1:%%PORT1%%/cc/;
            cx_prompt nps1 sample=0%; }
    }
    server {
        listen 127.0.0.1:%%PORT1%%;
        root %%PREFIX%%/up;
        location /cc/ { add_header Cache-Control "$CC"; }
    }
CONF

sub cc_all {
    my ($r) = @_;
    my $h = $r->{headers}{'cache-control'};
    return [] unless defined $h;
    return ref $h ? $h : [$h];
}

# the visitor: one first visit sets the cookie; after that it stays
my $b = cx_browser('returning');
my $first = $ng->visit($b, '/cc/index.html', now => $NOW);
is $first->{status}, 200, 'first visit: 200';
ok defined cx_cookie_from($first, 'cx'), 'first visit: the cookie is set';
my $cookie = $b->{cookie};

for my $case (['/cc/index.html', 'add_header'], ['/cc-up/index.html', 'proxied upstream']) {
    my ($path, $name) = @$case;
    my $r = $ng->visit($b, $path, now => $NOW + 5);
    is $r->{status}, 200, "$name: 200";
    ok $r->{prompt} && !$r->{prompt}{invalid}, "$name: a prompt is offered";
    ok !defined $r->{headers}{'set-cookie'}, "$name: returning visitor, no Set-Cookie";
    is $b->{cookie}, $cookie, "$name: the cookie did not change";
    is_deeply cc_all($r), ['private, no-store'],
        "$name: exactly one Cache-Control: private, no-store (public and s-maxage gone)";
}

for my $case (['/cc-none/index.html', 'add_header'], ['/cc-up-none/index.html', 'proxied upstream'],
              ['/cc-plain/index.html', 'no cx_prompt']) {
    my ($path, $name) = @$case;
    my $r = $ng->visit($b, $path, now => $NOW + 10);
    is $r->{status}, 200, "no prompt, $name: 200";
    ok !$r->{prompt}, "no prompt, $name: nothing offered";
    is $r->{body}, $PAGE, "no prompt, $name: the page unchanged";
    ok !defined $r->{headers}{'set-cookie'}, "no prompt, $name: no Set-Cookie";
    is_deeply cc_all($r), [$CC], "no prompt, $name: Cache-Control unchanged";
}

$ng->stop;
done_testing;
