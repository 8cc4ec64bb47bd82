#!/usr/bin/perl
# Where the store may be (docs/behaviours.md 29): a cx_store path that
# cannot be created, or that the worker user could not reach, fails
# `nginx -t` with an [emerg] that says why and what to do, " in FILE:LINE"
# of the cx_store line (before this, `nginx -t` said "test is successful"
# after an [alert] without a line).  Starting nginx with it logs the same
# message as an [alert] at that line; the site stays up without prompts, as
# for any store that cannot be prepared (t/20 checks the intake's 503).
# And `nginx -t` creates nothing: no store directory, no data.mdb, no
# secret, whether the directory is missing or exists empty.
#
# As root, permissions do not stop the master, so "cannot be created" is
# shown with a path under a regular file and one under /proc; "the worker
# user cannot reach it" with a directory of mode 0700 on the way (the
# workers run as nobody).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use CXTest;

plan skip_all => 'module not built (run make)' unless cx_have_module();

sub conf {
    my ($store_line) = @_;
    return $store_line . <<'C';
    cx_survey nps1 { type nps; question "How likely?"; }
    server {
        listen 127.0.0.1:%%PORT%%;
        root html;
        location /cx/ { cx_endpoint; }
        location / { cx_prompt nps1 sample=100%; }
    }
C
}

my %FILES = ('html/index.html' => "<html><body>\n<p>page</p>\n</body></html>\n");

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return undef;
    local $/;
    return scalar <$fh>;
}

# A scratch directory for the paths the cases point at; kept to the end.
my $T = abs_path(tempdir('cx06-XXXXXX', TMPDIR => 1, CLEANUP => 1));
chmod 0755, $T;

