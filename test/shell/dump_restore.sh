#!/usr/bin/env bash
# A DBA's pg_dump carries every tenant, key, tool, audit row and charge:
# load the regression application (test/fixtures/base.sql with every stage of
# app.sql) into the given database -- it is reset -- and give it traffic,
# charges and day partitions; dump it, restore it into a fresh one, and
# compare the row count of every table in the mtmcp and app schemas,
# partitions included.  Then prove the restored copy still serves tenants.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SRC=${1:-contrib_regression}
DST=mtmcp_restored
dir=$(mktemp -d)
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DST" >/dev/null 2>&1 || true' EXIT

counts() {
	psql -X -At -d "$1" -c "
		SELECT string_agg(format('%s=%s', c.oid::regclass, (xpath('/row/n/text()',
			query_to_xml(format('SELECT count(*) AS n FROM ONLY %s', c.oid::regclass), false, true, '')))[1]::text), E'\n'
			ORDER BY c.oid::regclass::text)
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname IN ('mtmcp', 'app') AND c.relkind = 'r'"
}

psql -X -q -v ON_ERROR_STOP=1 -v fixture_after=lifecycle -d "$SRC" -f "$REPO/test/fixtures/base.sql"
psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" >/dev/null <<'SQL'
SELECT call(tok('acme'), 'web_search', '{"q": "anvils"}');
SELECT call(tok('globex', scope => 'tools docs:write'), 'summarize', '{"chunks": [100, 20]}');
SELECT call(tok('globex'), 'get_document', '{"doc_id": 1}');
SELECT mtmcp.mcp_dispatch('not a token', '{"jsonrpc":"2.0","id":1,"method":"ping"}');
SELECT mtmcp.charge_background('globex', 'search.api', 5, 're-indexing documents');
CALL mtmcp.maintain_partitions(3);
SELECT mtmcp.mcp_http(tok('acme'), '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}', NULL);
SQL
pg_dump -d "$SRC" -Fc -f "$dir/dump"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DST" -c "CREATE DATABASE $DST"
pg_restore -d "$DST" --exit-on-error "$dir/dump"
counts "$SRC" >"$dir/before"
counts "$DST" >"$dir/after"
if ! diff -u "$dir/before" "$dir/after"; then
	echo "FAIL: row counts differ after restore"
	exit 1
fi
total=$(awk -F= '{s += $2} END {print s}' "$dir/before")
tables=$(wc -l <"$dir/before")
echo "restored $tables tables, $total rows, all counts equal"
# nothing of substance may be empty in the source: the test must have data to lose
for t in mtmcp.tenants mtmcp.signing_keys mtmcp.tools mtmcp.meters app.documents; do
	grep -q "^$t=[1-9]" "$dir/before" || { echo "FAIL: $t is empty in the source"; exit 1; }
done
a=$(psql -X -At -d "$SRC" -c "SELECT count(*) FROM mtmcp.audit_log")
c=$(psql -X -At -d "$SRC" -c "SELECT count(*) FROM mtmcp.cost_ledger")
[ "$a" -gt 0 ] && [ "$c" -gt 0 ] || { echo "FAIL: no audit or cost rows to carry"; exit 1; }
# the restored database still verifies tokens and confines tenants
r=$(psql -X -At -d "$DST" -c "SELECT result_text(call(tok('globex'), 'get_document', '{\"doc_id\": 1}'))")
grep -q 'Globex secret plans' <<<"$r" || { echo "FAIL: restored database does not serve globex: $r"; exit 1; }
# and can be written to: identity sequences came back with the rows
psql -X -q -v ON_ERROR_STOP=1 -d "$DST" -c "SELECT mtmcp.add_key('https://idp.test', 'after-restore', 'HS256', '\\x01'::bytea)" >/dev/null \
	|| { echo "FAIL: cannot add a key after restore"; exit 1; }
echo "dump/restore: ok"
