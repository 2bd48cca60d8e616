--
-- audit: one row per dispatched message, atomic with the work, redacted,
-- tenant-scoped, budgeted
--
\set fixture_after isolation
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- Messages of one session, in order.
CREATE FUNCTION d(token text, req jsonb, session text) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	SELECT mtmcp.mcp_dispatch(token, req, session)
$$;
CREATE FUNCTION trail(session text) RETURNS TABLE (method text, target text, result_kind text, severity text,
		error_code text, tenant_id text, subject text) LANGUAGE sql STABLE AS $$
	SELECT method, target, result_kind, severity, error_code, tenant_id, subject
	  FROM mtmcp.audit_log WHERE session_id = session ORDER BY ts, event_id
$$;

-- The audit row is written without the executor (src/rowinsert.c): is a
-- session's row in the partition PostgreSQL's own INSERT routes its ts to?
CREATE FUNCTION routed_like_insert(session text) RETURNS TABLE (same_partition boolean, in_default boolean)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	probe oid;
BEGIN
	SELECT a.ts, a.tableoid INTO r FROM mtmcp.audit_log a WHERE a.session_id = session;
	INSERT INTO mtmcp.audit_log (event_id, ts, tenant_id, subject, method, result_kind, severity, trace_id, span_id, duration_us)
	VALUES (gen_random_uuid(), r.ts, 'acme', 'routing-probe', 'ping', 'ok', 'info', 't', 's', 0) RETURNING tableoid INTO probe;
	DELETE FROM mtmcp.audit_log WHERE subject = 'routing-probe';
	same_partition := probe = r.tableoid;
	in_default := r.tableoid = 'mtmcp.audit_log_default'::regclass;
	RETURN NEXT;
END $$;

SELECT tok('acme', sub => 'alice', scope => 'tools docs:write') AS a \gset
SELECT d(:'a', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}', 's1') IS NOT NULL;
SELECT d(:'a', '{"jsonrpc":"2.0","method":"notifications/initialized"}', 's1') IS NULL;
SELECT d(:'a', '{"jsonrpc":"2.0","id":2,"method":"ping"}', 's1') IS NOT NULL;
SELECT d(:'a', '{"jsonrpc":"2.0","id":3,"method":"tools/list"}', 's1') IS NOT NULL;
SELECT d(:'a', '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_document","arguments":{"doc_id":1}}}', 's1') IS NOT NULL;
SELECT d(:'a', '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"get_document","arguments":{"doc_id":404}}}', 's1') IS NOT NULL;
SELECT d(:'a', '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"nope"}}', 's1') IS NOT NULL;
SELECT d(:'a', '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"cohort_analysis"}}', 's1') IS NOT NULL;
SELECT d(:'a', '{"jsonrpc":"2.0","id":8,"method":"no/such"}', 's1') IS NOT NULL;
SELECT d(:'a', '{"jsonrpc":"1.0","id":9,"method":"ping"}', 's1') IS NOT NULL;
SELECT d(:'a', '[1]', 's1') IS NOT NULL;
SELECT d(:'a', '{"jsonrpc":"2.0","id":10,"result":{}}', 's1') IS NULL;
-- exactly one row each, in order
SELECT * FROM trail('s1');
-- before maintenance made day partitions, rows go to the default partition, as an INSERT's would
SELECT d(:'a', '{"jsonrpc":"2.0","id":1,"method":"ping"}', 's0') IS NOT NULL;
SELECT * FROM routed_like_insert('s0');
-- every row carries the trace and timing fields
SELECT count(*) AS rows, count(*) FILTER (WHERE trace_id ~ '^[0-9a-f]{32}$' AND span_id ~ '^[0-9a-f]{16}$'
		AND duration_us >= 0 AND event_id IS NOT NULL AND issuer = 'https://idp.test') AS complete
  FROM mtmcp.audit_log WHERE session_id = 's1';
SELECT request_id FROM mtmcp.audit_log WHERE session_id = 's1' AND method = 'tools/list';

