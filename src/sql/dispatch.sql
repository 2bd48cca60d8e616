-------------------------------------------------------------------------------
-- Dispatch (src/dispatch.c)
-------------------------------------------------------------------------------

CREATE FUNCTION mtmcp.mcp_dispatch(token text, request jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_mcp_dispatch'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.mcp_dispatch(text, jsonb) IS
'One MCP JSON-RPC message in, its response out (NULL for a notification): verifies the token first, then routes.';

CREATE FUNCTION mtmcp.mcp_dispatch(token text, request jsonb, session_id text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_mcp_dispatch'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.mcp_dispatch(text, jsonb, text) IS
'mcp_dispatch for a message of a transport session; the session id is recorded on its audit row.';

-- Privileges and pg_dump marks of this section
GRANT EXECUTE ON FUNCTION
	mtmcp.mcp_dispatch(text, jsonb),
	mtmcp.mcp_dispatch(text, jsonb, text)
	TO mtmcp_gateway;
