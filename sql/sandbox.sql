--
-- sandbox: the channels row-level security does not cover, attacked through
-- the real dispatch path with a careless admin's handler that runs whatever
-- SQL the agent sends.  Every probe runs against the victim's real data, and
-- each section shows that data existed.
--
\set ECHO none
\o /dev/null
SET client_min_messages = warning;
-- the layers below the prompt-injection policy: it would refuse these attacks first (sql/injection.sql tests it)
SET mtmcp.injection_detection = off;
DROP EXTENSION IF EXISTS mtmcp CASCADE;
DROP SCHEMA IF EXISTS sbx CASCADE;
DROP ROLE IF EXISTS sbx_tenant_login;
SELECT lo_unlink(oid) FROM pg_largeobject_metadata;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION mtmcp;
CREATE SCHEMA sbx;
CREATE FUNCTION sbx.b64(data bytea) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT translate(encode(data, 'base64'), E'+/=\n', '-_') $$;
CREATE FUNCTION sbx.tok(tenant text) RETURNS text LANGUAGE sql VOLATILE AS $$
	WITH s AS (SELECT sbx.b64(convert_to('{"alg":"HS256","typ":"JWT"}', 'utf8')) || '.' ||
					  sbx.b64(convert_to(jsonb_build_object('iss', 'https://idp.sbx', 'aud', 'sbx', 'sub', 'mallory',
						'tenant_id', tenant, 'scope', 'tools', 'iat', extract(epoch FROM now())::bigint - 5,
						'exp', extract(epoch FROM now())::bigint + 600)::text, 'utf8')) AS d)
	SELECT s.d || '.' || sbx.b64(hmac(convert_to(s.d, 'utf8'), 'sandbox-secret'::bytea, 'sha256')) FROM s $$;
-- run SQL through the careless handler as tenant t; the tool's text or error
CREATE FUNCTION sbx.run(t text, q text) RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT coalesce(r -> 'result' -> 'structuredContent' ->> 'out', r -> 'result' -> 'content' -> 0 ->> 'text', r::text)
	  FROM mtmcp.mcp_dispatch(sbx.tok(t), jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/call',
		'params', jsonb_build_object('name', 'run_sql', 'arguments', jsonb_build_object('sql', q)))) r $$;
-- the handler's own error text (the model sees a generic one): the audit row keeps the SQLSTATE
CREATE FUNCTION sbx.last_error() RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT error_code FROM mtmcp.audit_log WHERE target = 'run_sql' ORDER BY ts DESC, event_id DESC LIMIT 1 $$;
SELECT mtmcp.create_plan('std', ARRAY[]::text[]);
SELECT mtmcp.add_issuer('https://idp.sbx', 'sbx');
SELECT mtmcp.add_key('https://idp.sbx', NULL, 'HS256', 'sandbox-secret'::bytea);
CALL mtmcp.create_tenant('acme', 'std', 'Acme', ARRAY['https://idp.sbx']);
CALL mtmcp.create_tenant('globex', 'std', 'Globex', ARRAY['https://idp.sbx']);
CREATE TABLE sbx.docs (tenant_id text NOT NULL, doc_id int NOT NULL, salary int, title text,
					   PRIMARY KEY (tenant_id, doc_id));
