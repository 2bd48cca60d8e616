--
-- demo/demo.sql -- the mtmcp demo: three tenants, one document table, two tools.
--
-- Load into an empty database (scripts/run.sh recreates mtmcp_demo each time):
--
--   psql -v ON_ERROR_STOP=1 -v secret_hex=$(cat .scratch/demo-secret.hex) -d mtmcp_demo -f demo/demo.sql
--
-- secret_hex is the demo issuer's HS256 secret, as hex; scripts/mint-token.sh
-- signs tokens with the same secret.  What it sets up:
--
--   plans     free (documents), pro (documents, documents.write)
--   issuer    https://idp.demo.mtmcp.local, audience mtmcp-demo, one HS256 key
--   tenants   acme (pro), globex (free), initech (free, suspended)
--   data      app.documents, confined to the verified tenant by RLS; every
--             tenant has a document 1 (document ids are per tenant); table
--             and rows from test/fixtures/ (shared with the e2e suite)
--   tools     search_documents, get_document (both read-only)
--   scope     every token must carry "documents" (mtmcp.access_scope, set on
--             the database): the database enforces it, and mtmcp-http reads
--             the same setting to advertise it (protected resource metadata,
--             WWW-Authenticate) -- one setting for both
--   role      mtmcp_shim: a login for the HTTP shim, member of mtmcp_gateway
--             (the role the extension grants mtmcp.mcp_dispatch() to); it
--             reads no table and runs no tool by itself
--
\set ON_ERROR_STOP 1
\if :{?secret_hex}
\else
DO $$ BEGIN RAISE EXCEPTION 'demo.sql needs the demo secret: psql -v secret_hex=<hex> ...'; END $$;
\endif
SET client_min_messages = warning;
-- The registration functions return void: no need to print their empty rows.
\o /dev/null

CREATE EXTENSION IF NOT EXISTS mtmcp;

-------------------------------------------------------------------------------
-- The shim's login role (roles are cluster-wide, so this is idempotent)
-------------------------------------------------------------------------------
DO $shim$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mtmcp_shim') THEN
		CREATE ROLE mtmcp_shim LOGIN;
	END IF;
	-- Whatever it was before, it is an ordinary login now: no way around RLS.
	ALTER ROLE mtmcp_shim LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
	-- bearer tokens travel as statement parameters: keep them out of the server log
	ALTER ROLE mtmcp_shim SET log_parameter_max_length = 0;
	ALTER ROLE mtmcp_shim SET log_parameter_max_length_on_error = 0;
	IF NOT pg_has_role('mtmcp_shim', 'mtmcp_gateway', 'MEMBER') THEN
		GRANT mtmcp_gateway TO mtmcp_shim;
	END IF;
END
$shim$;

-------------------------------------------------------------------------------
-- Plans, the identity provider, tenants
-------------------------------------------------------------------------------
SELECT mtmcp.create_plan('free', ARRAY['documents']);
SELECT mtmcp.create_plan('pro', ARRAY['documents', 'documents.write']);

SELECT mtmcp.add_issuer('https://idp.demo.mtmcp.local', 'mtmcp-demo');
SELECT mtmcp.add_key('https://idp.demo.mtmcp.local', NULL, 'HS256', decode(:'secret_hex', 'hex'));

CALL mtmcp.create_tenant('acme', 'pro', 'Acme Corporation', trusted_issuers => ARRAY['https://idp.demo.mtmcp.local']);
CALL mtmcp.create_tenant('globex', 'free', 'Globex', trusted_issuers => ARRAY['https://idp.demo.mtmcp.local']);
CALL mtmcp.create_tenant('initech', 'free', 'Initech', trusted_issuers => ARRAY['https://idp.demo.mtmcp.local']);
CALL mtmcp.suspend_tenant('initech', 'demo: invoice overdue');

-------------------------------------------------------------------------------
-- Tenant data
-------------------------------------------------------------------------------
-- app.documents with the standard policy (rows of the verified tenant only),
-- readable by mtmcp_tool, and its rows: the same table and documents as the
-- end-to-end suite (test/e2e/setup.sql).
\ir ../test/fixtures/documents.sql
\ir ../test/fixtures/sample_documents.sql

-------------------------------------------------------------------------------
-- Tools
--
-- Handlers take no tenant argument: RLS confines every query to the tenant
-- that mcp_dispatch verified.  They run with search_path = pg_catalog, so
-- every name is schema-qualified.
-------------------------------------------------------------------------------

