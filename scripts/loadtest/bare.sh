#!/usr/bin/env bash
# bare.sh: movierec's warm gzip list page vs. a bare net/http server serving
# the same bytes (bare/main.go), interleaved wrk runs; prints both and the
# ratio. The same as MODE=bare mixed.sh; takes the same flags and variables.
#
#   DURATION=15s scripts/loadtest/bare.sh
exec env MODE=bare "$(dirname "${BASH_SOURCE[0]}")/mixed.sh" "$@"
