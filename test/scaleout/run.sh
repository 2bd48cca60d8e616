#!/usr/bin/env bash
# test/scaleout/run.sh -- scale-out on PL/Proxy, for real: a router and two
# shard clusters (each its own cluster, as the postgres user, own port),
# the unchanged shim in front of the router.
#
#   1. set-up as the README says: shards, enable_router, add_shard, shared
#      configuration through mtmcp.admin_all, placement, tenants through
#      mtmcp.admin_tenant; config_drift shows none, then shows one planted;
#   2. tenants on both shards served through the shim; unknown, unplaced,
#      suspended tenants and bad tokens answered at the router; a shard
#      verifies the token again (a tenant it does not hold is refused there);
#   3. export -> import round trip onto another database, and its refusals;
#   4. a tenant moved while a client drives write calls at it through the
#      shim: every call answered successfully before, during and after has
#      exactly one audit row and one note, on the shard that now holds it;
#      calls answered retryable (503) ran nowhere; nothing of the tenant is
#      left on the source; the move's progress was visible from another
#      session; a move that cannot proceed leaves the tenant where it was;
#   5. a shard stopped: its tenant gets a retryable 503, the others keep
#      working; started again, it serves again.
#
# Needs a private installation with mtmcp and plproxy (MTMCP_PGBIN, as make
# test and scripts/private-pg.sh set it, else the system's) and build/mtmcp-http.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SHIM=${SHIM_BIN:-$REPO/build/mtmcp-http}
BASE=${MTMCP_SCALEOUT_SCRATCH:-$REPO/.scratch/scaleout}
# below the kernel's ephemeral port range (32768-60999): by the time this suite runs, the
# suites before it have made thousands of client connections, one of which may hold 556xx
P0=${MTMCP_SCALEOUT_PORT:-25600}
PR=$P0 PA=$((P0 + 1)) PB=$((P0 + 2))
HTTP=${MTMCP_SCALEOUT_HTTP_PORT:-18600}
DB=mtmcp
T=$(mktemp -d)
chmod 755 "$T"
pids=()
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
nok() { failed=$((failed + 1)); echo "FAIL - $1${2:+ ($2)}"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "got '$2', want '$3'"; fi; }

cl() {	# cl NAME PORT start|stop|fresh
	MTMCP_SCRATCH=$BASE/$1 MTMCP_PGPORT=$2 MTMCP_PGCONF="wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_logical_replication_workers = 6
max_sync_workers_per_subscription = 2" "$REPO/scripts/cluster.sh" "$3"
}
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	cl router "$PR" stop; cl a "$PA" stop; cl b "$PB" stop
	rm -rf "$T"
}
trap cleanup EXIT

# the relayed NOTICEs of set-up and moves are not the test's output
export PGOPTIONS="-c client_min_messages=warning"
q() {	# q PORT SQL -> unaligned, tuples only
	local port=$1
	shift
	psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$DB" -c "$@"
}
R() { q "$PR" "$@"; }

echo "# clusters: router $PR, shard a $PA, shard b $PB; shim on $HTTP"
for c in "router $PR" "a $PA" "b $PB"; do
	set -- $c
	cl "$1" "$2" fresh || { echo "cluster $1 did not start"; exit 1; }
	psql -X -q -h 127.0.0.1 -p "$2" -U postgres -d postgres -c "CREATE DATABASE $DB" || exit 1
	q "$2" "CREATE EXTENSION mtmcp" || exit 1
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$2" -U postgres -d "$DB" -f "$REPO/test/scaleout/app.sql" >/dev/null || exit 1
done

