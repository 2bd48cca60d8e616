#!/usr/bin/env bash
# test/e2e/run.sh -- the end-to-end suite: mtmcp through the HTTP shim,
# driven by the official MCP TypeScript SDK clients -- 1.x over 2025-11-25
# sessions (sdk.test.mjs) and 2.x over stateless 2026-07-28 (sdk2.test.mjs),
# node --test -- and by the official MCP conformance suite
# (@modelcontextprotocol/conformance 0.2.0-alpha.12, through a header-adding
# proxy): every server scenario of 2025-11-25 and every one of 2026-07-28,
# each run at its own revision's wire (sessions, then stateless), with no
# expected failures.
#
# Needs a running scratch cluster with mtmcp preloaded and installed, and a
# built shim:
#
#   eval "$(scripts/cluster.sh env)"      # or let this script do it
#   test/e2e/run.sh
#
# What it does: npm ci (pinned by package-lock.json; node_modules is reused
# while the lockfile is unchanged), a fresh database ($MTMCP_E2E_DB, default
# mtmcp_e2e) with setup.sql, conformance_fixtures.sql, mrtr_fixtures.sql and
# the conformance tenant, a random HS256 secret, the shim and the proxy on free 127.0.0.1
# ports, the SDK tests, the conformance suite (with Node 22 from the npm
# package "node"; the system Node is left alone), and stops whatever it
# started.  The database is left behind for inspection (dropped and
# recreated by the next run).  Last line: "e2e: N passed, M failed".
#
# Environment:
#   MTMCP_HTTP          the shim binary (default build/mtmcp-http)
#   MTMCP_E2E_DB        database name (default mtmcp_e2e)
#   MTMCP_E2E_ROLE      the shim's login role (default mtmcp_e2e_shim)
#   MTMCP_E2E_ONLY      "sdk" or "conformance" to run one half only
#   MTMCP_E2E_SPECS     the conformance revisions (default "2025-11-25 2026-07-28")
#   MTMCP_E2E_SCENARIO  run only this conformance scenario (debugging)
#   MTMCP_E2E_PORTS     "SHIM PROXY": fixed HTTP ports instead of free ones
#   MTMCP_E2E_KEEP=1    keep the work directory (logs, conformance results)
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

SHIM=${MTMCP_HTTP:-$REPO/build/mtmcp-http}
DB=${MTMCP_E2E_DB:-mtmcp_e2e}
ROLE=${MTMCP_E2E_ROLE:-mtmcp_e2e_shim}
ONLY=${MTMCP_E2E_ONLY:-}
SCOPE=mcp:access			# the access scope every token must carry (mtmcp.access_scope: the
							# database enforces it, the shim reads it to advertise it)
CONFORMANCE_VERSION=0.2.0-alpha.12
SPECS=${MTMCP_E2E_SPECS:-2025-11-25 2026-07-28}

die() {
	echo "e2e: $*" >&2
	echo "e2e: 0 passed, 1 failed"
	exit 1
}

[ -n "${PGHOST:-}" ] || eval "$("$REPO/scripts/cluster.sh" env)"
command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"
[ -x "$SHIM" ] || die "no shim at $SHIM (build it first, or set MTMCP_HTTP)"
psql -X -Atq -d postgres -c 'SELECT 1' >/dev/null 2>&1 || die "no database server at PGHOST=$PGHOST PGPORT=${PGPORT:-}"

