#!/usr/bin/env bash
# mixed.sh: end-to-end mixed-workload load test of movierec (see README.md).
#
#   scripts/loadtest/mixed.sh                       # sqlite, 20s per run, shares 0 1% 5%
#   DURATION=15s scripts/loadtest/mixed.sh
#   scripts/loadtest/mixed.sh --backend postgres --instances 2
#   MODE=bare scripts/loadtest/mixed.sh             # warm gzip list vs. a bare net/http server
#
# It builds movierec (or uses BIN), creates a fresh database in a temp dir
# (SQLite) or a fresh PostgreSQL database, imports MovieLens, starts the
# server(s) on loopback, registers users, warms up, runs wrk per write share
# and prints a Markdown table. Everything it starts is stopped on exit.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: scripts/loadtest/mixed.sh [flags]      (every flag also has an environment variable)

  --mode mixed|bare        MODE         mixed: the write-share table (default); bare: warm gzip
                                        list page of movierec vs. the bare server (bare/main.go)
  --duration D             DURATION     wrk duration of each measured run (default 20s)
  --connections N          CONNECTIONS  total wrk connections (default 50)
  --threads N              THREADS      total wrk threads (default 2)
  --shares "S ..."         SHARES       write shares, 0..1 (default "0 0.01 0.05"); a 0 share is
                                        run first and again last
  --backend sqlite|postgres BACKEND     database (default sqlite)
  --data DIR               DATA         MovieLens directory (default ../shared/data/movielens/
                                        ml-latest-small, relative to the repository root)
  --instances N            INSTANCES    server processes, 1 to 4 (more than 1 only with postgres; one wrk
                                        per instance, connections split evenly)
  --redis-url URL          REDIS_URL    passed to the servers (optional)
  --bin PATH               BIN          prebuilt movierec binary (default: go build ./cmd/movierec)
  --users N                USERS        accounts registered for rating writes (default 200)
  --warmup D               WARMUP       length of one read-only warm-up run (default 5s); warm-up
                                        repeats until req/s moves < 10% between runs and
                           WARM_HITS    % of reads are cache hits (default 99), at most
                           WARMUP_MAX   (default 90s); repeated before every later 0% run
                           PRERUN       unmeasured run at the same write share just before each
                                        measured write run, to reach its steady state (default 5s;
                                        0 turns it off)
  --rounds N               ROUNDS       bare mode: movierec/bare pairs (default 2)
  --port N                 PORT         first server port on 127.0.0.1 (default 18480)
                           BARE_PORT    bare server port (default 18490)
                           BARE_PATH    page compared in bare mode (default /api/movies/)
                           PAUSE        seconds between runs (default 2)
                           PG_URL       PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
                           KEEP_TMP=1   keep the temp dir (database, server logs, wrk outputs)
                           ADMIN_PORT   give instance i the admin listener (pprof, metrics) on
                                        127.0.0.1:ADMIN_PORT+i (default: none)
                           PROFILE=1    with ADMIN_PORT: save a CPU profile of every instance
                                        during each measured write run (cpu_runN_I.pprof in the
                                        temp dir; set KEEP_TMP=1 to keep them)
                           SEED         base random seed of the Lua script (default: time)
EOF
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
# shellcheck source=cpu.sh
. "$script_dir/cpu.sh"

MODE=${MODE:-mixed}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
SHARES=${SHARES:-"0 0.01 0.05"}
BACKEND=${BACKEND:-sqlite}
DATA=${DATA:-}
INSTANCES=${INSTANCES:-1}
REDIS_URL=${REDIS_URL:-}
BIN=${BIN:-}
USERS=${USERS:-200}
WARMUP=${WARMUP:-5s}
WARMUP_MAX=${WARMUP_MAX:-90s}
WARM_HITS=${WARM_HITS:-99}
PRERUN=${PRERUN:-5s}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-18480}
BARE_PORT=${BARE_PORT:-18490}
BARE_PATH=${BARE_PATH:-/api/movies/}
PAUSE=${PAUSE:-2}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
KEEP_TMP=${KEEP_TMP:-0}
ADMIN_PORT=${ADMIN_PORT:-}
PROFILE=${PROFILE:-0}