# --- 1. the router, its shards, shared configuration, placement -------------
secret=$(openssl rand -hex 32)
conn() { echo "host=127.0.0.1 port=$1 dbname=$DB user=postgres connect_timeout=2"; }
R "CREATE EXTENSION plproxy; SELECT mtmcp.enable_router('postgres')" >/dev/null || exit 1
R "SELECT mtmcp.add_shard('a', '$(conn "$PA")'); SELECT mtmcp.add_shard('b', '$(conn "$PB")')" >/dev/null || exit 1
check "mtmcp.router is on in the router database (new sessions)" "$(R "SHOW mtmcp.router")" "on"
R "SELECT count(*) FILTER (WHERE NOT ok) FROM mtmcp.admin_all(\$\$
	SELECT mtmcp.create_plan('pro', ARRAY['documents', 'notes']);
	SELECT mtmcp.add_issuer('https://idp.scale.test', 'mtmcp-scale');
	SELECT mtmcp.add_key('https://idp.scale.test', NULL, 'HS256', decode('$secret', 'hex'));
	SELECT mtmcp.register_tool('search_documents', 'Your documents.', '{\"type\":\"object\"}', 'app.search_documents(jsonb)', required_feature => 'documents');
	SELECT mtmcp.register_tool('two_steps', 'Reports progress.', '{\"type\":\"object\"}', 'app.two_steps(jsonb)', required_feature => 'documents');
	SELECT mtmcp.register_tool('add_note', 'Adds a note.', '{\"type\":\"object\",\"properties\":{\"request\":{\"type\":\"string\"}},\"required\":[\"request\"]}', 'app.add_note(jsonb)', required_feature => 'notes')
\$\$)" >"$T/admin" 2>&1
check "admin_all applies issuers, keys, plans and tools on the router and both shards" "$(cat "$T/admin")" "0"

create() {	# create TENANT [SHARD]: place, then create it on the router and its shard
	local sh=NULL
	[ -n "${2:-}" ] && sh="'$2'"
	R "SELECT mtmcp.place_tenant('$1', $sh)" &&
	R "SELECT count(*) FILTER (WHERE NOT ok) FROM mtmcp.admin_tenant('$1', \$\$CALL mtmcp.create_tenant('$1', 'pro', trusted_issuers => ARRAY['https://idp.scale.test'])\$\$)"
}
check "place_tenant acme on a, created on the router and a" "$(create acme a | tr '\n' ' ')" "a 0 "
q "$PA" "INSERT INTO app.documents SELECT 'acme', g, 'acme doc ' || g, repeat('x', 200) FROM generate_series(1, 300) g"
check "place_tenant with no shard picks the least loaded (b: a holds acme's rows)" "$(create globex | tr '\n' ' ')" "b 0 "
q "$PB" "INSERT INTO app.documents SELECT 'globex', g, 'globex doc ' || g, 'y' FROM generate_series(1, 5) g"
create hooli a >/dev/null
q "$PA" "INSERT INTO app.documents VALUES ('hooli', 1, 'hooli doc', 'z')"
create initech b >/dev/null
R "SELECT count(*) FILTER (WHERE NOT ok) FROM mtmcp.admin_tenant('initech', \$\$CALL mtmcp.suspend_tenant('initech', 'test')\$\$)" >/dev/null
# a tenant the router knows but never placed
R "CALL mtmcp.create_tenant('unplaced', 'pro', trusted_issuers => ARRAY['https://idp.scale.test'])"
check "shard_tenants: tenants per shard with row counts (documents, tenant row, issuer trust)" \
	"$(R "SELECT string_agg(shard || ':' || tenant_id || ':' || row_count, ' ' ORDER BY shard, tenant_id) FROM mtmcp.shard_tenants")" \
	"a:acme:302 a:hooli:3 b:globex:7 b:initech:2"
check "config_drift: none after admin_all" "$(R "SELECT count(*) FILTER (WHERE drift) || ' of ' || count(*) FROM mtmcp.config_drift()")" "0 of 22"
q "$PB" "SELECT mtmcp.update_plan('pro', ARRAY['documents'])" >/dev/null
check "config_drift: a plan changed on b alone is reported" \
	"$(R "SELECT string_agg(shard || ' ' || table_name, ', ') FROM mtmcp.config_drift() WHERE drift")" "b mtmcp.plans"
q "$PB" "SELECT mtmcp.update_plan('pro', ARRAY['documents', 'notes'])" >/dev/null
check "config_drift: none once b is put back" "$(R "SELECT count(*) FROM mtmcp.config_drift() WHERE drift")" "0"

