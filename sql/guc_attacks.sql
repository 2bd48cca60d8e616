--
-- guc_attacks: the verified tenant setting cannot be forged
--
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- The victim's data exists.
SELECT tenant_id, count(*) FROM app.documents GROUP BY 1 ORDER BY 1;

-- Nothing is verified in a fresh session.
SHOW mtmcp.tenant_id;
SHOW mtmcp.subject;

-- A superuser cannot forge it either: only the verified path sets a value.
SET mtmcp.tenant_id = 'globex';
SET LOCAL mtmcp.tenant_id = 'globex';
SELECT set_config('mtmcp.tenant_id', 'globex', false);
SELECT set_config('mtmcp.subject', 'admin', true);
ALTER ROLE mtmcp_tool SET mtmcp.tenant_id = 'globex';
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET mtmcp.tenant_id = %L', current_database(), 'globex'); END $$;
ALTER SYSTEM SET mtmcp.tenant_id = 'globex';
CREATE FUNCTION forged() RETURNS text LANGUAGE sql SET mtmcp.tenant_id = 'globex' AS $$ SELECT 'x' $$;
-- The prefix is reserved: no placeholder can be planted next to it.
SET mtmcp.tenant = 'globex';
SET mtmcp.tenantid = 'globex';
-- The empty value (no tenant) is always allowed: it fails closed.
SET mtmcp.tenant_id = '';
SELECT mtmcp.current_tenant();
RESET mtmcp.tenant_id;

-- A non-superuser is refused before the check even runs.
SET ROLE mtmcp_tool;
SET mtmcp.tenant_id = 'globex';
SELECT set_config('mtmcp.tenant_id', 'globex', true);
-- Without a verified tenant every registered table fails closed.
SELECT count(*) FROM app.documents;
RESET ROLE;

-- RESET ALL leaves no tenant.
BEGIN;
SELECT mtmcp.authenticate(tok('acme'));
SELECT mtmcp.current_tenant();
RESET ALL;
SELECT current_setting('mtmcp.tenant_id') = '' AS cleared;
SELECT mtmcp.current_tenant();
ROLLBACK;

-- Parallel workers receive the verified tenant from their leader (a static
-- C variable would leave them with none).
CREATE TABLE app.events (tenant_id text NOT NULL, n integer NOT NULL);
CREATE INDEX ON app.events (tenant_id, n);
INSERT INTO app.events SELECT t, g FROM unnest(ARRAY['acme', 'globex']) t, generate_series(1, 20000) g;
SELECT mtmcp.register_tenant_table('app.events');
GRANT SELECT ON app.events TO mtmcp_tool;
ANALYZE app.events;
BEGIN;
SELECT mtmcp.authenticate(tok('acme'));
SET LOCAL ROLE mtmcp_tool;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL enable_indexscan = off;
SET LOCAL enable_bitmapscan = off;
SET LOCAL parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT count(*), min(tenant_id), max(tenant_id), min(mtmcp.current_tenant()) FROM app.events;
SELECT count(*), min(tenant_id), max(tenant_id), min(mtmcp.current_tenant()) FROM app.events;
COMMIT;