while [ $# -gt 0 ]; do
	arg=$1
	shift
	case $arg in
	-h | --help) usage; exit 0 ;;
	--*=*) name=${arg%%=*} value=${arg#*=} ;;
	--*)
		name=$arg
		[ $# -gt 0 ] || { echo "mixed.sh: $arg needs a value" >&2; exit 2; }
		value=$1
		shift
		;;
	*) echo "mixed.sh: unexpected argument $arg" >&2; usage >&2; exit 2 ;;
	esac
	case $name in
	--mode) MODE=$value ;;
	--duration) DURATION=$value ;;
	--connections) CONNECTIONS=$value ;;
	--threads) THREADS=$value ;;
	--shares) SHARES=$value ;;
	--backend) BACKEND=$value ;;
	--data) DATA=$value ;;
	--instances) INSTANCES=$value ;;
	--redis-url) REDIS_URL=$value ;;
	--bin) BIN=$value ;;
	--users) USERS=$value ;;
	--warmup) WARMUP=$value ;;
	--rounds) ROUNDS=$value ;;
	--port) PORT=$value ;;
	*) echo "mixed.sh: unknown flag $name" >&2; usage >&2; exit 2 ;;
	esac
done

die() { echo "mixed.sh: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }

# ---------------------------------------------------------------------------
# Checks.

if ! command -v wrk >/dev/null 2>&1; then
	die "wrk is not installed. Install it with: apt-get update && apt-get install -y wrk
  (or build it from https://github.com/wg/wrk), then run this again."
fi
for tool in curl jq awk; do
	command -v $tool >/dev/null 2>&1 || die "$tool is not installed (apt-get install -y $tool)"
done
case $MODE in mixed | bare) ;; *) die "MODE must be mixed or bare, not $MODE" ;; esac
case $BACKEND in sqlite | postgres) ;; *) die "BACKEND must be sqlite or postgres, not $BACKEND" ;; esac
case $INSTANCES in 1 | 2 | 3 | 4) ;; *) die "INSTANCES must be 1 to 4" ;; esac
if [ "$INSTANCES" -gt 1 ] && [ "$BACKEND" != postgres ]; then
	die "INSTANCES=$INSTANCES needs BACKEND=postgres (several processes on one database)"
fi
if [ "$MODE" = bare ] && [ "$INSTANCES" != 1 ]; then
	die "MODE=bare uses one instance"
fi
if [ "$BACKEND" = postgres ]; then
	command -v psql >/dev/null 2>&1 || die "psql is not installed (apt-get install -y postgresql-client)"
fi
if [ "$PROFILE" = 1 ] && [ -z "$ADMIN_PORT" ]; then
	die "PROFILE=1 needs ADMIN_PORT (the profiles come from each instance's admin listener)"
fi
for n in "$CONNECTIONS" "$THREADS" "$USERS" "$ROUNDS" "$PORT" "$BARE_PORT" "$PAUSE" ${ADMIN_PORT:+"$ADMIN_PORT"}; do
	[[ $n =~ ^[0-9]+$ ]] || die "not a whole number: $n"
done
for s in $SHARES; do
	awk -v s="$s" 'BEGIN { exit !(s ~ /^[0-9]*\.?[0-9]+$/ && s >= 0 && s <= 1) }' ||
		die "a write share must be a number within 0..1, not $s"
done
[ "$CONNECTIONS" -ge "$INSTANCES" ] || die "CONNECTIONS must be at least INSTANCES"

# seconds parses a wrk duration (20, 20s, 2m, 1h) into whole seconds.
seconds() {
	local d=$1
	case $d in
	*s) d=${d%s} ;;
	*m) d=$((${d%m} * 60)) ;;
	*h) d=$((${d%h} * 3600)) ;;
	esac
	[[ $d =~ ^[0-9]+$ ]] || die "not a duration: $1 (want e.g. 20s or 1m)"
	echo "$d"
}
dur_s=$(seconds "$DURATION")
warm_s=$(seconds "$WARMUP")
warm_max_s=$(seconds "$WARMUP_MAX")
prerun_s=$(seconds "$PRERUN")
[ "$warm_s" -ge 1 ] || die "WARMUP must be at least 1s"

