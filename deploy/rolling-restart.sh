#!/usr/bin/env bash
# rolling-restart.sh: the production layout of deploy/README.md on loopback,
# tested under load: no request may fail while the instances behind nginx are
# restarted one after the other.
#
#   deploy/rolling-restart.sh                   # full run (~3.5 min): restart test + proxy cost
#   SHORT=1 deploy/rolling-restart.sh           # CI: the restart test only, < 90 s
#   BIN=/tmp/movierec DURATION=30s deploy/rolling-restart.sh > report.md
#
# In a temp dir and on free loopback ports it starts: a PostgreSQL primary
# (initdb) and a streaming standby of it (pg_basebackup -R -X stream), Redis,
# two `movierec serve` instances (MovieLens ml-latest-small imported), and
# nginx with deploy/nginx/movierec.conf in front of them. Then:
#
# 1. Rolling restart: the mixed load (scripts/loadtest/mixed.lua, with
#    WRITE_SHARE rating writes) runs through nginx while instance 1 and then
#    instance 2 are restarted: SIGTERM, wait for the exit (the instance
#    drains: MOVIEREC_SHUTDOWN_DELAY, then its connections close), start
#    again, wait for /readyz and for nginx to send it requests again. Every failed request (a non-2xx answer,
#    3xx included, or a socket error: connect, read, write, timeout) counts;
#    the script exits 1 if there is one.
# 2. Proxy cost (not with SHORT=1): the same load without restarts, DURATION
#    long, through nginx, directly to instance 1, and through the same nginx
#    config with instance 1 only (nginx-1), alternated ROUNDS times; prints
#    the ratios of the mean throughputs (the target is >= 0.80; on a
#    small machine nginx, wrk and the instances share the CPUs, so it is
#    reported, not asserted).
#
# Environment (all optional):
#   BIN          prebuilt movierec binary (default: go build ./cmd/movierec into the temp dir)
#   DURATION     each proxy-cost run (default 20s)
#   ROUNDS       rounds (proxy, direct, nginx-1, direct-2) of the proxy-cost measurement (default 2)
#   CONNECTIONS  wrk connections (default 50)
#   THREADS      wrk threads (default 2)
#   TIMEOUT      wrk's request timeout (default 2s, wrk's own): slower answers count as
#                socket errors (timeout), so as failed requests
#   WRITE_SHARE  share of rating writes in the load, 0..1 (default 0.05)
#   COMPARE_SHARE  the write share of the proxy-cost runs (default WRITE_SHARE)
#   USERS        accounts registered for the writes (default 100; SHORT: 40)
#   WARMUP       read-only warm-up through nginx before measuring (default 10s; SHORT: 4s)
#   LEAD, TAIL   seconds of load before the first and after the last restart (default 3; SHORT: 2)
#   SHUTDOWN_DELAY, SHUTDOWN_GRACE   MOVIEREC_SHUTDOWN_DELAY/GRACE of the instances (2s, 10s)
#   CYCLES       rolling restarts (1, 2, 1, 2, ...) during the one load run (default 1);
#                more make rare races show
#   NGINX_CONF   the proxy config to test (default deploy/nginx/movierec.conf)
#   NGINX_WORKERS  nginx's worker_processes (default auto: one per CPU)
#   UPSTREAM     tcp (default): nginx reaches the instances on loopback TCP; unix:
#                on their Unix sockets (MOVIEREC_SOCKET, which they always listen on too)
#   DATA         MovieLens directory (default ../shared/data/movielens/ml-latest-small
#                from the repository root)
#   SHORT=1      the restart test only, with short durations (CI)
#   KEEP_TMP=1   keep the temp dir (logs of everything, wrk outputs, nginx access log)
#
# Progress goes to stderr, a Markdown summary to stdout. Everything started
# here is stopped on exit (also on Ctrl-C or failure) and the temp dir removed.
# Runs as root too (CI): PostgreSQL then runs as the postgres user, nginx's
# workers as nobody.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
# shellcheck source=../scripts/loadtest/cpu.sh
. "$repo_root/scripts/loadtest/cpu.sh"

SHORT=${SHORT:-0}
BIN=${BIN:-}
DURATION=${DURATION:-20s}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
TIMEOUT=${TIMEOUT:-2s}
WRITE_SHARE=${WRITE_SHARE:-0.05}
COMPARE_SHARE=${COMPARE_SHARE:-$WRITE_SHARE}
KEEP_TMP=${KEEP_TMP:-0}
CYCLES=${CYCLES:-1}
NGINX_CONF=${NGINX_CONF:-$script_dir/nginx/movierec.conf}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
UPSTREAM=${UPSTREAM:-tcp}
case $UPSTREAM in tcp | unix) ;; *) echo "rolling-restart.sh: UPSTREAM=$UPSTREAM: want tcp or unix" >&2; exit 2 ;; esac
SHUTDOWN_DELAY=${SHUTDOWN_DELAY:-2s}
SHUTDOWN_GRACE=${SHUTDOWN_GRACE:-10s}
DATA=${DATA:-$repo_root/../shared/data/movielens/ml-latest-small}
if [ "$SHORT" = 1 ]; then
	USERS=${USERS:-40}
	WARMUP=${WARMUP:-4s}
	LEAD=${LEAD:-2}
	TAIL=${TAIL:-2}
