#!/usr/bin/env bash
# test/shim/smoke_demo.sh -- the HTTP smoke test against the real extension:
# a fresh database (default shim_smoke_demo) loaded from demo/demo.sql with a
# random HS256 secret, tokens minted for acme (active) and initech
# (suspended), then test/shim/http_smoke.sh.  The shim logs in as the demo's
# mtmcp_shim role.
#
# Needs a running cluster with mtmcp preloaded and installed (PG* from
# scripts/cluster.sh env if PGHOST is unset) and a built shim (make shim).
# Extra environment is passed on to http_smoke.sh (SHIM_VALGRIND=1, SHIM_BIN).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
DB=${SHIM_SMOKE_DB:-shim_smoke_demo}
[ -n "${PGHOST:-}" ] || eval "$("$REPO/scripts/cluster.sh" env)"

SECRET=$(openssl rand -hex 32)
psql -X -q -v ON_ERROR_STOP=1 -d postgres \
	-c "SET client_min_messages = warning" \
	-c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
	-c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -v secret_hex="$SECRET" -d "$DB" -f "$REPO/demo/demo.sql" >/dev/null

SHIM_DB=$DB SHIM_DB_USER=mtmcp_shim SHIM_DB_SCOPE=documents \
	SHIM_TOKEN=$("$REPO/scripts/mint-token.sh" -k "$SECRET" -t acme -l 600) \
	SHIM_SUSPENDED_TOKEN=$("$REPO/scripts/mint-token.sh" -k "$SECRET" -t initech -l 600) \
	exec "$REPO/test/shim/http_smoke.sh"
