#!/bin/sh
# Runs the demo shop in the foreground on 127.0.0.1:8080; data under var/.
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)

mkdir -p var/conf var/logs var/tmp
sed "s|@ROOT@|$root|g" examples/demo/nginx.conf > var/conf/nginx.conf

# the alerts' signing key, made once: "whsec_" and 32 random bytes in base64
[ -s var/conf/hook.key ] || perl -MMIME::Base64 -e \
    'open my $r, "<", "/dev/urandom" or die; read $r, my $k, 32;
     print "whsec_", encode_base64($k, ""), "\n"' > var/conf/hook.key

# workers run as an unprivileged user when started as root: let them read
chmod -R a+rX examples/demo/html

nginx=${NGINX:-/usr/sbin/nginx}
"$nginx" -p "$root/var/" -c conf/nginx.conf -e logs/error.log -t -q

# the receiver of the alerts, for as long as the demo runs
perl examples/demo/receiver.pl 8081 var/conf/hook.key &
receiver=$!
trap 'kill $receiver 2>/dev/null' EXIT INT TERM

cat <<MSG
ngx_cx demo shop on http://127.0.0.1:8080/
  buy something:  http://127.0.0.1:8080/checkout/done   (NPS prompt after 1 s)
  the alerts:     http://127.0.0.1:8080/receiver/   (a score of 0-6 there alerts at once,
                  and escalates after 2 minutes unless acknowledged)
  a product page: http://127.0.0.1:8080/products/kettle.html  (CSAT from the 2nd visit, half of visitors)
  an app's route: http://127.0.0.1:8080/account/   (single-page app: open an order, CES after 1 s)
  the dashboard:  http://127.0.0.1:8080/cx-admin/   (report.json, responses.csv beside it)
  logs and data:  var/logs/, var/cx/        stop with Ctrl-C
MSG

# not exec: the trap stops the receiver when nginx ends
"$nginx" -p "$root/var/" -c conf/nginx.conf -e logs/error.log \
    -g 'daemon off;'
