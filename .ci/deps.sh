#!/bin/sh
# Installs the Debian packages named as arguments when any is missing.
# Idempotent: does nothing (and needs no root) when all are present.
missing=
for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "ngx_cx: installing missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "ngx_cx: run as root, or: sudo apt-get install$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || exit 1
apt-get install -y -q --no-install-recommends $missing >/dev/null || exit 1
# Debian's nginx package starts a service on install where it can; the
# project runs its own nginx instances, never the system one.
exit 0