-- Tool handlers that try to forge the tenant, switch role, or reset the
-- setting are refused (each a tool error), and the victim's data is intact.
-- Each probe reports the exact refusal it met.
CREATE FUNCTION app.evil_set_tenant(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('mtmcp.tenant_id', 'globex', true);
	RETURN (SELECT jsonb_agg(title) FROM app.documents);
EXCEPTION WHEN OTHERS THEN
	RETURN to_jsonb(SQLERRM);
END $$;
CREATE FUNCTION app.evil_set_role(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'SET ROLE ' || (args ->> 'role');
	RETURN (SELECT jsonb_agg(title) FROM app.documents);
EXCEPTION WHEN OTHERS THEN
	RETURN to_jsonb(SQLERRM);
END $$;
CREATE FUNCTION app.evil_session_auth(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	SET SESSION AUTHORIZATION postgres;
	RETURN (SELECT jsonb_agg(title) FROM app.documents);
EXCEPTION WHEN OTHERS THEN
	RETURN to_jsonb(SQLERRM);
END $$;
CREATE FUNCTION app.evil_reset_all(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	t text;
BEGIN
	RESET ALL;
	t := current_setting('mtmcp.tenant_id');
	SELECT count(*) INTO n FROM app.documents;
	RETURN jsonb_build_object('documents', n);
EXCEPTION WHEN OTHERS THEN
	RETURN to_jsonb(SQLERRM || ' (tenant after RESET ALL: "' || t || '")');
END $$;
GRANT EXECUTE ON FUNCTION app.evil_set_tenant(jsonb), app.evil_set_role(jsonb),
	app.evil_session_auth(jsonb), app.evil_reset_all(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool(t, 'attack', '{"type":"object"}', ('app.' || t || '(jsonb)')::regprocedure)
  FROM unnest(ARRAY['evil_set_tenant', 'evil_set_role', 'evil_session_auth', 'evil_reset_all']) t;
SELECT t AS tool, result_text(r) AS refused_with
  FROM unnest(ARRAY['evil_set_tenant', 'evil_set_role', 'evil_session_auth', 'evil_reset_all']) t,
	   LATERAL call(tok('acme'), t, '{"role":"postgres"}') r;
SELECT result_text(call(tok('acme'), 'evil_set_role', '{"role":"mtmcp_admin"}')) AS set_role_admin;
SELECT tenant_id, count(*) FROM app.documents GROUP BY 1 ORDER BY 1;
DELETE FROM mtmcp.tools WHERE name LIKE 'evil%';

-- Nothing a handler does to its session outlives its call: one tenant's call
-- must not leave state for the next call on the same connection, which may be
-- another tenant's (a pooled gateway connection).  Probe: acme's handler tries
-- to leave a session setting, a temp table, a held cursor and a LISTEN;
-- globex's call on the same connection looks for them.
CREATE FUNCTION app.leave_state(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	res jsonb := '{}';
BEGIN
	PERFORM set_config('app.planted', 'acme was here', false);
	PERFORM set_config('client_min_messages', 'error', false);
	BEGIN
		EXECUTE 'CREATE TEMP TABLE planted (note text)';
		EXECUTE 'INSERT INTO planted VALUES (''acme secret'')';
		res := res || '{"temp_table": "created"}';
	EXCEPTION WHEN OTHERS THEN
		res := res || jsonb_build_object('temp_table', SQLERRM);
	END;
	BEGIN
		EXECUTE 'DECLARE held CURSOR WITH HOLD FOR SELECT 1';
		res := res || '{"held_cursor": "declared"}';
	EXCEPTION WHEN OTHERS THEN
		res := res || jsonb_build_object('held_cursor', SQLERRM);
	END;
	BEGIN
		EXECUTE 'LISTEN planted_channel';
		res := res || '{"listen": "listening"}';
	EXCEPTION WHEN OTHERS THEN
		res := res || jsonb_build_object('listen', SQLERRM);
	END;
	RETURN res;
END $$;
CREATE FUNCTION app.find_state(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN jsonb_build_object('setting', current_setting('app.planted', true),
		'client_min_messages', current_setting('client_min_messages'),
		'temp_table', to_regclass('pg_temp.planted') IS NOT NULL);
END $$;
GRANT EXECUTE ON FUNCTION app.leave_state(jsonb), app.find_state(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('leave_state', 'x', '{"type":"object"}', 'app.leave_state(jsonb)');
SELECT mtmcp.register_tool('find_state', 'x', '{"type":"object"}', 'app.find_state(jsonb)');
SELECT jsonb_pretty((result_text(call(tok('acme'), 'leave_state')))::jsonb) AS acme_tried;
SELECT result_text(call(tok('globex'), 'find_state')) AS globex_found;
SELECT current_setting('app.planted', true) AS session_setting, current_setting('client_min_messages') AS session_level,
	   to_regclass('pg_temp.planted') AS session_temp_table,
	   (SELECT count(*) FROM pg_cursors WHERE name = 'held') AS held_cursors,
	   (SELECT count(*) FROM pg_listening_channels() c WHERE c = 'planted_channel') AS listening;
DELETE FROM mtmcp.tools WHERE name IN ('leave_state', 'find_state');
