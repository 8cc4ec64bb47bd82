#!/usr/bin/env bash
# bench/intake_pg.sh — answers a second with the durable 204, against the
# ceiling and against PostgreSQL (bench/run's step "intakepg"; runs alone
# too: sh bench/intake_pg.sh).
#
# Three systems, each at 1, 16 and 64 concurrent clients in a closed loop
# (each client sends its next request when the last is answered):
#   ngx_cx      POST /cx/r, each harvested token's display then its answer
#               (bench/harvest.lua), 204 once the commit is on disk
#   bare 204    the same requests to "location = /bare { return 204; }" in
#               the same nginx: nginx's own cost, the ceiling
#   PostgreSQL  PostgreSQL 15 (Debian's), a cluster made here by initdb in
#               a temp dir on the same disk, its own port and socket dir,
#               synchronous_commit = on, the rest Debian's defaults; one
#               INSERT a request (bench/pgclient: a table of answers with
#               a primary key and a (survey, time) index, prepared
#               statements, autocommit) over TCP on 127.0.0.1
# The clients are bench/intakeload and bench/pgclient: one thread each,
# epoll, latency from send to the response's last byte. With two CPUs or
# more the servers (the nginx worker with its commit thread; the postmaster
# and every backend) run on CPU 1 and the clients on CPU 0. Each round runs
# every (concurrency, system) for BENCH_INTAKEPG_WARMUP s unmeasured, then
# BENCH_INTAKEPG_SECONDS s measured, the systems in reverse order every
# other round; the table shows each one's median over the rounds of
# answers/s, p50 and p99 (ms), and the ratios of the medians. The goals
# (issue 13): ngx_cx >= 5x PostgreSQL at every concurrency, and >= 0.5 of
# the bare 204 at 64 clients.
#
# Environment (bench/run passes its own):
#   BENCH_INTAKEPG_SECONDS=5   measured seconds of one run
#   BENCH_INTAKEPG_WARMUP=1    unmeasured seconds before it
#   BENCH_INTAKEPG_ROUNDS=3    rounds (medians over them)
#   BENCH_INTAKEPG_CONNS=1,16,64  the concurrencies
#   BENCH_STRICT=1             exit 1 when a goal is not met
#   BENCH_KEEP=1               keep the temp dir (configs, logs)
#   CX_MODULE, CX_NGINX, INTAKELOAD, PGCLIENT=path  (default build/...)
#   PG_BIN=/usr/lib/postgresql/15/bin

if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NGINX=${CX_NGINX:-/usr/sbin/nginx}
CX_MODULE=${CX_MODULE:-$REPO/build/ngx_http_cx_module.so}
INTAKELOAD=${INTAKELOAD:-$REPO/build/intakeload}
PGCLIENT=${PGCLIENT:-$REPO/build/pgclient}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SECS=${BENCH_INTAKEPG_SECONDS:-5}
WARM=${BENCH_INTAKEPG_WARMUP:-1}
ROUNDS=${BENCH_INTAKEPG_ROUNDS:-3}
CONNS=${BENCH_INTAKEPG_CONNS:-1,16,64}

die() { echo "intakepg: $*" >&2; exit 1; }

