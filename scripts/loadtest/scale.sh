#!/usr/bin/env bash
# scale.sh: serving at MovieLens-25M size (issue 10's numbers; see README.md,
# "Data sets at MovieLens-25M size").
#
#   scripts/loadtest/scale.sh DATABASE_URL
#
# DATABASE_URL holds an imported data set and a trained model, e.g.
#   movierec demo-data -ratings 25000000 -out /tmp/ml25m
#   movierec import movielens /tmp/ml25m -db postgres://.../bench
#   movierec train -db postgres://.../bench
# It creates a staff account (scalebench) if missing, starts serve with the
# answer cache off, reports the time to ready and the resident memory, then
# runs wrk (CONNECTIONS, default 10; DURATION, default 30s) on similar
# movies, a user's recommendations (the staff route, random users) and
# catalog reads; with TRAINING=1 it then restarts serve retraining back to
# back and measures catalog reads again while the child trains. Stops
# everything it started on exit.
set -euo pipefail

DB=${1:?usage: scale.sh DATABASE_URL}
DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-10}
THREADS=${THREADS:-2}
PORT=${PORT:-18580}
TRAINING=${TRAINING:-0}
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
BIN=${BIN:-}
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	pkill -f "$BIN train" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
log() { echo "scale.sh: $*" >&2; }
command -v wrk >/dev/null || { log "needs wrk (apt-get install -y wrk)"; exit 1; }
if [ -z "$BIN" ]; then
	BIN=$tmp/movierec
	(cd "$repo_root" && go build -o "$BIN" ./cmd/movierec)
fi
base=http://127.0.0.1:$PORT
pass=scale-bench-password
echo "$pass" | "$BIN" user create --username scalebench --email scalebench@example.com --staff -db "$DB" >/dev/null 2>&1 || true
movies=${MOVIES:-62000}
users=${USERS:-162000}

start_serve() { # $1: extra environment, e.g. "MOVIEREC_TRAIN_INTERVAL=1s"
	local t0 t1
	t0=$(date +%s.%N)
	env $1 MOVIEREC_CACHE=false MOVIEREC_ACCESS_LOG=off MOVIEREC_ADDR=127.0.0.1:$PORT \
		MOVIEREC_SECRET_KEY=scale-bench-secret-key-0123456789abcdef "$BIN" serve -db "$DB" >"$tmp/serve.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 1200); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/health/")" = 200 ] && break
		sleep 0.1
	done
	t1=$(date +%s.%N)
	log "ready after $(echo "$t1 - $t0" | bc) s, $(($(ps -o rss= -p "$pid") / 1024)) MB resident"
	for _ in $(seq 1 300); do
		grep -q "serving recommendation model" "$tmp/serve.log" && break
		sleep 0.1
	done
	log "model loaded: $(($(ps -o rss= -p "$pid") / 1024)) MB resident"
}
stop_serve() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
run() { # $1: name, $2: script
	local out
	out=$(MOVIES=$movies USERS=$users TOKEN=${TOKEN:-} wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$script_dir/$2" "$base")
	printf '| %s | %s | %s | %s |\n' "$1" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
		"$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
}

start_serve ""
TOKEN=$(curl -s -X POST -H 'Content-Type: application/json' -d "{\"username\":\"scalebench\",\"password\":\"$pass\"}" \
	"$base/api/auth/login/" | jq -r .access)
echo "| run ($CONNECTIONS connections, $DURATION, cache off) | req/s | p50 | p99 |"
echo "|---|---|---|---|"
run "similar movies" similar.lua
TOKEN=$TOKEN run "a user's recommendations" users.lua
run "catalog reads, quiet" catalog.lua
stop_serve
if [ "$TRAINING" = 1 ]; then
	start_serve "MOVIEREC_TRAIN_INTERVAL=1s MOVIEREC_TRAIN_POLL=1s"
	for _ in $(seq 1 600); do pgrep -f "$BIN train" >/dev/null && break; sleep 0.1; done
	for r in 1 2 3; do run "catalog reads, child training ($r)" catalog.lua; done
	stop_serve
fi
