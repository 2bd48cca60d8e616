#!/usr/bin/env bash
# The background worker keeps an install healthy with nobody calling
# maintenance: in a database of its own (mtmcp_worker_test, which
# scripts/cluster.sh lists in mtmcp.worker_databases, with
# mtmcp.worker_interval = 1) it leaves a database without mtmcp alone,
# then, once mtmcp is installed, creates today's and tomorrow's partitions,
# moves rows out of a default partition and reaps an idle session by itself;
# mtmcp.worker_enabled = off stops it, on again resumes it; a run that fails
# (an invalid retention setting) is logged and the next good one catches up.
# (The argument, the regression database, is not used.)
set -euo pipefail
DB=mtmcp_worker_test
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)
LOG=${MTMCP_SCRATCH:+$MTMCP_SCRATCH/postgres.log}
cleanup() {
	"${PSQL[@]}" -d postgres -c "ALTER SYSTEM RESET mtmcp.worker_enabled" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

[ "$("${PSQL[@]}" -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mtmcp maintenance launcher'")" = 1 ] \
	|| fail "no maintenance launcher is running"
interval=$("${PSQL[@]}" -d postgres -c "SELECT setting FROM pg_settings WHERE name = 'mtmcp.worker_interval'")
dbs=$("${PSQL[@]}" -d postgres -c "SHOW mtmcp.worker_databases")
[ "$interval" -le 2 ] && grep -qw "$DB" <<<"$dbs" \
	|| fail "the cluster must set mtmcp.worker_interval <= 2 and list $DB in mtmcp.worker_databases (scripts/cluster.sh)"
launcher=$("${PSQL[@]}" -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mtmcp maintenance launcher'")

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
log_from=0
[ -n "$LOG" ] && [ -r "$LOG" ] && log_from=$(wc -c <"$LOG")

# without mtmcp: a few rounds pass, nothing happens, nothing is logged
sleep $((3 * interval))
[ "$("${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'mtmcp'")" = 0 ] \
	|| fail "the worker touched a database without mtmcp"

# mtmcp installed, with rows of today in a default partition and sessions
"${PSQL[@]}" -d "$DB" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION mtmcp;
SELECT mtmcp.create_plan('free', ARRAY['documents']);
CALL mtmcp.create_tenant('acme', 'free', 'Acme Corp');
INSERT INTO mtmcp.auth_failures (event_id, reason, http_status, trace_id, span_id)
SELECT gen_random_uuid(), 'worker_test', 401, 't', 's' FROM generate_series(1, 10);
INSERT INTO mtmcp.sessions (session_id, tenant_id, subject, protocol_version, last_seen_at) VALUES
	('w-live', 'acme', 'alice', '2025-11-25', now()),
	('w-idle', 'acme', 'alice', '2025-11-25', now() - interval '2 hours');
SQL

done_sql="SELECT to_regclass(format('mtmcp.audit_log_p%s', to_char((now() AT TIME ZONE 'UTC')::date + 1, 'YYYYMMDD'))) IS NOT NULL
	AND to_regclass(format('mtmcp.cost_ledger_p%s', to_char((now() AT TIME ZONE 'UTC')::date + 7, 'YYYYMMDD'))) IS NOT NULL
	AND NOT EXISTS (SELECT 1 FROM mtmcp.auth_failures_default)
	AND NOT EXISTS (SELECT 1 FROM mtmcp.sessions WHERE session_id = 'w-idle')"
ok=
for _ in $(seq 1 60); do
	if [ "$("${PSQL[@]}" -d "$DB" -c "$done_sql")" = t ]; then ok=1; break; fi
	sleep 0.5
done
[ -n "$ok" ] || fail "the worker did not create the coming partitions, empty the default partition and reap the idle session within 30 s"
"${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM mtmcp.auth_failures WHERE reason = 'worker_test'" | grep -qx 10 \
	|| fail "rows were lost moving them out of the default partition"
"${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM mtmcp.sessions WHERE session_id = 'w-live'" | grep -qx 1 \
	|| fail "the live session was reaped"
echo "worker: coming partitions made, default partition emptied, idle session reaped"

# off: an idle session stays
"${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET mtmcp.worker_enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
sleep $((2 * interval + 1))	# a round under way ends
"${PSQL[@]}" -d "$DB" -c "INSERT INTO mtmcp.sessions (session_id, tenant_id, subject, protocol_version, last_seen_at)
	VALUES ('w-idle2', 'acme', 'alice', '2025-11-25', now() - interval '2 hours')"
sleep $((3 * interval + 1))
"${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM mtmcp.sessions WHERE session_id = 'w-idle2'" | grep -qx 1 \
	|| fail "the worker ran with mtmcp.worker_enabled = off"
# on again: it is reaped
"${PSQL[@]}" -d postgres -c "ALTER SYSTEM RESET mtmcp.worker_enabled" -c "SELECT pg_reload_conf()" >/dev/null
ok=
for _ in $(seq 1 40); do
	if [ "$("${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM mtmcp.sessions WHERE session_id = 'w-idle2'")" = 0 ]; then ok=1; break; fi
	sleep 0.5
done
[ -n "$ok" ] || fail "the worker did not resume after mtmcp.worker_enabled = on"
echo "worker: off stops it, on resumes it"

[ "$("${PSQL[@]}" -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mtmcp maintenance launcher'")" = "$launcher" ] \
	|| fail "the launcher restarted (it crashed?)"
if [ "$log_from" -gt 0 ]; then
	if tail -c +"$((log_from + 1))" "$LOG" | grep -E 'mtmcp maintenance|background worker "mtmcp' | grep -E 'WARNING|ERROR|FATAL|exited with exit code [^0]'; then
		fail "the worker logged trouble (above)"
	fi
fi

# a failing run is logged, the launcher lives on, and the next round after the
# cause is gone does the work
"${PSQL[@]}" -d postgres -c "ALTER DATABASE $DB SET mtmcp.audit_retention = 'forever'"
[ "$log_from" -gt 0 ] && log_from=$(wc -c <"$LOG")
"${PSQL[@]}" -d "$DB" -c "INSERT INTO mtmcp.sessions (session_id, tenant_id, subject, protocol_version, last_seen_at)
	VALUES ('w-idle3', 'acme', 'alice', '2025-11-25', now() - interval '2 hours')"
sleep $((3 * interval + 1))
"${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM mtmcp.sessions WHERE session_id = 'w-idle3'" | grep -qx 1 \
	|| fail "maintenance ran with an invalid retention setting"
if [ "$log_from" -gt 0 ]; then
	tail -c +"$((log_from + 1))" "$LOG" | grep -q 'invalid input syntax for type interval: "forever"' \
		|| fail "the failing run was not logged"
fi
"${PSQL[@]}" -d postgres -c "ALTER DATABASE $DB RESET mtmcp.audit_retention"
ok=
for _ in $(seq 1 40); do
	if [ "$("${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM mtmcp.sessions WHERE session_id = 'w-idle3'")" = 0 ]; then ok=1; break; fi
	sleep 0.5
done
[ -n "$ok" ] || fail "the worker did not recover after the failing runs"
[ "$("${PSQL[@]}" -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mtmcp maintenance launcher'")" = "$launcher" ] \
	|| fail "the launcher restarted after failing runs"
echo "worker: failing runs logged, the launcher lives on, the next good round catches up"
echo "maintenance_worker: ok"