if [ -z "$DATA" ]; then
	DATA=$repo_root/../shared/data/movielens/ml-latest-small
fi
[ -f "$DATA/movies.csv" ] && [ -f "$DATA/ratings.csv" ] || die "no MovieLens data in $DATA"
DATA=$(cd "$DATA" && pwd)

ports=()
for ((i = 0; i < INSTANCES; i++)); do ports+=($((PORT + i))); done
[ "$MODE" = bare ] && ports_check=("${ports[@]}" "$BARE_PORT") || ports_check=("${ports[@]}")
for p in "${ports_check[@]}"; do
	if curl -s -o /dev/null -m 2 "http://127.0.0.1:$p/" 2>/dev/null; then
		die "port $p on 127.0.0.1 is in use (set PORT / BARE_PORT)"
	fi
done

# ---------------------------------------------------------------------------
# Temp dir and cleanup.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/movierec-load.XXXXXX")
server_pids=()
wrk_pids=()
bare_pid=
pg_db=

stop_pid() { # pid: TERM, wait up to 15 s, then KILL
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	for pid in "${wrk_pids[@]}"; do stop_pid "$pid"; done
	[ -n "$bare_pid" ] && stop_pid "$bare_pid"
	for pid in "${server_pids[@]}"; do stop_pid "$pid"; done
	if [ -n "$pg_db" ]; then
		timeout 60 psql -q -X "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null ||
			echo "mixed.sh: could not drop PostgreSQL database $pg_db" >&2
	fi
	if [ "$KEEP_TMP" = 1 ]; then
		echo "# kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Build, database, import.

if [ -z "$BIN" ]; then
	log "building ./cmd/movierec (the working tree as it is now)"
	(cd "$repo_root" && timeout 1200 go build -o "$tmp/movierec" ./cmd/movierec) || die "go build ./cmd/movierec failed"
	BIN=$tmp/movierec
fi
[ -x "$BIN" ] || die "BIN $BIN is not an executable"

if [ "$BACKEND" = sqlite ]; then
	DATABASE_URL=sqlite://$tmp/bench.db
else
	pg_db=movierec_load_$$
	timeout 60 psql -q -X "$PG_URL/postgres" -c "CREATE DATABASE $pg_db" >/dev/null ||
		{ pg_db=; die "cannot create a database on $PG_URL"; }
	DATABASE_URL=$PG_URL/$pg_db
fi
export DATABASE_URL

log "migrate + import $DATA ($BACKEND)"
timeout 300 "$BIN" migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; die "migrate failed"; }
timeout 900 "$BIN" import movielens "$DATA" >"$tmp/import.log" 2>&1 || { tail -20 "$tmp/import.log" >&2; die "import failed"; }
tail -1 "$tmp/import.log" >&2

# ---------------------------------------------------------------------------
# Servers.

passthrough=$(env | grep -E '^MOVIEREC_' | cut -d= -f1 | tr '\n' ' ' || true)
if [ -n "$passthrough" ]; then
	log "WARNING: MOVIEREC_* variables set in this environment reach the servers: $passthrough"
fi
if [ -n "$REDIS_URL" ]; then export REDIS_URL; else unset REDIS_URL; fi

for ((i = 0; i < INSTANCES; i++)); do
	if [ -n "$ADMIN_PORT" ]; then export MOVIEREC_ADMIN_ADDR=127.0.0.1:$((ADMIN_PORT + i)); fi
	MOVIEREC_ADDR=127.0.0.1:${ports[i]} \
		MOVIEREC_THROTTLE_LOGIN=off MOVIEREC_THROTTLE_REGISTER=off \
		MOVIEREC_TRAIN_INTERVAL=0 MOVIEREC_TRAIN_AFTER_RATINGS=0 \
		"$BIN" serve >"$tmp/server$i.log" 2>&1 &
	server_pids+=($!)
done

