#!/usr/bin/perl
# make install / make uninstall, in a scratch root (DESTDIR): Debian's layout
# for nginx modules, as its libnginx-mod-* packages have it (README,
# "Install"). Every file, mode, link and line install puts there; the
# installed module has the installed Lua library's directory compiled in,
# not this tree's; nginx -t loads it through the staged modules-enabled link
# with the README's conf.d/cx.conf; uninstall leaves exactly what was there
# before, another module package's files included. No root needed: nothing is
# written outside the scratch roots and build/install/.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Find;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use CXTest;

my $root = cx_repo_root();
plan skip_all => 'module not built (run make)'
    unless -f "$root/build/ngx_http_cx_module.so" && -f "$root/build/objs/Makefile"
        && -x "$root/build/cxctl";

# the defaults, whatever this shell or an outer make says
delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES DESTDIR PREFIX BINDIR
               CX_DATADIR CX_LUA_DIR NGINX_MODULES_DIR NGINX_MODULES_AVAILABLE
               NGINX_MODULES_ENABLED)};

my $MODULE = '/usr/lib/nginx/modules/ngx_http_cx_module.so';
my $CONF   = '/usr/share/nginx/modules-available/mod-http-cx.conf';
my $LINK   = '/etc/nginx/modules-enabled/50-mod-http-cx.conf';
my $CXCTL  = '/usr/local/bin/cxctl';
my $LUADIR = '/usr/local/share/ngx_cx/lua';

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return undef;
    local $/;
    return scalar <$fh>;
}

sub make_in {
    my ($destdir, @targets) = @_;
    my $out = qx{make -C '$root' --no-print-directory @targets DESTDIR='$destdir' 2>&1};
    my $ok = $? == 0;
    diag $out unless $ok;
    return $ok;
}

# everything under $dir: {relative path => 'd' | 'f MODE' | 'l -> TARGET'}
sub tree {
    my ($dir) = @_;
    my %t;
    find({ no_chdir => 1, wanted => sub {
        my $rel = substr $File::Find::name, length $dir;
        $rel =~ s{^/}{};
        return if $rel eq '';
        $t{$rel} = -l $_ ? 'l -> ' . readlink($_)
                 : -d _  ? 'd'
                 : sprintf('f %04o', (lstat _)[2] & 07777);
    } }, $dir);
    return \%t;
}

sub files_of { my ($t) = @_; return { map { $_ => $t->{$_} } grep { $t->{$_} ne 'd' } keys %$t } }
sub dirs_of  { my ($t) = @_; return [ sort grep { $t->{$_} eq 'd' } keys %$t ] }

# the Lua library as the tree has it
my @lua;
find({ no_chdir => 1, wanted => sub {
    push @lua, substr($File::Find::name, length("$root/lua/")) if -f && /\.lua\z/;
} }, "$root/lua");
@lua = sort @lua;
ok scalar(grep { $_ eq 'cx/util.lua' } @lua), 'the tree has lua/cx/util.lua';

my %expected = (
    substr($MODULE, 1) => 'f 0644',
    substr($CONF, 1)   => 'f 0644',
    substr($LINK, 1)   => "l -> $CONF",
    substr($CXCTL, 1)  => 'f 0755',
    map { substr("$LUADIR/$_", 1) => 'f 0644' } @lua,
);