# --- 2. served through the shim ---------------------------------------------
"$SHIM" --db "host=127.0.0.1 port=$PR dbname=$DB user=mtmcp_shim" --listen "127.0.0.1:$HTTP" --pool 4 >"$T/shim.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$HTTP/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
URL=http://127.0.0.1:$HTTP/mcp
tok() { "$REPO/scripts/mint-token.sh" -k "$secret" -t "$1" -i https://idp.scale.test -a mtmcp-scale -l 900; }
init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"scaleout","version":"1"}}}'
session() {	# session TOKEN -> session id
	curl -sS -D - -o /dev/null "$URL" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' -d "$init" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p'
}
call() {	# call TOKEN SESSION BODY OUTFILE -> HTTP status
	curl -sS --max-time 20 -o "$4" -w '%{http_code}' "$URL" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' -H "Mcp-Session-Id: $2" -H 'MCP-Protocol-Version: 2025-11-25' -d "$3" 2>/dev/null
}
search='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_documents","arguments":{}}}'
ACME=$(tok acme) GLOBEX=$(tok globex) HOOLI=$(tok hooli)
SA=$(session "$ACME") SG=$(session "$GLOBEX") SH=$(session "$HOOLI")
[ -n "$SA" ] && [ -n "$SG" ] && [ -n "$SH" ] && ok "initialize through the router opens sessions (on each tenant's shard)" \
	|| nok "initialize through the router opens sessions" "acme '$SA' globex '$SG' hooli '$SH'"
check "the session rows are on the tenants' shards, none on the router" \
	"$(q "$PA" "SELECT count(*) FROM mtmcp.sessions")/$(q "$PB" "SELECT count(*) FROM mtmcp.sessions")/$(R "SELECT count(*) FROM mtmcp.sessions")" "2/1/0"
st=$(call "$ACME" "$SA" "$search" "$T/b")
check "acme (shard a) through the shim: 200 with its 300 documents" "$st $(grep -o '"doc_id' "$T/b" | wc -l)" "200 300"
st=$(call "$GLOBEX" "$SG" "$search" "$T/b")
check "globex (shard b) through the shim: 200 with its 5 documents, none of acme's" \
	"$st $(grep -o '"doc_id' "$T/b" | wc -l) $(grep -c acme "$T/b")" "200 5 0"
st=$(call "$GLOBEX" "$SG" '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"two_steps","arguments":{},"_meta":{"progressToken":"p7"}}}' "$T/b")
check "live progress notifications from shard b reach the client through the router (SSE)" \
	"$st $(grep -c 'notifications/progress' "$T/b") $(grep -c 'step two of two' "$T/b") $(grep -c 'done' "$T/b")" "200 2 1 1"
check "the relayed notices stayed out of the router's log" "$(grep -c 'REMOTE NOTICE' "$BASE/router/postgres.log")" "0"
check "the five-argument mcp_http (with the request's MCP headers) is forwarded too" \
	"$(R "SELECT http_status || ' ' || (response ? 'result') FROM mtmcp.mcp_http('$GLOBEX', '{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}', '$SG', NULL, '{\"mcp-protocol-version\": \"2025-11-25\"}')")" "200 true"
st=$(call "$GLOBEX" "$SA" "$search" "$T/b")
check "acme's session id with globex's token: 404, as on one database" "$st" "404"
st=$(call "$(tok initech)" "x" "$search" "$T/b")
check "suspended tenant answered at the router (403 tenant_suspended)" "$st $(grep -o tenant_suspended "$T/b")" "403 tenant_suspended"
st=$(call "$(tok unplaced)" "x" "$search" "$T/b")
check "a tenant the directory does not place: 403 unknown_tenant" "$st $(grep -o unknown_tenant "$T/b")" "403 unknown_tenant"
st=$(call "$(tok nobody)" "x" "$search" "$T/b")
check "an unknown tenant: 403 at the router" "$st $(grep -o unknown_tenant "$T/b")" "403 unknown_tenant"
# the signature's last character changed (to one it is not: 1 in 16 signatures end in "A")
bad_sig=${ACME%?}$([ "${ACME: -1}" = A ] && echo E || echo A)
st=$(call "$bad_sig" "$SA" "$search" "$T/b")
check "a token with a bad signature: 401 at the router" "$st" "401"
check "the router wrote no audit row and holds no tenant data" \
	"$(R "SELECT (SELECT count(*) FROM mtmcp.audit_log) + (SELECT count(*) FROM app.documents) + (SELECT count(*) FROM app.notes)")" "0"