base=http://127.0.0.1:${ports[0]}
for ((i = 0; i < INSTANCES; i++)); do
	url=http://127.0.0.1:${ports[i]}
	ready=0
	for ((t = 0; t < 600; t++)); do # 60 s
		kill -0 "${server_pids[i]}" 2>/dev/null || { tail -20 "$tmp/server$i.log" >&2; die "server $i exited"; }
		if curl -sf -m 2 -o /dev/null "$url/readyz"; then ready=1; break; fi
		sleep 0.1
	done
	[ $ready = 1 ] || { tail -20 "$tmp/server$i.log" >&2; die "server $i not ready after 60 s"; }
	# The model trained at start-up (no model stored yet) should not overlap
	# the measurement: wait for /health/ to name one.
	model=
	for ((t = 0; t < 240; t++)); do # 120 s
		model=$(curl -s -m 5 "$url/health/" | jq -r '.model_version // empty' 2>/dev/null || true)
		[ -n "$model" ] && break
		sleep 0.5
	done
	log "instance $i ready on $url (model ${model:-none after 120 s})"
done

# ---------------------------------------------------------------------------
# wrk runs.

# run_wrk LABEL SHARE LUA DURATION [wrk args...]: one wrk per instance, with
# the connections and threads split evenly; prints
# "rps p50 p99 errors hit%" (rps summed, p50 mean, p99 max, errors summed,
# answer-cache hits among 2xx reads in percent, or -1 when unknown).
run_wrk() {
	local label=$1 share=$2 lua=$3 dur=$4 i
	shift 4
	local c=$((CONNECTIONS / INSTANCES)) t=$((THREADS / INSTANCES))
	[ "$t" -ge 1 ] || t=1
	[ "$t" -le "$c" ] || t=$c
	wrk_pids=()
	for ((i = 0; i < INSTANCES; i++)); do
		WRITE_SHARE=$share TOKENS_FILE=$tmp/tokens.txt MOVIE_IDS_FILE=$tmp/movie_ids.txt \
			GENRES_FILE=$tmp/genres.tsv LIST_COUNT=${list_count:-} MRC_COUNT=${mrc_count:-} \
			timeout $(($(seconds "$dur") + 60)) wrk -t "$t" -c "$c" -d "$dur" -s "$lua" "$@" \
			"http://127.0.0.1:${ports[i]}${wrk_path:-/}" >"$tmp/wrk_${label}_$i.txt" 2>&1 &
		wrk_pids+=($!)
	done
	local failed=0
	for pid in "${wrk_pids[@]}"; do wait "$pid" || failed=1; done
	wrk_pids=()
	for ((i = 0; i < INSTANCES; i++)); do
		if ! grep -q '^LT_RESULT' "$tmp/wrk_${label}_$i.txt"; then
			cat "$tmp/wrk_${label}_$i.txt" >&2
			die "wrk run $label (instance $i) produced no result"
		fi
	done
	[ $failed = 0 ] || log "WARNING: a wrk process of run $label exited non-zero"
	cat "$tmp"/wrk_"${label}"_*.txt | awk '
		/^LT_RESULT/ {
			for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			n++; rps += v["rps"]; p50 += v["p50_ms"]; if (v["p99_ms"] > p99) p99 = v["p99_ms"]
			err += v["bad"] + v["sock"]; hits += v["cache_hits"]; misses += v["cache_misses"]
		}
		END { printf "%.1f %.2f %.2f %d %.1f\n", rps, p50 / n, p99, err, (hits + misses > 0) ? 100 * hits / (hits + misses) : -1 }'
}

