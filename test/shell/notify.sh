#!/usr/bin/env bash
# Security events raise NOTIFY mtmcp_security with {"tenant","event_id","kind"};
# ordinary events do not.  Loads the regression fixture (test/fixtures/base.sql
# up to the tools stage, which has a tool no plan includes) into the given
# database -- it is reset -- and listens there.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DB=${1:-contrib_regression}
psql -X -q -v ON_ERROR_STOP=1 -v fixture_after=tools -d "$DB" -f "$REPO/test/fixtures/base.sql"
out=$(psql -X -q -d "$DB" -v ON_ERROR_STOP=1 <<'SQL' 2>&1
LISTEN mtmcp_security;
SELECT mtmcp.mcp_dispatch(tok('acme'), '{"jsonrpc":"2.0","id":1,"method":"ping"}') IS NOT NULL AS ordinary;
SELECT mtmcp.mcp_dispatch(tok('acme'), '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"cohort_analysis"}}', 'notify-test') IS NOT NULL AS hidden_tool;
SELECT mtmcp.mcp_dispatch('garbage', '{"jsonrpc":"2.0","id":3,"method":"ping"}', 'notify-test') IS NOT NULL AS bad_token;
SELECT 'event ' || event_id FROM mtmcp.audit_log WHERE session_id = 'notify-test';
SQL
)
echo "$out"
n=$(grep -c 'Asynchronous notification "mtmcp_security"' <<<"$out" || true)
[ "$n" = 2 ] || { echo "FAIL: expected 2 notifications, got $n"; exit 1; }
grep -q 'payload "{"tenant":"acme","event_id":"[0-9a-f-]*","kind":"tool_not_in_catalog"}"' <<<"$out" \
	|| { echo "FAIL: no hidden-tool notification for acme"; exit 1; }
grep -q 'payload "{"tenant":null,"event_id":"[0-9a-f-]*","kind":"malformed_token"}"' <<<"$out" \
	|| { echo "FAIL: no refusal notification without a tenant"; exit 1; }
ev=$(sed -n 's/^ *event \([0-9a-f-]*\)$/\1/p' <<<"$out")
grep -q "\"event_id\":\"$ev\"" <<<"$out" || { echo "FAIL: notification does not name audit event $ev"; exit 1; }
echo "notify: ok"
