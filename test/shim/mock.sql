--
-- test/shim/mock.sql -- a stand-in for mtmcp's HTTP contract, for testing the
-- shim without the extension.  Load into an empty database as a superuser:
--
--   createdb shim_dev && psql -v ON_ERROR_STOP=1 -d shim_dev -f test/shim/mock.sql
--
-- It implements the same four functions with the same shapes as the
-- extension (mtmcp.mcp_http, mcp_http_end, mcp_http_check,
-- mcp_http_resource_event) and the shim's login role mtmcp_shim_mock, which
-- may execute them and nothing else.  Tokens are fixed words:
--
--   good, good2     tenants a and b            suspended  403 tenant_suspended
--   noscope         403 insufficient_scope     NULL       401 missing_token
--   anything else   401 invalid_signature
--
-- Tools: echo (returns its arguments), slow {steps, sleep} (progress
-- notices with the call's key, plus forged notices and a plain one), nap
-- {sleep} (no notices), touch
-- {uri} (announces a resource update), fail (raises an SQL error), ask
-- (multi round-trip: an elicitation, then an elicitation and a sampling
-- request, then the answer).  A 2026-07-28 request (the five-argument
-- mcp_http, with the MCP headers) is answered with the headers it came with.
--
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mtmcp_shim_mock') THEN
		CREATE ROLE mtmcp_shim_mock LOGIN;
	END IF;
END
$$;

DROP SCHEMA IF EXISTS mtmcp CASCADE;
CREATE SCHEMA mtmcp;

CREATE TABLE mtmcp.sessions (
	session_id text PRIMARY KEY,
	tenant text NOT NULL,
	ended boolean NOT NULL DEFAULT false
);
CREATE TABLE mtmcp.subscriptions (
	session_id text NOT NULL,
	tenant text NOT NULL,
	uri text NOT NULL
);
CREATE TABLE mtmcp.resource_events (
	event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant text NOT NULL,
	uri text NOT NULL
);

-- token -> (status, reason, tenant)
CREATE FUNCTION mtmcp._auth(token text, OUT status integer, OUT reason text, OUT tenant text)
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN token IS NULL THEN 401
				WHEN token IN ('good', 'good2') THEN 200
				WHEN token IN ('suspended', 'noscope') THEN 403
				ELSE 401 END,
		   CASE WHEN token IS NULL THEN 'missing_token'
				WHEN token = 'suspended' THEN 'tenant_suspended'
				WHEN token = 'noscope' THEN 'insufficient_scope'
				WHEN token IN ('good', 'good2') THEN NULL
				ELSE 'invalid_signature' END,
		   CASE token WHEN 'good' THEN 'a' WHEN 'good2' THEN 'b' END
$$;

CREATE FUNCTION mtmcp._error(id jsonb, code integer, message text, data jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('jsonrpc', '2.0', 'id', id,
							  'error', jsonb_strip_nulls(jsonb_build_object('code', code, 'message', message, 'data', data)))
$$;

CREATE FUNCTION mtmcp._notify(key text, message jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'mtmcp notification' USING DETAIL = jsonb_build_object('key', key, 'message', message)::text;
END
$$;

-- (the extension names its third argument session_id, like the OUT column;
-- PL/pgSQL does not allow that, hence in_session_id here)
CREATE FUNCTION mtmcp.mcp_http(token text, request jsonb, in_session_id text, notify_key text DEFAULT NULL,
							   OUT http_status integer, OUT session_id text, OUT response jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a record;
	sid text := in_session_id;
	s mtmcp.sessions;
	id jsonb := request -> 'id';
	method text := request ->> 'method';
	params jsonb := coalesce(request -> 'params', '{}');
	args jsonb := coalesce(request #> '{params,arguments}', '{}');
	ptoken jsonb := request #> '{params,_meta,progressToken}';
	i integer;
	ev bigint;
BEGIN
	SELECT * INTO a FROM mtmcp._auth(token);
	IF a.status <> 200 THEN
		http_status := a.status;
		response := mtmcp._error(id, -32001, CASE a.status WHEN 401 THEN 'Unauthorized' ELSE 'Forbidden' END,
								 jsonb_build_object('reason', a.reason, 'status', a.status));
		RETURN;
	END IF;
	IF method = 'initialize' THEN
		sid := md5(random()::text || clock_timestamp()::text) || md5(random()::text);
		INSERT INTO mtmcp.sessions VALUES (sid, a.tenant);
		http_status := 200;
		session_id := sid;
		response := jsonb_build_object('jsonrpc', '2.0', 'id', id, 'result', jsonb_build_object(
			'protocolVersion', coalesce(params ->> 'protocolVersion', '2025-11-25'),
			'capabilities', '{"tools":{},"resources":{"subscribe":true}}'::jsonb,
			'serverInfo', '{"name":"mock","version":"0"}'::jsonb));
		RETURN;
	END IF;
	IF sid IS NULL THEN
		http_status := 400;
		response := mtmcp._error(NULL, -32000, 'Bad Request: Mcp-Session-Id header is required');
		RETURN;
	END IF;
	SELECT * INTO s FROM mtmcp.sessions x WHERE x.session_id = sid AND x.tenant = a.tenant AND NOT x.ended;
	IF NOT FOUND THEN
		http_status := 404;
		response := mtmcp._error(NULL, -32001, 'Session not found');
		RETURN;
	END IF;
	session_id := sid;
	IF id IS NULL OR method IS NULL THEN	-- a notification, or a client's response
		http_status := 202;
		RETURN;
	END IF;
	http_status := 200;
	IF method = 'tools/call' THEN
		CASE params ->> 'name'
			WHEN 'echo' THEN
				response := jsonb_build_object('jsonrpc', '2.0', 'id', id, 'result',
					jsonb_build_object('content', jsonb_build_array(jsonb_build_object('type', 'text', 'text', args::text))));
			WHEN 'slow' THEN
				FOR i IN 1 .. coalesce((args ->> 'steps')::integer, 3) LOOP
					PERFORM mtmcp._notify(notify_key, jsonb_build_object('jsonrpc', '2.0', 'method', 'notifications/progress',
						'params', jsonb_build_object('progressToken', coalesce(ptoken, '"none"'), 'progress', i)));
					-- forgeries a tool could try: wrong key, a request (has id), a plain notice
					PERFORM mtmcp._notify('forged', jsonb_build_object('jsonrpc', '2.0', 'method', 'notifications/message',
						'params', jsonb_build_object('data', 'FORGED')));
					PERFORM mtmcp._notify(notify_key, jsonb_build_object('jsonrpc', '2.0', 'id', 99, 'method', 'sampling/createMessage'));
					RAISE NOTICE 'just a notice';
					PERFORM pg_sleep(coalesce((args ->> 'sleep')::float8, 0.2));
				END LOOP;
				response := jsonb_build_object('jsonrpc', '2.0', 'id', id, 'result',
					jsonb_build_object('content', jsonb_build_array(jsonb_build_object('type', 'text', 'text', 'done'))));
			WHEN 'nap' THEN
				PERFORM pg_sleep(coalesce((args ->> 'sleep')::float8, 1));
				response := jsonb_build_object('jsonrpc', '2.0', 'id', id, 'result',
					jsonb_build_object('content', '[]'::jsonb));
			WHEN 'touch' THEN
				INSERT INTO mtmcp.resource_events (tenant, uri) VALUES (a.tenant, args ->> 'uri') RETURNING event_id INTO ev;
				PERFORM pg_notify('mtmcp_resource_updated', ev::text);
				response := jsonb_build_object('jsonrpc', '2.0', 'id', id, 'result',
					jsonb_build_object('content', '[]'::jsonb));
			WHEN 'fail' THEN
				RAISE EXCEPTION 'mock failure' USING ERRCODE = 'XX001';
			WHEN 'ask' THEN
				-- a multi round-trip handler: asks for a name (round 1), then for a
				-- confirmation (round 2, state "r2"), then answers with both
				IF params -> 'inputResponses' IS NULL THEN
					response := jsonb_build_object('jsonrpc', '2.0', 'id', id, 'result', jsonb_build_object(
						'resultType', 'input_required', 'requestState', 'r1',
						'inputRequests', jsonb_build_object('who', jsonb_build_object('method', 'elicitation/create',
							'params', jsonb_build_object('message', 'Your name?', 'requestedSchema',
								'{"type":"object","properties":{"name":{"type":"string"}}}'::jsonb)))));
				ELSIF params ->> 'requestState' = 'r1' THEN
					response := jsonb_build_object('jsonrpc', '2.0', 'id', id, 'result', jsonb_build_object(
						'resultType', 'input_required',
						'requestState', 'r2:' || (params #>> '{inputResponses,who,content,name}'),
						'inputRequests', jsonb_build_object(
							'sure', jsonb_build_object('method', 'elicitation/create', 'params',
								jsonb_build_object('message', 'Sure?', 'requestedSchema', '{"type":"object","properties":{}}'::jsonb)),
							'llm', jsonb_build_object('method', 'sampling/createMessage', 'params',
								jsonb_build_object('messages', '[]'::jsonb, 'maxTokens', 5)))));
				ELSE
					response := jsonb_build_object('jsonrpc', '2.0', 'id', id, 'result', jsonb_build_object(
						'content', jsonb_build_array(jsonb_build_object('type', 'text', 'text',
							'state=' || (params ->> 'requestState') || ' sure=' || (params #>> '{inputResponses,sure,action}')
							|| ' llm=' || (params #>> '{inputResponses,llm,content,text}')))));
				END IF;
			ELSE
				response := mtmcp._error(id, -32602, 'Unknown tool');
		END CASE;
	ELSIF method = 'resources/subscribe' THEN
		INSERT INTO mtmcp.subscriptions VALUES (sid, a.tenant, params ->> 'uri');
		response := jsonb_build_object('jsonrpc', '2.0', 'id', id, 'result', '{}'::jsonb);
	ELSIF method IN ('ping', 'tools/list') THEN
		response := jsonb_build_object('jsonrpc', '2.0', 'id', id, 'result',
			CASE method WHEN 'ping' THEN '{}'::jsonb ELSE '{"tools":[{"name":"echo","inputSchema":{"type":"object"}}]}'::jsonb END);
	ELSE
		response := mtmcp._error(id, -32601, 'Method not found');
	END IF;
END
$$;

-- 2026-07-28 requests come with their MCP headers; the mock answers with what it got
CREATE FUNCTION mtmcp.mcp_http(token text, request jsonb, in_session_id text, notify_key text, headers jsonb,
							   OUT http_status integer, OUT session_id text, OUT response jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a record;
BEGIN
	SELECT * INTO a FROM mtmcp._auth(token);
	IF a.status <> 200 THEN
		http_status := a.status;
		response := mtmcp._error(request -> 'id', -32001, 'Unauthorized', jsonb_build_object('reason', a.reason, 'status', a.status));
		RETURN;
	END IF;
	IF request ->> 'method' IN ('initialize', 'ping') THEN
		http_status := 404;
		response := mtmcp._error(request -> 'id', -32601, 'Method not found');
		RETURN;
	END IF;
	http_status := 200;
	IF request ->> 'method' = 'subscriptions/listen' THEN
		-- the listen key names the tenant's listeners; the acknowledgement goes first
		session_id := 'listen-' || a.tenant;
		response := jsonb_build_object('jsonrpc', '2.0', 'method', 'notifications/subscriptions/acknowledged',
			'params', jsonb_build_object('_meta', jsonb_build_object('io.modelcontextprotocol/subscriptionId', 'sub-' || a.tenant)));
		RETURN;
	END IF;
	IF request #>> '{params,name}' IN ('trigger_tools', 'trigger_prompts') THEN
		PERFORM pg_notify('mtmcp_list_changed', 'listen-' || a.tenant || ' ' ||
			CASE request #>> '{params,name}' WHEN 'trigger_tools' THEN 'tools' ELSE 'prompts' END);
	END IF;
	response := jsonb_build_object('jsonrpc', '2.0', 'id', request -> 'id', 'result',
		jsonb_build_object('resultType', 'complete', 'headers', headers, 'session', in_session_id));
END
$$;

CREATE FUNCTION mtmcp._session_status(token text, session_id text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	a record;
BEGIN
	SELECT * INTO a FROM mtmcp._auth(token);
	IF a.status <> 200 THEN
		RETURN a.status;
	END IF;
	IF session_id IS NULL THEN
		RETURN 400;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM mtmcp.sessions s WHERE s.session_id = _session_status.session_id
				   AND s.tenant = a.tenant AND NOT s.ended) THEN
		RETURN 404;
	END IF;
	RETURN 200;
END
$$;

CREATE FUNCTION mtmcp.mcp_http_check(token text, session_id text) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT mtmcp._session_status(token, session_id)
$$;

CREATE FUNCTION mtmcp.mcp_http_end(token text, session_id text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	st integer := mtmcp._session_status(token, session_id);
BEGIN
	IF st <> 200 THEN
		RETURN st;
	END IF;
	UPDATE mtmcp.sessions s SET ended = true WHERE s.session_id = mcp_http_end.session_id;
	RETURN 204;
END
$$;

CREATE FUNCTION mtmcp.mcp_http_resource_event(event_id bigint, OUT session_id text, OUT message text)
RETURNS SETOF record
LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT s.session_id,
		   json_build_object('jsonrpc', '2.0', 'method', 'notifications/resources/updated',
							 'params', json_build_object('uri', e.uri))::text
	  FROM mtmcp.resource_events e
	  JOIN mtmcp.subscriptions s ON s.tenant = e.tenant AND s.uri = e.uri
	  JOIN mtmcp.sessions x ON x.session_id = s.session_id AND NOT x.ended
	 WHERE e.event_id = mcp_http_resource_event.event_id
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mtmcp FROM PUBLIC;
GRANT USAGE ON SCHEMA mtmcp TO mtmcp_shim_mock;
GRANT EXECUTE ON FUNCTION mtmcp.mcp_http(text, jsonb, text, text, jsonb) TO mtmcp_shim_mock;
GRANT EXECUTE ON FUNCTION mtmcp.mcp_http(text, jsonb, text, text), mtmcp.mcp_http_end(text, text),
	mtmcp.mcp_http_check(text, text), mtmcp.mcp_http_resource_event(bigint) TO mtmcp_shim_mock;