# warm_up LUA [wrk args...]: read-only wrk runs of WARMUP each until req/s
# changes by less than 10% from one to the next and at least WARM_HITS % of
# the 2xx reads were answer-cache hits (when the responses say; at least 2
# runs, at most WARMUP_MAX in all): the cache fills over the first 10-60 s
# and a cold start would make the first measured run look slow.
warm_up() {
	local lua=$1 prev=0 k=0 res rps p50 p99 err hit spent=0
	shift
	while :; do
		k=$((k + 1))
		res=$(run_wrk "warmup$k" 0 "$lua" "$WARMUP" "$@")
		read -r rps p50 p99 err hit <<<"$res"
		spent=$((spent + warm_s))
		log "warm-up $k ($WARMUP, read-only): $rps req/s, p99 $p99 ms$(awk -v h="$hit" 'BEGIN { if (h >= 0) printf ", %.1f%% cache hits", h }')"
		if grep -qE '^LT_BAD' "$tmp"/wrk_warmup${k}_*.txt; then
			log "WARNING: errors during warm-up: $(grep -hE '^LT_BAD' "$tmp"/wrk_warmup${k}_*.txt | tr '\n' ' ')"
		fi
		if [ $k -ge 2 ] && awk -v a="$prev" -v b="$rps" -v h="$hit" -v w="$WARM_HITS" \
			'BEGIN { d = (b - a) / a; exit !(d < 0.10 && d > -0.10 && (h < 0 || h >= w)) }'; then
			break
		fi
		if [ $((spent + warm_s)) -gt "$warm_max_s" ]; then
			log "warm-up: throughput still moving after ${spent}s (WARMUP_MAX), measuring anyway"
			break
		fi
		prev=$rps
	done
}

load1() { cut -d' ' -f1 /proc/loadavg; }

# cpu_snapshot: "servers database machine" CPU ticks so far (database: every
# process named postgres). See cpu.sh.
cpu_snapshot() {
	local db=0
	[ "$BACKEND" = postgres ] && db=$(cpu_ticks $(pgrep -x postgres 2>/dev/null || true))
	echo "$(cpu_ticks "${server_pids[@]}") $db $(machine_ticks)"
}

header() {
	local rev
	rev=$(cd "$repo_root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(cd "$repo_root" && git status --porcelain 2>/dev/null | head -1)" ]; then rev="$rev + uncommitted changes"; fi
	echo "## movierec load test ($MODE): $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	if [ "$BIN" = "$tmp/movierec" ]; then
		echo "- built from the working tree: commit $rev"
	else
		echo "- binary $BIN (modified $(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC')); the working tree is now at commit $rev"
	fi
	echo "- backend $BACKEND, instances $INSTANCES${REDIS_URL:+, REDIS_URL set}, data $(basename "$DATA")"
	if [ "$MODE" = bare ]; then
		echo "- wrk: $CONNECTIONS connections, $THREADS threads, $DURATION per run; movierec warmed up first (runs of $WARMUP on"
		echo "  the page until req/s is stable, at most $WARMUP_MAX)"
	else
		echo "- wrk: $CONNECTIONS connections, $THREADS threads in total, $DURATION per run; read-only warm-up (runs of $WARMUP until"
		echo "  req/s is stable, at most $WARMUP_MAX) before every 0% run, an unmeasured $PRERUN run at the same share before every write run"
	fi
	echo "- server: default configuration except MOVIEREC_THROTTLE_LOGIN=off, MOVIEREC_THROTTLE_REGISTER=off,"
	echo "  MOVIEREC_TRAIN_INTERVAL=0 and MOVIEREC_TRAIN_AFTER_RATINGS=0 (no model training during the measurement)${passthrough:+; also from the environment: $passthrough}"
	echo "- machine: $(nproc) CPUs, wrk on the same CPUs; before the first run: ${start_uptime:-$(uptime | sed 's/^ *//')}"
	echo
}