check "a shard verifies again: globex's token sent straight to shard a is refused there" \
	"$(q "$PA" "SELECT mtmcp.mcp_dispatch('$GLOBEX', '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}') #>> '{error,data,reason}'")" "unknown_tenant"

# --- 3. export -> import ------------------------------------------------------
psql -X -q -h 127.0.0.1 -p "$PB" -U postgres -d postgres -c "CREATE DATABASE imported" || true
psql -X -q -h 127.0.0.1 -p "$PB" -U postgres -d imported -c "CREATE EXTENSION mtmcp" -f "$REPO/test/scaleout/app.sql" >/dev/null
q "$PA" "SELECT mtmcp.export_tenant('acme')" >"$T/acme.json"
qi() { psql -X -q -At -h 127.0.0.1 -p "$PB" -U postgres -d imported -c "$@"; }
qi "SELECT mtmcp.import_tenant(\$\$$(cat "$T/acme.json")\$\$)" >"$T/imp" 2>&1
grep -q 'plan "pro" does not exist' "$T/imp" && ok "import refuses an archive whose plan is missing here" || nok "import refuses a missing plan" "$(cat "$T/imp")"
qi "SELECT mtmcp.create_plan('pro', ARRAY['documents', 'notes']); SELECT mtmcp.add_issuer('https://idp.scale.test', 'mtmcp-scale')" >/dev/null
check "import_tenant loads the archive" "$(qi "SELECT mtmcp.import_tenant(\$\$$(cat "$T/acme.json")\$\$)" 2>&1)" "acme"
check "the import equals the source: counts and content hashes per table" \
	"$(qi "SELECT md5(string_agg(table_name || row_count || content_hash, ',' ORDER BY table_name)) FROM mtmcp.tenant_table_hashes('acme') WHERE table_name NOT IN ('mtmcp.sessions')")" \
	"$(q "$PA" "SELECT md5(string_agg(table_name || row_count || content_hash, ',' ORDER BY table_name)) FROM mtmcp.tenant_table_hashes('acme') WHERE table_name NOT IN ('mtmcp.sessions')")"
qi "SELECT mtmcp.import_tenant(\$\$$(cat "$T/acme.json")\$\$)" >"$T/imp" 2>&1
grep -q 'already exists' "$T/imp" && ok "import refuses a tenant id that exists" || nok "import refuses an existing id" "$(cat "$T/imp")"
sed 's/"app.documents"/"app.secrets"/; s/"acme"/"acme2"/g' "$T/acme.json" >"$T/bad.json"
qi "SELECT mtmcp.import_tenant(\$\$$(cat "$T/bad.json")\$\$)" >"$T/imp" 2>&1
grep -q 'not a registered tenant table' "$T/imp" && ok "import refuses a table that is not registered" || nok "import refuses unregistered tables" "$(cat "$T/imp")"
python3 - "$T/acme.json" "$T/mixed.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
a["tenant_id"] = "acme3"
a["sections"]["tenant"]["mtmcp.tenants"][0]["tenant_id"] = "acme3"   # data rows still say acme
json.dump(a, open(sys.argv[2], "w"))
PY
qi "SELECT mtmcp.import_tenant(\$\$$(cat "$T/mixed.json")\$\$)" >"$T/imp" 2>&1
grep -q 'row of another tenant' "$T/imp" && ok "import refuses rows of another tenant" || nok "import refuses foreign rows" "$(cat "$T/imp")"