else
	USERS=${USERS:-100}
	WARMUP=${WARMUP:-10s}
	LEAD=${LEAD:-3}
	TAIL=${TAIL:-3}
fi

t_start=$(date +%s)
die() { echo "rolling-restart.sh: $*" >&2; exit 1; }
log() { echo "# [$(($(date +%s) - t_start))s] $*" >&2; }

# seconds parses a duration (20, 20s, 2m) into whole seconds.
seconds() {
	local d=$1
	case $d in
	*ms) d=0 ;;
	*s) d=${d%s} ;;
	*m) d=$((${d%m} * 60)) ;;
	esac
	[[ $d =~ ^[0-9]+$ ]] || die "not a duration: $1 (want e.g. 20s or 1m)"
	echo "$d"
}

# ---------------------------------------------------------------------------
# Checks.

for tool in wrk nginx redis-server curl jq awk; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (apt-get install -y $tool; nginx and wrk are Debian packages)"
done
pg_bin=$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n1)
[ -n "$pg_bin" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install -y postgresql)"
pg_bin=$(dirname "$pg_bin")
as_pg=()
if [ "$(id -u)" = 0 ]; then
	getent passwd postgres >/dev/null || die "running as root, PostgreSQL needs the postgres user"
	command -v runuser >/dev/null 2>&1 || die "running as root, PostgreSQL is started with runuser (util-linux)"
	as_pg=(runuser -u postgres --)
fi
[ -f "$DATA/movies.csv" ] && [ -f "$DATA/ratings.csv" ] || die "no MovieLens data in $DATA (DATA=...)"
DATA=$(cd "$DATA" && pwd)
[ -f "$NGINX_CONF" ] || die "no nginx config $NGINX_CONF"
for n in "$CONNECTIONS" "$THREADS" "$USERS" "$ROUNDS" "$LEAD" "$TAIL" "$CYCLES"; do
	[[ $n =~ ^[0-9]+$ ]] || die "not a whole number: $n"
done
for s in "$WRITE_SHARE" "$COMPARE_SHARE"; do
	awk -v s="$s" 'BEGIN { exit !(s ~ /^[0-9]*\.?[0-9]+$/ && s >= 0 && s <= 1) }' ||
		die "WRITE_SHARE and COMPARE_SHARE must be numbers within 0..1, not $s"
done
dur_s=$(seconds "$DURATION")
delay_s=$(seconds "$SHUTDOWN_DELAY")
grace_s=$(seconds "$SHUTDOWN_GRACE")
passthrough=$(env | grep -E '^MOVIEREC_' | cut -d= -f1 | tr '\n' ' ' || true)
[ -z "$passthrough" ] || log "WARNING: MOVIEREC_* variables of this environment reach the instances: $passthrough"

# ---------------------------------------------------------------------------
# Temp dir, processes, cleanup.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/movierec-deploy.XXXXXX")
chmod 755 "$tmp" # PostgreSQL (postgres) and nginx's workers (nobody) reach their subdirectories
mkdir -m 755 "$tmp/sock"
declare -A inst_pid=() inst_port=()
nginx_pid= redis_pid= wrk_pid=
pg_started=()