-- A W3C traceparent in params._meta is honoured; an invalid one is not.
SELECT d(:'a', '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}}', 's2') IS NOT NULL;
SELECT d(:'a', '{"jsonrpc":"2.0","id":2,"method":"ping","params":{"_meta":{"traceparent":"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}}', 's2') IS NOT NULL;
SELECT request_id, trace_id = '4bf92f3577b34da6a3ce929d0e0e4736' AS from_caller, parent_span_id,
	   span_id <> '00f067aa0ba902b7' AS own_span
  FROM mtmcp.audit_log WHERE session_id = 's2' ORDER BY request_id;

-- Atomic with the work: a rolled-back transaction leaves neither the
-- document nor its audit row; a committed one leaves both; a failing
-- handler's writes roll back while its audit row stays.
BEGIN;
SELECT call(:'a', 'add_document', '{"title": "rolled back"}') -> 'result' ->> 'isError' AS is_error;
ROLLBACK;
SELECT (SELECT count(*) FROM app.documents WHERE title = 'rolled back') AS docs,
	   (SELECT count(*) FROM mtmcp.audit_log WHERE arguments ->> 'title' = 'rolled back') AS audit_rows;
SELECT call(:'a', 'add_document', '{"title": "kept"}') -> 'result' ->> 'isError' AS is_error;
SELECT (SELECT count(*) FROM app.documents WHERE title = 'kept') AS docs,
	   (SELECT count(*) FROM mtmcp.audit_log WHERE arguments ->> 'title' = 'kept' AND result_kind = 'ok') AS audit_rows;
SELECT d(:'a', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_document",
	"arguments":{"title":"fail after insert"}}}', 's8') -> 'result' ->> 'isError' AS is_error;
SELECT (SELECT count(*) FROM app.documents WHERE title = 'fail after insert') AS docs,
	   (SELECT string_agg(result_kind || '/' || error_code, ',') FROM mtmcp.audit_log
		 WHERE session_id = 's8') AS audit;

-- Refusals before a verified tenant go to auth_failures, which has no
-- tenant column; audit_log never gets them.
SELECT d('not a token', '{"jsonrpc":"2.0","id":1,"method":"tools/list"}', 's3') -> 'error' -> 'data' ->> 'reason';
SELECT d(tok('initech'), '{"jsonrpc":"2.0","id":2,"method":"ping"}', 's3') -> 'error' -> 'data' ->> 'reason';
SELECT reason, http_status, method, request_id FROM mtmcp.auth_failures WHERE session_id = 's3' ORDER BY ts;
SELECT count(*) AS in_audit_log FROM mtmcp.audit_log WHERE session_id = 's3';
SELECT column_name FROM information_schema.columns
 WHERE table_schema = 'mtmcp' AND table_name = 'auth_failures' AND column_name LIKE '%tenant%';