if [ "$MODE" = bare ]; then
	# -------------------------------------------------------------------
	# Warm gzip list page: movierec vs. the bare server.
	if [ -z "${BARE_BIN:-}" ]; then
		(cd "$repo_root" && timeout 600 go build -o "$tmp/bare" ./scripts/loadtest/bare) || die "go build ./scripts/loadtest/bare failed"
		BARE_BIN=$tmp/bare
	fi
	wrk_path=$BARE_PATH
	warm_up "$script_dir/simple.lua" -H 'Accept-Encoding: gzip'
	"$BARE_BIN" -url "$base$BARE_PATH" -addr "127.0.0.1:$BARE_PORT" -accept-encoding gzip \
		-max-lifetime "$((ROUNDS * 2 * (dur_s + PAUSE + 60) + 120))s" >"$tmp/bare.log" 2>&1 &
	bare_pid=$!
	ok=0
	for ((t = 0; t < 100; t++)); do
		if curl -sf -m 2 -o /dev/null "http://127.0.0.1:$BARE_PORT/"; then ok=1; break; fi
		kill -0 "$bare_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ $ok = 1 ] || { cat "$tmp/bare.log" >&2; die "bare server did not start"; }
	cat "$tmp/bare.log" >&2
	m_hdr=$(curl -s -D- -o "$tmp/m.body" -H 'Accept-Encoding: gzip' "$base$BARE_PATH" | tr -d '\r' | grep -i '^content-encoding' || true)
	b_hdr=$(curl -s -D- -o "$tmp/b.body" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$BARE_PORT$BARE_PATH" | tr -d '\r' | grep -i '^content-encoding' || true)
	log "movierec: ${m_hdr:-no Content-Encoding}, $(wc -c <"$tmp/m.body") bytes; bare: ${b_hdr:-no Content-Encoding}, $(wc -c <"$tmp/b.body") bytes"

	header
	echo "Warm list page \`GET $BARE_PATH\` with \`Accept-Encoding: gzip\`, interleaved runs:"
	echo
	echo "| run | server | req/s | p50 ms | p99 ms | errors | load (1 min) before |"
	echo "|---|---|---:|---:|---:|---:|---:|"
	declare -a m_rps=() b_rps=()
	errors=0
	n=0
	for ((r = 1; r <= ROUNDS; r++)); do
		for target in movierec bare; do
			sleep "$PAUSE"
			n=$((n + 1))
			l=$(load1)
			if [ $target = movierec ]; then
				res=$(run_wrk "m$r" 0 "$script_dir/simple.lua" "$DURATION" -H 'Accept-Encoding: gzip')
			else
				res=$(ports=("$BARE_PORT"); run_wrk "b$r" 0 "$script_dir/simple.lua" "$DURATION" -H 'Accept-Encoding: gzip')
			fi
			read -r rps p50 p99 err hit <<<"$res"
			errors=$((errors + err))
			[ $target = movierec ] && m_rps+=("$rps") || b_rps+=("$rps")
			echo "| $n | $target | $rps | $p50 | $p99 | $err | $l |"
		done
	done
	echo
	printf '%s\n' "${m_rps[@]}" >"$tmp/m.rps"
	printf '%s\n' "${b_rps[@]}" >"$tmp/b.rps"
	awk -v mf="$tmp/m.rps" -v bf="$tmp/b.rps" 'BEGIN {
		while ((getline x < mf) > 0) { m += x; mn++ }
		while ((getline x < bf) > 0) { b += x; bn++ }
		m /= mn; b /= bn
		printf "movierec mean %.1f req/s, bare mean %.1f req/s: movierec reaches **%.1f%%** of bare\n", m, b, 100 * m / b
	}'
	echo
	echo "Load at end: $(uptime | sed 's/^ *//')"
	[ "$errors" = 0 ] || { echo; echo "**$errors errors: the comparison is invalid** (outputs in $tmp; KEEP_TMP=1 keeps them)"; }
	exit 0
fi

# ---------------------------------------------------------------------------
# Mixed workload: users, movie ids, genres.

need_tokens=0
for s in $SHARES; do awk -v s="$s" 'BEGIN { exit !(s > 0) }' && need_tokens=1; done
: >"$tmp/tokens.txt"
if [ $need_tokens = 1 ]; then
	log "registering $USERS users (argon2id hashing, a few seconds)"
	run_id=$$$RANDOM
	export run_id base
	seq 1 "$USERS" | timeout 600 xargs -P 4 -I{} bash -c '
		curl -s -m 30 -X POST -H "Content-Type: application/json" \
			--data "{\"username\":\"lt_${run_id}_{}\",\"email\":\"lt_${run_id}_{}@example.invalid\",\"password\":\"lt-load-Pass-${run_id}\"}" \
			"$base/api/auth/register/" | jq -r ".access // empty" 2>/dev/null || true' >"$tmp/tokens.txt" || true
	ntok=$(grep -c . "$tmp/tokens.txt" || true)
	[ "$ntok" -gt 0 ] || die "no access token from POST /api/auth/register/ (see $tmp/server0.log; KEEP_TMP=1)"
	[ "$ntok" = "$USERS" ] || log "WARNING: only $ntok of $USERS registrations returned a token"
	log "$ntok access tokens (they live 60 minutes)"