# --- 4. an online move under load ----------------------------------------------
# the client: write calls for acme through the shim, each with its own id; a
# 503 is retried after its Retry-After with a new id.  Every answer is logged.
load() {
	local n=0 st
	while [ ! -e "$T/stop" ] && [ "$n" -lt 3000 ]; do
		n=$((n + 1))
		st=$(call "$ACME" "$SA" "{\"jsonrpc\":\"2.0\",\"id\":\"r$n\",\"method\":\"tools/call\",\"params\":{\"name\":\"add_note\",\"arguments\":{\"request\":\"r$n\"}}}" "$T/l$n")
		if [ "$st" = 200 ] && grep -q 'note_id' "$T/l$n" && ! grep -q '"isError": *true' "$T/l$n"; then
			echo "r$n ok" >>"$T/calls"
			date +%s.%N >>"$T/okts"
		else
			echo "r$n $st $(head -c 300 "$T/l$n" | tr '\n' ' ')" >>"$T/calls"
			[ "$st" = 503 ] && sleep 0.2
		fi
		rm -f "$T/l$n"
	done
}
touch "$T/calls"
load &
loader=$!
pids+=("$loader")
sleep 2
# a DBA watching from another session
( while [ ! -e "$T/stop" ]; do R "SELECT phase || '|' || coalesce(table_name, '') || '|' || coalesce(rows_done::text, '') || '/' || coalesce(rows_total::text, '') FROM mtmcp.operation_progress WHERE operation = 'move'" >>"$T/progress" 2>/dev/null; sleep 0.05; done ) &
pids+=($!)
before=$(grep -c ' ok$' "$T/calls")
t0=$(date +%s.%N)
R "CALL mtmcp.move_tenant('acme', 'b')" >"$T/move" 2>&1
mst=$?
t1=$(date +%s.%N)
sleep 2
touch "$T/stop"
wait "$loader"
total=$(wc -l <"$T/calls")
good=$(grep -c ' ok$' "$T/calls")
retry=$(grep -c ' 503 ' "$T/calls")
other=$((total - good - retry))
echo "# move took $(python3 -c "print(round($t1 - $t0, 2))") s; calls: $total ($before ok before the move), $good ok, $retry answered 503 (retryable), $other other"
[ "$mst" = 0 ] && ok "CALL mtmcp.move_tenant('acme', 'b') completes under load" || nok "move_tenant completes" "$(cat "$T/move")"
check "every call was answered 200 or a retryable 503 (nothing else)" "$other" "0"
[ "$other" = 0 ] || grep -v -e ' ok$' -e ' 503 ' "$T/calls" | head -3
during=$(awk -v a="$t0" -v b="$t1" '$1 > a && $1 < b' "$T/okts" | wc -l)
after=$(awk -v b="$t1" '$1 > b' "$T/okts" | wc -l)
[ "$before" -gt 0 ] && [ "$during" -gt 0 ] && [ "$after" -gt 0 ] \
	&& ok "calls succeeded before ($before), during ($during) and after ($after) the move" \
	|| nok "calls succeed before, during and after the move" "$before / $during / $after"
grep ' 503 ' "$T/calls" | grep -qv 'tenant_moving' && nok "503s during the move say tenant_moving with retryAfter" "$(grep ' 503 ' "$T/calls" | grep -v tenant_moving | head -2)" \
	|| ok "503s during the move say tenant_moving with retryAfter ($retry of them)"
check "the directory places acme on b" "$(R "SELECT shard || ' ' || state FROM mtmcp.tenant_directory WHERE tenant_id = 'acme'")" "b active"
check "tenant_moves records the move as moved, verified, with the source's certificate" \
	"$(R "SELECT outcome || ' ' || jsonb_array_length(verification -> 'mismatches') || ' ' || (certificate ->> 'digest' IS NOT NULL) FROM mtmcp.tenant_moves WHERE tenant_id = 'acme'")" "moved 0 true"
grep -o "r[0-9]* ok" "$T/calls" | cut -d' ' -f1 | sort >"$T/ok_ids"
grep ' 503 ' "$T/calls" | cut -d' ' -f1 | sort >"$T/retry_ids"
q "$PB" "SELECT request_id FROM mtmcp.audit_log WHERE tenant_id = 'acme' AND method = 'tools/call' AND request_id LIKE 'r%'" | sort >"$T/audit_b"
q "$PB" "SELECT request FROM app.notes WHERE tenant_id = 'acme'" | sort >"$T/notes_b"
check "every successful call has exactly one audit row on b (the shard that holds acme)" \
	"$(comm -3 "$T/ok_ids" "$T/audit_b" | wc -l) $(uniq -d "$T/audit_b" | wc -l)" "0 0"
check "every successful call's note is on b exactly once; no retried call ran" \
	"$(comm -3 "$T/ok_ids" "$T/notes_b" | wc -l) $(uniq -d "$T/notes_b" | wc -l) $(comm -12 "$T/retry_ids" "$T/notes_b" | wc -l)" "0 0 0"