WORK=$(mktemp -d /tmp/mtmcp-e2e.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${MTMCP_E2E_KEEP:-}" = 1 ]; then
		echo "e2e: work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# npm packages, pinned by package-lock.json
# ---------------------------------------------------------------------------
stamp=$HERE/node_modules/.mtmcp-e2e-lock.sha256
want=$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	echo "e2e: npm ci"
	(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
	echo "$want" >"$stamp"
fi
NODE22=$HERE/node_modules/node/bin/node
[ -x "$NODE22" ] || NODE22=$(ls "$HERE"/node_modules/node/node_modules/node-*/bin/node 2>/dev/null | head -1)
[[ "$("$NODE22" --version 2>/dev/null)" == v22.* ]] || die "no Node 22 binary from the npm package \"node\" under $HERE/node_modules"
CONFORMANCE=$HERE/node_modules/@modelcontextprotocol/conformance/dist/index.js
[ "$(node -p "require('$HERE/node_modules/@modelcontextprotocol/conformance/package.json').version")" = "$CONFORMANCE_VERSION" ] ||
	die "@modelcontextprotocol/conformance is not $CONFORMANCE_VERSION"

# ---------------------------------------------------------------------------
# The database
# ---------------------------------------------------------------------------
SECRET_HEX=$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')
echo "e2e: database $DB"
psql -X -q -v ON_ERROR_STOP=1 -d postgres \
	-c "SET client_min_messages = warning" \
	-c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
	-c "CREATE DATABASE $DB" || die "could not create database $DB"
psql -X -q -v ON_ERROR_STOP=1 -v secret_hex="$SECRET_HEX" -v shim_role="$ROLE" -d "$DB" -f "$HERE/setup.sql" ||
	die "loading setup.sql failed"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$HERE/conformance_fixtures.sql" || die "loading conformance_fixtures.sql failed"
if [ -f "$HERE/mrtr_fixtures.sql" ]; then
	psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$HERE/mrtr_fixtures.sql" || die "loading mrtr_fixtures.sql failed"
fi
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" \
	-c "CALL mtmcp.create_tenant('conformance', 'conformance', 'MCP conformance suite', ARRAY['https://idp.e2e.mtmcp.test'])" \
	-c "ALTER DATABASE $DB SET mtmcp.access_scope = '$SCOPE'" || die "could not create the conformance tenant"

# ---------------------------------------------------------------------------
# The shim and the proxy, on free loopback ports
# ---------------------------------------------------------------------------
free_port() {
	node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}
# Waits until a started process accepts TCP connections on a port.
wait_port() {
	local pid=$1 port=$2 i
	for i in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

if [ -n "${MTMCP_E2E_PORTS:-}" ]; then
	read -r SP PP <<<"$MTMCP_E2E_PORTS"
else
	SP=$(free_port)
	PP=$(free_port)
	while [ "$PP" = "$SP" ]; do PP=$(free_port); done
fi
SHIM_URL=http://127.0.0.1:$SP/mcp
PROXY_URL=http://127.0.0.1:$PP/mcp

# Host and Origin as clients send them: the SDK tests talk to the shim
# directly, the conformance suite through the proxy (which passes Host and
# Origin through unchanged).
"$SHIM" \
	--listen "127.0.0.1:$SP" \
	--db "host=$PGHOST port=$PGPORT dbname=$DB user=$ROLE application_name=mtmcp-e2e" \
	--allowed-hosts "127.0.0.1:$SP,localhost:$SP,127.0.0.1:$PP,localhost:$PP" \
	--allowed-origins "http://127.0.0.1:$SP,http://localhost:$SP,http://127.0.0.1:$PP,http://localhost:$PP" \
	--resource-url "$SHIM_URL" \
	--authorization-servers https://idp.e2e.mtmcp.test \
	>"$WORK/shim.log" 2>&1 &
pids+=($!)
shim_pid=$!
if ! wait_port "$shim_pid" "$SP"; then
	cat "$WORK/shim.log" >&2
	die "the shim did not start"
fi
echo "e2e: shim on $SHIM_URL (pid $shim_pid)"

export MTMCP_E2E_SECRET_HEX=$SECRET_HEX MTMCP_E2E_REQUIRED_SCOPE=$SCOPE
PROXY_TOKEN=$(cd "$HERE" && node --input-type=module -e \
	"import { mintToken } from './lib.mjs'; console.log(mintToken({ tenant: 'conformance', sub: 'conformance-suite', ttl: 3600 }))") ||
	die "could not mint the conformance token"
MTMCP_PROXY_TOKEN=$PROXY_TOKEN node "$HERE/proxy.mjs" --target "http://127.0.0.1:$SP" --port "$PP" \
	>"$WORK/proxy.log" 2>&1 &
pids+=($!)
proxy_pid=$!
if ! wait_port "$proxy_pid" "$PP"; then
	cat "$WORK/proxy.log" >&2
	die "the proxy did not start"
fi
echo "e2e: proxy on $PROXY_URL (pid $proxy_pid)"

passed=0
failed=0
skipped=0
summary=()

# ---------------------------------------------------------------------------
# The SDK tests
# ---------------------------------------------------------------------------
if [ "$ONLY" != conformance ]; then
	echo
	echo "=== SDK client tests (node --test)"
	MTMCP_E2E_URL=$SHIM_URL MTMCP_E2E_PROXY_URL=$PROXY_URL node --test --test-timeout=60000 \
		--test-reporter=spec --test-reporter-destination=stdout \
		--test-reporter=tap --test-reporter-destination="$WORK/sdk.tap" \
		"$HERE"/sdk*.test.mjs "$HERE/proxy.test.mjs"
	rc=$?
	n() {
		local v
		v=$(sed -n "s/^# $1 \([0-9]*\)$/\1/p" "$WORK/sdk.tap" 2>/dev/null | tail -1)
		echo "${v:-0}"
	}
	sp=$(n pass)
	sf=$(($(n fail) + $(n cancelled)))
	ss=$(($(n skipped) + $(n todo)))
	if [ "$rc" -ne 0 ] && [ "$sf" -eq 0 ]; then sf=1; fi	# the runner itself failed
	passed=$((passed + sp))
	failed=$((failed + sf))
	skipped=$((skipped + ss))
	summary+=("sdk: $sp passed, $sf failed, $ss skipped")
fi

# ---------------------------------------------------------------------------
# The conformance suite, through the proxy
# ---------------------------------------------------------------------------
if [ "$ONLY" != sdk ]; then
	echo
	cp=0 cf=0
	for spec in $SPECS; do
		echo "=== MCP conformance suite $CONFORMANCE_VERSION: every server scenario of $spec, through the proxy"
		scenarios=${MTMCP_E2E_SCENARIO:-$("$NODE22" "$CONFORMANCE" list --server --spec-version "$spec" |
			sed -n 's/^  - \([^ ]*\) \[.*/\1/p')}
		out=$WORK/conformance-$spec
		rc=0
		for s in $scenarios; do
			(cd "$WORK" && timeout 180 "$NODE22" "$CONFORMANCE" server --url "$PROXY_URL" --scenario "$s" \
				--spec-version "$spec" -o "$out") >>"$WORK/conformance-$spec.log" 2>&1 || rc=$?
		done
		"$NODE22" "$HERE/conformance-summary.mjs" "$out" "$spec" $scenarios | tee "$WORK/conformance-summary-$spec.txt"
		line=$(tail -1 "$WORK/conformance-summary-$spec.txt")
		p=$(sed -n 's/^conformance [^:]*: \([0-9]*\) passed.*/\1/p' <<<"$line")
		f=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$line")
		p=${p:-0} f=${f:-1}
		# The suite's own verdict must agree.
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "e2e: the conformance suite exited $rc for $spec; its log:"
			tail -50 "$WORK/conformance-$spec.log"
			f=1
		fi
		cp=$((cp + p))
		cf=$((cf + f))
		summary+=("conformance $spec: $p scenarios passed, $f failed")
		echo
	done
	passed=$((passed + cp))
	failed=$((failed + cf))
fi

kill -0 "$shim_pid" 2>/dev/null || { echo "e2e: the shim died during the run"; failed=$((failed + 1)); }
if [ "$failed" -gt 0 ]; then
	echo
	echo "--- last lines of the shim's log"
	tail -40 "$WORK/shim.log"
fi

echo
for s in "${summary[@]}"; do echo "$s"; done
if [ "$skipped" -gt 0 ]; then
	echo "e2e: $passed passed, $failed failed, $skipped skipped"
else
	echo "e2e: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
