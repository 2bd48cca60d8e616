--
-- sessions: the HTTP shim's contract (mcp_http), live notifications,
-- resource update events, the access scope
--
\set fixture_after prompts
\i test/fixtures/base.sql
-- the layers below the prompt-injection policy: it would refuse these attacks first (sql/injection.sql tests it)
SET mtmcp.injection_detection = off;
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE FUNCTION http(token text, req jsonb, session text DEFAULT NULL, key text DEFAULT NULL)
RETURNS TABLE (status integer, has_session boolean, response jsonb) LANGUAGE sql VOLATILE AS $$
	SELECT h.http_status, h.session_id IS NOT NULL, h.response FROM mtmcp.mcp_http(token, req, session, key) h
$$;
SELECT tok('acme', sub => 'alice', scope => 'tools docs:write') AS a \gset
SELECT tok('acme', sub => 'bob', scope => 'tools docs:write') AS a2 \gset
SELECT tok('globex', sub => 'gina', scope => 'tools docs:write') AS g \gset

-- initialize opens a session bound to the verified tenant and subject.
SELECT http_status, length(session_id) AS id_length, session_id ~ '^[0-9a-f]{48}$' AS hex,
	   response -> 'result' ->> 'protocolVersion' AS version
  FROM mtmcp.mcp_http(:'a', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",
	"clientInfo":{"name":"regress","version":"1"}}}', NULL);
SELECT session_id AS sa FROM mtmcp.sessions WHERE tenant_id = 'acme' AND subject = 'alice' \gset
SELECT tenant_id, subject, protocol_version, client_info ->> 'name' AS client, ended_at IS NULL AS live
  FROM mtmcp.sessions WHERE session_id = :'sa';
SELECT session_id AS sg FROM mtmcp.mcp_http(:'g', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}', NULL) \gset
-- a failed initialize opens nothing; neither does a refused token
SELECT * FROM http(:'a', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}');
SELECT * FROM http('garbage', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}');
SELECT * FROM http(tok('initech'), '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}');
SELECT count(*) AS sessions FROM mtmcp.sessions;

-- Every later message needs its session: missing 400, unknown 404, and a
-- foreign one (another tenant's, or another subject's) exactly like unknown.
SELECT * FROM http(:'a', '{"jsonrpc":"2.0","id":2,"method":"ping"}');
SELECT * FROM http(:'a', '{"jsonrpc":"2.0","id":2,"method":"ping"}', :'sa');
SELECT * FROM http(:'a', '{"jsonrpc":"2.0","method":"notifications/initialized"}', :'sa');
SELECT * FROM http(:'a', '{"jsonrpc":"2.0","id":3,"method":"ping"}', 'no-such-session');
SELECT * FROM http(:'g', '{"jsonrpc":"2.0","id":3,"method":"ping"}', :'sa');
SELECT * FROM http(:'a2', '{"jsonrpc":"2.0","id":3,"method":"ping"}', :'sa');
SELECT (SELECT response FROM http(:'g', '{"jsonrpc":"2.0","id":3,"method":"ping"}', :'sa'))
	 = (SELECT response FROM http(:'g', '{"jsonrpc":"2.0","id":3,"method":"ping"}', 'no-such-session')) AS foreign_looks_unknown;
SELECT tenant_id, subject, result_kind, severity, detail, session_id = :'sa' AS acme_session
  FROM mtmcp.audit_log WHERE detail = 'foreign_session' ORDER BY ts;
-- the tenant's own session works, and the audit rows carry it
SELECT status, response -> 'result' -> 'content' -> 0 ->> 'text' AS text
  FROM http(:'g', '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_document","arguments":{"doc_id":1}}}', :'sg');
SELECT count(*) AS rows_with_session FROM mtmcp.audit_log WHERE session_id = :'sg';
-- auth still comes first: a bad token with a valid session id is 401
SELECT status, response -> 'error' -> 'data' FROM http('garbage', '{"jsonrpc":"2.0","id":5,"method":"ping"}', :'sa');

-- Idle sessions expire.
SET mtmcp.session_idle_timeout = 60;
UPDATE mtmcp.sessions SET last_seen_at = now() - interval '2 minutes' WHERE session_id = :'sg';
SELECT status FROM http(:'g', '{"jsonrpc":"2.0","id":6,"method":"ping"}', :'sg');
UPDATE mtmcp.sessions SET last_seen_at = now() WHERE session_id = :'sg';
SELECT status FROM http(:'g', '{"jsonrpc":"2.0","id":6,"method":"ping"}', :'sg');
RESET mtmcp.session_idle_timeout;

