-------------------------------------------------------------------------------
-- Multi round-trip requests: handlers ask the client for input (src/mrtr.c, src/revision.c)
-------------------------------------------------------------------------------

-- The key that seals requestState (HMAC-SHA-256); nothing else of a round is kept.
CREATE TABLE mtmcp.request_state_secret (
	singleton	boolean PRIMARY KEY DEFAULT true CONSTRAINT one_row CHECK (singleton),
	secret		bytea NOT NULL
);
INSERT INTO mtmcp.request_state_secret (secret)
SELECT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');
COMMENT ON TABLE mtmcp.request_state_secret IS
'The key that seals the requestState of multi round-trip requests (random per database; replacing it voids every open round).';
-- every backend drops its copy of the key when it changes
CREATE TRIGGER request_state_secret_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.request_state_secret
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();

-- What a session client declared at initialize (elicitation, sampling, roots).
ALTER TABLE mtmcp.sessions ADD COLUMN client_capabilities jsonb;
COMMENT ON COLUMN mtmcp.sessions.client_capabilities IS
'The capabilities the client declared at initialize; handlers ask only for what is here.';

CREATE FUNCTION mtmcp.elicit(key text, message text, requested_schema jsonb, wait boolean DEFAULT true)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_elicit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.elicit(text, text, jsonb, boolean) IS
'From a tool, prompt renderer or resource reader: the client''s ElicitResult for a form (requested_schema), asked under key; when not answered yet the round ends input_required (wait => false: returns NULL and the handler goes on).';

CREATE FUNCTION mtmcp.elicit_url(key text, message text, url text, wait boolean DEFAULT true)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_elicit_url'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.elicit_url(text, text, text, boolean) IS
'From a handler: the client''s ElicitResult for a URL-mode elicitation (the user visits url), asked under key.';

CREATE FUNCTION mtmcp.sample(key text, params jsonb, wait boolean DEFAULT true)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_sample'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.sample(text, jsonb, boolean) IS
'From a handler: the client''s CreateMessageResult for sampling/createMessage params, asked under key.';

CREATE FUNCTION mtmcp.list_roots(key text, wait boolean DEFAULT true)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_list_roots'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.list_roots(text, boolean) IS
'From a handler: the client''s ListRootsResult, asked under key.';

CREATE FUNCTION mtmcp.await_input()
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_await_input'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.await_input() IS
'From a handler: ends the round input_required when something asked with wait => false is unanswered.';

CREATE FUNCTION mtmcp.client_capabilities()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_client_capabilities'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.client_capabilities() IS
'From a handler: the capabilities the client declared (this request''s _meta, or its session''s initialize); {} elsewhere.';

-- The shim's door with the request's MCP headers (2026-07-28): the
-- MCP-Protocol-Version header makes a request stateless even without _meta,
-- and x-mcp-header parameters of tools/call are checked against Mcp-Param-*.
CREATE FUNCTION mtmcp.mcp_http(token text, request jsonb, session_id text, notify_key text, headers jsonb,
							   OUT http_status integer, OUT session_id text, OUT response jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'mtmcp_mcp_http'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = notice;
COMMENT ON FUNCTION mtmcp.mcp_http(text, jsonb, text, text, jsonb) IS
'mcp_http with the request''s MCP headers, lower-cased: {"mcp-protocol-version", "mcp-method", "mcp-name", "mcp-param": {"<name>": "<decoded value>"}}.';

-- The same door answering with the response as text, as the shim sends it:
-- the JSON text as written, never parsed into jsonb and printed again.
CREATE FUNCTION mtmcp.mcp_http_text(token text, request jsonb, session_id text, notify_key text, headers jsonb,
									OUT http_status integer, OUT session_id text, OUT response text)
RETURNS record
AS 'MODULE_PATHNAME', 'mtmcp_mcp_http'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = notice;
COMMENT ON FUNCTION mtmcp.mcp_http_text(text, jsonb, text, text, jsonb) IS
'mcp_http (with the request''s MCP headers, or NULL) answering with the response as JSON text: what the HTTP shim sends, a result in the form its audit hash covers.';

-- Privileges and pg_dump marks of this section
GRANT EXECUTE ON FUNCTION
	mtmcp.elicit(text, text, jsonb, boolean),
	mtmcp.elicit_url(text, text, text, boolean),
	mtmcp.sample(text, jsonb, boolean),
	mtmcp.list_roots(text, boolean),
	mtmcp.await_input(),
	mtmcp.client_capabilities()
	TO mtmcp_tool;
GRANT EXECUTE ON FUNCTION mtmcp.mcp_http(text, jsonb, text, text, jsonb),
	mtmcp.mcp_http_text(text, jsonb, text, text, jsonb) TO mtmcp_gateway;