# fails(NAME, STORE, QR, existing => 1): nginx -t fails, its [emerg] matches QR and points
# at the cx_store line; nothing is created at STORE.
sub fails {
    my ($name, $store, $re, %o) = @_;
    subtest $name => sub {
        my $prefix = abs_path(tempdir('cx06-XXXXXX', TMPDIR => 1, CLEANUP => 1));
        my ($ok, $out) = cx_test_config(conf("    cx_store $store; #\@E\n"), prefix => $prefix);
        ok !$ok, 'nginx -t fails';
        like $out, qr/test failed/, 'nginx says "test failed"';
        unlike $out, qr/test is successful/, 'and not "test is successful"';
        my ($emerg) = $out =~ /^(.*\[emerg\].*)$/m;
        ok defined $emerg, 'an [emerg] line' or return diag $out;
        like $emerg, $re, 'it says what is wrong';
        like $emerg, qr/; (?:point cx_store|create it|allow it|make it)/, 'and what to do';
        my $file = "$prefix/conf/nginx.conf";
        my @lines = split /\n/, slurp($file) // '', -1;
        my ($want) = map { $_ + 1 } grep { $lines[$_] =~ /#\@E\b/ } 0 .. $#lines;
        my ($got_file, $got_line) = $emerg =~ / in (\S+):(\d+)\s*$/;
        is $got_file, $file, 'it names the file';
        is $got_line, $want, "it points at the cx_store line ($want)";
        if ($o{existing}) {
            opendir my $dh, $store or die "$store: $!";
            is_deeply [ grep { !/^\.\.?$/ } readdir $dh ], [], 'nothing was created in the store';
        } else {
            ok !-e $store || -f $store, 'nothing was created at the store path';
        }
    };
}

open my $fh, '>', "$T/a-file" or die "$T/a-file: $!";
close $fh;

fails 'under a regular file', "$T/a-file/deep/cx",
    qr/cx_store "\Q$T\E\/a-file\/deep\/cx": cannot be created, "\Q$T\E\/a-file" is not a directory/;

fails 'a regular file itself', "$T/a-file",
    qr/cx_store "\Q$T\E\/a-file": it is not a directory/;

SKIP: {
    skip 'no /proc', 1 unless -d '/proc/self';
    fails 'under /proc (no directory can be made there)', '/proc/cx-store-test',
        qr{cx_store "/proc/cx-store-test": "/proc" is a virtual file system};
}

SKIP: {
    skip 'needs root: workers run as another user only then', 2 if $> != 0;
    mkdir "$T/locked", 0700 or die "mkdir: $!";
    chmod 0700, "$T/locked";
    fails 'the worker user cannot reach it (a 0700 directory on the way)', "$T/locked/cx",
        qr/cx_store "\Q$T\E\/locked\/cx": the worker user "nobody" cannot reach it, "\Q$T\E\/locked" \(owner uid 0, mode 0700\) is not searchable/;

    # an existing store below it is no better: the workers could not open it
    mkdir "$T/locked/cx", 0700 or die "mkdir: $!";
    fails 'an existing store the worker user cannot reach', "$T/locked/cx",
        qr/the worker user "nobody" cannot reach it/, existing => 1;
}

# ---- at start: the same message, and the site stays up without prompts ------
# (as for any store that cannot be prepared: t/20 has the 503 of the intake)

subtest 'nginx starts with a store it cannot create, and says why at its line' => sub {
    my $ng = eval { cx_nginx(files => \%FILES,
        conf => conf("    cx_store $T/a-file/cx; #\@E\n")) };
    ok $ng, 'nginx starts' or return diag $@;
    my @lines = split /\n/, $ng->read_file('conf/nginx.conf'), -1;
    my ($want) = map { $_ + 1 } grep { $lines[$_] =~ /#\@E\b/ } 0 .. $#lines;
    my $file = $ng->conf_path;
    like $ng->error_log,
        qr/\[alert\].*cx_store "\Q$T\E\/a-file\/cx": cannot be created, "\Q$T\E\/a-file" is not a directory; point cx_store .*; until then no prompts are offered in \Q$file\E:$want$/m,
        'an [alert] says why, what to do, and points at the cx_store line';
    my $r = $ng->get('/index.html');
    is $r->{status}, 200, 'the site is up';
    unlike $r->{body}, qr/id="cx-prompt"/, 'no prompt is offered';
    $ng->stop;
};

# ---- nginx -t creates nothing -------------------------------------------------

subtest 'nginx -t leaves no store directory and no secret' => sub {
    my $prefix = abs_path(tempdir('cx06-XXXXXX', TMPDIR => 1, CLEANUP => 1));
    my ($ok, $out) = cx_test_config(conf("    cx_store %%PREFIX%%/var/cx;\n"), prefix => $prefix);
    ok $ok, 'nginx -t passes' or diag $out;
    unlike $out, qr/\[(?:emerg|alert|crit)\]/, 'no [emerg]/[alert]/[crit]' or diag $out;
    ok !-e "$prefix/var/cx", 'no store directory';
    ok !-e "$prefix/var", 'not even its parent';

    # an empty directory made beforehand stays empty: no data.mdb, no secret
    mkdir "$prefix/var" or die;
    mkdir "$prefix/var/cx" or die;
    ($ok, $out) = cx_test_config(conf("    cx_store %%PREFIX%%/var/cx;\n"), prefix => $prefix);
    ok $ok, 'nginx -t passes with an empty store directory' or diag $out;
    opendir my $dh, "$prefix/var/cx" or die;
    my @in = grep { !/^\.\.?$/ } readdir $dh;
    is_deeply \@in, [], 'the store directory stays empty (no data.mdb, no secret)';

    # the default store (no cx_store) neither
    my $p2 = abs_path(tempdir('cx06-XXXXXX', TMPDIR => 1, CLEANUP => 1));
    ($ok, $out) = cx_test_config(conf(''), prefix => $p2);
    ok $ok, 'nginx -t passes with the default store' or diag $out;
    opendir $dh, $p2 or die;
    my @new = grep { !/^(?:\.\.?|conf|logs|html|tmp)$/ } readdir $dh;
    is_deeply \@new, [], 'nothing new in the prefix';
};

subtest 'then nginx starts on the same prefix and creates the store' => sub {
    my $prefix = abs_path(tempdir('cx06-XXXXXX', TMPDIR => 1, CLEANUP => 1));
    my $conf = conf("    cx_store %%PREFIX%%/var/cx;\n");
    my ($ok, $out) = cx_test_config($conf, prefix => $prefix);
    ok $ok, 'nginx -t passes' or diag $out;
    my $ng = eval { cx_nginx(conf => $conf, prefix => $prefix, files => \%FILES) };
    ok $ng, 'nginx starts' or return diag $@;
    ok -f "$prefix/var/cx/data.mdb", 'the store exists now';
    my $r = $ng->get('/index.html');
    is $r->{status}, 200, 'the page is served';
    like $r->{body}, qr/id="cx-prompt"/, 'with a prompt';
    unlike $ng->error_log, qr/\[(?:emerg|alert|crit)\]/, 'no [emerg]/[alert]/[crit]';
    $ng->stop;
};

done_testing;
