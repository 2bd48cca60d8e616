--
-- concurrency: bounded calls (time limits, lock timeouts, cancels) and the
-- tenant's calls in flight -- settings, answers and audit rows.  What needs
-- a second connection (the limit under load, parallel calls on one session,
-- a cancel of a running call) is test/shell/concurrency.sh.
--
\set ECHO none
\o /dev/null
SET client_min_messages = warning;
\set SHOW_CONTEXT never
DROP EXTENSION IF EXISTS mtmcp CASCADE;
DROP SCHEMA IF EXISTS conc CASCADE;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION mtmcp;
CREATE SCHEMA conc;
CREATE FUNCTION conc.b64(data bytea) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT translate(encode(data, 'base64'), E'+/=\n', '-_') $$;
CREATE FUNCTION conc.tok(tenant text) RETURNS text LANGUAGE sql VOLATILE AS $$
	WITH s AS (SELECT conc.b64(convert_to('{"alg":"HS256","typ":"JWT"}', 'utf8')) || '.' ||
					  conc.b64(convert_to(jsonb_build_object('iss', 'https://idp.conc', 'aud', 'conc', 'sub', 'carol',
						'tenant_id', tenant, 'scope', 'tools', 'iat', extract(epoch FROM now())::bigint - 5,
						'exp', extract(epoch FROM now())::bigint + 600)::text, 'utf8')) AS d)
	SELECT s.d || '.' || conc.b64(hmac(convert_to(s.d, 'utf8'), 'conc-secret'::bytea, 'sha256')) FROM s $$;
-- call a tool as tenant t: the whole response
CREATE FUNCTION conc.call(t text, tool text, args jsonb DEFAULT '{}', id int DEFAULT 1) RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
	SELECT mtmcp.mcp_dispatch(conc.tok(t), jsonb_build_object('jsonrpc', '2.0', 'id', id, 'method', 'tools/call',
		'params', jsonb_build_object('name', tool, 'arguments', args))) $$;
-- the last audit row of a tenant
CREATE FUNCTION conc.last(t text, OUT method text, OUT target text, OUT result_kind text, OUT severity text,
						  OUT error_code text, OUT detail text) LANGUAGE sql VOLATILE AS $$
	SELECT method, target, result_kind, severity, error_code, detail FROM mtmcp.audit_log
	 WHERE tenant_id = t ORDER BY ts DESC, event_id DESC LIMIT 1 $$;