-- {query?: string, limit?: integer} -> {"documents": [{doc_id, title}, ...]}
CREATE FUNCTION app.search_documents(args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('documents', coalesce(jsonb_agg(jsonb_build_object('doc_id', m.doc_id, 'title', m.title)
															  ORDER BY m.doc_id), '[]'::jsonb))
	  FROM (SELECT d.doc_id, d.title
			  FROM app.documents d
			 -- a plain substring match, case-insensitive (no LIKE wildcards)
			 WHERE strpos(lower(d.title || ' ' || d.body), lower(coalesce(args ->> 'query', ''))) > 0
			 ORDER BY d.doc_id
			 LIMIT least(greatest(coalesce((args ->> 'limit')::integer, 10), 1), 100)) m
$$;

-- {doc_id: integer} -> {doc_id, title, body}
CREATE FUNCTION app.get_document(args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	want integer;
	d app.documents;
BEGIN
	IF jsonb_typeof(args -> 'doc_id') IS DISTINCT FROM 'number' THEN
		RAISE EXCEPTION 'doc_id is required and must be an integer'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	want := (args ->> 'doc_id')::integer;
	SELECT * INTO d FROM app.documents WHERE doc_id = want;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'document % not found', want USING ERRCODE = 'no_data_found';
	END IF;
	RETURN jsonb_build_object('doc_id', d.doc_id, 'title', d.title, 'body', d.body);
END
$$;

REVOKE EXECUTE ON FUNCTION app.search_documents(jsonb), app.get_document(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.search_documents(jsonb), app.get_document(jsonb) TO mtmcp_tool;

SELECT mtmcp.register_tool(
	'search_documents',
	'Search your documents by a word or phrase in their title or body. Returns the ids and titles of the matches.',
	$${
		"type": "object",
		"properties": {
			"query": {"type": "string", "description": "Text to look for, case-insensitive. Omit to list every document."},
			"limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10,
					  "description": "At most this many results."}
		},
		"additionalProperties": false
	}$$,
	'app.search_documents(jsonb)',
	required_feature => 'documents',
	annotations => '{"readOnlyHint": true}');

SELECT mtmcp.register_tool(
	'get_document',
	'Fetch one of your documents by its id: its title and body.',
	$${
		"type": "object",
		"properties": {
			"doc_id": {"type": "integer", "minimum": 1, "description": "The document id, as returned by search_documents."}
		},
		"required": ["doc_id"],
		"additionalProperties": false
	}$$,
	'app.get_document(jsonb)',
	required_feature => 'documents',
	annotations => '{"readOnlyHint": true}');

-- Resources: every document is also a resource whose URI names its tenant;
-- a URI naming another tenant is refused before any reader runs.
CREATE FUNCTION app.read_document(vars jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT to_jsonb('# ' || d.title || E'\n\n' || d.body)
	  FROM app.documents d WHERE d.doc_id = (vars ->> 'doc_id')::integer
$$;
CREATE FUNCTION app.list_document_resources(params jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object(
		'uri', 'kb://tenants/' || d.tenant_id || '/documents/' || d.doc_id, 'name', d.title) ORDER BY d.doc_id), '[]')
	  FROM app.documents d
$$;
REVOKE EXECUTE ON FUNCTION app.read_document(jsonb), app.list_document_resources(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.read_document(jsonb), app.list_document_resources(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_resource_template('documents', 'kb://tenants/{tenant}/documents/{doc_id}',
	'One of your documents, as Markdown.', 'text/markdown', 'app.read_document(jsonb)',
	lister => 'app.list_document_resources(jsonb)', required_feature => 'documents', title => 'Documents');

-- A prompt.
SELECT mtmcp.register_prompt('summarize_document', 'Summarize one of your documents for a busy reader.',
	'[{"name": "doc_id", "description": "The document id", "required": true},
	  {"name": "style", "description": "\"bullets\" or \"prose\""}]',
	template => '[{"role": "user", "content": {"type": "text",
		"text": "Summarize document {{doc_id}} (read it with get_document){{#style}} as {{style}}{{/style}}."}}]',
	required_feature => 'documents');

-- The scope every token must carry, enforced by the database for every call
-- (new connections) and advertised by mtmcp-http, which reads it.
SELECT format('ALTER DATABASE %I SET mtmcp.access_scope = %L', current_database(), 'documents') \gexec

\o
RESET client_min_messages;