stop_pid() { # pid [seconds]: TERM, wait, then KILL
	local pid=$1 wait_s=${2:-15} i
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < wait_s * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

pg_ctl() { "${as_pg[@]}" "$pg_bin/pg_ctl" "$@"; }

cleanup() {
	local rc=$? d
	set +e
	trap - INT TERM
	stop_pid "$wrk_pid" 5
	stop_pid "$nginx_pid" 10
	for i in "${!inst_pid[@]}"; do stop_pid "${inst_pid[$i]}" $((delay_s + grace_s + 5)); done
	stop_pid "$redis_pid" 10
	for d in "${pg_started[@]}"; do pg_ctl -D "$d" stop -m immediate >/dev/null 2>&1; done
	if [ "$KEEP_TMP" = 1 ]; then
		echo "# kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port VAR: a loopback TCP port nothing listens on (20000-29999, below
# the ephemeral range), not handed out before.
used_ports=" "
free_port() {
	local p _
	for _ in $(seq 500); do
		p=$((20000 + RANDOM % 10000))
		case $used_ports in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			used_ports+="$p "
			printf -v "$1" '%s' "$p"
			return
		fi
	done
	die "no free port found"
}
free_port pg1_port
free_port pg2_port
free_port redis_port
free_port proxy_port
free_port proxy1_port
free_port port1
free_port port2
inst_port[1]=$port1
inst_port[2]=$port2
proxy=http://127.0.0.1:$proxy_port

# ---------------------------------------------------------------------------
# Build.

if [ -z "$BIN" ]; then
	log "building ./cmd/movierec"
	(cd "$repo_root" && timeout 1200 go build -o "$tmp/movierec" ./cmd/movierec) || die "go build ./cmd/movierec failed"
	BIN=$tmp/movierec
fi
[ -x "$BIN" ] || die "BIN $BIN is not an executable"

# ---------------------------------------------------------------------------
# PostgreSQL: primary and streaming standby.

mkdir -p "$tmp/pg"
[ "$(id -u)" != 0 ] || chown postgres: "$tmp/pg"
log "PostgreSQL $(basename "$(dirname "$pg_bin")"): primary on :$pg1_port"
"${as_pg[@]}" "$pg_bin/initdb" -D "$tmp/pg/primary" -U postgres --auth=trust -E UTF8 --no-sync >"$tmp/initdb.log" 2>&1 ||
	{ cat "$tmp/initdb.log" >&2; die "initdb failed"; }
cat >>"$tmp/pg/primary/postgresql.conf" <<EOF

# rolling-restart.sh
port = $pg1_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$tmp/pg'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
max_connections = 100
EOF
pg_ctl -D "$tmp/pg/primary" -l "$tmp/pg/primary.log" -w -t 60 start >/dev/null || { cat "$tmp/pg/primary.log" >&2; die "primary did not start"; }
pg_started+=("$tmp/pg/primary")
psql_at() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$2" -tAc "$3"; }
psql_at "$pg1_port" postgres 'CREATE DATABASE movierec' >/dev/null

log "PostgreSQL standby on :$pg2_port (pg_basebackup -R -X stream)"
"${as_pg[@]}" "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$pg1_port" -U postgres -D "$tmp/pg/standby" -R -X stream -c fast \
	>"$tmp/basebackup.log" 2>&1 || { cat "$tmp/basebackup.log" >&2; die "pg_basebackup failed"; }
printf '\nport = %s\n' "$pg2_port" >>"$tmp/pg/standby/postgresql.conf"
pg_ctl -D "$tmp/pg/standby" -l "$tmp/pg/standby.log" -w -t 60 start >/dev/null || { cat "$tmp/pg/standby.log" >&2; die "standby did not start"; }
pg_started+=("$tmp/pg/standby")
[ "$(psql_at "$pg2_port" postgres 'SELECT pg_is_in_recovery()')" = t ] || die "the standby is not in recovery"
for _ in $(seq 100); do
	[ "$(psql_at "$pg1_port" postgres "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ] && break
	sleep 0.1
done
[ "$(psql_at "$pg1_port" postgres "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ] ||
	die "the standby does not stream from the primary"
primary_url="postgres://postgres@127.0.0.1:$pg1_port/movierec?sslmode=disable"
replica_url="postgres://postgres@127.0.0.1:$pg2_port/movierec?sslmode=disable"

# ---------------------------------------------------------------------------
# Redis.

log "Redis on :$redis_port"
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --daemonize no \
	--dir "$tmp" --logfile "$tmp/redis.log" &
redis_pid=$!
for _ in $(seq 50); do
	[ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ] && break
	sleep 0.1
done
[ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ] || { cat "$tmp/redis.log" >&2; die "redis-server did not start"; }

# ---------------------------------------------------------------------------
# Schema and data.

log "migrate + import $(basename "$DATA")"
DATABASE_URL=$primary_url timeout 300 "$BIN" migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; die "migrate failed"; }
DATABASE_URL=$primary_url timeout 600 "$BIN" import movielens "$DATA" >"$tmp/import.log" 2>&1 ||
	{ tail -20 "$tmp/import.log" >&2; die "import failed"; }
log "$(tail -1 "$tmp/import.log")"

# ---------------------------------------------------------------------------
# movierec instances.

secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 48)
[ "${#secret}" -ge 32 ] || die "could not make a secret key"

start_instance() { # i
	local i=$1
	echo "=== start $(date -u '+%H:%M:%S.%N')" >>"$tmp/movierec$i.log"
	DATABASE_URL=$primary_url DATABASE_REPLICA_URLS=$replica_url REDIS_URL="redis://127.0.0.1:$redis_port/0" \
		MOVIEREC_ADDR="127.0.0.1:${inst_port[$i]}" MOVIEREC_SECRET_KEY=$secret MOVIEREC_SOCKET="$tmp/sock/movierec$i.sock" \
		MOVIEREC_SHUTDOWN_DELAY=$SHUTDOWN_DELAY MOVIEREC_SHUTDOWN_GRACE=$SHUTDOWN_GRACE \
		MOVIEREC_TRUST_PROXY=true MOVIEREC_THROTTLE_LOGIN=off MOVIEREC_THROTTLE_REGISTER=off \
		MOVIEREC_TRAIN_INTERVAL=0 MOVIEREC_TRAIN_AFTER_RATINGS=0 \
		"$BIN" serve >>"$tmp/movierec$i.log" 2>&1 &
	inst_pid[$i]=$!
}

