-------------------------------------------------------------------------------
-- The HTTP shim's contract: sessions, live notifications, updates (src/dispatch.c, src/notify.c)
-------------------------------------------------------------------------------

-- MCP sessions live here, so any shim process can serve any session.
CREATE TABLE mtmcp.sessions (
	session_id	text PRIMARY KEY,
	tenant_id	text NOT NULL REFERENCES mtmcp.tenants (tenant_id) ON DELETE CASCADE,
	subject		text NOT NULL,
	protocol_version text NOT NULL,
	client_info	jsonb,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	ended_at	timestamptz
);
CREATE INDEX sessions_tenant_idx ON mtmcp.sessions (tenant_id, subject);
COMMENT ON TABLE mtmcp.sessions IS
'MCP sessions, each bound to the tenant and subject that initialized it; idle ones expire (mtmcp.session_idle_timeout).';

CREATE TABLE mtmcp.resource_events (
	event_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	text NOT NULL REFERENCES mtmcp.tenants (tenant_id) ON DELETE CASCADE,
	uri			text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resource_events_tenant_idx ON mtmcp.resource_events (tenant_id, created_at);
COMMENT ON TABLE mtmcp.resource_events IS
'Resource updates announced by mtmcp.resource_updated(); the shim learns of each by NOTIFY and reads who to tell here.';

CREATE FUNCTION mtmcp.mcp_http(token text, request jsonb, session_id text, notify_key text DEFAULT NULL,
							   OUT http_status integer, OUT session_id text, OUT response jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'mtmcp_mcp_http'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = notice;	-- live notifications are NOTICEs, whatever the session says
COMMENT ON FUNCTION mtmcp.mcp_http(text, jsonb, text, text) IS
'The HTTP shim''s door: one message, its HTTP status, the (new) session id and the response; progress and log notifications arrive meanwhile as NOTICEs carrying notify_key.';

CREATE FUNCTION mtmcp.mcp_http_unparsable(token text, session_id text, problem text, body_bytes integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'mtmcp_mcp_http_unparsable'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.mcp_http_unparsable(text, text, text, integer) IS
'A body that is not JSON still leaves a trace: an audit row of the verified tenant (or a refusal row), never the body; returns the HTTP status (400, 401, 403).';

CREATE FUNCTION mtmcp.mcp_http_end(token text, session_id text)
RETURNS integer
AS 'MODULE_PATHNAME', 'mtmcp_mcp_http_end'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.mcp_http_end(text, text) IS 'Ends the caller''s own session (HTTP DELETE): 204, or 400/401/403/404.';

CREATE FUNCTION mtmcp.mcp_http_check(token text, session_id text)
RETURNS integer
AS 'MODULE_PATHNAME', 'mtmcp_mcp_http_check'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.mcp_http_check(text, text) IS
'May this caller open a notification stream on this session (HTTP GET)?  200, or 400/401/403/404.';

CREATE FUNCTION mtmcp.mcp_http_resource_event(event_id bigint, OUT session_id text, OUT message text)
RETURNS SETOF record
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT s.session_id,
		   json_build_object('jsonrpc', '2.0', 'method', 'notifications/resources/updated',
							 'params', json_build_object('uri', e.uri))::text
	  FROM mtmcp.resource_events e
	  JOIN mtmcp.resource_subscriptions r ON r.tenant_id = e.tenant_id AND r.uri = e.uri
	  JOIN mtmcp.sessions s ON s.session_id = r.session_id AND s.tenant_id = r.tenant_id
						   AND s.subject = r.subject AND s.ended_at IS NULL
	 WHERE e.event_id = mcp_http_resource_event.event_id;
END;
COMMENT ON FUNCTION mtmcp.mcp_http_resource_event(bigint) IS
'The sessions of the updating tenant subscribed to an updated resource, with the notification to send each.';

CREATE FUNCTION mtmcp.notify_progress(progress numeric, total numeric DEFAULT NULL, message text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_notify_progress'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.notify_progress(numeric, numeric, text) IS
'From a handler: notifications/progress for the current request, delivered live (no-op when the caller asked for none).';

CREATE FUNCTION mtmcp.log(level text, data jsonb, logger text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_log'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.log(text, jsonb, text) IS
'From a handler: notifications/message to the caller, delivered live, at or above the session''s logging/setLevel.';

CREATE FUNCTION mtmcp.resource_updated(uri text)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_resource_updated'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.resource_updated(text) IS
'Announces (at commit) that a resource of the verified tenant changed; its subscribed sessions get notifications/resources/updated.';

-- Sessions that ended or idled past mtmcp.session_idle_timeout are deleted,
-- with their subscriptions and log levels: the audit trail keeps their
-- history.  A session touched meanwhile is re-checked by the DELETE (it
-- waits for the touch's row lock) and kept.
CREATE FUNCTION mtmcp.reap_sessions()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	-- a unit-bearing setting reads back with its unit ("30min"): an interval
	WITH gone AS (
		DELETE FROM mtmcp.sessions s
		 WHERE s.ended_at IS NOT NULL
			OR s.last_seen_at < now() - current_setting('mtmcp.session_idle_timeout')::interval
		RETURNING s.tenant_id, s.subject, s.session_id),
	subs AS (
		DELETE FROM mtmcp.resource_subscriptions r USING gone g
		 WHERE r.tenant_id = g.tenant_id AND r.subject = g.subject AND r.session_id = g.session_id),
	lvls AS (
		DELETE FROM mtmcp.log_levels l USING gone g
		 WHERE l.tenant_id = g.tenant_id AND l.subject = g.subject AND l.session_id = g.session_id)
	SELECT count(*) INTO n FROM gone;
	RETURN n;
END
$$;
COMMENT ON FUNCTION mtmcp.reap_sessions() IS
'Deletes ended sessions and sessions idle past mtmcp.session_idle_timeout, with their subscriptions and log levels; returns how many. Run by maintain_partitions() and the background worker.';

-- Privileges and pg_dump marks of this section
GRANT EXECUTE ON FUNCTION
	mtmcp.mcp_http(text, jsonb, text, text),
	mtmcp.mcp_http_end(text, text),
	mtmcp.mcp_http_check(text, text),
	mtmcp.mcp_http_unparsable(text, text, text, integer),
	mtmcp.mcp_http_resource_event(bigint)
	TO mtmcp_gateway;
GRANT EXECUTE ON FUNCTION
	mtmcp.notify_progress(numeric, numeric, text),
	mtmcp.log(text, jsonb, text),
	mtmcp.resource_updated(text)
	TO mtmcp_tool;
GRANT SELECT ON mtmcp.sessions, mtmcp.resource_events TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.reap_sessions() TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.resource_events', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('mtmcp.resource_events', 'event_id'), '');