# --- a scratch root with nothing in it -------------------------------------
my $dest = tempdir('cxinstall-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CX_KEEP});

ok make_in($dest, 'install'), 'make install DESTDIR=... succeeds';
my $t = tree($dest);
is_deeply files_of($t), \%expected,
    'exactly the module, its .conf, the link, cxctl and the Lua library, with their modes'
    or diag explain files_of($t);

is slurp("$dest$CONF"), "load_module $MODULE;\n",
    'mod-http-cx.conf: the load_module line, with the absolute path (no DESTDIR)';
is readlink("$dest$LINK"), $CONF,
    'modules-enabled/50-mod-http-cx.conf links to the absolute path, as dh_nginx does';
ok -f $dest . readlink("$dest$LINK"), 'which is the staged .conf once DESTDIR is put before it';

is slurp("$dest$CXCTL"), slurp("$root/build/cxctl"), 'cxctl is build/cxctl';
for my $f (@lua) {
    is slurp("$dest$LUADIR/$f"), slurp("$root/lua/$f"), "$LUADIR/$f is lua/$f";
}

my $so = slurp("$dest$MODULE");
is $so, slurp("$root/build/install/ngx_http_cx_module.so"),
    'the module is build/install/ngx_http_cx_module.so';
ok index($so, "\0$LUADIR\0") >= 0, "the installed module names $LUADIR (NGX_HTTP_CX_LUA_DIR)";
ok index($so, "\0$root/lua\0") < 0, "and nowhere this tree's $root/lua";
ok index(slurp("$root/build/ngx_http_cx_module.so"), "\0$root/lua\0") >= 0,
    "(which build/ngx_http_cx_module.so does name: the check above can fail)";

ok make_in($dest, 'install'), 'make install again succeeds (the link is replaced)';
is_deeply files_of(tree($dest)), \%expected, 'and leaves the same files';

# --- nginx -t with the staged module, enabled as Debian enables it ---------
# nginx.conf includes modules-enabled/*.conf; here that directory holds the
# staged link's file with DESTDIR put before the module's path, and
# conf.d/cx.conf is the README's.
{
    my $readme = slurp("$root/README.md");
    my ($cxconf) = $readme =~ m{^```\n(# /etc/nginx/conf\.d/cx\.conf\n.*?)^```\n}ms;
    ok defined $cxconf, 'the README shows /etc/nginx/conf.d/cx.conf';
    $cxconf //= '';
    like $cxconf, qr{^cx_store\s+/var/lib/nginx/cx\b}m, 'with cx_store /var/lib/nginx/cx';
    like $cxconf, qr{^\s+listen\s+80;}m, 'and a server on port 80';

    my $prefix = tempdir('cxinstall-nginx-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CX_KEEP});
    my $load = slurp($dest . readlink("$dest$LINK")) // '';
    (my $staged = $load) =~ s{^load_module $MODULE;$}{load_module $dest$MODULE;}m;
    isnt $staged, $load, 'the load_module line is moved under DESTDIR';

    (my $site = $cxconf) =~ s{/var/lib/nginx/cx\b}{$prefix/cx}g;
    $site =~ s{^(\s+)listen\s+80;}{${1}listen 127.0.0.1:%%PORT%%;}m;

    my ($ok, $out) = cx_test_config("include conf.d/*.conf;\n", no_module => 1,
        prefix => $prefix,
        main_conf => "include modules-enabled/*.conf;",
        files => { 'conf/modules-enabled/50-mod-http-cx.conf' => $staged,
                   'conf/conf.d/cx.conf' => $site });
    ok $ok, 'nginx -t passes with the staged module loaded from modules-enabled' or diag $out;
    like $out, qr/test is successful/, 'nginx says so';
    unlike $out, qr/\[(?:warn|alert|crit|emerg)\]/, 'without a warning' or diag $out;
    ok !-e "$prefix/cx", 'and nginx -t created no store';
}

# --- uninstall --------------------------------------------------------------
ok make_in($dest, 'uninstall'), 'make uninstall DESTDIR=... succeeds';
$t = tree($dest);
is_deeply files_of($t), {}, 'no file or link is left' or diag explain $t;
# What stays: the directories a Debian system has without ngx_cx (nginx-common
# has /etc/nginx/modules-enabled). What goes: ngx_cx's own, and the two only
# module packages have, now empty, as dpkg would remove them.
is_deeply dirs_of($t), [qw(etc etc/nginx etc/nginx/modules-enabled usr usr/lib
    usr/local usr/local/bin usr/local/share usr/share usr/share/nginx)],
    'the directories left are those a Debian system has anyway' or diag explain $t;
ok make_in($dest, 'uninstall'), 'make uninstall again succeeds (nothing to do)';

# --- a root with another module package and other programs in it -----------
{
    my $busy = tempdir('cxinstall-busy-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CX_KEEP});
    my %theirs = (
        'usr/lib/nginx/modules/ngx_http_echo_module.so'       => "ELF\n",
        'usr/share/nginx/modules-available/mod-http-echo.conf' =>
            "load_module modules/ngx_http_echo_module.so;\n",
        'usr/local/bin/other'                                 => "#!/bin/sh\n",
        'usr/local/share/ngx_cx/lua/mine.lua'                 => "return {}\n",
    );
    for my $rel (keys %theirs) {
        (my $d = "$busy/$rel") =~ s{/[^/]+\z}{};
        make_path($d);
        open my $fh, '>', "$busy/$rel" or die "$rel: $!";
        print {$fh} $theirs{$rel};
        close $fh;
    }
    make_path("$busy/etc/nginx/modules-enabled");
    symlink '/usr/share/nginx/modules-available/mod-http-echo.conf',
        "$busy/etc/nginx/modules-enabled/50-mod-http-echo.conf" or die "symlink: $!";
    my $before = tree($busy);

    ok make_in($busy, 'install'), 'make install into a root with other files';
    is scalar(grep { !exists $before->{$_} } keys %{ files_of(tree($busy)) }),
        scalar(keys %expected), 'adds exactly its own';
    ok make_in($busy, 'uninstall'), 'make uninstall there';
    is_deeply tree($busy), $before, 'leaves every other file, link and directory as it was'
        or diag explain tree($busy);
}

done_testing;