wait_ready() { # i: until /readyz answers 200 (60 s)
	local i=$1 t
	for ((t = 0; t < 600; t++)); do
		kill -0 "${inst_pid[$i]}" 2>/dev/null || { tail -20 "$tmp/movierec$i.log" >&2; die "instance $i exited"; }
		curl -sf -m 2 -o /dev/null "http://127.0.0.1:${inst_port[$i]}/readyz" && return 0
		sleep 0.1
	done
	tail -20 "$tmp/movierec$i.log" >&2
	die "instance $i not ready after 60 s"
}

wait_model() { # i: until /health/ names a model (120 s): training must not overlap the measurement
	local i=$1 t model=
	for ((t = 0; t < 240; t++)); do
		model=$(curl -s -m 5 "http://127.0.0.1:${inst_port[$i]}/health/" | jq -r '.model_version // empty' 2>/dev/null || true)
		[ -n "$model" ] && break
		sleep 0.5
	done
	echo "${model:-none after 120 s}"
}

# Instance 1 trains the first model (none is stored yet); instance 2 loads it.
for i in 1 2; do
	start_instance "$i"
	wait_ready "$i"
	log "instance $i ready on 127.0.0.1:${inst_port[$i]} (model $(wait_model "$i"))"
done

# ---------------------------------------------------------------------------
# nginx: deploy/nginx/movierec.conf with this run's ports.

mkdir -p "$tmp/nginx"
conf=$tmp/nginx/movierec.conf
# The upstream addresses: the instances' TCP ports, or with UPSTREAM=unix
# their Unix sockets (MOVIEREC_SOCKET).
up1=127.0.0.1:$port1 up2=127.0.0.1:$port2
if [ "$UPSTREAM" = unix ]; then up1=unix:$tmp/sock/movierec1.sock up2=unix:$tmp/sock/movierec2.sock; fi
sed -e "s#127\.0\.0\.1:8001\b#$up1#" -e "s#127\.0\.0\.1:8002\b#$up2#" \
	-e "s/^\(    listen \)80;/\1127.0.0.1:$proxy_port;/" "$NGINX_CONF" >"$conf"
grep -qF "server $up1 " "$conf" && grep -qF "server $up2 " "$conf" &&
	grep -q "listen 127.0.0.1:$proxy_port;" "$conf" ||
	die "could not render deploy/nginx/movierec.conf (expected 'server 127.0.0.1:8001 ', ':8002 ' and 'listen 80;')"
# The same config in front of instance 1 only (upstream names changed, the
# second server dropped), on its own port: what nginx alone costs.
conf1=$tmp/nginx/movierec-one.conf
sed -e '/^[[:space:]]*#/d' -e "\#server $up2 #d" -e 's/^upstream movierec /upstream one_movierec /; s/zone movierec /zone one_movierec /; s#http://movierec;#http://one_movierec;#' \
	-e "s/listen 127\.0\.0\.1:$proxy_port;/listen 127.0.0.1:$proxy1_port;/" "$conf" >"$conf1"