INSERT INTO sbx.docs SELECT 'globex', g, 100000 + g * 7, 'globex secret ' || g FROM generate_series(1, 500) g;
INSERT INTO sbx.docs SELECT 'acme', g, 50, 'acme doc ' || g FROM generate_series(1, 20) g;
ANALYZE sbx.docs;
SELECT mtmcp.register_tenant_table('sbx.docs');
CREATE TABLE sbx.countries (code text PRIMARY KEY, name text);
INSERT INTO sbx.countries VALUES ('DE', 'Germany'), ('FR', 'France');
SELECT mtmcp.register_shared_table('sbx.countries');
CREATE TABLE sbx.not_registered (tenant_id text, secret text);
INSERT INTO sbx.not_registered VALUES ('globex', 'globex wire password');
CREATE SEQUENCE sbx.order_seq;
SELECT nextval('sbx.order_seq') FROM generate_series(1, 42);
GRANT USAGE ON SCHEMA sbx TO mtmcp_tool;
GRANT SELECT, INSERT, UPDATE, DELETE ON sbx.docs TO mtmcp_tool;
GRANT SELECT ON sbx.countries, sbx.not_registered TO mtmcp_tool;
GRANT ALL ON SEQUENCE sbx.order_seq TO mtmcp_tool;
-- The careless handler: whatever SQL the agent sends, as a set of rows.
CREATE FUNCTION sbx.run_sql(args jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	out jsonb;
BEGIN
	EXECUTE 'SELECT coalesce(jsonb_agg(to_jsonb(q)), ''[]'')::text FROM (' || (args ->> 'sql') || ') q' INTO out;
	RETURN jsonb_build_object('content', jsonb_build_array(jsonb_build_object('type', 'text', 'text', out::text)),
							  'structuredContent', jsonb_build_object('out', out::text));
END $$;
-- ... and one that runs a statement (not a query).
CREATE FUNCTION sbx.exec_sql(args jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	EXECUTE args ->> 'sql';
	RETURN '{"done": true}';
END $$;
GRANT EXECUTE ON FUNCTION sbx.run_sql(jsonb), sbx.exec_sql(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('run_sql', 'Run a query.', '{"type":"object","properties":{"sql":{"type":"string"}}}', 'sbx.run_sql(jsonb)');
SELECT mtmcp.register_tool('exec_sql', 'Run a statement.', '{"type":"object","properties":{"sql":{"type":"string"}}}', 'sbx.exec_sql(jsonb)');
CREATE FUNCTION sbx.exec(t text, q text) RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT coalesce(r -> 'result' -> 'content' -> 0 ->> 'text', r::text)
	  FROM mtmcp.mcp_dispatch(sbx.tok(t), jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/call',
		'params', jsonb_build_object('name', 'exec_sql', 'arguments', jsonb_build_object('sql', q)))) r $$;
CREATE FUNCTION sbx.exec_error() RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT error_code FROM mtmcp.audit_log WHERE target = 'exec_sql' ORDER BY ts DESC, event_id DESC LIMIT 1 $$;
\o
\set ECHO all

-- The victim's data is there (as the DBA sees it).
SELECT count(*) AS globex_rows, max(salary) AS globex_top_salary FROM sbx.docs WHERE tenant_id = 'globex';

-- A legitimate handler still works: joins, aggregates, CTEs, jsonb, shared data.
SELECT sbx.run('acme', $q$ WITH d AS (SELECT doc_id, salary FROM sbx.docs)
	SELECT count(*) AS n, sum(salary) AS total, jsonb_build_object('max', max(doc_id)) AS j,
		   (SELECT name FROM sbx.countries WHERE code = 'DE') AS country FROM d $q$);
SELECT sbx.exec('acme', $q$ INSERT INTO sbx.docs VALUES ('acme', 1000, 1, 'written by acme') $q$);
SELECT sbx.exec('acme', $q$ UPDATE sbx.docs SET title = 'renamed' WHERE doc_id = 1000 $q$);
SELECT tenant_id, title FROM sbx.docs WHERE doc_id = 1000;
-- and it sees only its own rows
SELECT sbx.run('acme', 'SELECT count(*) AS n FROM sbx.docs WHERE tenant_id = ''globex''');

-- 1. Planner statistics as an oracle: EXPLAIN estimates read other tenants'
--    histograms (salary of globex's top row found by binary search).
SELECT sbx.exec('acme', 'EXPLAIN SELECT * FROM sbx.docs WHERE salary > 103000');
SELECT sbx.exec_error();
SELECT sbx.run('acme', 'SELECT histogram_bounds::text FROM pg_stats WHERE tablename = ''docs'' AND attname = ''salary''');
SELECT sbx.last_error();

-- 2. Large objects: every handler runs as mtmcp_tool, which would own them all.
SELECT lo_from_bytea(4242, 'globex contract'::bytea) AS victim_lo;
ALTER LARGE OBJECT 4242 OWNER TO mtmcp_tool;
SELECT sbx.run('acme', 'SELECT convert_from(lo_get(4242), ''utf8'') AS stolen');
SELECT sbx.last_error();
SELECT sbx.run('acme', 'SELECT lo_from_bytea(0, ''x''::bytea) AS made');
SELECT sbx.run('acme', 'SELECT count(*) FROM pg_largeobject');
SELECT count(*) AS large_objects FROM pg_largeobject_metadata;

-- 3. Privileges broader than RLS: an admin's GRANT ALL after registration.
GRANT ALL ON sbx.docs TO mtmcp_tool;
SELECT sbx.exec('acme', 'TRUNCATE sbx.docs');
SELECT sbx.exec_error();
SELECT sbx.exec('acme', $q$ CREATE FUNCTION sbx.spy() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END' $q$);
SELECT sbx.exec('acme', 'CREATE TRIGGER spy BEFORE INSERT ON sbx.docs FOR EACH ROW EXECUTE FUNCTION sbx.spy()');
SELECT sbx.exec_error();
-- every call re-checks: the table is refused until the grant is revoked
SELECT sbx.run('acme', 'SELECT count(*) FROM sbx.docs');
SELECT sbx.last_error();
SELECT mtmcp._sandbox_table_check('sbx.docs', 'tenant_id');
REVOKE TRUNCATE, TRIGGER, REFERENCES ON sbx.docs FROM mtmcp_tool;
SELECT sbx.run('acme', 'SELECT count(*) AS n FROM sbx.docs');
SELECT count(*) AS globex_rows_intact FROM sbx.docs WHERE tenant_id = 'globex';
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'sbx.docs'::regclass AND NOT tgisinternal;

-- 4. Forged security alerts.
SELECT sbx.exec('acme', $q$ NOTIFY mtmcp_security, '{"tenant":"globex","reason":"forged"}' $q$);
SELECT sbx.exec_error();
SELECT sbx.run('acme', $q$ SELECT pg_notify('mtmcp_security', '{"tenant":"globex"}') $q$);
SELECT sbx.last_error();
-- the real alert: every refusal is a security event with its own audit row
SELECT severity, detail, count(*) FROM mtmcp.audit_log WHERE target IN ('run_sql', 'exec_sql') AND error_code = '42501'
 GROUP BY 1, 2;

-- 5. Side channels in catalogs and sequences.
SELECT sbx.run('acme', 'SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = ''docs''');
SELECT sbx.run('acme', 'SELECT reltuples FROM pg_class WHERE relname = ''docs''');
SELECT sbx.run('acme', 'SELECT last_value FROM sbx.order_seq');
SELECT sbx.run('acme', 'SELECT currval(''sbx.order_seq'')');
SELECT sbx.run('acme', 'SELECT pg_relation_size(''sbx.docs'')');
-- other sessions' locks, the WAL position, the transaction counter: activity of other tenants
SELECT sbx.run('acme', 'SELECT count(*) FROM pg_lock_status() l');
SELECT sbx.run('acme', 'SELECT pg_current_wal_lsn()');
SELECT sbx.run('acme', 'SELECT age(xmin) FROM sbx.docs LIMIT 1');
SELECT sbx.run('acme', 'SELECT pg_notification_queue_usage()');
SELECT sbx.run('acme', 'SELECT age(timestamp ''2026-01-02'', timestamp ''2026-01-01'') AS timestamp_age_is_fine');
SELECT sbx.run('acme', 'SELECT secret FROM sbx.not_registered');
SELECT sbx.last_error();
-- a unique constraint without the tenant column is an existence oracle: refused at registration
CREATE TABLE sbx.tickets (tenant_id text NOT NULL, ext_ref text UNIQUE, PRIMARY KEY (tenant_id, ext_ref));
SELECT mtmcp.register_tenant_table('sbx.tickets');
-- and re-checked when added later
CREATE TABLE sbx.notes (tenant_id text NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
SELECT mtmcp.register_tenant_table('sbx.notes');
GRANT SELECT ON sbx.notes TO mtmcp_tool;
INSERT INTO sbx.notes VALUES ('globex', 7);
CREATE UNIQUE INDEX notes_id_oracle ON sbx.notes (id);
SELECT sbx.run('acme', 'SELECT count(*) FROM sbx.notes');
SELECT sbx.last_error();
DROP INDEX sbx.notes_id_oracle;
SELECT sbx.run('acme', 'SELECT count(*) AS n FROM sbx.notes');

-- 6. Nothing survives a call on the connection.
SELECT sbx.exec('acme', $q$ CREATE FUNCTION pg_temp.keep() RETURNS int LANGUAGE sql AS 'SELECT 1' $q$);
SELECT sbx.run('acme', 'SELECT pg_advisory_lock(77) AS locked');
SELECT sbx.run('acme', 'SELECT pg_try_advisory_xact_lock(78) AS xact_lock_ok');
SELECT sbx.exec('acme', $q$ PREPARE p AS SELECT 1 $q$);
SELECT sbx.exec('acme', 'SET search_path = sbx');
SELECT count(*) AS advisory_locks FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
SELECT count(*) AS temp_functions FROM pg_proc WHERE pronamespace = pg_my_temp_schema();
SELECT count(*) AS prepared FROM pg_prepared_statements;
SHOW search_path;

-- 7. Utility statements that have no business in a tool.
SELECT sbx.exec('acme', 'LOCK sbx.docs');
SELECT sbx.exec('acme', 'ANALYZE sbx.docs');
SELECT sbx.exec('acme', 'VACUUM sbx.docs');
SELECT sbx.exec('acme', 'LOAD ''auto_explain''');
SELECT sbx.exec('acme', $q$ COPY sbx.docs TO '/tmp/mtmcp-sandbox-copy' $q$);
SELECT sbx.exec('acme', 'CREATE TEMP TABLE t AS SELECT * FROM sbx.docs');
SELECT sbx.exec('acme', 'DROP TABLE sbx.countries');
SELECT sbx.exec('acme', 'RESET ROLE');
SELECT sbx.exec_error();
SELECT sbx.run('acme', $q$ SELECT pg_read_file('postgresql.conf') $q$);
SELECT sbx.run('acme', 'SELECT pg_terminate_backend(pg_backend_pid())');

-- 8. Shared reference data is read-only unless registered writable.
SELECT sbx.exec('acme', $q$ UPDATE sbx.countries SET name = 'pwned' $q$);
SELECT sbx.exec_error();
SELECT name FROM sbx.countries WHERE code = 'DE';
SELECT mtmcp.register_shared_table('sbx.docs');
SELECT mtmcp.register_shared_table('mtmcp.audit_log');
SELECT mtmcp.register_shared_table('pg_catalog.pg_authid');

-- 9. Tenant ids: one canonical form, so look-alikes cannot exist.
CALL mtmcp.create_tenant('GLOBEX', 'std');
CALL mtmcp.create_tenant('Globex', 'std');
CALL mtmcp.create_tenant('globex.', 'std');
CALL mtmcp.create_tenant('glo_bex', 'std');
SELECT tenant_id FROM mtmcp.tenants ORDER BY 1;

-- 10. The same fence around tenant SQL sessions.
CREATE ROLE sbx_tenant_login LOGIN IN ROLE mtmcp_tenant;
GRANT SELECT ON sbx.docs TO sbx_tenant_login;
SELECT sbx.run('globex', 'SELECT 1 AS audited');
SELECT sbx.tok('acme') AS acme_token \gset
SET SESSION AUTHORIZATION sbx_tenant_login;
BEGIN;
SELECT mtmcp.authenticate(:'acme_token');
SELECT count(*) > 0 AS own_audit_rows FROM mtmcp.tenant_audit;
EXPLAIN SELECT * FROM mtmcp.tenant_audit WHERE subject > 'm';
ROLLBACK;
BEGIN;
SELECT mtmcp.authenticate(:'acme_token');
SELECT count(*) FROM pg_stats WHERE tablename = 'audit_log';
ROLLBACK;
BEGIN;
SELECT mtmcp.authenticate(:'acme_token');
SELECT count(*) FROM pg_stat_user_tables;
ROLLBACK;
LISTEN mtmcp_security;
SELECT pg_notify('mtmcp_security', '{"forged":true}');
RESET SESSION AUTHORIZATION;
SELECT count(*) AS globex_audit_rows_exist FROM mtmcp.audit_log WHERE tenant_id = 'globex';

-- Deferred triggers: a careless admin's DEFERRABLE INITIALLY DEFERRED
-- constraint trigger on a tenant table would fire at COMMIT -- after the
-- handler returned, outside its fence, as the caller's role.  A handler is
-- a security-restricted operation, in which PostgreSQL refuses to queue a
-- deferred trigger: the write is refused (42501) and the trigger never runs.
-- Globex's rows exist (above); the trigger would count them and leave a
-- setting behind for the next call on the connection.
CREATE TABLE sbx.trigger_seen (who text, tenant_rows bigint, other_rows bigint);
GRANT INSERT ON sbx.trigger_seen TO PUBLIC;
CREATE FUNCTION sbx.on_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('app.left_behind', 'by a deferred trigger', false);
	INSERT INTO sbx.trigger_seen
		SELECT current_user, count(*) FILTER (WHERE tenant_id = NEW.tenant_id),
			   count(*) FILTER (WHERE tenant_id <> NEW.tenant_id) FROM sbx.docs;
	RETURN NULL;
END $$;
GRANT EXECUTE ON FUNCTION sbx.on_commit() TO mtmcp_tool;
CREATE CONSTRAINT TRIGGER docs_on_commit AFTER INSERT ON sbx.docs DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION sbx.on_commit();
SELECT sbx.exec('acme', $q$ INSERT INTO sbx.docs VALUES ('acme', 901, 1, 'deferred') $q$), sbx.exec_error() AS sqlstate;
SELECT count(*) AS trigger_runs FROM sbx.trigger_seen;
SELECT count(*) AS row_written FROM sbx.docs WHERE doc_id = 901;
SELECT coalesce(current_setting('app.left_behind', true), '') AS left_behind;
SELECT count(*) AS globex_rows_exist FROM sbx.docs WHERE tenant_id = 'globex';
-- made immediate, the same trigger runs inside the fence: as mtmcp_tool,
-- sees only the caller's rows, and what it set is discarded with the handler's settings
ALTER TRIGGER docs_on_commit ON sbx.docs RENAME TO docs_after;
DROP TRIGGER docs_after ON sbx.docs;
CREATE TRIGGER docs_after AFTER INSERT ON sbx.docs FOR EACH ROW EXECUTE FUNCTION sbx.on_commit();
SELECT mtmcp.register_shared_table('sbx.trigger_seen', writable => true);
SELECT sbx.exec('acme', $q$ INSERT INTO sbx.docs VALUES ('acme', 902, 1, 'immediate') $q$);
SELECT who, tenant_rows > 0 AS saw_own_rows, other_rows AS globex_rows_seen FROM sbx.trigger_seen;
SELECT coalesce(current_setting('app.left_behind', true), '') AS left_behind;
DROP TRIGGER docs_after ON sbx.docs;


-- The policy, one row per rule.
SELECT kind, count(*) FROM mtmcp.sandbox_policy() GROUP BY kind ORDER BY kind;

\set ECHO none
\o /dev/null
DROP OWNED BY sbx_tenant_login;
DROP ROLE sbx_tenant_login;
SELECT lo_unlink(oid) FROM pg_largeobject_metadata;
DROP SCHEMA sbx CASCADE;
DROP EXTENSION mtmcp CASCADE;
