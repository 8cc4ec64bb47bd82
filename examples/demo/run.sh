#!/bin/sh
# Runs the demo shop in the foreground on 127.0.0.1:8080; data under var/.
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)

mkdir -p var/conf var/logs var/tmp
sed "s|@ROOT@|$root|g" examples/demo/nginx.conf > var/conf/nginx.conf

# workers run as an unprivileged user when started as root: let them read
chmod -R a+rX examples/demo/html

nginx=${NGINX:-/usr/sbin/nginx}
"$nginx" -p "$root/var/" -c conf/nginx.conf -e logs/error.log -t -q

cat <<MSG
ngx_cx demo shop on http://127.0.0.1:8080/
  buy something:  http://127.0.0.1:8080/checkout/done   (NPS prompt after 1 s)
  a product page: http://127.0.0.1:8080/products/kettle.html  (CSAT from the 2nd visit, half of visitors)
  the dashboard:  http://127.0.0.1:8080/cx-admin/   (report.json, responses.csv beside it)
  logs and data:  var/logs/, var/cx/        stop with Ctrl-C
MSG

exec "$nginx" -p "$root/var/" -c conf/nginx.conf -e logs/error.log \
    -g 'daemon off;'
