#!/usr/bin/perl
# The demo's configuration (examples/demo/nginx.conf, what `make demo` runs)
# passes `nginx -t` without a warning: it is the first configuration a new
# user reads, so it must show nothing half done (a survey translated in
# part, a deprecated form).  It is tested under a temporary prefix, with its
# store there too, so the repository's var/ is left alone.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use CXTest;

plan skip_all => 'module not built (run make)' unless cx_have_module();

my $root = cx_repo_root();
my $prefix = tempdir('cxdemo-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CX_KEEP});
make_path("$prefix/conf", "$prefix/logs", "$prefix/tmp");
chmod 0755, $prefix, "$prefix/conf", "$prefix/logs", "$prefix/tmp";

open my $in, '<', "$root/examples/demo/nginx.conf" or die "demo conf: $!";
my $conf = do { local $/; <$in> };
close $in;
$conf =~ s/\@ROOT\@\/var\/cx/$prefix\/cx/g;
$conf =~ s/\@ROOT\@/$root/g;
$conf =~ s{load_module \S+;}{'load_module ' . cx_module_path() . ';'}e;
open my $out, '>', "$prefix/conf/nginx.conf" or die "$prefix: $!";
print {$out} $conf;
close $out;

# run.sh makes the alerts' key; so does the test
open my $key, '>', "$prefix/conf/hook.key" or die "$prefix: $!";
print {$key} "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
close $key;

my $nginx = $ENV{CX_NGINX} || '/usr/sbin/nginx';
my %env = cx_nginx_env();
local @ENV{keys %env} = values %env;
my $output = qx{$nginx -p $prefix/ -c conf/nginx.conf -e logs/error.log -t 2>&1};
my $status = $?;

is $status, 0, 'the demo configuration passes nginx -t' or diag $output;
like $output, qr/test is successful/, 'nginx says so';
unlike $output, qr/\[(?:warn|alert|crit|emerg)\]/, 'without a warning' or diag $output;
unlike $conf, qr/\@ROOT\@/, 'every @ROOT@ was replaced';

done_testing;