fi

: >"$tmp/movie_ids.txt"
for page in 1 2 3 4 5 6 7 8 9 10; do
	curl -sf -m 30 "$base/api/movies/?ordering=-rating_count&page_size=100&page=$page" |
		jq -r '.results[].id' >>"$tmp/movie_ids.txt" || break
done
[ -s "$tmp/movie_ids.txt" ] || die "could not list movies by rating_count"
curl -sf -m 30 "$base/api/movies/genres/?page_size=100" |
	jq -r '.results[] | select(.movie_count > 0) | "\(.id)\t\(.name)\t\(.movie_count)"' >"$tmp/genres.tsv" ||
	die "could not list genres"
list_count=$(curl -sf -m 30 "$base/api/movies/?page_size=1" | jq -r .count)
mrc_count=$(curl -sf -m 30 "$base/api/movies/?min_rating_count=20&page_size=1" | jq -r .count)
log "$(wc -l <"$tmp/movie_ids.txt") movie ids by rating count, $(wc -l <"$tmp/genres.tsv") genres, $list_count movies, $mrc_count with >= 20 ratings"

export SEED=${SEED:-}
warm_up "$script_dir/mixed.lua"

# Order: the first 0 share, the others as given, then 0 again.
runs=()
has_zero=0
for s in $SHARES; do awk -v s="$s" 'BEGIN { exit !(s == 0) }' && has_zero=1; done
[ $has_zero = 1 ] && runs+=(0)
for s in $SHARES; do awk -v s="$s" 'BEGIN { exit !(s == 0) }' || runs+=("$s"); done
[ $has_zero = 1 ] && runs+=(0)

start_uptime=$(uptime | sed 's/^ *//')
: >"$tmp/results.txt"
n=0
for s in "${runs[@]}"; do
	n=$((n + 1))
	if awk -v s="$s" 'BEGIN { exit !(s == 0) }'; then
		# Refill the cache the writes of the previous runs invalidated.
		[ $n -eq 1 ] || warm_up "$script_dir/mixed.lua"
	elif [ "$prerun_s" -gt 0 ]; then
		log "pre-run $PRERUN at write share $s (not measured)"
		run_wrk "pre$n" "$s" "$script_dir/mixed.lua" "$PRERUN" >/dev/null
		if grep -qE '^LT_BAD' "$tmp"/wrk_pre${n}_*.txt; then
			log "WARNING: errors during the pre-run: $(grep -hE '^LT_BAD' "$tmp"/wrk_pre${n}_*.txt | tr '\n' ' ')"
		fi
	fi
	sleep "$PAUSE"
	l=$(load1)
	prof_pids=()
	if [ "$PROFILE" = 1 ] && awk -v s="$s" 'BEGIN { exit !(s > 0) }'; then
		for ((i = 0; i < INSTANCES; i++)); do
			curl -s -m $((dur_s + 60)) -o "$tmp/cpu_run${n}_$i.pprof" \
				"http://127.0.0.1:$((ADMIN_PORT + i))/debug/pprof/profile?seconds=$((dur_s > 3 ? dur_s - 2 : 1))" &
			prof_pids+=($!)
		done
	fi
	before=$(cpu_snapshot)
	res=$(run_wrk "run$n" "$s" "$script_dir/mixed.lua" "$DURATION")
	after=$(cpu_snapshot)
	for pid in "${prof_pids[@]}"; do wait "$pid" || log "WARNING: no CPU profile (curl exit $?)"; done
	cpu=$(cpu_per_request "$before" "$after" "$(awk -v r="${res%% *}" -v d="$dur_s" 'BEGIN { printf "%d", r * d }')")
	echo "$n $s $res $l $cpu" >>"$tmp/results.txt"
	log "run $n, write share $s: $res (req/s p50 p99 errors cache-hit%)"
