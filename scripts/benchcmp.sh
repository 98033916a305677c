#!/usr/bin/env bash
# benchcmp.sh: compares movierec's hot-path Go benchmarks between two
# commits with benchstat.
#
#   scripts/benchcmp.sh [OLD [NEW]]
#
# OLD is a commit (default HEAD); NEW is a commit, or the working tree with
# its uncommitted changes when omitted. Each commit is checked out with
# `git worktree add` into a temporary directory (removed on exit), the test
# binaries of both sides are built once, and then COUNT rounds run every
# benchmark once per side, old and new taking turns to go first, so that
# drift of the machine's speed spreads over both. The results go to
# OUT/old.txt and OUT/new.txt, and benchstat compares them.
#
# Variables:
#   BENCH      benchmark regexp (default: the six hot-path benchmarks)
#   PKGS       packages holding them (default: ./api ./auth ./recommend ./sqlstore)
#   COUNT      rounds (default 6; benchstat wants 6+ for a confidence interval)
#   BENCHTIME  -benchtime per run (default: go test's, 1s)
#   OUT        where old.txt and new.txt go (default: a new directory under /tmp)
#
# A package or benchmark missing on one side (older commits) is left out
# there, and benchstat shows it in one column only; a package that does not
# build on one side is reported and left out on that side.
#
#   COUNT=10 scripts/benchcmp.sh HEAD~3
#   BENCH=BenchmarkImport100k PKGS=./sqlstore scripts/benchcmp.sh v1.2.0 HEAD
set -euo pipefail

BENCH=${BENCH:-'BenchmarkMovieListJSON|BenchmarkCacheHit|BenchmarkAuthenticate|BenchmarkRecommend$|BenchmarkSimilar$|BenchmarkImport100k'}
PKGS=${PKGS:-./api ./auth ./recommend ./sqlstore}
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-}
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

if (($# > 2)) || [[ ${1:-} == -h || ${1:-} == --help ]]; then
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
fi
if ! [[ $COUNT =~ ^[1-9][0-9]*$ ]]; then
	echo "benchcmp: COUNT=$COUNT: want a positive number" >&2
	exit 2
fi

root=$(git rev-parse --show-toplevel)
cd "$root"
old_ref=${1:-HEAD}
new_ref=${2:-}
old_sha=$(git rev-parse --verify --quiet "$old_ref^{commit}") || {
	echo "benchcmp: $old_ref is not a commit" >&2
	exit 2
}
if [[ -n $new_ref ]]; then
	new_sha=$(git rev-parse --verify --quiet "$new_ref^{commit}") || {
		echo "benchcmp: $new_ref is not a commit" >&2
		exit 2
	}
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/benchcmp.XXXXXX")
worktrees=()
cleanup() {
	local wt
	for wt in "${worktrees[@]}"; do
		git -C "$root" worktree remove --force "$wt" >/dev/null 2>&1 || true
	done
	rm -rf "$tmp"
	git -C "$root" worktree prune >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Tests find ml-latest-small at ../../shared/data beside the repository
# (recommend's benchmarks skip without it): the worktrees get the same
# neighbour.
if [[ -d $root/../shared ]]; then
	ln -s "$(cd "$root/../shared" && pwd)" "$tmp/shared"
fi

# checkout REF DIR: a detached worktree of REF at DIR.
checkout() {
	git -C "$root" worktree add --quiet --detach "$2" "$1"
	worktrees+=("$2")
}

old_tree=$tmp/old
checkout "$old_sha" "$old_tree"
if [[ -n $new_ref ]]; then
	new_tree=$tmp/new
	checkout "$new_sha" "$new_tree"
	new_label="$new_ref ($(git rev-parse --short "$new_sha"))"
else
	new_tree=$root
	new_label="working tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'))"
fi

# build SIDE TREE: compiles the test binary of each of PKGS found in TREE
# into $tmp/bin/SIDE, named after the package's directory.
build() {
	local side=$1 tree=$2 pkg name
	mkdir -p "$tmp/bin/$side"
	for pkg in $PKGS; do
		name=${pkg#./}
		name=${name//\//_}
		if [[ ! -d $tree/$pkg ]]; then
			echo "benchcmp: $side: no package $pkg, left out" >&2
			continue
		fi
		if ! (cd "$tree" && go test -c -o "$tmp/bin/$side/$name.test" "$pkg") >"$tmp/build.log" 2>&1; then
			echo "benchcmp: $side: $pkg does not build, left out:" >&2
			sed 's/^/    /' "$tmp/build.log" >&2
			rm -f "$tmp/bin/$side/$name.test"
		fi
	done
}

# run SIDE TREE FILE: one run of every benchmark of SIDE, appended to FILE.
# Each binary runs in its package's directory, as go test runs it.
run() {
	local side=$1 tree=$2 file=$3 pkg name bin args
	args=(-test.run '^$' -test.bench "$BENCH" -test.benchmem -test.count 1)
	if [[ -n $BENCHTIME ]]; then
		args+=(-test.benchtime "$BENCHTIME")
	fi
	for pkg in $PKGS; do
		name=${pkg#./}
		name=${name//\//_}
		bin=$tmp/bin/$side/$name.test
		[[ -x $bin ]] || continue # missing, or no test files
		if ! (cd "$tree/$pkg" && "$bin" "${args[@]}") >>"$file" 2>&1; then
			echo "benchcmp: $side: $pkg failed (see $file)" >&2
		fi
	done
}

OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/benchcmp-out.XXXXXX")}
mkdir -p "$OUT"
: >"$OUT/old.txt"
: >"$OUT/new.txt"

echo "old: $old_ref ($(git rev-parse --short "$old_sha"))" >&2
echo "new: $new_label" >&2
echo "benchmarks: $BENCH in $PKGS, $COUNT rounds${BENCHTIME:+, -benchtime $BENCHTIME}" >&2
build old "$old_tree"
build new "$new_tree"
for ((i = 1; i <= COUNT; i++)); do
	echo "benchcmp: round $i of $COUNT" >&2
	if ((i % 2)); then
		run old "$old_tree" "$OUT/old.txt"
		run new "$new_tree" "$OUT/new.txt"
	else
		run new "$new_tree" "$OUT/new.txt"
		run old "$old_tree" "$OUT/old.txt"
	fi
done

echo "results: $OUT/old.txt $OUT/new.txt" >&2
# Outside the module, so that its go.mod is neither read nor changed.
cd "$OUT"
go run "$BENCHSTAT" old.txt new.txt