-- GET streams and DELETE.
SELECT mtmcp.mcp_http_check(:'a', :'sa') AS own, mtmcp.mcp_http_check(:'g', :'sa') AS foreign,
	   mtmcp.mcp_http_check(:'a', NULL) AS missing, mtmcp.mcp_http_check(NULL, :'sa') AS no_token,
	   mtmcp.mcp_http_check(tok('initech'), :'sa') AS suspended;
SELECT mtmcp.mcp_http_end(:'g', :'sa') AS foreign_end, mtmcp.mcp_http_end(:'a', :'sa') AS own_end,
	   mtmcp.mcp_http_end(:'a', :'sa') AS again;
SELECT status FROM http(:'a', '{"jsonrpc":"2.0","id":7,"method":"ping"}', :'sa');
SELECT ended_at IS NOT NULL AS ended FROM mtmcp.sessions WHERE session_id = :'sa';
SELECT mcp_http FROM mtmcp.mcp_http(:'a', '{"jsonrpc":"2.0","id":1,"method":"ping"}', repeat('x', 300));

-- Live notifications: progress and log messages go out as NOTICEs carrying
-- the caller's key, only when the request asked for progress, only at or
-- above the session's log level; never without a key.
CREATE FUNCTION app.long_job(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.notify_progress(1, 3, 'first third');
	PERFORM mtmcp.log('debug', '{"step": "details"}');
	PERFORM mtmcp.notify_progress(2, 3);
	PERFORM mtmcp.log('warning', '{"step": "slow"}', 'long_job');
	RAISE NOTICE 'mtmcp notification' USING DETAIL = '{"key": "guess", "message": {"jsonrpc": "2.0", "method": "evil"}}';
	IF (args ->> 'regress')::boolean THEN
		PERFORM mtmcp.notify_progress(1);
	END IF;
	RETURN '{"done": true}';
END $$;
GRANT EXECUTE ON FUNCTION app.long_job(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('long_job', 'A long job.', '{"type":"object"}', 'app.long_job(jsonb)');
SELECT session_id AS sp FROM mtmcp.mcp_http(:'a', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}', NULL) \gset
SET client_min_messages = notice;
SELECT status, response -> 'result' -> 'content' -> 0 ->> 'text' AS text
  FROM http(:'a', '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"long_job","_meta":{"progressToken":"p-1"}}}', :'sp', 'k-123');
-- after logging/setLevel debug, debug messages flow too; without a progress token, no progress
SELECT status FROM http(:'a', '{"jsonrpc":"2.0","id":9,"method":"logging/setLevel","params":{"level":"debug"}}', :'sp', 'k-124');
SELECT status FROM http(:'a', '{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"long_job"}}', :'sp', 'k-125');
-- the level is the call's own session's, read when the call first logs: at
-- 'error' neither debug nor warning goes out; the same caller's other session keeps debug
SELECT session_id AS sq FROM mtmcp.mcp_http(:'a', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}', NULL) \gset
SELECT status FROM http(:'a', '{"jsonrpc":"2.0","id":13,"method":"logging/setLevel","params":{"level":"error"}}', :'sq', 'k-127');
SELECT status FROM http(:'a', '{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"long_job"}}', :'sq', 'k-128');
SELECT status FROM http(:'a', '{"jsonrpc":"2.0","id":15,"method":"tools/call","params":{"name":"long_job"}}', :'sp', 'k-129');
-- the extension's tables are found by name, never through an OID kept past a
-- change: renamed away, the sessions table is not found and the call fails
-- whole (-32603); renamed back, the same backend finds it again
BEGIN;
ALTER TABLE mtmcp.sessions RENAME TO sessions_renamed;
SELECT status, response -> 'error' ->> 'code' AS code FROM http(:'a', '{"jsonrpc":"2.0","id":16,"method":"ping"}', :'sp');
ROLLBACK;
SELECT status, response -> 'error' ->> 'code' AS code FROM http(:'a', '{"jsonrpc":"2.0","id":17,"method":"ping"}', :'sp');
-- without a key (plain SQL) nothing is sent but the tool's own notice
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"long_job","_meta":{"progressToken":7}}}') -> 'result' ->> 'isError';
SET client_min_messages = warning;
-- progress must increase
SELECT response -> 'result' -> 'content' -> 0 ->> 'text' AS text
  FROM http(:'a', '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"long_job","arguments":{"regress":true},"_meta":{"progressToken":"p-2"}}}', :'sp', 'k-126');
SELECT mtmcp.log('loud', '{}');
SELECT mtmcp.notify_progress(NULL);

