#!/usr/bin/perl
# The demo's webhook receiver: stands for the help desk, the chat channel or
# the manager's phone that a cx_alert notifies.  It listens on
# 127.0.0.1:PORT, checks each webhook's Standard Webhooks signature with the
# key of KEYFILE (the same file the demo's cx_alert names), keeps the last
# 50 and shows them on a page (the demo proxies /receiver/ to it).
#
#   perl examples/demo/receiver.pl PORT KEYFILE
#
# Core Perl only, one request at a time: a demo, not a server.

use strict;
use warnings;
use IO::Socket::INET;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(decode_base64 encode_base64);
use POSIX qw(strftime);

my ($port, $keyfile) = @ARGV;
die "usage: receiver.pl PORT KEYFILE\n" unless $port && $keyfile;

open my $kf, '<', $keyfile or die "receiver: $keyfile: $!\n";
my $secret = <$kf>;
close $kf;
$secret =~ s/\s+$//;
$secret =~ s/^whsec_// or die "receiver: $keyfile holds no whsec_ key\n";
my $key = decode_base64($secret);

my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                   Listen => 16, ReuseAddr => 1)
    or die "receiver: cannot listen on 127.0.0.1:$port: $!\n";

my @received;       # newest first

$SIG{PIPE} = 'IGNORE';

while (my $c = $server->accept) {
    eval { serve($c) };
    close $c;
}

sub serve {
    my ($c) = @_;
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 5;

    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        my $n = sysread $c, $head, 4096, length $head;
        return unless $n;
        return if length $head > 65536;
    }
    my ($lines, $body) = split /\r\n\r\n/, $head, 2;
    my ($request, @h) = split /\r\n/, $lines;
    my ($method, $path) = split / /, $request;
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } @h;

    my $want = $h{'content-length'} // 0;
    return if $want > 1048576;
    while (length $body < $want) {
        my $n = sysread $c, $body, $want - length $body, length $body;
        return unless $n;
    }
    alarm 0;

    if ($method eq 'POST') {
        my $signed = join '.', $h{'webhook-id'} // '', $h{'webhook-timestamp'} // '', $body;
        my $mac = 'v1,' . encode_base64(hmac_sha256($signed, $key), '');
        my $ok = grep { $_ eq $mac } split / /, $h{'webhook-signature'} // '';
        unshift @received, { at => time, path => $path, id => $h{'webhook-id'} // '',
                             verified => $ok, body => $body };
        splice @received, 50;
        print {$c} "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        return;
    }

    my $page = page();
    print {$c} "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        . "Content-Length: " . length($page) . "\r\n"
        . "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"
        . "Cache-Control: no-store\r\nRefresh: 5\r\nConnection: close\r\n\r\n" . $page;
}

sub esc {
    my ($s) = @_;
    $s //= '';
    $s =~ s/&/&amp;/g; $s =~ s/</&lt;/g; $s =~ s/>/&gt;/g; $s =~ s/"/&quot;/g;
    return $s;
}

# the few fields a person needs, read from the JSON without a parser
sub field {
    my ($json, $name) = @_;
    return $1 =~ s/\\"/"/gr if $json =~ /"$name":"((?:[^"\\]|\\.)*)"/;
    return $1 if $json =~ /"$name":(-?\d+|null)/;
    return '';
}

sub summary {
    my ($b) = @_;
    my $s = sprintf '%s: %s scored %s (%s) at %s', field($b, 'alert'), field($b, 'survey'),
        field($b, 'score'), field($b, 'band'), field($b, 'touchpoint');
    my $comment = field($b, 'comment');
    return $comment eq '' ? $s : qq{$s: "$comment"};
}

sub page {
    my $rows = join '', map {
        my $b = $_->{body};
        my $text = field($b, 'text');
        my $ack = field($b, 'ack_url');
        sprintf "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
            strftime('%H:%M:%S', localtime $_->{at}), esc($_->{path}),
            $_->{verified} ? 'signed &#10003;' : '<strong>bad signature</strong>',
            esc($_->{id}),
            $text ne '' ? esc($text) : esc(summary($b)),
            $ack ne '' && $ack ne 'null' ? '<a href="' . esc($ack) . '">acknowledge</a>' : '';
    } @received;
    $rows ||= "<tr><td colspan=\"6\">Nothing yet: give a low score after an order of 100 or more.</td></tr>\n";
    return <<"HTML";
<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Alerts received</title>
<style>body{font:15px/1.45 system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ccc;padding:.35em .6em;text-align:left;vertical-align:top}</style>
</head><body><h1>Alerts received</h1>
<p>The demo's webhook receiver (examples/demo/receiver.pl). Refreshes every 5 seconds.</p>
<table><tr><th>time</th><th>to</th><th>signature</th><th>webhook-id</th><th>alert</th><th></th></tr>
$rows</table></body></html>
HTML
}
