#!/usr/bin/perl
# The fleet tests' ClickHouse (t/lib/CXClickHouse.pm): Debian's
# clickhouse-server started as its own user on free loopback ports with a
# temp config, and what the forwarding will rely on: JSONEachRow inserts
# over HTTP, a ReplacingMergeTree that makes a re-sent batch harmless, data
# kept over a restart, an answer other than 200 while it is down.
# Skipped where clickhouse-server is not installed.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use CXTest;
use CXClickHouse;

my $ch = cx_clickhouse() or plan skip_all => $CXClickHouse::WHY;

my $r = $ch->query('SELECT version()');
is $r->{status}, 200, 'SELECT version(): 200';
like $r->{body}, qr/^\d+\.\d+/, "a version ($r->{body})" =~ s/\n//r;

is $ch->query('CREATE DATABASE IF NOT EXISTS cx')->{status}, 200, 'CREATE DATABASE';
$r = $ch->query('CREATE TABLE IF NOT EXISTS cx.t (id String, version UInt64, score Nullable(Int8))'
    . ' ENGINE = ReplacingMergeTree(version) ORDER BY id');
is $r->{status}, 200, 'CREATE TABLE ... ReplacingMergeTree' or diag $r->{body};

my $rows = qq{{"id":"a","version":1,"score":null}\n{"id":"b","version":1,"score":9}\n{"id":"a","version":2,"score":3}\n};
for my $try (1, 2) {
    $r = $ch->query('INSERT INTO cx.t FORMAT JSONEachRow', $rows);
    is $r->{status}, 200, "INSERT FORMAT JSONEachRow, batch sent $try time(s)" or diag $r->{body};
}

$r = $ch->query('SELECT id, score FROM cx.t FINAL ORDER BY id FORMAT TSV');
is $r->{body}, "a\t3\nb\t9\n", 'FINAL: one row per id, its latest version: the re-sent batch counts once';

$r = $ch->query('INSERT INTO cx.t FORMAT JSONEachRow', qq{{"id":"c","version":"x"}\n});
isnt $r->{status}, 200, 'a malformed row: not 200' ;

$ch->stop;
$r = $ch->query('SELECT 1');
isnt $r->{status}, 200, 'stopped: no 200';
$ch->start;
$r = $ch->query('SELECT count() FROM cx.t FINAL');
is $r->{body}, "2\n", 'after a restart: the rows are kept';
$ch->stop;

done_testing;
