#!/usr/bin/env bash
# make test: build, install, start a scratch cluster, run every suite, stop.
# Exits non-zero when any suite fails; prints pg_regress diffs on failure.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
# a cluster of its own: the make-run demo (.scratch, port 55432) is left alone
export MTMCP_SCRATCH=${MTMCP_SCRATCH:-$REPO/.scratch/test}
export MTMCP_PGPORT=${MTMCP_TEST_PGPORT:-55433}
# a throwaway cluster: it may trade durability for speed (make run's may not)
export MTMCP_CLUSTER_FAST=1

passed=0
failed=0
failed_names=()
suite() {
	local name=$1
	shift
	echo
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: ok"
	else
		failed=$((failed + 1))
		failed_names+=("$name")
		echo "=== $name: FAILED"
	fi
}

set -e
make -s PG_CFLAGS="-Werror" >/dev/null
make -s install >/dev/null
make -s shim SHIM_CFLAGS="-O2 -g -Wall -Wextra -Werror" >/dev/null
scripts/cluster.sh fresh
trap 'scripts/cluster.sh stop' EXIT
eval "$(scripts/cluster.sh env)"
set +e

regress() {
	rm -f regression.diffs
	if ! make -s installcheck; then
		[ -f regression.diffs ] && cat regression.diffs
		return 1
	fi
}

suite "install script assembled from its sections" make -s check-sql
suite "jwt unit tests" make -s check-jwt
suite "jwt fuzz corpus replay" make -s fuzz-replay
suite "injection detector unit tests" make -s check-detect
suite "injection detector fuzz corpus replay" make -s fuzz-replay-detect
suite "pg_regress" regress
suite "pg_regress: each file alone" test/regress_each.sh
# shell-level checks against the database pg_regress left behind
for t in test/shell/*.sh; do
	suite "shell: $(basename "$t" .sh)" "$t" contrib_regression
done
suite "shim: HTTP smoke test (mock contract, then the demo)" make -s shim-check
suite "shim: database restart, pinned connections" test/shim/restart.sh
suite "shim: connection limits, 413, disconnects, fair queue" test/shim/robustness.sh
suite "shim: PgBouncer in transaction mode" test/shim/pgbouncer.sh
suite "scratch: make test then make run, durable by default" test/shim/scratch.sh
suite "e2e: MCP SDK client and conformance suite through mtmcp-http" test/e2e/run.sh
# three clusters of its own (ports 25600-25602, .scratch/scaleout) and the shim on 18600
suite "scale-out: a router and two shards on PL/Proxy, an online move under load, a shard down" test/scaleout/run.sh
suite "preload required" scripts/check_preload.sh

echo
if [ "$failed" -gt 0 ]; then
	echo "failed suites: ${failed_names[*]}"
fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