done

header
echo "| run | write share | req/s | p50 ms | p99 ms | errors | read cache hits | ratio to read-only | target | CPU µs/request: servers / db / rest | load (1 min) before |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"

awk '
	{ run[NR] = $1; share[NR] = $2; rps[NR] = $3; p50[NR] = $4; p99[NR] = $5; err[NR] = $6; hit[NR] = $7; load[NR] = $8
	  cpu[NR] = $9 " / " $10 " / " $11
	  if ($2 + 0 == 0) { ro += $3; ron++ } ; errs += $6 }
	END {
		base = ron ? ro / ron : 0
		for (i = 1; i <= NR; i++) {
			s = share[i] + 0
			ratio = base ? sprintf("%.2f", rps[i] / base) : "n/a"
			target = ""
			if (base && s == 0.01) target = (rps[i] / base >= 0.70 ? "≥ 0.70: pass" : "≥ 0.70: **FAIL**")
			if (base && s == 0.05) target = (rps[i] / base >= 0.50 ? "≥ 0.50: pass" : "≥ 0.50: **FAIL**")
			if (err[i] > 0) target = target " (errors: invalid)"
			hits = hit[i] >= 0 ? sprintf("%.1f%%", hit[i]) : "n/a"
			printf "| %d | %s%% | %.1f | %.2f | %.2f | %d | %s | %s | %s | %s | %s |\n",
				run[i], s * 100, rps[i], p50[i], p99[i], err[i], hits, ratio, target, cpu[i], load[i]
		}
		print ""
		if (ron) printf "Read-only = mean of the %d runs at 0%% writes: %.1f req/s", ron, base
		if (ron == 2) {
			for (i = 1; i <= NR; i++) if (share[i] + 0 == 0) z[++k] = rps[i]
			printf " (first %.1f, last %.1f: drift %+.1f%%)", z[1], z[2], 100 * (z[2] - z[1]) / z[1]
		}
		print ""
		if (errs) print "\n**" errs " errors: runs with errors are invalid** (details below)"
	}' "$tmp/results.txt"
echo
echo "Load at end: $(uptime | sed 's/^ *//')"

if grep -qE '^(LT_BAD|NON-2XX)' "$tmp"/wrk_run*_*.txt || awk '/^LT_RESULT/ { for (i = 2; i <= NF; i++) if ($i ~ /^sock=/ && $i != "sock=0") f = 1 } END { exit !f }' "$tmp"/wrk_run*_*.txt; then
	echo
	echo "Errors by run (kind status count):"
	for f in "$tmp"/wrk_run*_*.txt; do
		e=$(grep -E '^LT_BAD|^socket errors' "$f" | grep -v 'connect 0, read 0, write 0, timeout 0$' || true)
		[ -z "$e" ] || { echo "- $(basename "$f" .txt):"; echo "$e" | sed 's/^/    /'; }
	done
fi

echo
echo "Per-kind detail of each run (2xx/sent):"
for f in "$tmp"/wrk_run*_*.txt; do
	echo "- $(basename "$f" .txt): $(grep '^2xx/sent' "$f" | sed 's/^2xx\/sent by kind: //'); $(grep '^writes answered' "$f")"
done

echo
warn=0
for ((i = 0; i < INSTANCES; i++)); do
	w=$(grep -c 'level=WARN' "$tmp/server$i.log" || true)
	e=$(grep -c 'level=ERROR' "$tmp/server$i.log" || true)
	echo "Server $i log: $w WARN, $e ERROR lines"
	for level in ERROR WARN; do
		grep -E "level=$level" "$tmp/server$i.log" |
			sed -E 's/^time=[^ ]+ //; s/ (request_id|took|args)=[^ ]+//g' | cut -c1-300 |
			sort | uniq -c | sort -rn | head -10 | sed 's/^/    /' || true
	done
done
