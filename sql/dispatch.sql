--
-- dispatch: the JSON-RPC 2.0 envelope and the MCP lifecycle methods
--
\set fixture_after roles
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT tok('acme') AS t \gset

-- initialize: a supported version is echoed, anything else gets the latest.
SELECT v AS requested, r -> 'result' ->> 'protocolVersion' AS answered
  FROM unnest(ARRAY['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '1999-01-01']) v,
	   LATERAL mtmcp.mcp_dispatch(:'t', jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'initialize',
			'params', jsonb_build_object('protocolVersion', v, 'capabilities', '{}'::jsonb,
										 'clientInfo', '{"name":"regress","version":"0"}'::jsonb))) r;
SELECT jsonb_pretty(mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}'));
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":2,"method":"initialize","params":{}}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":2,"method":"initialize"}');

-- ping; ids are echoed exactly (string, integer, large, fractional).
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":"abc-1","method":"ping"}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":1.5,"method":"ping","params":{}}');

-- Notifications and client responses get no answer (NULL).
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","method":"notifications/initialized"}') IS NULL AS initialized;
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}') IS NULL AS cancelled;
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","method":"no/such/notification"}') IS NULL AS unknown_notification;
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":5,"result":{}}') IS NULL AS client_response;
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":5,"error":{"code":1,"message":"x"}}') IS NULL AS client_error;

-- Malformed envelopes.
SELECT mtmcp.mcp_dispatch(:'t', NULL);
SELECT mtmcp.mcp_dispatch(:'t', '[{"jsonrpc":"2.0","id":1,"method":"ping"}]');
SELECT mtmcp.mcp_dispatch(:'t', '"ping"');
SELECT mtmcp.mcp_dispatch(:'t', '{"id":1,"method":"ping"}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"1.0","id":1,"method":"ping"}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":2.0,"id":1,"method":"ping"}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":1}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":1,"method":42}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":null,"method":"ping"}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":[1],"method":"ping"}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":true,"method":"ping"}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":1,"method":"ping","params":[1,2]}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":1,"method":"no/such/method"}');
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":1,"method":"sampling/createMessage"}');

-- Authentication comes first: a bad token gets the auth error whatever the
-- message says, with the request id echoed when there is one.
SELECT mtmcp.mcp_dispatch('garbage', '{"jsonrpc":"2.0","id":"r1","method":"tools/list"}');
SELECT mtmcp.mcp_dispatch(NULL, '{"jsonrpc":"2.0","id":3,"method":"no/such/method"}');
SELECT mtmcp.mcp_dispatch(NULL, '[1,2]');
SELECT mtmcp.mcp_dispatch(NULL, NULL);
SELECT mtmcp.mcp_dispatch(tok('initech'), '{"jsonrpc":"2.0","method":"notifications/initialized"}');

-- No verified identity survives a dispatch, even inside a transaction.
BEGIN;
SELECT mtmcp.mcp_dispatch(:'t', '{"jsonrpc":"2.0","id":1,"method":"ping"}');
SELECT current_setting('mtmcp.tenant_id') AS tenant_after, current_setting('mtmcp.subject') AS subject_after;
SET LOCAL ROLE mtmcp_tool;
SELECT count(*) FROM app.documents;
COMMIT;
-- ... nor after a tool call, nor after a failing tool call.
BEGIN;
SELECT call(:'t', 'get_document', '{"doc_id": 1}') -> 'result' ->> 'isError' AS is_error;
SELECT call(:'t', 'get_document', '{"doc_id": 99}') -> 'result' ->> 'isError' AS is_error;
SELECT current_setting('mtmcp.tenant_id') AS tenant_after;
COMMIT;
-- ... and a tenant verified by authenticate() in the enclosing transaction
-- is what remains afterwards, not the dispatched one.
BEGIN;
SELECT mtmcp.authenticate(tok('globex'));
SELECT call(:'t', 'whoami') -> 'result' -> 'content' -> 0 ->> 'text' AS inside;
SELECT mtmcp.current_tenant() AS after;
COMMIT;
