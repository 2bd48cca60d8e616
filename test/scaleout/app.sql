--
-- test/scaleout/app.sql -- the application schema every database of the
-- scale-out test gets (router and shards alike: the router holds the
-- definitions, never rows): app.documents (the shared fixture), app.notes
-- (written by the add_note tool while a tenant moves) and the tool handlers.
-- mtmcp's own configuration (plans, issuer, key, tools) is applied through
-- the router with mtmcp.admin_all (run.sh), not here.
--
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\o /dev/null
\ir ../fixtures/documents.sql
CREATE TABLE app.notes (
	tenant_id text NOT NULL,
	note_id uuid NOT NULL DEFAULT gen_random_uuid(),
	request text NOT NULL,
	body text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, note_id)
);
SELECT mtmcp.register_tenant_table('app.notes');
GRANT SELECT, INSERT ON app.notes TO mtmcp_tool;

CREATE FUNCTION app.search_documents(args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('documents', coalesce(jsonb_agg(jsonb_build_object('doc_id', d.doc_id, 'title', d.title)
															  ORDER BY d.doc_id), '[]'::jsonb))
	  FROM app.documents d
$$;
-- {request: text, body: text} -> {note_id}; tenant_id from the verified identity
CREATE FUNCTION app.add_note(args jsonb) RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
	INSERT INTO app.notes (tenant_id, request, body)
	VALUES (mtmcp.current_tenant(), args ->> 'request', coalesce(args ->> 'body', ''))
	RETURNING jsonb_build_object('note_id', note_id)
$$;
-- live notifications from the shard, through the router
CREATE FUNCTION app.two_steps(args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM mtmcp.notify_progress(1, 2, 'step one of two');
	PERFORM mtmcp.notify_progress(2, 2, 'step two of two');
	RETURN '{"done": true}';
END
$$;
REVOKE EXECUTE ON FUNCTION app.search_documents(jsonb), app.add_note(jsonb), app.two_steps(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.search_documents(jsonb), app.add_note(jsonb), app.two_steps(jsonb) TO mtmcp_tool;

DO $shim$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mtmcp_shim') THEN
		CREATE ROLE mtmcp_shim LOGIN;
	END IF;
	ALTER ROLE mtmcp_shim SET log_parameter_max_length = 0;
	ALTER ROLE mtmcp_shim SET log_parameter_max_length_on_error = 0;
	GRANT mtmcp_gateway TO mtmcp_shim;
END
$shim$;
\o
