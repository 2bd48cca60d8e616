#!/usr/bin/env bash
# Security events raise NOTIFY mtmcp_security with
# {"tenant","event_id","table","kind"}; ordinary events do not.  Every
# notification names a real row of its table, which is how a consumer tells
# mtmcp's alerts from a NOTIFY anyone could send.  Loads the regression
# fixture (test/fixtures/base.sql up to the tools stage, which has a tool no
# plan includes) into the given database -- it is reset -- and listens there.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DB=${1:-contrib_regression}
psql -X -q -v ON_ERROR_STOP=1 -v fixture_after=tools -d "$DB" -f "$REPO/test/fixtures/base.sql"
out=$(psql -X -q -d "$DB" -v ON_ERROR_STOP=1 <<'SQL' 2>&1
LISTEN mtmcp_security;
SELECT mtmcp.mcp_dispatch(tok('acme'), '{"jsonrpc":"2.0","id":1,"method":"ping"}') IS NOT NULL AS ordinary;
SELECT mtmcp.mcp_dispatch(tok('acme'), '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"cohort_analysis"}}', 'notify-test') IS NOT NULL AS hidden_tool;
SELECT mtmcp.mcp_dispatch('garbage', '{"jsonrpc":"2.0","id":3,"method":"ping"}', 'notify-test') IS NOT NULL AS bad_token;
SELECT mtmcp.mcp_dispatch(tok('acme', secret => '\x0102'::bytea), '{"jsonrpc":"2.0","id":4,"method":"ping"}', 'notify-forged') IS NOT NULL AS forged;
-- a prompt-injection block: another tenant's resource in tool arguments
SELECT mtmcp.mcp_dispatch(tok('acme'), '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"search_documents","arguments":{"query":"kb://tenants/globex/documents/1"}}}') IS NOT NULL AS injection;
-- a forgery: anyone may NOTIFY any channel
NOTIFY mtmcp_security, '{"tenant":"acme","event_id":"00000000-0000-4000-8000-000000000000","table":"mtmcp.audit_log","kind":"tool_not_in_catalog"}';
SELECT 'event ' || event_id FROM mtmcp.audit_log WHERE session_id = 'notify-test';
SQL
)
echo "$out"
n=$(grep -c 'Asynchronous notification "mtmcp_security"' <<<"$out" || true)
[ "$n" = 5 ] || { echo "FAIL: expected 5 notifications (4 real, 1 forged), got $n"; exit 1; }
grep -q 'payload "{"tenant":"acme","event_id":"[0-9a-f-]*","table":"mtmcp.audit_log","kind":"tool_not_in_catalog"}"' <<<"$out" \
	|| { echo "FAIL: no hidden-tool notification for acme"; exit 1; }
grep -q 'payload "{"tenant":"acme","event_id":"[0-9a-f-]*","table":"mtmcp.audit_log","kind":"injection_blocked"}"' <<<"$out" \
	|| { echo "FAIL: no prompt-injection notification for acme"; exit 1; }
grep -q 'payload "{"tenant":null,"event_id":"[0-9a-f-]*","table":"mtmcp.auth_failures","kind":"malformed_token"}"' <<<"$out" \
	|| { echo "FAIL: no refusal notification without a tenant"; exit 1; }
grep -q 'payload "{"tenant":null,"event_id":"[0-9a-f-]*","table":"mtmcp.auth_failures","kind":"invalid_signature"}"' <<<"$out" \
	|| { echo "FAIL: no notification for the forged token against acme"; exit 1; }
ev=$(sed -n 's/^ *event \([0-9a-f-]*\)$/\1/p' <<<"$out")
grep -q "\"event_id\":\"$ev\"" <<<"$out" || { echo "FAIL: notification does not name audit event $ev"; exit 1; }

# The consumer's check, mtmcp.verify_security_notification(payload): the
# payload names a committed row of its table, with the same tenant and kind.
# The four real alerts pass, the forgery does not.
real=0 forged=0
while IFS= read -r payload; do
	ok=$(psql -X -Atq -d "$DB" -v ON_ERROR_STOP=1 -v p="$payload" <<'SQL'
SELECT mtmcp.verify_security_notification(:'p');
SQL
)
	if [ "$ok" = t ]; then real=$((real + 1)); else forged=$((forged + 1)); fi
done < <(sed -n 's/^Asynchronous notification "mtmcp_security" with payload "\(.*\)" received from server process.*/\1/p' <<<"$out")
[ "$real" = 4 ] && [ "$forged" = 1 ] \
	|| { echo "FAIL: expected 4 notifications naming their row and 1 naming none, got $real and $forged"; exit 1; }
# and the row is really there, by its event_id alone
id=$(sed -n 's/.*"event_id":"\([0-9a-f-]*\)","table":"mtmcp.auth_failures","kind":"invalid_signature".*/\1/p' <<<"$out")
[ "$(psql -X -Atq -d "$DB" -c "SELECT severity FROM mtmcp.auth_failures WHERE event_id = '$id'")" = security ] \
	|| { echo "FAIL: the forged-token alert does not name a security row"; exit 1; }
echo "notify: ok"
