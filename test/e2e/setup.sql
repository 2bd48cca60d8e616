--
-- test/e2e/setup.sql -- the end-to-end database: the extension, an HS256
-- issuer, tenants, demo-like documents, tools, resources and prompts.
--
--   psql -v ON_ERROR_STOP=1 -v secret_hex=HEX -v shim_role=ROLE -d DB -f test/e2e/setup.sql
--
--   issuer   https://idp.e2e.mtmcp.test, audience mtmcp-e2e, HS256 (secret_hex)
--   tenants  acme, globex (plan e2e), initech (suspended), hooli (plan e2e,
--            with the destructive delete_document enabled), conformance
--            (plan conformance, from conformance_fixtures.sql, loaded after this)
--   data     app.documents under RLS (test/fixtures/documents.sql) with the
--            demo's rows (test/fixtures/sample_documents.sql); acme and
--            globex both have a document 1
--   tools    search_documents, get_document, slow_job (progress + log),
--            touch_document (announces a resource update), delete_document
--            (destructive; asks the user to confirm through mtmcp.elicit: the
--            same handler serves 2025-11-25 sessions and 2026-07-28 clients)
--   resources kb://tenants/{tenant}/documents/{doc_id} (text, listed),
--            kb://tenants/{tenant}/logo (blob), docs://help/{topic} (public)
--   prompts  summarize_document (template), document_context (renderer)
--   role     shim_role: LOGIN, member of mtmcp_gateway only
--
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\o /dev/null

CREATE EXTENSION mtmcp;

SELECT format('CREATE ROLE %I LOGIN', :'shim_role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'shim_role') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', :'shim_role') \gexec
SELECT format('GRANT mtmcp_gateway TO %I', :'shim_role') \gexec

SELECT mtmcp.create_plan('e2e', ARRAY['documents']);
SELECT mtmcp.add_issuer('https://idp.e2e.mtmcp.test', 'mtmcp-e2e');
SELECT mtmcp.add_key('https://idp.e2e.mtmcp.test', NULL, 'HS256', decode(:'secret_hex', 'hex'));
CALL mtmcp.create_tenant('acme', 'e2e', 'Acme Corporation', ARRAY['https://idp.e2e.mtmcp.test']);
CALL mtmcp.create_tenant('globex', 'e2e', 'Globex', ARRAY['https://idp.e2e.mtmcp.test']);
CALL mtmcp.create_tenant('initech', 'e2e', 'Initech', ARRAY['https://idp.e2e.mtmcp.test']);
CALL mtmcp.suspend_tenant('initech', 'e2e: invoice overdue');
CALL mtmcp.create_tenant('hooli', 'e2e', 'Hooli', ARRAY['https://idp.e2e.mtmcp.test']);

-- the document table and its rows, shared with the demo (demo/demo.sql)
\ir ../fixtures/documents.sql
\ir ../fixtures/sample_documents.sql
INSERT INTO app.documents (tenant_id, doc_id, title, body) VALUES
	('hooli', 1, 'Old roadmap', 'Superseded by the new one.'),
	('hooli', 2, 'Draft memo', 'Never sent.'),
	('hooli', 3, 'Keep me', 'Important; nobody deletes this.'),
	('hooli', 4, 'Stale notes', 'From last year.');
GRANT DELETE ON app.documents TO mtmcp_tool;

