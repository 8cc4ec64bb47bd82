package CXBrowser;

# What the real-browser tests share (t/80-widget-browser.t, t/81-dashboard-alerts.t):
# their skips, running a script of t/browser/ (see t/browser/lib.js) and reading
# its one JSON line, the per-check results, and the screenshots.
#
#   use CXBrowser;
#   if (my $why = cx_browser_missing()) { plan skip_all => $why }
#   my $res = cx_browser_run('widget.js', $base, timeout => 280, clear => 'widget-*.png');
#       -> {checks => {NAME => {...}}, art => DIR}: runs node t/browser/SCRIPT $base
#       t/artifacts/ (after removing t/artifacts/CLEAR), with 2 tests: it printed
#       its JSON, and exited 0 or 1 (it ran every check)
#   cx_browser_checks($res, \@names, %todo)   a test a check of @names (a TODO where
#       %todo gives a reason), and a failing one for each _crash the script recorded
#   cx_png_ok($file)                          a test: $file is a non-empty PNG
#
# cx_browser_missing needs the module build, /usr/bin/chromium (or CX_CHROMIUM),
# node in PATH and `npm ci` in t/browser (playwright-core, axe-core).

use strict;
use warnings;

use Exporter qw(import);
use File::Path qw(make_path);
use JSON::PP ();
use Test::More;
use Time::HiRes qw(time);
use CXTest qw(cx_have_module cx_repo_root);

our @EXPORT = qw(cx_browser_missing cx_browser_run cx_browser_checks cx_png_ok);

sub _node { my ($node) = grep { -x } map {"$_/node"} split /:/, $ENV{PATH} // ''; return $node }

sub cx_browser_missing {
    my $root     = cx_repo_root();
    my $chromium = $ENV{CX_CHROMIUM} || '/usr/bin/chromium';
    return "no module build (run make)" unless cx_have_module();
    return "no $chromium"               unless -x $chromium;
    return "no t/browser/node_modules/playwright-core (cd t/browser && npm ci)"
        unless -d "$root/t/browser/node_modules/playwright-core";
    return "no t/browser/node_modules/axe-core (cd t/browser && npm ci)"
        unless -f "$root/t/browser/node_modules/axe-core/axe.min.js";
    return "no node in PATH" unless _node();
    return undef;
}

sub cx_browser_run {
    my ($script, $base, %o) = @_;
    my $root = cx_repo_root();
    my $art  = "$root/t/artifacts";
    make_path($art);
    unlink glob "$art/$o{clear}" if $o{clear};

    my $t0  = time;
    my $cmd = "timeout -k 5 $o{timeout} " . join ' ', map { "'$_'" } _node(), "$root/t/browser/$script", $base, $art;
    my $out = `$cmd 2>&1`;
    my $rc  = $? == -1 ? -1 : $? >> 8;
    diag sprintf 'browser run: %.1f s, exit %d', time - $t0, $rc;

    my ($line) = grep {/^\{"ok":/} split /\n/, $out;
    my $res = eval { JSON::PP->new->decode($line // '') };
    ok $res, "$script printed its JSON result" or diag "output:\n$out";
    ok $rc == 0 || $rc == 1, "$script ran all checks (exit $rc: 0 all pass, 1 some fail)"
        or diag "output:\n$out";
    return { checks => ($res && $res->{checks}) || {}, art => $art };
}

sub cx_browser_checks {
    my ($res, $names, %todo) = @_;
    my $checks = $res->{checks};
    my $json   = JSON::PP->new->canonical->pretty;
    for my $name (@$names) {
        my $c = $checks->{$name};
        TODO: {
            local $TODO = $todo{$name};
            ok $c && $c->{ok}, "browser: $name"
                or diag $c ? $json->encode($c) : "check $name did not run";
        }
        note "$name: " . JSON::PP->new->canonical->encode($c) if $c && $c->{ok};
    }
    for my $name (grep {/^_/} sort keys %$checks) {
        fail "browser: $name";
        diag $json->encode($checks->{$name});
    }
}

sub cx_png_ok {
    my ($f) = @_;
    my $ok = -s $f && do {
        open my $fh, '<:raw', $f or die;
        read $fh, my $sig, 8;
        $sig eq "\x89PNG\r\n\x1a\n";
    };
    ok $ok, "screenshot $f is a non-empty PNG";
}

1;