nginx_user=
[ "$(id -u)" != 0 ] || nginx_user="user nobody $(id -gn nobody 2>/dev/null || echo nogroup);"
cat >"$tmp/nginx/nginx.conf" <<EOF
# rolling-restart.sh: what /etc/nginx/nginx.conf provides, with paths in the temp dir
daemon off;
$nginx_user
worker_processes $NGINX_WORKERS;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log info;
events { worker_connections 1024; }
http {
    default_type application/octet-stream;
    # Which instance answered and how often nginx retried (upstream_status "502, 200").
    log_format upstream '\$msec \$status \$request_method "\$upstream_addr" "\$upstream_status" \$request_time "\$http_x_request_id"';
    access_log $tmp/nginx/access.log upstream buffer=64k flush=1s;
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    include $conf;
    include $conf1;
}
EOF
nginx_args=(-p "$tmp/nginx/" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf")
nginx -t -q "${nginx_args[@]}" 2>"$tmp/nginx-t.log" || { cat "$tmp/nginx-t.log" >&2; die "nginx -t failed"; }
log "nginx on :$proxy_port"
nginx "${nginx_args[@]}" &
nginx_pid=$!
for _ in $(seq 50); do
	curl -sf -m 2 -o /dev/null "$proxy/readyz" && break
	kill -0 "$nginx_pid" 2>/dev/null || { cat "$tmp/nginx/error.log" >&2; die "nginx exited"; }
	sleep 0.1
done
curl -sf -m 2 -o /dev/null "$proxy/readyz" || { cat "$tmp/nginx/error.log" >&2; die "nginx does not proxy /readyz"; }

# ---------------------------------------------------------------------------
# Users, movie ids, genres (as scripts/loadtest/mixed.sh does), through nginx.

log "registering $USERS users through nginx"
run_id=$$$RANDOM
export run_id proxy
seq 1 "$USERS" | timeout 300 xargs -P 4 -I{} bash -c '
	curl -s -m 30 -X POST -H "Content-Type: application/json" \
		--data "{\"username\":\"rr_${run_id}_{}\",\"email\":\"rr_${run_id}_{}@example.invalid\",\"password\":\"rr-load-Pass-${run_id}\"}" \
		"$proxy/api/auth/register/" | jq -r ".access // empty" 2>/dev/null || true' >"$tmp/tokens.txt" || true
ntok=$(grep -c . "$tmp/tokens.txt" || true)
[ "$ntok" -gt 0 ] || die "no access token from POST /api/auth/register/ (KEEP_TMP=1 keeps the logs)"
[ "$ntok" = "$USERS" ] || log "WARNING: only $ntok of $USERS registrations returned a token"

: >"$tmp/movie_ids.txt"
for page in 1 2 3 4 5 6 7 8 9 10; do
	curl -sf -m 30 "$proxy/api/movies/?ordering=-rating_count&page_size=100&page=$page" |
		jq -r '.results[].id' >>"$tmp/movie_ids.txt" || break
done
[ -s "$tmp/movie_ids.txt" ] || die "could not list movies by rating_count"
curl -sf -m 30 "$proxy/api/movies/genres/?page_size=100" |
	jq -r '.results[] | select(.movie_count > 0) | "\(.id)\t\(.name)\t\(.movie_count)"' >"$tmp/genres.tsv" ||
	die "could not list genres"
list_count=$(curl -sf -m 30 "$proxy/api/movies/?page_size=1" | jq -r .count)
mrc_count=$(curl -sf -m 30 "$proxy/api/movies/?min_rating_count=20&page_size=1" | jq -r .count)

# ---------------------------------------------------------------------------
# Load.

# wrk_start LABEL URL SHARE DURATION: wrk with mixed.lua in the background
# (wrk_pid), output in $tmp/wrk_LABEL.txt.
wrk_start() {
	local label=$1 url=$2 share=$3 dur=$4
	WRITE_SHARE=$share TOKENS_FILE=$tmp/tokens.txt MOVIE_IDS_FILE=$tmp/movie_ids.txt \
		GENRES_FILE=$tmp/genres.tsv LIST_COUNT=$list_count MRC_COUNT=$mrc_count \
		wrk -t "$THREADS" -c "$CONNECTIONS" -d "$dur" --timeout "$TIMEOUT" -s "$repo_root/scripts/loadtest/mixed.lua" \
		"$url/" >"$tmp/wrk_$label.txt" 2>&1 &
	wrk_pid=$!
}

# wrk_wait LABEL: waits for the wrk of wrk_start (in the shell that started it).
wrk_wait() {
	wait "$wrk_pid" || log "WARNING: wrk ($1) exited non-zero"
	wrk_pid=
}

# wrk_result LABEL: "rps requests failed bad sock p99_ms" of a finished run.
wrk_result() {
	local label=$1 f=$tmp/wrk_$1.txt
	grep -q '^LT_RESULT' "$f" || { cat "$f" >&2; die "wrk run $label produced no result"; }
	awk '/^LT_RESULT/ {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%.1f %d %d %d %d %.1f\n", v["rps"], v["requests"], v["bad"] + v["sock"], v["bad"], v["sock"], v["p99_ms"]
	}' "$f"
}

run_wrk() { # LABEL URL SHARE DURATION
	wrk_start "$@"
	wrk_wait "$1"
	wrk_result "$1"
}

# routed I: requests instance I answered so far (its request-duration
# histogram counts, without /metrics, /readyz and /healthz).
routed() {
	curl -s -m 5 "http://127.0.0.1:${inst_port[$1]}/metrics" | awk '
		/^movierec_http_request_duration_seconds_count/ && !/route="[^"]*(metrics|readyz|healthz)/ { n += $NF }
		END { printf "%d\n", n }'
}

log "warm-up: $WARMUP read-only through nginx"
read -r rps _ failed _ _ _ <<<"$(run_wrk warmup "$proxy" 0 "$WARMUP")"
log "warm-up: $rps req/s, $failed failed"