check "nothing of acme is left on a (every tenant table, mtmcp's own included)" "$(q "$PA" "SELECT mtmcp._tenant_rows_here('acme')")" "0"
check "a holds a purge certificate for the move, with no residual rows" \
	"$(q "$PA" "SELECT count(*) FROM mtmcp.move_certificates m WHERE m.tenant_id = 'acme' AND m.target = 'b' AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(m.residual) e WHERE e.value <> '0')")" "1"
check "no publication, slot or subscription is left behind" \
	"$(q "$PA" "SELECT (SELECT count(*) FROM pg_publication) + (SELECT count(*) FROM pg_replication_slots)")/$(q "$PB" "SELECT count(*) FROM pg_subscription")" "0/0"
check "replica identities restored on a" "$(q "$PA" "SELECT count(*) FROM pg_class WHERE relreplident = 'f'")" "0"
grep -q '^copy|[^|]*|[0-9]*/[0-9]' "$T/progress" \
	&& ok "the move's progress (phase, table, rows done/total) was visible from another session: $(cut -d'|' -f1 "$T/progress" | uniq | tr '\n' ' ')" \
	|| nok "progress visible from another session" "$(sort -u "$T/progress" | head -5 | tr '\n' ' ')"
st=$(call "$ACME" "$SA" "$search" "$T/b")
check "after the move, acme's session and documents are served from b" "$st $(grep -o '"doc_id' "$T/b" | wc -l)" "200 300"
# a move that cannot proceed: b already holds a row of hooli's
q "$PB" "INSERT INTO app.documents VALUES ('hooli', 99, 'stray', 's')"
R "CALL mtmcp.move_tenant('hooli', 'b')" >"$T/move2" 2>&1
grep -q 'already holds 1 rows' "$T/move2" && ok "a move that cannot proceed says why" || nok "a failed move says why" "$(cat "$T/move2")"
check "... and hooli stays served from a" "$(R "SELECT shard || ' ' || state FROM mtmcp.tenant_directory WHERE tenant_id = 'hooli'") $(call "$HOOLI" "$SH" "$search" "$T/b")" "a active 200"
q "$PB" "DELETE FROM app.documents WHERE tenant_id = 'hooli'"

# --- 5. a shard stopped --------------------------------------------------------
cl a "$PA" stop
st=$(call "$HOOLI" "$SH" "$search" "$T/b")
check "shard a stopped: hooli gets 503 shard_unavailable with retryAfter" \
	"$st $(jq -r '.error.code, .error.data.reason, (.error.data.retryAfter > 0)' "$T/b" | tr '\n' ' ')" "503 -32030 shard_unavailable true "
st1=$(call "$ACME" "$SA" "$search" "$T/b")
st2=$(call "$GLOBEX" "$SG" "$search" "$T/b")
check "... while acme and globex (on b) keep working" "$st1 $st2" "200 200"
check "... config_drift reports a unreachable, shard_tenants still counts b's tenants" \
	"$(R "SELECT string_agg(DISTINCT shard, ',') FROM mtmcp.config_drift() WHERE table_name LIKE '(unreachable%'") $(R "SELECT count(row_count) FROM mtmcp.shard_tenants WHERE shard = 'b'")" "a 3"
cl a "$PA" start
for _ in 1 2 3 4 5; do st=$(call "$HOOLI" "$SH" "$search" "$T/b"); [ "$st" = 200 ] && break; sleep 0.5; done
check "shard a started again: hooli is served again" "$st" "200"

# (a router backend whose connection to a predates the restart answers 503 once, then reconnects)
for _ in 1 2 3 4 5; do
	st=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$URL" -H "Authorization: Bearer $HOOLI" -H "Mcp-Session-Id: $SH" -H 'MCP-Protocol-Version: 2025-11-25')
	[ "$st" = 503 ] || break
	sleep 0.2
done
for _ in 1 2 3 4 5; do st2=$(call "$HOOLI" "$SH" "$search" "$T/b"); [ "$st2" = 503 ] || break; sleep 0.2; done
check "DELETE of hooli's session through the router ends it on a (204, then 404)" "$st $st2" "204 404"

echo "# $passed passed, $failed failed"
[ "$failed" -eq 0 ]
