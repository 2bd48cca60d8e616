--
-- listen: subscriptions/listen (2026-07-28) -- the acknowledgement and the
-- tenant's listen key, NOTIFY mtmcp_list_changed when a tenant's lists
-- change (its own configuration, global registrations, the handler API),
-- never to another tenant's key
--
\set fixture_after prompts
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE FUNCTION http(token text, req jsonb, session text DEFAULT NULL, key text DEFAULT NULL)
RETURNS TABLE (status integer, session_id text, response jsonb) LANGUAGE sql VOLATILE AS $$
	SELECT h.http_status, h.session_id, h.response FROM mtmcp.mcp_http(token, req, session, key) h
$$;
CREATE FUNCTION req(id jsonb, method text, params jsonb DEFAULT '{}', caps jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('jsonrpc', '2.0', 'id', id, 'method', method,
		'params', params || jsonb_build_object('_meta', jsonb_build_object(
			'io.modelcontextprotocol/protocolVersion', '2026-07-28',
			'io.modelcontextprotocol/clientCapabilities', caps)))
$$;
SELECT tok('acme', sub => 'alice', scope => 'tools docs:write') AS a \gset
SELECT tok('acme', sub => 'bob', scope => 'tools') AS a2 \gset
SELECT tok('globex', sub => 'gina', scope => 'tools') AS g \gset
-- the listen keys, to name them in the notifications below
SELECT mtmcp._listen_key('acme') AS acme_key, mtmcp._listen_key('globex') AS globex_key,
	   mtmcp._listen_key('initech') AS initech_key \gset
\setenv ACME_KEY :acme_key
\setenv GLOBEX_KEY :globex_key
\setenv INITECH_KEY :initech_key

-------------------------------------------------------------------------------
-- server/discover advertises listChanged
-------------------------------------------------------------------------------
SELECT response -> 'result' -> 'capabilities' AS capabilities FROM http(:'a', req('1', 'server/discover'));

-------------------------------------------------------------------------------
-- The listen: the acknowledgement (subscriptionId = the request's id, the
-- kinds agreed to) and the tenant's listen key in session_id
-------------------------------------------------------------------------------
SELECT status, session_id = :'acme_key' AS acme_key, response
  FROM http(:'a', req('7', 'subscriptions/listen',
			   '{"notifications":{"toolsListChanged":true,"promptsListChanged":false,"resourceSubscriptions":["docs://acme/1"]}}'));
SELECT status, session_id = :'acme_key' AS acme_key, response -> 'params' AS params
  FROM http(:'a', req('"listen-a"', 'subscriptions/listen',
			   '{"notifications":{"toolsListChanged":true,"promptsListChanged":true,"resourcesListChanged":true}}'));
-- every listen of one tenant gets one key, whoever the subject; another tenant another
SELECT (SELECT session_id FROM http(:'a2', req('1', 'subscriptions/listen', '{"notifications":{}}'))) = :'acme_key' AS same_for_bob,
	   (SELECT session_id FROM http(:'g', req('1', 'subscriptions/listen', '{"notifications":{}}'))) = :'globex_key' AS globex_own,
	   :'acme_key' <> :'globex_key' AS differ, :'acme_key' ~ '^l[0-9a-f]{32}$' AS opaque;
-- the key names no tenant and cannot be made without the database's secret
SELECT position('acme' IN :'acme_key') = 0 AS no_name,
	   :'acme_key' <> 'l' || md5('acme') AS not_a_plain_hash;
-- no notifications filter: -32602; the id is echoed
SELECT status, session_id, response -> 'error' ->> 'code' AS code, response -> 'id' AS id
  FROM http(:'a', req('8', 'subscriptions/listen'));
-- through mcp_dispatch the acknowledgement alone
SELECT mtmcp.mcp_dispatch(:'a', req('9', 'subscriptions/listen', '{"notifications":{"promptsListChanged":true}}')) -> 'params' AS params;
-- without _meta and without a session it is the session revision's: no session, refused
SELECT status, session_id, response -> 'error' ->> 'code' AS code
  FROM http(:'a', '{"jsonrpc":"2.0","id":10,"method":"subscriptions/listen","params":{"notifications":{}}}');
-- no token: refused before anything, no key
SELECT status, session_id, response -> 'error' ->> 'code' AS code
  FROM http(NULL, req('11', 'subscriptions/listen', '{"notifications":{}}'));
-- audited like any request
SELECT method, request_id, result_kind, error_code FROM mtmcp.audit_log
 WHERE method = 'subscriptions/listen' AND tenant_id = 'acme' ORDER BY request_id;

-------------------------------------------------------------------------------
-- Announcements: NOTIFY mtmcp_list_changed '<listen key> <kind>' at commit.
-- (This session LISTENs; the keys are shown as <tenant>.)
-------------------------------------------------------------------------------
CREATE FUNCTION app.announce(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.notify_list_changed(args ->> 'kind');
	RETURN '"announced"';
END $$;
CREATE FUNCTION app.announce_then_fail(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.notify_list_changed('tools');
	RAISE EXCEPTION 'changed my mind';
END $$;
CREATE FUNCTION app.announce_then_ask(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.notify_list_changed('tools');
	RETURN mtmcp.elicit('ok', 'Really?', '{"type":"object","properties":{"ok":{"type":"boolean"}}}');
END $$;
CREATE FUNCTION app.forge(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('mtmcp_list_changed', (args ->> 'key') || ' tools');
	RETURN '"forged"';
END $$;
GRANT EXECUTE ON FUNCTION app.announce(jsonb), app.announce_then_fail(jsonb), app.announce_then_ask(jsonb),
	app.forge(jsonb) TO mtmcp_tool;
LISTEN mtmcp_list_changed;
\o | sed -e 's/ received from server process with PID [0-9]*\././' -e "s/$ACME_KEY/<acme>/" -e "s/$GLOBEX_KEY/<globex>/" -e "s/$INITECH_KEY/<initech>/"
-- registering the tools above: every active tenant with the feature (none needed: acme, globex;
-- initech is suspended, hooli not yet active)
SELECT mtmcp.register_tool('announce', 'Announces a list change.',
	'{"type":"object","properties":{"kind":{"type":"string"}}}', 'app.announce(jsonb)');
SELECT mtmcp.register_tool('announce_then_fail', 'Announces, then fails.', '{"type":"object"}', 'app.announce_then_fail(jsonb)');
SELECT mtmcp.register_tool('announce_then_ask', 'Announces, then asks.', '{"type":"object"}', 'app.announce_then_ask(jsonb)');
SELECT mtmcp.register_tool('forge', 'Tries pg_notify.', '{"type":"object"}', 'app.forge(jsonb)');
-- a tool of the analytics feature: only acme (plan pro) has it
SELECT mtmcp.register_tool('forecast', 'Forecasts.', '{"type":"object"}', 'app.announce(jsonb)', required_feature => 'analytics');
-- the same registration again, or a time limit: no list changes, nothing announced
SELECT mtmcp.register_tool('forecast', 'Forecasts.', '{"type":"object"}', 'app.announce(jsonb)', required_feature => 'analytics');
SELECT mtmcp.set_tool_timeout('forecast', 1000, NULL);
-- its description: acme again
SELECT mtmcp.register_tool('forecast', 'Forecasts the weather.', '{"type":"object"}', 'app.announce(jsonb)', required_feature => 'analytics');
-- globex's own switch: globex alone
SELECT mtmcp.set_tool_enabled('globex', 'forecast', false);
-- a feature for globex alone: globex, every kind
SELECT mtmcp.set_tenant_feature('globex', 'analytics', true);
-- initech resumed: initech, every kind
CALL mtmcp.resume_tenant('initech');
-- acme's description of a prompt: acme's prompts
SELECT mtmcp.set_prompt_description('acme', (SELECT name FROM mtmcp.prompts ORDER BY name LIMIT 1), 'Acme''s words.');
-- acme's term: acme, every kind
SELECT mtmcp.set_term('acme', 'document', 'record');
-- a plan's features: its active tenants (free: globex and initech; hooli is not active)
SELECT mtmcp.update_plan('free', ARRAY['documents', 'reports']);
-- a tenant suspended: that tenant
CALL mtmcp.suspend_tenant('initech', 'unpaid again');
-- a rolled-back change announces nothing
BEGIN;
SELECT mtmcp.set_tool_enabled('acme', 'forecast', false);
ROLLBACK;
-- removing the analytics tool: the tenants that had it (acme, globex by its feature; globex's switch
-- for it goes too)
SELECT mtmcp.unregister_tool('forecast');
-- from a handler, inside the sandbox: the verified tenant only
SELECT result_text(response) FROM http(:'g', req('20', 'tools/call', '{"name":"announce","arguments":{"kind":"prompts"}}'));
SELECT result_text(response) FROM http(:'a', req('21', 'tools/call', '{"name":"announce","arguments":{"kind":"resources"}}'));
-- a handler's announcement is rolled back with its failure
SELECT response -> 'result' ->> 'isError' AS is_error FROM http(:'a', req('22', 'tools/call', '{"name":"announce_then_fail"}'));
-- and with a round that stops to ask the client (input_required): announced only in the answered round
SELECT response -> 'result' ->> 'resultType' AS result_type
  FROM http(:'a', req('25', 'tools/call', '{"name":"announce_then_ask"}', '{"elicitation":{}}'));
-- an unknown kind is the handler's error
SELECT result_text(response) FROM http(:'a', req('23', 'tools/call', '{"name":"announce","arguments":{"kind":"everything"}}'));
-- pg_notify stays refused in the sandbox: a handler cannot signal another tenant's key
SELECT result_text(response) FROM http(:'a', req('24', 'tools/call', format('{"name":"forge","arguments":{"key":"%s"}}', :'globex_key')::jsonb));
\o
UNLISTEN *;

-- outside a verified call the handler API refuses
SELECT mtmcp.notify_list_changed('tools');
-- granted to handlers, not to the shim's role nor PUBLIC; the internals to no one
SELECT r, f, has_function_privilege(r, f, 'EXECUTE') AS may
  FROM unnest(ARRAY['mtmcp_tool', 'mtmcp_gateway', 'mtmcp_admin']) r,
	   unnest(ARRAY['mtmcp.notify_list_changed(text)', 'mtmcp._announce_list_changed(text[],text[])',
					'mtmcp._listen_key(text)']) f
 ORDER BY 2, 1;