# ---------------------------------------------------------------------------
# 1. Rolling restart under load.

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# The load runs until the restarts are done plus TAIL seconds, then wrk is
# stopped with SIGINT (it reports what it did so far). The cap only bounds a
# stuck run.
cap_s=$((LEAD + TAIL + CYCLES * 2 * (delay_s + grace_s + 60 + 30) + 130))
err_lines_before=$(wc -l <"$tmp/nginx/error.log")
access_lines_before=$(wc -l <"$tmp/nginx/access.log")
log "rolling restart$([ "$CYCLES" = 1 ] || echo " x $CYCLES"): mixed load (write share $WRITE_SHARE, $CONNECTIONS connections) through nginx"
wrk_start rolling "$proxy" "$WRITE_SHARE" "${cap_s}s"
sleep "$LEAD"
restart_rows=()
for ((k = 0; k < 2 * CYCLES; k++)); do
	i=$((k % 2 + 1))
	before=$(routed "$i")
	t0=$(now)
	kill -TERM "${inst_pid[$i]}"
	limit=$(((delay_s + grace_s + 10) * 10))
	for ((t = 0; t < limit; t++)); do
		kill -0 "${inst_pid[$i]}" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "${inst_pid[$i]}" 2>/dev/null && die "instance $i did not exit within delay + grace + 10 s"
	rc=0
	wait "${inst_pid[$i]}" || rc=$?
	t1=$(now)
	start_instance "$i"
	wait_ready "$i"
	t2=$(now)
	# nginx sends it requests again once fail_timeout is over (passive
	# checks): wait for that before stopping the other instance.
	base_n=$(routed "$i")
	ok=0
	for ((t = 0; t < 150; t++)); do
		sleep 0.1
		n=$(routed "$i")
		if [ "$n" -gt $((base_n + 20)) ]; then ok=1; break; fi
	done
	t3=$(now)
	[ $ok = 1 ] || die "instance $i gets no requests through nginx 15 s after it was ready"
	log "instance $i: answered $before requests, drained and exited (code $rc) in $(elapsed "$t0" "$t1") s, ready $(elapsed "$t1" "$t2") s after start, gets requests from nginx again $(elapsed "$t2" "$t3") s later"
	restart_rows+=("| $i | $before | $(elapsed "$t0" "$t1") | $rc | $(elapsed "$t1" "$t2") | $(elapsed "$t2" "$t3") |")
done
# Replica failover under the same load: the standby stops (pg_ctl stop -m
# fast: its sessions end), the instances' reads that were on it go to the
# primary, and once it is back they use it again.
replica_state() { # i: the instance's view of the replica (/health/)
	curl -s -m 2 "http://127.0.0.1:${inst_port[$1]}/health/" | jq -r '.replicas[0].state // "none"' 2>/dev/null || echo '?'
}
wait_replica() { # state: until both instances report it (30 s)
	local t
	for ((t = 0; t < 300; t++)); do
		[ "$(replica_state 1)" = "$1" ] && [ "$(replica_state 2)" = "$1" ] && return 0
		sleep 0.1
	done
	die "the instances do not see the replica $1 after 30 s (they see $(replica_state 1), $(replica_state 2))"
}
t0=$(now)
pg_ctl -D "$tmp/pg/standby" -m fast -w stop >/dev/null
wait_replica unreachable
t1=$(now)
sleep 2
pg_ctl -D "$tmp/pg/standby" -l "$tmp/pg/standby.log" -w -t 60 start >/dev/null || die "the standby did not start again"
wait_replica ok
t2=$(now)
log "replica failover: the instances saw the standby stopped $(elapsed "$t0" "$t1") s after the stop, and in use again $(elapsed "$t1" "$t2") s later (2 s stopped)"
failover_row="| $(elapsed "$t0" "$t1") | $(elapsed "$t1" "$t2") |"
sleep "$TAIL"
kill -INT "$wrk_pid" 2>/dev/null || true
wrk_wait rolling
read -r r_rps r_requests r_failed r_bad r_sock r_p99 <<<"$(wrk_result rolling)"
[ -n "$r_requests" ] || die "no result of the rolling run"
r_secs=$(awk '/^LT_RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "secs") print kv[2] } }' "$tmp/wrk_rolling.txt")
r_sockline=$(grep -m1 '^socket errors:' "$tmp/wrk_rolling.txt" | sed 's/^socket errors: //; s/ (the run is invalid)//')
log "rolling restart: $r_requests requests in ${r_secs}s, $r_failed failed ($r_bad non-2xx, socket errors: $r_sockline)"

