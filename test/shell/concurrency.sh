#!/usr/bin/env bash
# Concurrency, through real parallel connections (issue 11):
#   a. one tenant's slow calls cannot crowd out another's: beyond its
#      max_in_flight it is refused at once (HTTP 429, -32029) while the other
#      tenant's fast calls all succeed quickly;
#   b. two 3 s calls on one session run in parallel (~3 s, not 6);
#   c. a tool with a 1 s time limit on a 5 s sleep answers in ~1 s, audited
#      as a timeout; a lock wait beyond lock_timeout likewise;
#   d. notifications/cancelled ends the named running call promptly and
#      returns at once itself; a query cancel from outside (the shim's
#      PQcancel) ends a call the same way; both audited as cancelled;
#   e. a backend that dies mid-call gives its place back.
# Runs in a database of its own (the regression database's name is $1, used
# only to find the server); leaves nothing behind.
set -euo pipefail
DB=mtmcp_concurrency
dir=$(mktemp -d)
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$dir"
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# nothing here may hang: every statement is bounded
export PGOPTIONS="-c statement_timeout=30s"

fail() { echo "FAIL: $*"; exit 1; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pgcrypto;
CREATE EXTENSION mtmcp;
CREATE FUNCTION b64(data bytea) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT translate(encode(data, 'base64'), E'+/=\n', '-_') $$;
CREATE FUNCTION tok(tenant text) RETURNS text LANGUAGE sql VOLATILE AS $$
	WITH s AS (SELECT b64(convert_to('{"alg":"HS256","typ":"JWT"}', 'utf8')) || '.' ||
					  b64(convert_to(jsonb_build_object('iss', 'https://idp.conc', 'aud', 'conc', 'sub', 'carol',
						'tenant_id', tenant, 'scope', 'tools', 'iat', extract(epoch FROM now())::bigint - 5,
						'exp', extract(epoch FROM now())::bigint + 600)::text, 'utf8')) AS d)
	SELECT s.d || '.' || b64(hmac(convert_to(s.d, 'utf8'), 'conc-secret'::bytea, 'sha256')) FROM s $$;
-- one message through the shim's door: "<http status> <outcome> <ms>"
CREATE FUNCTION timed(token text, req jsonb, sess text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	r record;
BEGIN
	SELECT * INTO r FROM mtmcp.mcp_http(token, req, sess);
	RETURN format('%s %s %s', r.http_status,
		coalesce(r.response -> 'error' ->> 'code',
				 CASE WHEN (r.response -> 'result' ->> 'isError')::boolean THEN 'tool_error' ELSE 'ok' END),
		round(extract(epoch FROM clock_timestamp() - t0) * 1000));
END $$;
CREATE FUNCTION session_for(token text) RETURNS text LANGUAGE sql AS $$
	SELECT session_id FROM mtmcp.mcp_http(token,
		'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}', NULL) $$;
SELECT mtmcp.create_plan('std', ARRAY[]::text[]);
SELECT mtmcp.add_issuer('https://idp.conc', 'conc');
SELECT mtmcp.add_key('https://idp.conc', NULL, 'HS256', 'conc-secret'::bytea);
CALL mtmcp.create_tenant('acme', 'std', 'Acme', ARRAY['https://idp.conc']);
CALL mtmcp.create_tenant('globex', 'std', 'Globex', ARRAY['https://idp.conc']);
CREATE SCHEMA app;
CREATE TABLE app.items (tenant_id text NOT NULL, id int NOT NULL, v int NOT NULL, PRIMARY KEY (tenant_id, id));
INSERT INTO app.items VALUES ('acme', 1, 0), ('globex', 1, 0);
SELECT mtmcp.register_tenant_table('app.items');
CREATE FUNCTION app.nap(args jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM pg_sleep(coalesce((args ->> 'seconds')::float8, 0));
	RETURN '{"slept": true}';
END $$;
CREATE FUNCTION app.bump(args jsonb) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	UPDATE app.items SET v = v + 1 WHERE id = 1 RETURNING jsonb_build_object('v', v) $$;
GRANT USAGE ON SCHEMA app TO mtmcp_tool;
GRANT SELECT, UPDATE ON app.items TO mtmcp_tool;
GRANT EXECUTE ON FUNCTION app.nap(jsonb), app.bump(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('nap', 'Sleeps.', '{"type":"object","properties":{"seconds":{"type":"number"}}}', 'app.nap(jsonb)');
SELECT mtmcp.register_tool('nap_1s', 'Sleeps, for at most a second.', '{"type":"object","properties":{"seconds":{"type":"number"}}}', 'app.nap(jsonb)');
SELECT mtmcp.set_tool_timeout('nap_1s', 1000);
SELECT mtmcp.register_tool('bump', 'Bumps item 1.', '{"type":"object"}', 'app.bump(jsonb)');
SELECT mtmcp.set_tool_timeout('bump', 10000, 500);
SQL
TA=$(q -c "SELECT tok('acme')")
TB=$(q -c "SELECT tok('globex')")
SA=$(q -c "SELECT session_for('$TA')")
SB=$(q -c "SELECT session_for('$TB')")
[ -n "$SA" ] && [ -n "$SB" ] || fail "no sessions"
call() {	# call ID TOOL SECONDS: a tools/call request
	echo "{\"jsonrpc\":\"2.0\",\"id\":$1,\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":{\"seconds\":$3}}}"
}
timed() {	# timed TOKEN SESSION REQUEST
	q -c "SELECT timed('$1', '$3', '$2')"
}

# --- a. fair sharing --------------------------------------------------------
N=$(q -c "SHOW mtmcp.max_in_flight")
echo "a. tenant acme: $((4 * N)) parallel 2 s calls on one session (max_in_flight $N); globex: fast calls meanwhile"
for i in $(seq 1 $((4 * N))); do
	timed "$TA" "$SA" "$(call $((100 + i)) nap 2)" >"$dir/a.$i" &
done
sleep 0.3
for c in 1 2; do
	q -c "SELECT timed('$TB', jsonb_build_object('jsonrpc', '2.0', 'id', g, 'method', 'tools/call',
			'params', jsonb_build_object('name', 'nap', 'arguments', jsonb_build_object('seconds', 0.01))), '$SB')
		  FROM generate_series(1, 15) g" >"$dir/b.$c" &
done
wait
cat "$dir"/a.* >"$dir/a"
cat "$dir"/b.* >"$dir/b"
a_ok=$(grep -c '^200 ok ' "$dir/a" || true)
a_429=$(grep -c '^429 -32029 ' "$dir/a" || true)
a_429_max=$(awk '$1 == 429 {if ($3 > m) m = $3} END {print m + 0}' "$dir/a")
b_n=$(wc -l <"$dir/b")
b_ok=$(grep -c '^200 ok ' "$dir/b" || true)
b_p99=$(awk '{print $3}' "$dir/b" | sort -n | awk '{v[NR] = $1} END {i = int(NR * 0.99 + 0.999); print v[i]}')
echo "   acme: $a_ok ran, $a_429 refused (slowest refusal ${a_429_max} ms); globex: $b_ok/$b_n ok, p99 ${b_p99} ms"
[ "$a_ok" -ge "$N" ] || fail "acme ran $a_ok calls, expected at least $N"
[ "$a_429" -ge $((2 * N)) ] || fail "acme was refused $a_429 times, expected at least $((2 * N)) (never more than $N in flight)"
[ $((a_ok + a_429)) -eq $((4 * N)) ] || fail "acme: unexpected answers: $(sort "$dir/a" | uniq -c)"
[ "$a_429_max" -lt 250 ] || fail "a refusal took ${a_429_max} ms: refusals must be immediate"
[ "$b_ok" -eq "$b_n" ] && [ "$b_n" -eq 30 ] || fail "globex: $b_ok of $b_n calls succeeded"
[ "$b_p99" -lt 500 ] || fail "globex p99 ${b_p99} ms"
audit=$(q -c "SELECT count(*) FROM mtmcp.audit_log WHERE tenant_id = 'acme' AND result_kind = 'rate_limited'
			  AND detail = 'max_in_flight' AND error_code = '-32029'")
[ "$audit" -eq "$a_429" ] || fail "refusals audited: $audit, expected $a_429"
echo "   refusals audited as rate_limited/max_in_flight: $audit"

# --- b. parallel calls on one session ---------------------------------------
echo "b. two 3 s calls on one session"
t0=$(now_ms)
timed "$TB" "$SB" "$(call 201 nap 3)" >"$dir/p1" &
timed "$TB" "$SB" "$(call 202 nap 3)" >"$dir/p2" &
wait
wall=$(( $(now_ms) - t0 ))
echo "   $(cat "$dir/p1") / $(cat "$dir/p2"); wall ${wall} ms"
grep -q '^200 ok' "$dir/p1" && grep -q '^200 ok' "$dir/p2" || fail "parallel calls failed"
[ "$wall" -lt 4800 ] || fail "two 3 s calls on one session took ${wall} ms: serialized"

# --- c. time limits ---------------------------------------------------------
echo "c. a 5 s sleep under a 1 s time limit; a lock wait under a 500 ms lock timeout"
r=$(timed "$TB" "$SB" "$(call 301 nap_1s 5)")
ms=${r##* }
echo "   $r"
[[ "$r" == "200 tool_error "* ]] || fail "timed-out call answered $r"
[ "$ms" -ge 900 ] && [ "$ms" -lt 2000 ] || fail "timed-out call took ${ms} ms"
row=$(q -c "SELECT result_kind || ' ' || error_code || ' ' || detail FROM mtmcp.audit_log
			WHERE tenant_id = 'globex' AND request_id = '301'")
[ "$row" = "timeout 57014 tool_timeout" ] || fail "audit row of the timed-out call: '$row'"
q -c "BEGIN; SELECT 1 FROM app.items WHERE tenant_id = 'globex' FOR UPDATE; SELECT pg_sleep(3); COMMIT" >/dev/null &
sleep 0.5
r=$(q -c "SELECT timed('$TB', '{\"jsonrpc\":\"2.0\",\"id\":302,\"method\":\"tools/call\",\"params\":{\"name\":\"bump\",\"arguments\":{}}}', '$SB')")
echo "   $r"
ms=${r##* }
[[ "$r" == "200 tool_error "* ]] && [ "$ms" -lt 1500 ] || fail "lock wait answered $r"
row=$(q -c "SELECT result_kind || ' ' || error_code || ' ' || detail FROM mtmcp.audit_log
			WHERE tenant_id = 'globex' AND request_id = '302'")
[ "$row" = "timeout 55P03 lock_timeout" ] || fail "audit row of the lock wait: '$row'"
wait

# --- d. cancellation --------------------------------------------------------
echo "d. notifications/cancelled for a running call; a query cancel from outside"
timed "$TB" "$SB" "$(call 401 nap 5)" >"$dir/c1" &
sleep 0.7
t0=$(now_ms)
r=$(q -c "SELECT http_status FROM mtmcp.mcp_http('$TB', '{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":401,\"reason\":\"user\"}}', '$SB')")
cancel_ms=$(( $(now_ms) - t0 ))
wait
echo "   cancel: HTTP $r in ${cancel_ms} ms (psql included); call: $(cat "$dir/c1")"
[ "$r" = 202 ] || fail "notifications/cancelled answered $r"
[ "$cancel_ms" -lt 1000 ] || fail "notifications/cancelled took ${cancel_ms} ms"
read -r st code ms <"$dir/c1"
[ "$code" = -32800 ] && [ "$ms" -lt 2000 ] || fail "cancelled call answered $(cat "$dir/c1")"
row=$(q -c "SELECT result_kind || ' ' || error_code || ' ' || detail FROM mtmcp.audit_log
			WHERE tenant_id = 'globex' AND request_id = '401'")
[ "$row" = "cancelled -32800 notifications/cancelled" ] || fail "audit row of the cancelled call: '$row'"
row=$(q -c "SELECT detail FROM mtmcp.audit_log WHERE tenant_id = 'globex' AND method = 'notifications/cancelled'")
[ "$row" = cancel_sent ] || fail "audit row of the cancel: '$row'"
# PQcancel: what the shim sends when its client goes away
timed "$TB" "$SB" "$(call 402 nap 5)" >"$dir/c2" &
sleep 0.7
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = '$DB' AND query LIKE '%\"id\":402%' AND pid <> pg_backend_pid()" >/dev/null
wait
echo "   query cancel: $(cat "$dir/c2")"
read -r st code ms <"$dir/c2"
[ "$code" = -32800 ] && [ "$ms" -lt 2000 ] || fail "call cancelled from outside answered $(cat "$dir/c2")"
row=$(q -c "SELECT result_kind || ' ' || error_code || ' ' || detail FROM mtmcp.audit_log
			WHERE tenant_id = 'globex' AND request_id = '402'")
[ "$row" = "cancelled -32800 query_cancel" ] || fail "audit row of the call cancelled from outside: '$row'"

# --- e. a backend that dies mid-call gives its place back ---------------------
echo "e. a backend terminated mid-call gives its place back"
q -c "SELECT mtmcp.set_tenant_setting('globex', 'max_in_flight', '1')" >/dev/null
timed "$TB" "$SB" "$(call 501 nap 5)" >"$dir/t1" 2>&1 &
sleep 0.7
r=$(timed "$TB" "$SB" "$(call 502 nap 0)")
[[ "$r" == "429 -32029 "* ]] || fail "second call with max_in_flight 1 answered $r"
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB' AND query LIKE '%\"id\":501%' AND pid <> pg_backend_pid()" >/dev/null
wait || true
sleep 0.2
r=$(timed "$TB" "$SB" "$(call 503 nap 0)")
echo "   while running: 429; after the backend died: $r"
[[ "$r" == "200 ok "* ]] || fail "place not given back after backend exit: $r"

echo "concurrency: ok"