[[ $SECS =~ ^[1-9][0-9]*$ && $SECS -le 60 ]] || die "BENCH_INTAKEPG_SECONDS must be an integer from 1 to 60"
[[ $WARM =~ ^[0-9]+$ && $WARM -le 10 ]] || die "BENCH_INTAKEPG_WARMUP must be an integer from 0 to 10"
[[ $ROUNDS =~ ^[1-9]$ ]] || die "BENCH_INTAKEPG_ROUNDS must be an integer from 1 to 9"
[[ $CONNS =~ ^[0-9]+(,[0-9]+)*$ ]] || die "BENCH_INTAKEPG_CONNS must list numbers (e.g. 1,16,64)"
for n in ${CONNS//,/ }; do
    (( n >= 1 && n <= 256 )) || die "BENCH_INTAKEPG_CONNS: $n is not from 1 to 256"
done
[[ $CX_MODULE = /* ]] || CX_MODULE=$PWD/$CX_MODULE
[[ -f $CX_MODULE ]] || die "module not found at $CX_MODULE: run make first"
[[ -x $INTAKELOAD ]] || die "$INTAKELOAD not found: make bench builds it"
[[ -x $PGCLIENT ]] || die "$PGCLIENT not found: make bench builds it (libpq-dev)"
for tool in initdb pg_ctl postgres; do
    [[ -x $PG_BIN/$tool ]] || die "$PG_BIN/$tool not found (apt-get install postgresql)"
done
command -v wrk >/dev/null || die "wrk not found"

D=$(mktemp -d "${TMPDIR:-/tmp}/cxintakepg-XXXXXX")
chmod 0755 "$D"
mkdir -p "$D"/{conf,logs,html,tmp,store}
chmod 0755 "$D"/{conf,logs,html,tmp}
NGINX_PID=
PGDATA=$D/pg/data

# PostgreSQL refuses to run as root: then as the postgres user Debian's
# package makes
PGUSER_RUN=()
if [[ $(id -u) == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root, and no postgres user to run PostgreSQL as"
    PGUSER_RUN=(runuser -u postgres --)
fi

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -f $PGDATA/postmaster.pid ]]; then
        "${PGUSER_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 30 stop \
            >/dev/null 2>&1 || true
    fi
    if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [[ ${BENCH_KEEP:-} == 1 ]]; then
        echo "intakepg: kept $D" >&2
    else
        rm -rf "$D"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r PORT PG_PORT < <(perl -MIO::Socket::INET -e '
    my @s = map { IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
        Proto => "tcp", Listen => 1) or die "bind: $!\n" } 1 .. 2;
    print join(" ", map { $_->sockport } @s), "\n";')

AFFINITY=
ON0=()
ON1=()
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
    AFFINITY='worker_cpu_affinity 10;'
    ON0=(taskset -c 0)
    ON1=(taskset -c 1)
fi

# nginx: bench/run's intake configuration, with the bare location beside
echo '<!DOCTYPE html><html><head><title>t</title></head><body><p>page</p></body></html>' \
    > "$D/html/index.html"
chmod 0644 "$D/html/index.html"
cat > "$D/conf/nginx.conf" <<CONF
load_module $CX_MODULE;
worker_processes 1;
$AFFINITY
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    types { text/html html; }
    client_body_temp_path tmp;
    cx_store $D/store max_size=4g;
    cx_quiet_period 1s;
    cx_survey bench_nps { type nps; question "How likely are you to recommend us?"; every 1s; }
    server {
        listen 127.0.0.1:$PORT;
        root html;
        location /cx/ { cx_endpoint; }
        location = /bare { return 204; }
        location / { cx_touchpoint home stage=awareness; cx_prompt bench_nps sample=100%; }
    }
}
CONF
"$NGINX" -p "$D/" -c conf/nginx.conf -e logs/error.log -g 'daemon off;' \
    </dev/null >>"$D/logs/error.log" 2>&1 &
NGINX_PID=$!
for _ in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/index.html" && break
    sleep 0.1
done
kill -0 "$NGINX_PID" 2>/dev/null || { cat "$D/logs/error.log" >&2; die "nginx did not start"; }

# PostgreSQL: a cluster of its own, stopped by cleanup (also on failure)
mkdir -p "$D/pg/sock"
[[ -n ${PGUSER_RUN[*]} ]] && chown -R postgres: "$D/pg"
"${PGUSER_RUN[@]}" "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 > "$D/pg/initdb.log" 2>&1 \
    || { cat "$D/pg/initdb.log" >&2; die "initdb failed"; }
"${ON1[@]}" "${PGUSER_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$D/pg/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $D/pg/sock -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c max_connections=300" \
    start > /dev/null || { cat "$D/pg/server.log" >&2; die "PostgreSQL did not start"; }
PG_CONN="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
"$PGCLIENT" -s "$PG_CONN" || die "pgclient could not create the table"
pg_version=$("$PG_BIN/postgres" --version | awk '{ print $3 }')

# tokens: every ngx_cx run takes fresh ones (a prompt is answered once);
# pages are harvested until there are enough for all rounds at up to
# 40,000 answers/s a run
need=0
for n in ${CONNS//,/ }; do need=$((need + (SECS + WARM) * 20000)); done
need=$((need * ROUNDS))
: > "$D/tokens"
for _ in $(seq 20); do
    have=$(wc -l < "$D/tokens")
    (( have >= need )) && break
    timeout 120 "${ON0[@]}" wrk -t1 -c16 -d10s -s "$REPO/bench/harvest.lua" \
        "http://127.0.0.1:$PORT/index.html" -- "$D/tokens" > /dev/null \
        || die "harvesting tokens failed"
done
have=$(wc -l < "$D/tokens")
(( have >= need )) || die "only $have of $need tokens harvested"
next_token=0

run() {     # run SYSTEM CONNS: the client's line, appended to results
    local out=$D/run.out
    case $1 in
    cx)
        "${ON0[@]}" "$INTAKELOAD" -T "$D/tokens" -o "$next_token" -c "$2" \
            -w "$WARM" -d "$SECS" -u /cx/r "$PORT" > "$out" \
            || { tail -5 "$D/logs/error.log" >&2; die "intakeload (ngx_cx, $2) failed"; }
        next_token=$((next_token + $(awk '{ print $NF }' "$out")))
        ;;
    bare)
        "${ON0[@]}" "$INTAKELOAD" -T "$D/tokens" -r -c "$2" \
            -w "$WARM" -d "$SECS" -u /bare "$PORT" > "$out" \
            || die "intakeload (bare, $2) failed"
        ;;
    pg)
        "${ON0[@]}" "$PGCLIENT" -c "$2" -w "$WARM" -d "$SECS" -n 5000000 "$PG_CONN" > "$out" \
            || { tail -5 "$D/pg/server.log" >&2; die "pgclient ($2) failed"; }
        ;;
    esac
    echo "$1 $2 $(cat "$out")" >> "$D/results"
}

median() { sort -g | awk '{ x[NR] = $1 } END { if (NR % 2) print x[(NR + 1) / 2]; else print (x[NR / 2] + x[NR / 2 + 1]) / 2 }'; }

echo "intake against the ceiling and PostgreSQL $pg_version (load $(cut -d' ' -f1-3 /proc/loadavg)):"
echo "  $ROUNDS rounds of ${WARM} + ${SECS} s a run, closed loop; servers${AFFINITY:+ on CPU 1, clients on CPU 0};" \
     "store and PostgreSQL on $(df -P "$D" | awk 'NR == 2 { print $1 }')"
: > "$D/results"
for r in $(seq "$ROUNDS"); do
    systems=(cx bare pg)
    (( r % 2 == 0 )) && systems=(pg bare cx)
    for n in ${CONNS//,/ }; do
        for s in "${systems[@]}"; do
            run "$s" "$n"
        done
    done
done
[[ ${INTAKEPG_VERBOSE:-} == 1 ]] && sed 's/^/    /' "$D/results"

declare -A rps
status=0
printf '  %-8s %-11s %10s %8s %8s\n' clients system answers/s p50_ms p99_ms
for n in ${CONNS//,/ }; do
    for s in cx bare pg; do
        rows=$(awk -v s="$s" -v n="$n" '$1 == s && $2 == n' "$D/results")
        rps[$s]=$(awk '{ print $10 }' <<< "$rows" | median)
        p50=$(awk '{ print $12 }' <<< "$rows" | median)
        p99=$(awk '{ print $14 }' <<< "$rows" | median)
        all=$(awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $10 }' <<< "$rows")
        printf '  %-8s %-11s %10.0f %8.2f %8.2f   (rounds: %s)\n' "$n" \
            "$(case $s in cx) echo ngx_cx;; bare) echo 'bare 204';; pg) echo PostgreSQL;; esac)" \
            "${rps[$s]}" "$p50" "$p99" "$all"
    done
    vs_pg=$(awk -v a="${rps[cx]}" -v b="${rps[pg]}" 'BEGIN { printf "%.2f", a / b }')
    vs_bare=$(awk -v a="${rps[cx]}" -v b="${rps[bare]}" 'BEGIN { printf "%.3f", a / b }')
    if awk -v r="$vs_pg" 'BEGIN { exit !(r >= 5) }'; then v=met; else v='NOT met'; status=1; fi
    line="    ngx_cx/PostgreSQL $vs_pg (goal >= 5: $v), ngx_cx/bare 204 $vs_bare"
    if [[ $n == 64 ]]; then
        if awk -v r="$vs_bare" 'BEGIN { exit !(r >= 0.5) }'; then v=met; else v='NOT met'; status=1; fi
        line="$line (goal >= 0.5: $v)"
    fi
    echo "$line"
done

[[ ${BENCH_STRICT:-} == 1 ]] && exit "$status"
exit 0