sleep 1.5 # nginx flushes its access log every second
# What nginx saw during the rolling run.
nginx_events=$(tail -n +"$((err_lines_before + 1))" "$tmp/nginx/error.log" | awk '
	!/\[(error|warn|crit|alert|emerg)\]/ || !/upstream/ { next }
	/Connection refused/ { refused++; next }
	/temporarily disabled/ { disabled++; next }
	/no live upstreams/ { nolive++; next }
	/prematurely closed/ || /Connection reset by peer/ || /Broken pipe/ { broken++; next }
	/timed out/ { timedout++; next }
	/\[(error|crit|alert|emerg)\]/ { other++ }
	END { printf "%d %d %d %d %d %d\n", refused, disabled, nolive, broken, timedout, other }')
read -r ev_refused ev_disabled ev_nolive ev_broken ev_timeout ev_other <<<"$nginx_events"
retried=$(tail -n +"$((access_lines_before + 1))" "$tmp/nginx/access.log" | awk -F'"' '$4 ~ /,/ { n++ } END { print n + 0 }')
log "nginx: $ev_refused refused connections, $ev_disabled instance disablings, $retried requests retried on the other instance, $ev_broken broken upstream connections, $ev_timeout timeouts, $ev_nolive 'no live upstreams', $ev_other other errors"

# ---------------------------------------------------------------------------
# 2. Proxy cost: the same load through nginx and directly to instance 1.

# cpu_snapshot: CPU ticks so far of "movierec nginx postgres redis machine"
# (both instances; nginx's master and workers; both clusters' postmasters
# and backends). See scripts/loadtest/cpu.sh.
cpu_snapshot() {
	local pm=()
	for d in primary standby; do pm+=("$(head -1 "$tmp/pg/$d/postmaster.pid" 2>/dev/null)"); done
	echo "$(cpu_ticks "${inst_pid[1]}" "${inst_pid[2]}") $(cpu_ticks $(tree_pids "$nginx_pid")) $(cpu_ticks $(tree_pids "${pm[@]}")) $(cpu_ticks "$redis_pid") $(machine_ticks)"
}

cmp_rows=()
ratio=
cmp_failed=0
if [ "$SHORT" != 1 ]; then
	log "proxy cost: warm-up $WARMUP through nginx (the restarted instances start with empty local caches)"
	run_wrk warmup2 "$proxy" 0 "$WARMUP" >/dev/null
	for ((r = 1; r <= ROUNDS; r++)); do
		for target in proxy direct nginx-1 direct-2; do
			sleep 2
			cpu_before=$(cpu_snapshot)
			case $target in
			proxy) url=$proxy ;;
			direct) url=http://127.0.0.1:$port1 ;;
			nginx-1) url=http://127.0.0.1:$proxy1_port ;;
			esac
			if [ "$target" = direct-2 ]; then
				# Both instances loaded directly, half the connections each:
				# the two-instance layout without nginx.
				CONNECTIONS=$((CONNECTIONS / 2)) THREADS=$((THREADS > 1 ? THREADS / 2 : 1)) \
					wrk_start "${target}${r}a" "http://127.0.0.1:$port1" "$COMPARE_SHARE" "$DURATION"
				pid_a=$wrk_pid
				CONNECTIONS=$((CONNECTIONS / 2)) THREADS=$((THREADS > 1 ? THREADS / 2 : 1)) \
					wrk_start "${target}${r}b" "http://127.0.0.1:$port2" "$COMPARE_SHARE" "$DURATION"
				wrk_wait "${target}${r}b"
				wait "$pid_a" || log "WARNING: wrk (${target}${r}a) exited non-zero"
				read -r rps requests failed _ _ p99 <<<"$( (wrk_result "${target}${r}a"; wrk_result "${target}${r}b") |
					awk '{ rps += $1; n += $2; f += $3; if ($6 > p) p = $6 } END { printf "%.1f %d %d 0 0 %.1f\n", rps, n, f, p }')"
			else
				read -r rps requests failed _ _ p99 <<<"$(run_wrk "${target}$r" "$url" "$COMPARE_SHARE" "$DURATION")"
			fi
			read -r c_app c_nginx c_db c_redis c_rest <<<"$(cpu_per_request "$cpu_before" "$(cpu_snapshot)" "$requests")"
			cmp_failed=$((cmp_failed + failed))
			log "proxy cost, round $r, $target: $rps req/s, p99 $p99 ms, $failed failed; CPU µs/request: movierec $c_app, nginx $c_nginx, PostgreSQL $c_db, Redis $c_redis, rest $c_rest"
			cmp_rows+=("| $r | $target | $rps | $requests | $p99 | $failed | $c_app / $c_nginx / $c_db / $c_redis / $c_rest |")
			echo "$target $rps $c_app $c_nginx $c_db $c_redis $c_rest" >>"$tmp/cmp.txt"
		done
	done
	# mean TARGET: its mean req/s; ratio A B: mean of A / mean of B.
	mean() { awk -v t="$1" '$1 == t { s += $2; n++ } END { printf "%.1f", n ? s / n : 0 }' "$tmp/cmp.txt"; }
	ratio() { awk -v a="$(mean "$1")" -v b="$(mean "$2")" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
	p_mean=$(mean proxy) d_mean=$(mean direct) o_mean=$(mean nginx-1) t_mean=$(mean direct-2)
	ratio=$(ratio proxy direct) ratio1=$(ratio nginx-1 direct) ratio2=$(ratio proxy direct-2)
	log "proxy cost: through nginx $p_mean req/s, direct $d_mean req/s, ratio $ratio; nginx in front of instance 1 only: $o_mean req/s, ratio $ratio1; both instances directly: $t_mean req/s, through nginx $ratio2 of that"
fi

# ---------------------------------------------------------------------------
# Summary (stdout).

replica_lag=$(psql_at "$pg1_port" postgres "SELECT COALESCE(round(EXTRACT(epoch FROM replay_lag)::numeric, 3)::text, '0') FROM pg_stat_replication LIMIT 1" 2>/dev/null || echo '?')
ratings_p=$(psql_at "$pg1_port" movierec 'SELECT count(*) FROM ratings' 2>/dev/null || echo '?')
ratings_s=$(psql_at "$pg2_port" movierec 'SELECT count(*) FROM ratings' 2>/dev/null || echo '?')
warns=$(grep -hcE 'level=(WARN|ERROR)' "$tmp/movierec1.log" "$tmp/movierec2.log" | awk '{ n += $1 } END { print n + 0 }')
rev=$(cd "$repo_root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
total_s=$(($(date +%s) - t_start))

echo "## movierec rolling restart behind nginx: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- commit $rev; binary $BIN; $(nproc) CPUs shared by everything; $(nginx -v 2>&1 | sed 's/^nginx version: //'), PostgreSQL $(basename "$(dirname "$pg_bin")") primary + streaming standby, Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
echo "- 2 instances, MOVIEREC_SHUTDOWN_DELAY=$SHUTDOWN_DELAY, MOVIEREC_SHUTDOWN_GRACE=$SHUTDOWN_GRACE; load: scripts/loadtest/mixed.lua, write share $WRITE_SHARE, $CONNECTIONS connections, $THREADS threads, wrk timeout $TIMEOUT, $ntok users$([ "$SHORT" != 1 ] || echo '; SHORT=1')"
echo
echo "### Rolling restart (instance 1, then instance 2), then the standby stopped and started, under load through nginx"
echo
echo "| instance | requests it had answered | SIGTERM to exit, s | exit code | start to ready, s | ready to traffic from nginx, s |"
echo "|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${restart_rows[@]}"
echo
echo "Standby stopped under the same load: | seen unreachable by both instances after, s | stopped 2 s, in use again after start, s |"
echo "|---:|---:|"
echo "$failover_row"
echo
echo "| requests | failed | non-2xx | socket errors | req/s | p99 ms | duration s |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
echo "| $r_requests | **$r_failed** | $r_bad | $r_sock ($r_sockline) | $r_rps | $r_p99 | $r_secs |"
echo
echo "nginx during the run: $ev_refused refused connections (passed on, harmless), $ev_disabled times an instance was taken out for fail_timeout, $retried requests answered by the other instance after a failure, $ev_broken upstream connections broken after the request was sent, $ev_timeout timeouts, $ev_nolive \"no live upstreams\", $ev_other other errors. Instance logs: $warns WARN/ERROR lines. Ratings on the primary $ratings_p, on the standby $ratings_s (replay lag ${replica_lag}s)."
if grep -q '^LT_BAD' "$tmp/wrk_rolling.txt"; then
	echo
	echo "Failed answers by kind and status: $(grep '^LT_BAD' "$tmp/wrk_rolling.txt" | sed 's/^LT_BAD //' | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
fi
if [ "$SHORT" != 1 ]; then
	echo
	echo "### Proxy cost: the same load (write share $COMPARE_SHARE, $DURATION runs, no restarts), through nginx vs. directly to instance 1"
	echo
	echo "| round | target | req/s | requests | p99 ms | failed | CPU µs/request: movierec / nginx / PostgreSQL / Redis / rest (wrk, kernel) |"
	echo "|---:|---|---:|---:|---:|---:|---|"
	printf '%s\n' "${cmp_rows[@]}"
	echo
	echo "Mean CPU per request (µs): $(awk '{ n[$1]++; for (i = 3; i <= 7; i++) c[$1, i] += $i }
		END { split("proxy direct nginx-1 direct-2", order, " "); for (o = 1; o <= 4; o++) { t = order[o]; if (!(t in n)) continue; printf "%s%s %.0f / %.0f / %.0f / %.0f / %.0f (total %.0f)", sep, t, c[t, 3] / n[t], c[t, 4] / n[t], c[t, 5] / n[t], c[t, 6] / n[t], c[t, 7] / n[t], (c[t, 3] + c[t, 4] + c[t, 5] + c[t, 6] + c[t, 7]) / n[t]; sep = "; " } }' "$tmp/cmp.txt")."
	echo
	echo "Through nginx (2 instances) / direct to instance 1: **$ratio** (mean $p_mean vs. $d_mean req/s; target >= 0.80, reported, not asserted: nginx, wrk, both instances, PostgreSQL and Redis share the $(nproc) CPUs)."
	echo
	echo "nginx-1, the same config in front of instance 1 only (nginx's own cost, without a second instance's cache and catch-up work): $o_mean req/s, **$ratio1** of direct."
	echo
	echo "direct-2, both instances loaded directly with half the connections each (the two-instance layout without nginx): $t_mean req/s; through nginx is **$ratio2** of that, and direct-2 is $(ratio direct-2 direct) of one instance."
fi
echo
echo "Total time: ${total_s} s."

if [ "$r_failed" -gt 0 ] || [ "$cmp_failed" -gt 0 ]; then
	echo
	echo "**FAILED: $r_failed failed requests during the rolling restart, $cmp_failed in the proxy-cost runs.**"
	log "failed requests (KEEP_TMP=1 keeps $tmp: nginx/error.log, nginx/access.log, movierec1.log, movierec2.log, wrk_*.txt)"
	exit 1
fi