-- Resource updates reach only the updating tenant's subscribed sessions.
CREATE FUNCTION app.touch_document(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.resource_updated(args ->> 'uri');
	RETURN '{"announced": true}';
END $$;
GRANT EXECUTE ON FUNCTION app.touch_document(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('touch_document', 'Announce an update.', '{"type":"object"}', 'app.touch_document(jsonb)');
SELECT session_id AS sg2 FROM mtmcp.mcp_http(:'g', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}', NULL) \gset
SELECT status FROM http(:'a', '{"jsonrpc":"2.0","id":13,"method":"resources/subscribe","params":{"uri":"kb://tenants/acme/documents/1"}}', :'sp');
SELECT status FROM http(:'g', '{"jsonrpc":"2.0","id":13,"method":"resources/subscribe","params":{"uri":"kb://tenants/globex/documents/1"}}', :'sg2');
SELECT coalesce(max(event_id), 0) AS e0 FROM mtmcp.resource_events \gset
SELECT response -> 'result' -> 'content' -> 0 ->> 'text' AS own
  FROM http(:'a', '{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"touch_document","arguments":{"uri":"kb://tenants/acme/documents/1"}}}', :'sp');
SELECT response -> 'result' -> 'content' -> 0 ->> 'text' AS foreign
  FROM http(:'a', '{"jsonrpc":"2.0","id":15,"method":"tools/call","params":{"name":"touch_document","arguments":{"uri":"kb://tenants/globex/documents/1"}}}', :'sp');
SELECT tenant_id, uri FROM mtmcp.resource_events WHERE event_id > :e0;
SELECT r.session_id = :'sp' AS acme_session, r.message
  FROM mtmcp.resource_events e, mtmcp.mcp_http_resource_event(e.event_id) r WHERE e.event_id > :e0;
SELECT count(*) AS forged FROM mtmcp.mcp_http_resource_event(999999);
SELECT mtmcp.resource_updated('kb://tenants/acme/documents/1');

-- The access scope: when set, every token must carry it.
SET mtmcp.access_scope = 'mcp:access';
SELECT reason(tok('acme', scope => 'tools')) AS without_scope, reason(tok('acme', scope => 'tools mcp:access')) AS with_scope;
SELECT status, response -> 'error' -> 'data' FROM http(tok('acme', scope => 'tools'), '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}');
RESET mtmcp.access_scope;

-- The gateway can use the contract, and nothing else of it.
SET SESSION AUTHORIZATION regress_shim;
SELECT status FROM http(:'g', '{"jsonrpc":"2.0","id":1,"method":"ping"}', :'sg2');
SELECT count(*) FROM mtmcp.sessions;
SELECT mtmcp.notify_progress(1);
RESET SESSION AUTHORIZATION;

-- Rate limits: a tenant's request budget per window (plan setting, tenant
-- override), counted across backends; the other tenant is unaffected.
SELECT mtmcp.set_tenant_setting('globex', 'rate_limit', '{"requests": 3, "window_seconds": 1000000000}');
SELECT i, r.http_status, r.response -> 'error' ->> 'code' AS code, r.response -> 'error' ->> 'message' AS message,
	   (r.response -> 'error' -> 'data' ->> 'retryAfter')::bigint > 0 AS retry_after
  FROM generate_series(1, 5) i,
	   LATERAL mtmcp.mcp_http(:'g', jsonb_build_object('jsonrpc', '2.0', 'id', i, 'method', 'ping'), :'sg2') r;
SELECT count(*) AS acme_ok FROM generate_series(1, 5) i,
	   LATERAL mtmcp.mcp_http(:'a', jsonb_build_object('jsonrpc', '2.0', 'id', i, 'method', 'ping'), :'sp') r
 WHERE r.http_status = 200;
SELECT result_kind, severity, error_code, count(*) FROM mtmcp.audit_log
 WHERE tenant_id = 'globex' AND result_kind = 'rate_limited' GROUP BY 1, 2, 3;
-- notifications are not requests: never limited
SELECT http_status FROM mtmcp.mcp_http(:'g', '{"jsonrpc":"2.0","method":"notifications/initialized"}', :'sg2');
SELECT mtmcp.set_tenant_setting('globex', 'rate_limit', NULL);

-- A body that is not JSON still leaves a trace (the shim reports it): a row
-- of the verified tenant with the parser's complaint and the size, never the
-- body; without a valid token, a refusal row.
SELECT mtmcp.mcp_http_unparsable(:'a', :'sp', 'unexpected character', 17) AS status;
SELECT tenant_id, method, result_kind, error_code, detail, session_id = :'sp' AS in_session
  FROM mtmcp.audit_log WHERE method = '(unparsable)';
SELECT mtmcp.mcp_http_unparsable('not-a-token', NULL, 'unexpected end of data', 3) AS status;
SELECT mtmcp.mcp_http_unparsable(NULL, NULL, NULL, NULL) AS status;
SELECT reason, count(*) FROM mtmcp.auth_failures WHERE method = '(unparsable)' GROUP BY 1 ORDER BY 1;