SELECT mtmcp.create_plan('std', ARRAY[]::text[]);
SELECT mtmcp.create_plan('quick', ARRAY[]::text[], '{"tool_timeout_ms": 250}');
SELECT mtmcp.add_issuer('https://idp.conc', 'conc');
SELECT mtmcp.add_key('https://idp.conc', NULL, 'HS256', 'conc-secret'::bytea);
CALL mtmcp.create_tenant('acme', 'quick', 'Acme', ARRAY['https://idp.conc']);
CALL mtmcp.create_tenant('globex', 'std', 'Globex', ARRAY['https://idp.conc']);
-- a handler that sleeps, and tells what lock timeout it ran under
CREATE FUNCTION conc.nap(args jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM pg_sleep(coalesce((args ->> 'seconds')::float8, 0));
	RETURN jsonb_build_object('lock_timeout', current_setting('lock_timeout'));
END $$;
-- a handler stopped by the operator (class 57 other than a cancel)
CREATE FUNCTION conc.boom(args jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RAISE EXCEPTION 'shutting down' USING ERRCODE = 'admin_shutdown';
END $$;
CREATE FUNCTION conc.slow_prompt(args jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM pg_sleep(5);
	RETURN '[]';
END $$;
GRANT USAGE ON SCHEMA conc TO mtmcp_tool;
GRANT EXECUTE ON FUNCTION conc.nap(jsonb), conc.boom(jsonb), conc.slow_prompt(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_prompt('slow_prompt', 'Renders slowly.', renderer => 'conc.slow_prompt(jsonb)');
SELECT mtmcp.register_tool('nap', 'Sleeps.', '{"type":"object","properties":{"seconds":{"type":"number"}}}', 'conc.nap(jsonb)');
SELECT mtmcp.register_tool('nap_own', 'Sleeps, with limits of its own.', '{"type":"object","properties":{"seconds":{"type":"number"}}}', 'conc.nap(jsonb)');
SELECT mtmcp.register_tool('boom', 'Fails.', '{"type":"object"}', 'conc.boom(jsonb)');
\o
\set ECHO all

-- The defaults: 4 calls in flight per tenant, 30 s per handler, 5 s per lock wait.
SHOW mtmcp.max_in_flight;
SHOW mtmcp.tool_timeout;
SHOW mtmcp.lock_timeout;

-- A tool's own limits.
SELECT mtmcp.set_tool_timeout('nap_own', 200, 750);
SELECT name, timeout_ms, lock_timeout_ms FROM mtmcp.tools ORDER BY name;
SELECT mtmcp.set_tool_timeout('no_such_tool', 100);
SELECT mtmcp.set_tool_timeout('nap', 0);
SELECT mtmcp.set_tool_timeout('nap', 100, -1);

-- The lock timeout is in force inside the handler only: the tool's own, then
-- the tenant's or plan's "lock_timeout_ms", then mtmcp.lock_timeout.
SELECT conc.call('globex', 'nap') -> 'result' -> 'content' -> 0 ->> 'text' AS default_lock,
	   conc.call('globex', 'nap_own') -> 'result' -> 'content' -> 0 ->> 'text' AS own_lock;
SELECT mtmcp.set_tenant_setting('globex', 'lock_timeout_ms', '1500');
SELECT conc.call('globex', 'nap') -> 'result' -> 'content' -> 0 ->> 'text' AS tenant_lock;
SELECT mtmcp.set_tenant_setting('globex', 'lock_timeout_ms', NULL);
SHOW lock_timeout;

-- A handler over its time limit is stopped, answered as a tool error and
-- audited as a timeout.  The tool's own limit (200 ms):
SELECT clock_timestamp() AS t0 \gset
SELECT conc.call('globex', 'nap_own', '{"seconds": 5}') -> 'result' AS result;
SELECT clock_timestamp() - :'t0' < interval '2 seconds' AS prompt;
SELECT * FROM conc.last('globex');
-- the plan's "tool_timeout_ms" (250 ms)
SELECT conc.call('acme', 'nap', '{"seconds": 5}') -> 'result' -> 'content' -> 0 ->> 'text' AS plan_limit;
SELECT * FROM conc.last('acme');
-- the tenant's own setting overrides its plan's
SELECT mtmcp.set_tenant_setting('acme', 'tool_timeout_ms', '300');
SELECT conc.call('acme', 'nap', '{"seconds": 5}') -> 'result' -> 'content' -> 0 ->> 'text' AS tenant_limit;
-- and the tool's own overrides both
SELECT conc.call('acme', 'nap_own', '{"seconds": 5}') -> 'result' -> 'content' -> 0 ->> 'text' AS tool_limit;
-- every handler is bounded, not only tools: a prompt renderer over the
-- tenant's limit answers -32603 "Request timed out"
SELECT mtmcp.mcp_dispatch(conc.tok('acme'),
	'{"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"slow_prompt"}}') -> 'error' AS error;
SELECT * FROM conc.last('acme');
-- within its limit a call is unaffected
SELECT conc.call('acme', 'nap', '{"seconds": 0.01}') -> 'result' ->> 'isError' AS is_error;
SELECT * FROM conc.last('acme');

-- The statement's own statement_timeout stops the handler the same way.
SET statement_timeout = '300ms';
SELECT conc.call('globex', 'nap', '{"seconds": 5}') -> 'result' -> 'content' -> 0 ->> 'text' ~ 'timed out' AS timed_out;
RESET statement_timeout;
SELECT result_kind, error_code, detail FROM conc.last('globex');

-- notifications/cancelled: never answered; one that names no running
-- request of this caller changes nothing and is recorded as such.
SELECT mtmcp.mcp_dispatch(conc.tok('globex'),
	'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":42,"reason":"user"}}') AS answer;
SELECT * FROM conc.last('globex');
SELECT mtmcp.mcp_dispatch(conc.tok('globex'),
	'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}') AS answer;

-- Calls in flight: a call gives its place back when it ends, however it
-- ends -- an error that aborts the message, a rolled-back savepoint, an
-- exception block.  With a limit of 1, each next call is admitted.
SELECT mtmcp.set_tenant_setting('globex', 'max_in_flight', '1');
SELECT conc.call('globex', 'nap') -> 'result' ->> 'isError' AS first,
	   conc.call('globex', 'nap') -> 'result' ->> 'isError' AS second;
SELECT conc.call('globex', 'boom');
SELECT conc.call('globex', 'nap') -> 'result' ->> 'isError' AS after_error;
BEGIN;
SAVEPOINT s;
SELECT conc.call('globex', 'boom');
ROLLBACK TO SAVEPOINT s;
SELECT conc.call('globex', 'nap') -> 'result' ->> 'isError' AS after_savepoint;
COMMIT;
SET client_min_messages = notice;
DO $$
BEGIN
	BEGIN
		PERFORM conc.call('globex', 'boom');
	EXCEPTION WHEN admin_shutdown THEN
		NULL;
	END;
	RAISE NOTICE 'after exception block: %', conc.call('globex', 'nap') -> 'result' ->> 'isError';
END $$;
SET client_min_messages = warning;
-- a limit of 0 means none
SELECT mtmcp.set_tenant_setting('globex', 'max_in_flight', '0');
SELECT conc.call('globex', 'nap') -> 'result' ->> 'isError' AS unlimited;

-- Timed-out and cancelled calls are audit kinds of their own.
SELECT result_kind, count(*) FROM mtmcp.audit_log WHERE result_kind IN ('timeout', 'cancelled')
 GROUP BY result_kind ORDER BY result_kind;

\set ECHO none
\o /dev/null
DROP SCHEMA conc CASCADE;
DROP EXTENSION mtmcp CASCADE;