-- Redaction: registered paths and secret-looking keys never reach the table.
CREATE FUNCTION app.pay(args jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"paid": true}'::jsonb $$;
GRANT EXECUTE ON FUNCTION app.pay(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('pay', 'Pay.', '{"type":"object"}', 'app.pay(jsonb)', redact_paths => ARRAY['card.number', 'note']);
SELECT call(:'a', 'pay', '{"card": {"number": "4111111111111111", "expiry": "12/30"}, "note": "hunter2-note",
	"password": "hunter2", "apiKey": "sk-live-123", "client_secret": "cs-456", "Authorization": "Bearer xyz",
	"items": [{"access_token": "at-789", "sku": "A1"}], "max_tokens": 5, "shipping": "express"}') -> 'result' ->> 'isError';
SELECT jsonb_pretty(arguments) FROM mtmcp.audit_log WHERE target = 'pay';
SELECT count(*) AS leaked FROM mtmcp.audit_log
 WHERE arguments::text ~ '(4111111111111111|hunter2|sk-live-123|cs-456|Bearer xyz|at-789)';
SELECT mtmcp.redact('{"a": {"b": 1, "c": 2}, "list": [{"b": 3}], "Pwd": "x"}', ARRAY['a.b', 'list.b']);
SELECT mtmcp.register_tool('pay', 'Pay.', '{"type":"object"}', 'app.pay(jsonb)', redact_paths => ARRAY['']);

-- Tenants read their own trail through the view, after authenticating;
-- the other tenant's rows really exist.
SELECT d(tok('globex', sub => 'gina'), '{"jsonrpc":"2.0","id":1,"method":"ping"}', 's4') IS NOT NULL;
SELECT tenant_id, count(*) > 0 AS has_rows FROM mtmcp.audit_log GROUP BY 1 ORDER BY 1;
SET SESSION AUTHORIZATION regress_tenant;
SELECT count(*) FROM mtmcp.tenant_audit;
BEGIN;
SELECT mtmcp.authenticate(tok('globex'));
SELECT count(*) > 0 AS own_rows, count(*) FILTER (WHERE subject <> 'gina' AND session_id = 's1') AS acme_rows
  FROM mtmcp.tenant_audit;
COPY (SELECT session_id, subject, method, result_kind FROM mtmcp.tenant_audit WHERE session_id = 's4') TO STDOUT;
COMMIT;
-- partitions and the base tables are not readable directly
SELECT count(*) FROM mtmcp.audit_log;
SELECT count(*) FROM mtmcp.audit_log_default;
SELECT count(*) FROM mtmcp.auth_failures;
RESET SESSION AUTHORIZATION;

-- Observability budget: globex may write 3 non-security rows per window.
-- Its further info rows are counted, its security rows still written, and
-- acme (the other tenant) loses nothing.
SELECT mtmcp.set_tenant_setting('globex', 'audit_budget', '{"rows": 3, "window_seconds": 1000000000}');
SELECT tok('globex', sub => 'noisy') AS g \gset
SELECT count(*) FROM generate_series(1, 8) i,
	LATERAL d(:'g', jsonb_build_object('jsonrpc', '2.0', 'id', i, 'method', 'ping'), 's5') r;
SELECT count(*) FROM generate_series(1, 2) i,
	LATERAL d(:'g', jsonb_build_object('jsonrpc', '2.0', 'id', i, 'method', 'tools/call',
		'params', '{"name": "cohort_analysis"}'::jsonb), 's5') r;
SELECT count(*) FROM generate_series(1, 8) i,
	LATERAL d(:'a', jsonb_build_object('jsonrpc', '2.0', 'id', i, 'method', 'ping'), 's6') r;
SELECT session_id, severity, count(*) FROM mtmcp.audit_log WHERE session_id IN ('s5', 's6') GROUP BY 1, 2 ORDER BY 1, 2;
SELECT tenant_id, sum(dropped) FROM mtmcp.audit_overflow GROUP BY 1;
SET SESSION AUTHORIZATION regress_tenant;
BEGIN;
SELECT mtmcp.authenticate(:'g');
SELECT sum(dropped) AS my_dropped FROM mtmcp.tenant_audit_overflow;
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT mtmcp.set_tenant_setting('globex', 'audit_budget', NULL);
SELECT settings FROM mtmcp.tenants WHERE tenant_id = 'globex';
SELECT mtmcp.set_tenant_setting('nobody', 'audit_budget', '{}');

-- Partition maintenance: coming days are created, rows parked in the
-- default partition move to their day, whole days past retention go, and
-- a day that still holds rows inside retention stays.
INSERT INTO mtmcp.audit_log (event_id, ts, tenant_id, subject, method, result_kind, severity, trace_id, span_id, duration_us)
VALUES (gen_random_uuid(), now() - interval '200 days', 'acme', 'old', 'ping', 'ok', 'info', 't', 's', 0),
	   (gen_random_uuid(), now() - interval '10 days', 'acme', 'recent', 'ping', 'ok', 'info', 't', 's', 0);
SET mtmcp.audit_retention = '90 days';
CALL mtmcp.maintain_partitions(3);
SELECT count(*) AS day_partitions FROM pg_inherits WHERE inhparent = 'mtmcp.audit_log'::regclass
   AND inhrelid::regclass::text ~ '_p[0-9]{8}$';
SELECT to_regclass('mtmcp.audit_log_p' || to_char((now() AT TIME ZONE 'UTC')::date + 3, 'YYYYMMDD')) IS NOT NULL AS ahead,
	   to_regclass('mtmcp.audit_log_p' || to_char((now() AT TIME ZONE 'UTC')::date - 10, 'YYYYMMDD')) IS NOT NULL AS recent_day,
	   to_regclass('mtmcp.audit_log_p' || to_char((now() AT TIME ZONE 'UTC')::date - 200, 'YYYYMMDD')) IS NOT NULL AS expired_day;
SELECT subject, tableoid::regclass::text ~ '_p[0-9]{8}$' AS in_day_partition FROM mtmcp.audit_log
 WHERE subject IN ('old', 'recent');
SELECT count(*) AS left_in_default FROM mtmcp.audit_log_default;
-- an expired day partition is dropped, a day inside retention is kept
SELECT mtmcp._ensure_day_partition('audit_log', (now() AT TIME ZONE 'UTC')::date - 120);
CALL mtmcp.maintain_partitions(3);
SELECT to_regclass('mtmcp.audit_log_p' || to_char((now() AT TIME ZONE 'UTC')::date - 120, 'YYYYMMDD')) IS NULL AS dropped,
	   to_regclass('mtmcp.audit_log_p' || to_char((now() AT TIME ZONE 'UTC')::date - 10, 'YYYYMMDD')) IS NOT NULL AS kept;
SELECT count(*) AS recent_row_kept FROM mtmcp.audit_log WHERE subject = 'recent';
-- the trail still works after maintenance, into today's partition
SELECT d(:'a', '{"jsonrpc":"2.0","id":1,"method":"ping"}', 's7') IS NOT NULL;
SELECT tableoid::regclass::text ~ '_p[0-9]{8}$' AS in_day_partition FROM mtmcp.audit_log WHERE session_id = 's7';
SELECT * FROM routed_like_insert('s7');
CALL mtmcp.maintain_partitions(-1);
SET mtmcp.audit_retention = 'forever';
CALL mtmcp.maintain_partitions(1);
RESET mtmcp.audit_retention;
-- result_kind and severity are checked by the table itself, in every
-- partition: a row with another value is refused (23514), whatever its day
DO $$
DECLARE
	r record;
	st text;
	con text;
BEGIN
	FOR r IN SELECT * FROM (VALUES ('fine', 'info', interval '0'), ('ok', 'critical', interval '3 years'),
								   ('OK', 'info', interval '0'), ('ok', NULL, interval '0')) v(kind, sev, age) LOOP
		BEGIN
			INSERT INTO mtmcp.audit_log (event_id, ts, tenant_id, subject, method, result_kind, severity, trace_id, span_id, duration_us)
			VALUES (gen_random_uuid(), now() - r.age, 'acme', 'x', 'ping', r.kind, r.sev, 't', 's', 0);
			RAISE WARNING '% / %: stored', r.kind, r.sev;
		EXCEPTION WHEN check_violation OR not_null_violation THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, con = CONSTRAINT_NAME;
			RAISE WARNING '% / %: refused, % %', r.kind, coalesce(r.sev, 'NULL'), st, con;
		END;
	END LOOP;
END
$$;
SELECT count(*) AS refused_rows_absent FROM mtmcp.audit_log WHERE subject = 'x';
SELECT k, mtmcp._audit_result_kind_valid(k) FROM unnest(ARRAY['ok', 'tool_error', 'denied', 'invalid', 'not_found',
	'rate_limited', 'error', 'timeout', 'cancelled', 'ok ', '', 'cancel']) k;
SELECT v, mtmcp._audit_severity_valid(v) FROM unnest(ARRAY['info', 'warning', 'security', 'Security', 'sec']) v;

-- What a DBA adds to the audit table applies to the rows calls write: the
-- direct write (src/rowinsert.c) steps aside for a trigger or a column it
-- does not fill, and checks a CHECK constraint as the INSERT would.
-- a ping of subject sub on session s: went through, or the SQLSTATE and constraint that refused it
CREATE FUNCTION ping_of(sub text, s text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	con text;
BEGIN
	PERFORM d(tok('acme', sub => sub), '{"jsonrpc":"2.0","id":1,"method":"ping"}', s);
	RETURN 'went through';
EXCEPTION WHEN check_violation THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, con = CONSTRAINT_NAME;
	RETURN format('failed whole: %s %s', st, con);
END $$;
CREATE TABLE audit_copy (event_id uuid, method text);
CREATE FUNCTION copy_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.audit_copy VALUES (NEW.event_id, NEW.method);
	RETURN NEW;
END $$;
CREATE TRIGGER copy_audit AFTER INSERT ON mtmcp.audit_log FOR EACH ROW EXECUTE FUNCTION copy_audit();
SELECT d(:'a', '{"jsonrpc":"2.0","id":1,"method":"ping"}', 's20') IS NOT NULL;
SELECT c.method AS copied_by_trigger FROM audit_copy c JOIN mtmcp.audit_log a USING (event_id) WHERE a.session_id = 's20';
DROP TRIGGER copy_audit ON mtmcp.audit_log;
ALTER TABLE mtmcp.audit_log ADD CONSTRAINT regress_no_blocked CHECK (subject <> 'blocked');
SELECT ping_of('blocked', 's21');
SELECT count(*) AS blocked_rows FROM mtmcp.audit_log WHERE session_id = 's21';
SELECT d(tok('acme', sub => 'fine'), '{"jsonrpc":"2.0","id":1,"method":"ping"}', 's22') IS NOT NULL;
ALTER TABLE mtmcp.audit_log DROP CONSTRAINT regress_no_blocked;
-- a CHECK of the form the direct write keeps compiled (a C function of a column, like
-- mtmcp's own), added while calls run (NOT VALID: old rows fail it): new rows must pass it
ALTER TABLE mtmcp.audit_log ADD CONSTRAINT regress_kind_subject CHECK (mtmcp._audit_result_kind_valid(subject)) NOT VALID;
SELECT ping_of('alice', 's25');
SELECT d(tok('acme', sub => 'ok'), '{"jsonrpc":"2.0","id":1,"method":"ping"}', 's26') IS NOT NULL AS subject_ok_passes;
ALTER TABLE mtmcp.audit_log DROP CONSTRAINT regress_kind_subject;
SELECT count(*) FILTER (WHERE session_id = 's25') AS s25_rows, count(*) FILTER (WHERE session_id = 's26') AS s26_rows
  FROM mtmcp.audit_log;
ALTER TABLE mtmcp.audit_log ADD COLUMN regress_region text NOT NULL DEFAULT 'eu-1';
SELECT d(:'a', '{"jsonrpc":"2.0","id":1,"method":"ping"}', 's23') IS NOT NULL;
SELECT regress_region FROM mtmcp.audit_log WHERE session_id = 's23';
ALTER TABLE mtmcp.audit_log DROP COLUMN regress_region;
-- with the column dropped again, rows are written as before, where an INSERT would put them
SELECT d(:'a', '{"jsonrpc":"2.0","id":1,"method":"ping"}', 's24') IS NOT NULL;
SELECT * FROM routed_like_insert('s24');
SELECT session_id, count(*) FROM mtmcp.audit_log WHERE session_id IN ('s20', 's22', 's23', 's24') GROUP BY 1 ORDER BY 1;

-- Event ids are version 7 UUIDs (RFC 9562) carrying the time their event
-- began (ts - duration_us) to the millisecond, so a later event's id sorts
-- later (the event_id index is appended to, not written at random); the
-- refusals' ids too.  (Rows this file wrote itself, trace id 't', are left out.)
SELECT count(*) > 20 AS rows,
	   bool_and(substr(event_id::text, 15, 1) = '7' AND substr(event_id::text, 20, 1) IN ('8', '9', 'a', 'b')) AS v7,
	   bool_and(('x' || lpad(replace(substr(event_id::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint
				= floor((extract(epoch FROM ts) * 1000000 - duration_us) / 1000)::bigint) AS time_is_start
  FROM mtmcp.audit_log WHERE trace_id <> 't';
SELECT NOT EXISTS (SELECT 1 FROM mtmcp.audit_log a JOIN mtmcp.audit_log b
					ON a.ts - make_interval(secs => a.duration_us / 1e6) < b.ts - make_interval(secs => b.duration_us / 1e6)
				   AND a.event_id > b.event_id
				   WHERE a.trace_id <> 't' AND b.trace_id <> 't') AS ordered_like_start;
SELECT count(*) > 0 AS refusals, bool_and(substr(event_id::text, 15, 1) = '7') AS refusals_v7
  FROM mtmcp.auth_failures;
-- two ids made in the same millisecond differ (62 random bits)
SELECT count(DISTINCT event_id) = count(*) AS distinct_ids FROM mtmcp.audit_log;
