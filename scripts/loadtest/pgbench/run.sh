#!/usr/bin/env bash
# run.sh: what a rating write costs PostgreSQL, one per transaction, four per
# transaction, and four in multi-row statements (see README.md).
#
#   scripts/loadtest/pgbench/run.sh [PG_URL]     # default postgres://postgres@127.0.0.1:5432
#
# Creates a database of its own (movierec_pgbench), imports ml-latest-small,
# writes the two statement-per-rating scripts (rate-one, rate-four) from one
# template, runs the three scripts alternated (ROUNDS, default 2; DURATION
# seconds each, default 12) with one client, and prints the machine's CPU
# per rating from /proc/stat (PostgreSQL and pgbench together: run it on an
# otherwise idle machine). Drops the database on exit.
set -euo pipefail

PG=${1:-postgres://postgres@127.0.0.1:5432}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-12}
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$dir/../../.." && pwd)
db=movierec_pgbench
tmp=$(mktemp -d)
cleanup() { psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
command -v pgbench >/dev/null || { echo "run.sh: needs pgbench (apt-get install -y postgresql-client)" >&2; exit 1; }

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
(cd "$repo" && go build -o "$tmp/movierec" ./cmd/movierec)
DATABASE_URL="$PG/$db?sslmode=disable" "$tmp/movierec" import movielens "$repo/../shared/data/movielens/ml-latest-small" >/dev/null
# mids ranks the movies by rating count, for the Zipf-skewed picks.
psql "$PG/$db" -qc "CREATE TABLE mids AS SELECT row_number() OVER (ORDER BY rating_count DESC, id) k, id FROM movies;
	CREATE INDEX ON mids (k); ANALYZE mids"

# rating S: the statements of sqlstore.RateMovieChange for one rating, its
# variables suffixed with S.
rating() {
	cat <<SQL
\\set k$1 random_zipfian(1, 9742, 1.05)
\\set u$1 random(1, 610)
SELECT id AS m$1 FROM mids WHERE k = :k$1 \\gset
SELECT rating_count, rating_total, popularity_score FROM movies WHERE id = :m$1 FOR UPDATE;
SELECT (SELECT value FROM settings WHERE key = 'popularity_epoch'), r.id, r.score, r.rated_at, (SELECT username FROM users WHERE id = :u$1) FROM (SELECT 1 AS one) AS one LEFT JOIN ratings r ON r.user_id = :u$1 AND r.movie_id = :m$1;
INSERT INTO ratings (user_id, movie_id, score, review, rated_at, updated_at) VALUES (:u$1, :m$1, 4, '', now(), now()) ON CONFLICT (user_id, movie_id) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at RETURNING id, rated_at, updated_at;
UPDATE movies SET rating_count = rating_count, rating_total = rating_total, average_rating = average_rating, popularity_score = popularity_score + 0.001 WHERE id = :m$1;
WITH l AS (SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.catalog_changes'))), ins AS (INSERT INTO catalog_changes (version, kind, entity_id, changed_at, old_score, new_score, rated_at, rating_count, average_rating, popularity_score) SELECT nextval(pg_get_serial_sequence('catalog_changes', 'version')), 'movie', :m$1, now(), 0, 4, now(), 1, 4, 1 FROM l RETURNING version) SELECT version FROM ins;
SQL
}
{ echo "BEGIN;"; rating a; echo "COMMIT;"; } >"$tmp/rate-one.sql"
{ echo "BEGIN;"; for s in a b c d; do rating $s; done; echo "COMMIT;"; } >"$tmp/rate-four.sql"
cp "$dir/rate-four-multirow.sql" "$tmp/"

cpu() { awk '/^cpu / {print $2+$3+$4+$7+$8}' /proc/stat; } # user, nice, system, irq, softirq (ticks)
hz=$(getconf CLK_TCK)
echo "| script | ratings per transaction | transactions/s | machine CPU per rating (µs) |"
echo "|---|---:|---:|---:|"
for _ in $(seq "$ROUNDS"); do
	for script in rate-one rate-four rate-four-multirow; do
		per=4
		[ $script = rate-one ] && per=1
		c0=$(cpu)
		out=$(pgbench "$PG/$db" -n -M prepared -c 1 -j 1 -T "$DURATION" -f "$tmp/$script.sql" 2>&1)
		c1=$(cpu)
		n=$(awk '/number of transactions actually processed/ {print $NF}' <<<"$out")
		tps=$(awk '/^tps/ {print $3; exit}' <<<"$out")
		if [ "${n:-0}" -eq 0 ]; then
			echo "run.sh: $script processed nothing:" >&2
			echo "$out" >&2
			exit 1
		fi
		printf '| %s | %d | %.0f | %d |\n' "$script" "$per" "$tps" $(((c1 - c0) * 1000000 / hz / (n * per)))
	done
done