-------------------------------------------------------------------------------
-- Tools
-------------------------------------------------------------------------------
CREATE FUNCTION app.search_documents(args jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('documents', coalesce(jsonb_agg(jsonb_build_object('doc_id', d.doc_id, 'title', d.title)
															  ORDER BY d.doc_id), '[]'::jsonb))
	  FROM app.documents d
	 WHERE strpos(lower(d.title || ' ' || d.body), lower(coalesce(args ->> 'query', ''))) > 0
$$;

CREATE FUNCTION app.get_document(args jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	d app.documents;
BEGIN
	SELECT * INTO d FROM app.documents WHERE doc_id = (args ->> 'doc_id')::integer;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'document % not found', args ->> 'doc_id' USING ERRCODE = 'no_data_found';
	END IF;
	RETURN jsonb_build_object('doc_id', d.doc_id, 'title', d.title, 'body', d.body);
END
$$;

-- Reports progress 1..steps of steps, and logs at debug and info, with a
-- pause between steps so that a client sees them arrive before the result.
CREATE FUNCTION app.slow_job(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	steps integer := coalesce((args ->> 'steps')::integer, 3);
	i integer;
BEGIN
	FOR i IN 1 .. steps LOOP
		PERFORM pg_sleep(coalesce((args ->> 'pause_ms')::numeric, 150) / 1000);
		PERFORM mtmcp.notify_progress(i, steps, 'step ' || i || ' of ' || steps);
		PERFORM mtmcp.log('debug', jsonb_build_object('step', i), 'slow_job');
		PERFORM mtmcp.log('info', to_jsonb('finished step ' || i), 'slow_job');
	END LOOP;
	RETURN jsonb_build_object('done', true, 'steps', steps, 'tenant', mtmcp.current_tenant());
END
$$;

-- Announces that one of the caller's documents changed.
CREATE FUNCTION app.touch_document(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	uri text := 'kb://tenants/' || mtmcp.current_tenant() || '/documents/' || (args ->> 'doc_id')::integer;
BEGIN
	PERFORM mtmcp.resource_updated(uri);
	RETURN jsonb_build_object('announced', uri);
END
$$;

-- Destructive: deletes one of the caller's documents after the user confirmed
-- it (mtmcp.elicit: a 2025-11-25 session client gets an elicitation/create
-- request on the call's stream, a 2026-07-28 client an input_required result;
-- the handler runs again from the start with the answer either way).
CREATE FUNCTION app.delete_document(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	d app.documents;
	answer jsonb;
BEGIN
	SELECT * INTO d FROM app.documents WHERE doc_id = (args ->> 'doc_id')::integer;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'document % not found', args ->> 'doc_id' USING ERRCODE = 'no_data_found';
	END IF;
	answer := mtmcp.elicit('confirm', format('Delete "%s" for good?', d.title),
		'{"type": "object", "properties": {"confirm": {"type": "boolean", "title": "Delete it"}}, "required": ["confirm"]}');
	IF answer ->> 'action' IS DISTINCT FROM 'accept' OR NOT coalesce((answer #>> '{content,confirm}')::boolean, false) THEN
		RETURN jsonb_build_object('deleted', false, 'doc_id', d.doc_id, 'title', d.title);
	END IF;
	DELETE FROM app.documents WHERE doc_id = d.doc_id;
	RETURN jsonb_build_object('deleted', true, 'doc_id', d.doc_id, 'title', d.title);
END
$$;

GRANT EXECUTE ON FUNCTION app.search_documents(jsonb), app.get_document(jsonb), app.slow_job(jsonb),
	app.touch_document(jsonb), app.delete_document(jsonb) TO mtmcp_tool;

SELECT mtmcp.register_tool('search_documents', 'Search your documents by a word in their title or body.',
	'{"type": "object", "properties": {"query": {"type": "string"}}, "additionalProperties": false}',
	'app.search_documents(jsonb)', required_feature => 'documents', annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('get_document', 'Fetch one of your documents by its id.',
	'{"type": "object", "properties": {"doc_id": {"type": "integer", "minimum": 1}}, "required": ["doc_id"],
	  "additionalProperties": false}',
	'app.get_document(jsonb)', required_feature => 'documents', annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('slow_job', 'A job that reports progress and logs while it runs.',
	'{"type": "object", "properties": {"steps": {"type": "integer", "minimum": 1, "maximum": 10},
	  "pause_ms": {"type": "integer", "minimum": 0, "maximum": 2000}}, "additionalProperties": false}',
	'app.slow_job(jsonb)', required_feature => 'documents', annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('touch_document', 'Announce that one of your documents changed.',
	'{"type": "object", "properties": {"doc_id": {"type": "integer", "minimum": 1}}, "required": ["doc_id"],
	  "additionalProperties": false}',
	'app.touch_document(jsonb)', required_feature => 'documents');
SELECT mtmcp.register_tool('delete_document', 'Delete one of your documents (asks you to confirm).',
	'{"type": "object", "properties": {"doc_id": {"type": "integer", "minimum": 1}}, "required": ["doc_id"],
	  "additionalProperties": false}',
	'app.delete_document(jsonb)', required_feature => 'documents', destructive => true);
SELECT mtmcp.set_tenant_tool_enabled('hooli', 'delete_document', true);

-------------------------------------------------------------------------------
-- Resources
-------------------------------------------------------------------------------
CREATE FUNCTION app.read_document(vars jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT to_jsonb('# ' || d.title || E'\n\n' || d.body)
	  FROM app.documents d WHERE d.doc_id = (vars ->> 'doc_id')::integer
$$;
CREATE FUNCTION app.list_documents(params jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('uri', 'kb://tenants/' || tenant_id || '/documents/' || doc_id,
		'name', title, 'mimeType', 'text/markdown') ORDER BY doc_id), '[]')
	  FROM app.documents
$$;
CREATE FUNCTION app.read_logo(vars jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('blob', encode(convert_to('PNG:' || (vars ->> 'tenant'), 'UTF8'), 'base64'),
							  'mimeType', 'image/png')
$$;
CREATE FUNCTION app.read_help(vars jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE vars ->> 'topic' WHEN 'tokens' THEN to_jsonb('Send a bearer token with every request.'::text) END
$$;
GRANT EXECUTE ON FUNCTION app.read_document(jsonb), app.list_documents(jsonb), app.read_logo(jsonb),
	app.read_help(jsonb) TO mtmcp_tool;

SELECT mtmcp.register_resource_template('documents', 'kb://tenants/{tenant}/documents/{doc_id}',
	'A document of yours.', 'text/markdown', 'app.read_document(jsonb)', lister => 'app.list_documents(jsonb)',
	required_feature => 'documents', title => 'Documents');
SELECT mtmcp.register_resource_template('logo', 'kb://tenants/{tenant}/logo', 'Your logo.', 'image/png',
	'app.read_logo(jsonb)', required_feature => 'documents');
SELECT mtmcp.register_resource_template('help', 'docs://help/{topic}', 'Product help, the same for everyone.',
	'text/plain', 'app.read_help(jsonb)', public => true, required_feature => 'documents');

-------------------------------------------------------------------------------
-- Prompts
-------------------------------------------------------------------------------
CREATE FUNCTION app.document_context(args jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_array(
		jsonb_build_object('role', 'user', 'content', jsonb_build_object('type', 'resource', 'resource',
			jsonb_build_object('uri', 'kb://tenants/' || d.tenant_id || '/documents/' || d.doc_id,
							   'mimeType', 'text/markdown', 'text', d.body))),
		jsonb_build_object('role', 'assistant', 'content', jsonb_build_object('type', 'text', 'text', 'Got it: ' || d.title)))
	  FROM app.documents d WHERE d.doc_id = (args ->> 'doc_id')::integer
$$;
GRANT EXECUTE ON FUNCTION app.document_context(jsonb) TO mtmcp_tool;

SELECT mtmcp.register_prompt('summarize_document', 'Summarize a document for a busy reader.',
	'[{"name": "doc_id", "description": "Which document", "required": true},
	  {"name": "style", "description": "bullet or prose"}]',
	template => '[{"role": "user", "content": {"type": "text",
	  "text": "Summarize document {{doc_id}} in {{style}} style."}}]', required_feature => 'documents');
SELECT mtmcp.register_prompt('document_context', 'Put one of your documents in context.',
	'[{"name": "doc_id", "required": true}]', renderer => 'app.document_context(jsonb)',
	required_feature => 'documents');

\o
RESET client_min_messages;
