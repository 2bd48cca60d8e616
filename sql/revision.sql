--
-- revision: MCP 2026-07-28 (stateless requests) beside the session revisions,
-- and multi round-trip requests (handlers asking the client for input) with
-- a sealed requestState
--
\set fixture_after prompts
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE FUNCTION http(token text, req jsonb, session text DEFAULT NULL, key text DEFAULT NULL)
RETURNS TABLE (status integer, response jsonb) LANGUAGE sql VOLATILE AS $$
	SELECT h.http_status, h.response FROM mtmcp.mcp_http(token, req, session, key) h
$$;
-- a 2026-07-28 request: _meta with the version and the client's capabilities
CREATE FUNCTION req(id int, method text, params jsonb DEFAULT '{}', caps jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('jsonrpc', '2.0', 'id', id, 'method', method,
		'params', params || jsonb_build_object('_meta', jsonb_build_object(
			'io.modelcontextprotocol/protocolVersion', '2026-07-28',
			'io.modelcontextprotocol/clientInfo', jsonb_build_object('name', 'regress', 'version', '1'),
			'io.modelcontextprotocol/clientCapabilities', caps) || coalesce(params -> '_meta', '{}')))
$$;
-- base64url and back, to look inside (and forge) a requestState with the server's own key
CREATE FUNCTION b64u(data bytea) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT translate(encode(data, 'base64'), E'+/=\n', '-_') $$;
CREATE FUNCTION unb64u(s text) RETURNS bytea LANGUAGE sql IMMUTABLE
AS $$ SELECT decode(rpad(translate(s, '-_', '+/'), (length(s) + 3) / 4 * 4, '='), 'base64') $$;
CREATE FUNCTION state_payload(state text) RETURNS jsonb LANGUAGE sql IMMUTABLE
AS $$ SELECT convert_from(unb64u(split_part(state, '.', 1)), 'UTF8')::jsonb $$;
CREATE FUNCTION reseal(payload jsonb) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT b64u(convert_to(payload::text, 'UTF8')) || '.' ||
		   b64u(hmac(convert_to('mtmcp-request-state-v1', 'UTF8') || '\x00'::bytea || convert_to(payload::text, 'UTF8'),
					 (SELECT secret FROM mtmcp.request_state_secret), 'sha256'))
$$;
SELECT tok('acme', sub => 'alice', scope => 'tools docs:write') AS a \gset
SELECT tok('acme', sub => 'bob', scope => 'tools docs:write') AS a2 \gset
SELECT tok('globex', sub => 'gina', scope => 'tools docs:write') AS g \gset

-------------------------------------------------------------------------------
-- The stateless envelope
-------------------------------------------------------------------------------

-- server/discover: versions, capabilities, the server's identity in _meta
SELECT status, response -> 'result' -> 'supportedVersions' AS versions,
	   response -> 'result' -> 'capabilities' AS capabilities,
	   response -> 'result' -> '_meta' -> 'io.modelcontextprotocol/serverInfo' ->> 'name' AS server,
	   response -> 'result' ->> 'resultType' AS result_type, response -> 'result' ->> 'cacheScope' AS scope
  FROM http(:'a', req(1, 'server/discover'));
-- the same through mcp_dispatch (no HTTP, no session)
SELECT mtmcp.mcp_dispatch(:'a', req(2, 'server/discover')) -> 'result' -> 'supportedVersions' AS versions;
-- clientInfo is optional
SELECT status, response ? 'result' AS ok
  FROM http(:'a', req(3, 'server/discover') #- '{params,_meta,io.modelcontextprotocol/clientInfo}');

-- _meta's required keys: -32602, HTTP 400, the id echoed
SELECT * FROM http(:'a', '{"jsonrpc":"2.0","id":101,"method":"server/discover","params":{}}');
SELECT * FROM http(:'a', req(102, 'server/discover') #- '{params,_meta,io.modelcontextprotocol/protocolVersion}');
SELECT * FROM http(:'a', req(104, 'tools/list') #- '{params,_meta,io.modelcontextprotocol/clientCapabilities}');
-- an unsupported version: -32022 with the versions we speak and the one asked
SELECT * FROM http(:'a', jsonb_set(req(301, 'server/discover'), '{params,_meta,io.modelcontextprotocol/protocolVersion}', '"v999.0.0"'));
-- what 2026-07-28 removed, and what never was: -32601, HTTP 404
SELECT m AS method, h.status, h.response -> 'error' ->> 'code' AS code, h.response -> 'id' AS id
  FROM unnest(ARRAY['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe',
					'unknown/method']) m,
	   LATERAL http(:'a', req(500, m, '{"uri":"docs://help/tokens","level":"info"}')) h;
-- a notification: 202, no answer
SELECT * FROM http(:'a', '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}');
-- a sessionless message without _meta is still the session revision's: it needs a session
SELECT status, response -> 'error' ->> 'code' AS code FROM http(:'a', '{"jsonrpc":"2.0","id":5,"method":"tools/list"}');
-- authentication still comes first
SELECT status, response -> 'error' -> 'data' ->> 'reason' AS reason FROM http('garbage', req(6, 'server/discover'));

-- resultType on every result; cache hints on the cacheable ones, always private
SELECT m AS method, h.status, h.response -> 'result' ->> 'resultType' AS result_type,
	   h.response -> 'result' ->> 'ttlMs' AS ttl_ms, h.response -> 'result' ->> 'cacheScope' AS cache_scope
  FROM unnest(ARRAY['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']) m,
	   LATERAL http(:'a', req(7, m)) h;
SELECT status, response -> 'result' ->> 'resultType' AS result_type, response -> 'result' ->> 'ttlMs' AS ttl_ms,
	   response -> 'result' ->> 'cacheScope' AS cache_scope, response -> 'result' -> 'contents' -> 0 ->> 'text' AS text
  FROM http(:'a', req(8, 'resources/read', '{"uri":"docs://help/tokens"}'));
SELECT status, response -> 'result' ->> 'resultType' AS result_type, response -> 'result' -> 'content' -> 0 ->> 'text' AS text
  FROM http(:'a', req(9, 'tools/call', '{"name":"get_document","arguments":{"doc_id":2}}'));
SET mtmcp.list_cache_ttl = 0;
SELECT response -> 'result' ->> 'ttlMs' AS ttl_ms FROM http(:'a', req(10, 'tools/list'));
RESET mtmcp.list_cache_ttl;
-- the catalog a list shows is the caller's: globex (free plan) sees fewer tools than acme (pro)
SELECT (SELECT jsonb_array_length(response -> 'result' -> 'tools') FROM http(:'a', req(11, 'tools/list'))) AS acme_tools,
	   (SELECT jsonb_array_length(response -> 'result' -> 'tools') FROM http(:'g', req(11, 'tools/list'))) AS globex_tools;
-- an unknown resource, and another tenant's (which exists): -32602 with data.uri, alike
SELECT * FROM http(:'a', req(12, 'resources/read', '{"uri":"test://nonexistent-resource-for-conformance-testing"}'));
SELECT count(*) AS globex_doc_1_exists FROM app.documents WHERE tenant_id = 'globex' AND doc_id = 1;
SELECT * FROM http(:'a', req(13, 'resources/read', '{"uri":"kb://tenants/globex/documents/1"}'));
-- the session revision keeps -32002
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":14,"method":"resources/read","params":{"uri":"kb://tenants/globex/documents/1"}}') -> 'error' ->> 'code' AS code;

-- Log notifications only when _meta asks for a level (they are NOTICEs to the shim)
CREATE FUNCTION app.chatty(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.log('info', '"working"');
	PERFORM mtmcp.log('debug', '"details"');
	RETURN '"done"';
END $$;
GRANT EXECUTE ON FUNCTION app.chatty(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('chatty', 'Logs as it works.', '{"type":"object"}', 'app.chatty(jsonb)');
SET client_min_messages = notice;
SELECT status FROM http(:'a', req(15, 'tools/call', '{"name":"chatty"}'), NULL, 'k1');
SELECT status FROM http(:'a', req(16, 'tools/call', '{"name":"chatty","_meta":{"io.modelcontextprotocol/logLevel":"info"}}'), NULL, 'k2');
SET client_min_messages = warning;

-- With the shim's headers (the five-argument mcp_http): the MCP-Protocol-Version
-- header makes a request stateless even when its _meta is missing ...
SELECT http_status, response -> 'error' ->> 'code' AS code, response -> 'error' -> 'data' AS data
  FROM mtmcp.mcp_http(:'a', '{"jsonrpc":"2.0","id":17,"method":"tools/list","params":{}}', NULL, NULL,
					  '{"mcp-protocol-version":"2026-07-28","mcp-method":"tools/list"}');
-- ... and a parameter marked x-mcp-header must have come in its Mcp-Param-* header, with the same value
CREATE FUNCTION app.regional(args jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT to_jsonb('region ' || (args ->> 'region')) $$;
GRANT EXECUTE ON FUNCTION app.regional(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('regional', 'Works in a region.',
	'{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},"n":{"type":"integer","x-mcp-header":"N"}}}',
	'app.regional(jsonb)');
SELECT h AS headers, r.http_status, coalesce(r.response -> 'error' ->> 'message', r.response -> 'result' -> 'content' -> 0 ->> 'text') AS answer
  FROM unnest(ARRAY['{"mcp-param":{"region":"eu-west","n":"7"}}', '{"mcp-param":{"region":"us-east","n":"7"}}',
					'{"mcp-param":{"n":"7"}}', '{"mcp-param":{"region":"eu-west","n":"8"}}', '{}']::jsonb[]) h,
	   LATERAL mtmcp.mcp_http(:'a', req(18, 'tools/call', '{"name":"regional","arguments":{"region":"eu-west","n":7}}'),
							  NULL, NULL, h || '{"mcp-protocol-version":"2026-07-28"}') r;
-- an argument left out needs no header
SELECT http_status, response -> 'result' -> 'content' -> 0 ->> 'text' AS answer
  FROM mtmcp.mcp_http(:'a', req(19, 'tools/call', '{"name":"regional","arguments":{}}'), NULL, NULL, '{"mcp-param":{}}');

-------------------------------------------------------------------------------
-- Multi round-trip requests: a destructive tool that asks for confirmation
-------------------------------------------------------------------------------

-- Every round runs the handler from the start; the write it makes before it
-- asks is rolled back with the round, and only the final round deletes.
CREATE TABLE app.deletions (tenant_id text NOT NULL DEFAULT mtmcp.current_tenant(), doc_id int, reason text);
CREATE INDEX ON app.deletions (tenant_id);
SELECT mtmcp.register_tenant_table('app.deletions');
GRANT SELECT, INSERT ON app.deletions TO mtmcp_tool;
CREATE FUNCTION app.remove_document(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	id int := (args ->> 'doc_id')::int;
	old_title text;
	confirm jsonb;
	why jsonb;
BEGIN
	SELECT d.title INTO old_title FROM app.documents d WHERE d.doc_id = id;
	UPDATE app.documents SET title = title || ' (being deleted)' WHERE doc_id = id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no document %', id;
	END IF;
	confirm := mtmcp.elicit('confirm', format('Delete "%s" for good?', old_title),
		'{"type":"object","properties":{"confirm":{"type":"boolean"}},"required":["confirm"]}');
	IF confirm ->> 'action' <> 'accept' OR NOT (confirm -> 'content' ->> 'confirm')::boolean THEN
		UPDATE app.documents SET title = old_title WHERE doc_id = id;
		RETURN '"kept"';
	END IF;
	why := mtmcp.elicit('reason', 'Why?', '{"type":"object","properties":{"reason":{"type":"string"}},"required":["reason"]}');
	DELETE FROM app.documents WHERE doc_id = id;
	INSERT INTO app.deletions (doc_id, reason) VALUES (id, why -> 'content' ->> 'reason');
	RETURN to_jsonb(format('deleted document %s: %s', id, why -> 'content' ->> 'reason'));
END $$;
GRANT EXECUTE ON FUNCTION app.remove_document(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('remove_document', 'Delete a document (asks first).',
	'{"type":"object","properties":{"doc_id":{"type":"integer"}},"required":["doc_id"]}', 'app.remove_document(jsonb)',
	destructive => true);
SELECT mtmcp.set_tenant_tool_enabled(t, 'remove_document', true) FROM unnest(ARRAY['acme', 'globex']) t;

\set elicit '{"elicitation":{}}'
-- round 1: the question, and a sealed state
SELECT status, response -> 'result' ->> 'resultType' AS result_type,
	   response -> 'result' -> 'inputRequests' AS input_requests,
	   response -> 'result' ->> 'requestState' ~ '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$' AS sealed
  FROM http(:'a', req(20, 'tools/call', '{"name":"remove_document","arguments":{"doc_id":1}}', :'elicit'));
SELECT response -> 'result' ->> 'requestState' AS s1
  FROM http(:'a', req(20, 'tools/call', '{"name":"remove_document","arguments":{"doc_id":1}}', :'elicit')) \gset
-- the round's write was rolled back; the state holds no answer yet and names what it asked
SELECT title FROM app.documents WHERE tenant_id = 'acme' AND doc_id = 1;
SELECT p - 'e' AS payload, (p ->> 'e')::bigint > extract(epoch FROM now()) AS expires_later
  FROM state_payload(:'s1') p;
-- round 2: the answer to round 1 -> the next question, a new state carrying the answer
SELECT status, response -> 'result' ->> 'resultType' AS result_type,
	   response -> 'result' -> 'inputRequests' ? 'reason' AS asks_reason,
	   response -> 'result' ->> 'requestState' <> :'s1' AS new_state
  FROM http(:'a', req(21, 'tools/call', jsonb_build_object('name', 'remove_document', 'arguments', '{"doc_id":1}'::jsonb,
	'inputResponses', '{"confirm":{"action":"accept","content":{"confirm":true}}}'::jsonb, 'requestState', :'s1'), :'elicit'));
SELECT response -> 'result' ->> 'requestState' AS s2
  FROM http(:'a', req(21, 'tools/call', jsonb_build_object('name', 'remove_document', 'arguments', '{"doc_id":1}'::jsonb,
	'inputResponses', '{"confirm":{"action":"accept","content":{"confirm":true}}}'::jsonb, 'requestState', :'s1'), :'elicit')) \gset
SELECT jsonb_object_keys(p -> 'a') AS answered, p -> 'p' ? 'reason' AS pending_reason FROM state_payload(:'s2') p;

-- Refused before the handler runs (-32602, HTTP 400, a security event), and
-- the victim's document is still there after each:
CREATE FUNCTION round3(token text, state text, tool text DEFAULT 'remove_document', doc int DEFAULT 1)
RETURNS TABLE (status integer, code text, message text, doc_still_there boolean, title_untouched boolean)
LANGUAGE sql VOLATILE AS $$
	SELECT h.status, h.response -> 'error' ->> 'code', h.response -> 'error' ->> 'message',
		   EXISTS (SELECT 1 FROM app.documents d WHERE d.doc_id = doc AND d.tenant_id = 'acme'),
		   NOT EXISTS (SELECT 1 FROM app.documents d WHERE d.title LIKE '%being deleted%')
	  FROM http(token, req(22, 'tools/call', jsonb_build_object('name', tool, 'arguments', jsonb_build_object('doc_id', doc),
		'inputResponses', '{"reason":{"action":"accept","content":{"reason":"obsolete"}}}'::jsonb, 'requestState', state),
		'{"elicitation":{}}')) h
$$;
-- tampered: one character of the payload changed
SELECT * FROM round3(:'a', overlay(:'s2' placing CASE WHEN substr(:'s2', 5, 1) = 'A' THEN 'B' ELSE 'A' END from 5 for 1));
-- tampered: the MAC cut short, or no MAC at all
SELECT * FROM round3(:'a', :'s2' || '-TAMPERED');
SELECT * FROM round3(:'a', split_part(:'s2', '.', 1));
-- another tenant's state (globex holds acme's state): same tool, same arguments
SELECT * FROM round3(:'g', :'s2');
-- another subject of the same tenant
SELECT * FROM round3(:'a2', :'s2');
-- replayed on another tool, or on other arguments (acme's document 3)
SELECT * FROM round3(:'a', :'s2', 'get_document');
SELECT * FROM round3(:'a', :'s2', 'remove_document', 3);
-- expired (resealed with the server's own key, so only the expiry is wrong)
SELECT * FROM round3(:'a', reseal(jsonb_set(state_payload(:'s2'), '{e}', to_jsonb(extract(epoch FROM now())::bigint - 60))));
-- a state resealed for another tenant by someone holding the key would pass; without the key it cannot be made
SELECT * FROM round3(:'a', b64u(convert_to(jsonb_set(state_payload(:'s2'), '{t}', '"globex"')::text, 'UTF8')) || '.' || split_part(:'s2', '.', 2));
-- malformed inputResponses: refused, nothing run
SELECT status, response -> 'error' ->> 'code' AS code, response -> 'error' ->> 'message' AS message
  FROM http(:'a', req(23, 'tools/call', '{"name":"remove_document","arguments":{"doc_id":1},"inputResponses":{"confirm":12345}}', :'elicit'));
SELECT status, response -> 'error' ->> 'code' AS code
  FROM http(:'a', req(24, 'tools/call', '{"name":"remove_document","arguments":{"doc_id":1},"inputResponses":null}', :'elicit'));

-- round 3: the last answer -> done; the state carried round 2's answer
SELECT status, response -> 'result' ->> 'resultType' AS result_type, response -> 'result' -> 'content' -> 0 ->> 'text' AS text
  FROM http(:'a', req(25, 'tools/call', jsonb_build_object('name', 'remove_document', 'arguments', '{"doc_id":1}'::jsonb,
	'inputResponses', '{"reason":{"action":"accept","content":{"reason":"obsolete"}}}'::jsonb, 'requestState', :'s2'), :'elicit'));
SELECT tenant_id, doc_id FROM app.documents ORDER BY 1, 2;
SELECT tenant_id, doc_id, reason FROM app.deletions;

-- declined: nothing deleted, a complete result
SELECT response -> 'result' ->> 'requestState' AS s3
  FROM http(:'g', req(26, 'tools/call', '{"name":"remove_document","arguments":{"doc_id":3}}', :'elicit')) \gset
SELECT response -> 'result' -> 'content' -> 0 ->> 'text' AS text
  FROM http(:'g', req(27, 'tools/call', jsonb_build_object('name', 'remove_document', 'arguments', '{"doc_id":3}'::jsonb,
	'inputResponses', '{"confirm":{"action":"decline"}}'::jsonb, 'requestState', :'s3'), :'elicit'));
-- an answer to another question under the key (a changed message) does not count: asked again
SELECT response -> 'result' ->> 'resultType' AS result_type
  FROM http(:'g', req(28, 'tools/call', jsonb_build_object('name', 'remove_document', 'arguments', '{"doc_id":3}'::jsonb,
	'inputResponses', '{"confirm":{"action":"accept","content":{"confirm":true}}}'::jsonb,
	'requestState', reseal(jsonb_set(state_payload(:'s3'), '{p,confirm}', '"another-question"'))), :'elicit'));
-- the client did not declare elicitation: -32021, HTTP 400, nothing run
SELECT * FROM http(:'g', req(29, 'tools/call', '{"name":"remove_document","arguments":{"doc_id":3}}'));
SELECT title FROM app.documents WHERE tenant_id = 'globex' AND doc_id = 3;

-- Every round is one audit row; refusals of the state are security events
SELECT request_id, tenant_id, subject, target, result_kind, severity, error_code, detail
  FROM mtmcp.audit_log WHERE method = 'tools/call' AND target IN ('remove_document', 'get_document')
   AND request_id::int BETWEEN 20 AND 29 ORDER BY ts, event_id;

-------------------------------------------------------------------------------
-- Several questions in one round, capabilities, other methods
-------------------------------------------------------------------------------
CREATE FUNCTION app.survey(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	caps jsonb := mtmcp.client_capabilities();
	name jsonb;
	greeting jsonb;
	roots jsonb;
BEGIN
	IF caps ? 'elicitation' THEN
		name := mtmcp.elicit('user_name', 'What is your name?',
			'{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}', wait => false);
	END IF;
	IF caps ? 'sampling' THEN
		greeting := mtmcp.sample('greeting', '{"messages":[{"role":"user","content":{"type":"text","text":"Generate a greeting"}}],"maxTokens":50}', wait => false);
	END IF;
	IF caps ? 'roots' THEN
		roots := mtmcp.list_roots('client_roots', wait => false);
	END IF;
	PERFORM mtmcp.await_input();
	RETURN jsonb_build_object('name', name -> 'content' ->> 'name', 'greeting', greeting -> 'content' ->> 'text',
		'roots', jsonb_path_query_array(roots, '$.roots[*].uri'));
END $$;
GRANT EXECUTE ON FUNCTION app.survey(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('survey', 'Asks three things at once.', '{"type":"object"}', 'app.survey(jsonb)');
SELECT jsonb_object_keys(response -> 'result' -> 'inputRequests') AS asked
  FROM http(:'a', req(30, 'tools/call', '{"name":"survey"}', '{"elicitation":{},"sampling":{},"roots":{}}'));
-- only what the client declared is asked
SELECT response -> 'result' -> 'inputRequests' AS asked
  FROM http(:'a', req(31, 'tools/call', '{"name":"survey"}', '{"sampling":{}}'));
SELECT response -> 'result' ->> 'requestState' AS s4
  FROM http(:'a', req(32, 'tools/call', '{"name":"survey"}', '{"elicitation":{},"sampling":{},"roots":{}}')) \gset
SELECT response -> 'result' ->> 'resultType' AS result_type, response -> 'result' -> 'content' -> 0 ->> 'text' AS text
  FROM http(:'a', req(33, 'tools/call', jsonb_build_object('name', 'survey', 'inputResponses', '{
	"user_name": {"action": "accept", "content": {"name": "Alice"}},
	"greeting": {"role": "assistant", "content": {"type": "text", "text": "Hello there!"}, "model": "m"},
	"client_roots": {"roots": [{"uri": "file:///test/root", "name": "Test Root"}]},
	"unknown_extra_key": {"action": "accept", "content": {"foo": "bar"}}}'::jsonb, 'requestState', :'s4'),
	'{"elicitation":{},"sampling":{},"roots":{}}'));
-- an answer missing: asked again, the others kept
SELECT jsonb_object_keys(response -> 'result' -> 'inputRequests') AS asked_again
  FROM http(:'a', req(34, 'tools/call', jsonb_build_object('name', 'survey', 'inputResponses', '{
	"user_name": {"action": "accept", "content": {"name": "Alice"}}}'::jsonb, 'requestState', :'s4'),
	'{"elicitation":{},"sampling":{},"roots":{}}'));
-- a handler that swallows the abort (or asks with wait => false and goes on)
-- still ends the round input_required, and its writes go with the round
CREATE FUNCTION app.sneaky(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		PERFORM mtmcp.elicit('ok', 'OK?', '{"type":"object","properties":{"ok":{"type":"boolean"}}}');
	EXCEPTION WHEN OTHERS THEN
		NULL;
	END;
	PERFORM mtmcp.elicit('ok2', 'OK too?', '{"type":"object","properties":{"ok":{"type":"boolean"}}}', wait => false);
	DELETE FROM app.documents WHERE doc_id = 3;
	RETURN '"deleted anyway"';
END $$;
GRANT EXECUTE ON FUNCTION app.sneaky(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('sneaky', 'Tries to act without the answer.', '{"type":"object"}', 'app.sneaky(jsonb)');
SELECT response -> 'result' ->> 'resultType' AS result_type, response -> 'result' -> 'inputRequests' ?& ARRAY['ok', 'ok2'] AS asks_both
  FROM http(:'a', req(44, 'tools/call', '{"name":"sneaky"}', :'elicit'));
SELECT count(*) AS acme_doc_3_still_there FROM app.documents WHERE tenant_id = 'acme' AND doc_id = 3;
-- keys are names, one question each
CREATE FUNCTION app.bad_keys(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF args ->> 'k' = 'twice' THEN
		PERFORM mtmcp.elicit('k', 'one?', '{"type":"object","properties":{}}', wait => false);
		PERFORM mtmcp.elicit('k', 'two?', '{"type":"object","properties":{}}', wait => false);
	ELSE
		PERFORM mtmcp.elicit(args ->> 'k', 'x?', '{"type":"object","properties":{}}');
	END IF;
	RETURN '"?"';
END $$;
GRANT EXECUTE ON FUNCTION app.bad_keys(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('bad_keys', 'Misuses keys.', '{"type":"object"}', 'app.bad_keys(jsonb)');
SELECT k, response -> 'result' -> 'content' -> 0 ->> 'text' AS text
  FROM unnest(ARRAY['', 'a b', repeat('x', 65), 'twice']) k,
	   LATERAL http(:'a', req(45, 'tools/call', jsonb_build_object('name', 'bad_keys', 'arguments', jsonb_build_object('k', k)), :'elicit'));
-- URL mode needs elicitation.url
CREATE FUNCTION app.connect(args jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT mtmcp.elicit_url('oauth', 'Connect your account', 'https://example.com/connect') - 'content'
$$;
GRANT EXECUTE ON FUNCTION app.connect(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('connect', 'Connects an account.', '{"type":"object"}', 'app.connect(jsonb)');
SELECT status, response -> 'error' -> 'data' AS data FROM http(:'a', req(35, 'tools/call', '{"name":"connect"}', :'elicit'));
SELECT response -> 'result' -> 'inputRequests' AS asked
  FROM http(:'a', req(36, 'tools/call', '{"name":"connect"}', '{"elicitation":{"url":{}}}'));

-- prompts/get and resources/read may ask too
CREATE FUNCTION app.context_prompt(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c jsonb := mtmcp.elicit('user_context', 'What context should the prompt use?',
		'{"type":"object","properties":{"context":{"type":"string"}},"required":["context"]}');
BEGIN
	RETURN jsonb_build_array(jsonb_build_object('role', 'user', 'content',
		jsonb_build_object('type', 'text', 'text', 'Context: ' || (c -> 'content' ->> 'context'))));
END $$;
GRANT EXECUTE ON FUNCTION app.context_prompt(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_prompt('with_context', 'Asks for context.', renderer => 'app.context_prompt(jsonb)');
SELECT response -> 'result' ->> 'resultType' AS result_type, response -> 'result' -> 'inputRequests' ? 'user_context' AS asks
  FROM http(:'a', req(37, 'prompts/get', '{"name":"with_context"}', :'elicit'));
SELECT response -> 'result' ->> 'requestState' AS s5 FROM http(:'a', req(37, 'prompts/get', '{"name":"with_context"}', :'elicit')) \gset
SELECT response -> 'result' ->> 'resultType' AS result_type, response -> 'result' -> 'messages' -> 0 -> 'content' ->> 'text' AS text
  FROM http(:'a', req(38, 'prompts/get', jsonb_build_object('name', 'with_context', 'requestState', :'s5',
	'inputResponses', '{"user_context":{"action":"accept","content":{"context":"test context"}}}'::jsonb), :'elicit'));
-- a resource reader too
CREATE FUNCTION app.read_secret_note(vars jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := mtmcp.elicit('why', 'Why do you want to read it?',
		'{"type":"object","properties":{"why":{"type":"string"}},"required":["why"]}');
BEGIN
	RETURN to_jsonb('note for ' || (vars ->> 'tenant') || ', read because ' || (r #>> '{content,why}'));
END $$;
GRANT EXECUTE ON FUNCTION app.read_secret_note(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_resource_template('secret_notes', 'kb://tenants/{tenant}/secret-note', 'A note that asks why.',
	'text/plain', 'app.read_secret_note(jsonb)');
SELECT response -> 'result' ->> 'resultType' AS result_type, response -> 'result' -> 'inputRequests' ? 'why' AS asks,
	   response -> 'result' ? 'ttlMs' AS has_ttl
  FROM http(:'a', req(41, 'resources/read', '{"uri":"kb://tenants/acme/secret-note"}', :'elicit'));
SELECT response -> 'result' ->> 'requestState' AS s7
  FROM http(:'a', req(41, 'resources/read', '{"uri":"kb://tenants/acme/secret-note"}', :'elicit')) \gset
SELECT response -> 'result' -> 'contents' -> 0 ->> 'text' AS text, response -> 'result' ->> 'cacheScope' AS cache_scope
  FROM http(:'a', req(42, 'resources/read', jsonb_build_object('uri', 'kb://tenants/acme/secret-note', 'requestState', :'s7',
	'inputResponses', '{"why":{"action":"accept","content":{"why":"audit"}}}'::jsonb), :'elicit'));
-- the state names its URI: on another one it is refused
SELECT status, response -> 'error' ->> 'code' AS code
  FROM http(:'a', req(43, 'resources/read', jsonb_build_object('uri', 'docs://help/tokens', 'requestState', :'s7'), :'elicit'));
-- the state of a prompt is not a tool's
SELECT status, response -> 'error' ->> 'code' AS code
  FROM http(:'a', req(39, 'tools/call', jsonb_build_object('name', 'with_context', 'requestState', :'s5'), :'elicit'));
-- never on other methods: a completer that asks fails like any broken completer
CREATE FUNCTION app.asking_completer(req jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT mtmcp.elicit('x', 'x?', '{"type":"object","properties":{}}')
$$;
GRANT EXECUTE ON FUNCTION app.asking_completer(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_prompt('asks_on_complete', 'x', '[{"name":"a"}]', template => '[{"role":"user","content":{"type":"text","text":"x"}}]',
	completer => 'app.asking_completer(jsonb)');
SELECT status, response -> 'error' ->> 'code' AS code
  FROM http(:'a', req(40, 'completion/complete', '{"ref":{"type":"ref/prompt","name":"asks_on_complete"},"argument":{"name":"a","value":""}}', :'elicit'));
-- and outside any request
SELECT mtmcp.elicit('x', 'x?', '{}');

-------------------------------------------------------------------------------
-- The same handler for a 2025-11-25 session client (the shim asks it with
-- elicitation/create and re-sends the request with the answers)
-------------------------------------------------------------------------------
SELECT session_id AS sa FROM mtmcp.mcp_http(:'a', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{
	"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}},"clientInfo":{"name":"sdk1","version":"1"}}}', NULL) \gset
SELECT client_capabilities FROM mtmcp.sessions WHERE session_id = :'sa';
SELECT status, response -> 'result' ->> 'resultType' AS result_type, response -> 'result' -> 'inputRequests' -> 'confirm' ->> 'method' AS method
  FROM http(:'a', '{"jsonrpc":"2.0","id":50,"method":"tools/call","params":{"name":"remove_document","arguments":{"doc_id":3}}}', :'sa');
SELECT response -> 'result' ->> 'requestState' AS s6
  FROM http(:'a', '{"jsonrpc":"2.0","id":50,"method":"tools/call","params":{"name":"remove_document","arguments":{"doc_id":3}}}', :'sa') \gset
SELECT response -> 'result' -> 'content' -> 0 ->> 'text' AS text, response -> 'result' ? 'resultType' AS has_result_type
  FROM http(:'a', jsonb_build_object('jsonrpc', '2.0', 'id', 51, 'method', 'tools/call', 'params', jsonb_build_object(
	'name', 'remove_document', 'arguments', '{"doc_id":3}'::jsonb, 'requestState', :'s6',
	'inputResponses', '{"confirm":{"action":"cancel"}}'::jsonb)), :'sa');
-- the client answered elicitation/create with an error: the handler's error
SELECT response -> 'result' AS result
  FROM http(:'a', jsonb_build_object('jsonrpc', '2.0', 'id', 52, 'method', 'tools/call', 'params', jsonb_build_object(
	'name', 'remove_document', 'arguments', '{"doc_id":3}'::jsonb, 'requestState', :'s6',
	'inputResponses', '{"confirm":{"error":{"code":-1,"message":"User rejected"}}}'::jsonb)), :'sa');
-- a session that declared nothing: -32021 as a session error (HTTP 200)
SELECT session_id AS sb FROM mtmcp.mcp_http(:'a', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}', NULL) \gset
SELECT * FROM http(:'a', '{"jsonrpc":"2.0","id":53,"method":"tools/call","params":{"name":"remove_document","arguments":{"doc_id":3}}}', :'sb');
SELECT count(*) AS acme_doc_3 FROM app.documents WHERE tenant_id = 'acme' AND doc_id = 3;

-- A new key voids every open round (each backend reloads it)
SELECT response -> 'result' ->> 'requestState' AS s8
  FROM http(:'a', req(60, 'tools/call', '{"name":"remove_document","arguments":{"doc_id":3}}', :'elicit')) \gset
UPDATE mtmcp.request_state_secret SET secret = gen_random_bytes(32);
SELECT status, response -> 'error' ->> 'code' AS code
  FROM http(:'a', req(61, 'tools/call', jsonb_build_object('name', 'remove_document', 'arguments', '{"doc_id":3}'::jsonb,
	'inputResponses', '{"confirm":{"action":"cancel"}}'::jsonb, 'requestState', :'s8'), :'elicit'));
