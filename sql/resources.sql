--
-- resources: tenant-scoped templates, reads refused across tenants before
-- any reader runs, lists that never enumerate another tenant
--
\set fixture_after catalog
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE FUNCTION rpc(token text, method text, params jsonb DEFAULT '{}', session text DEFAULT NULL) RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
	SELECT mtmcp.mcp_dispatch(token, jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', method, 'params', params), session)
$$;
SELECT tok('acme', scope => 'tools docs:write') AS a \gset
SELECT tok('globex', scope => 'tools docs:write') AS g \gset

-- Every read is logged by the reader itself, so a test can tell whether a
-- reader ran at all.
CREATE TABLE app.reader_calls (tenant_id text NOT NULL DEFAULT mtmcp.current_tenant(), uri text NOT NULL);
CREATE INDEX ON app.reader_calls (tenant_id);
SELECT mtmcp.register_tenant_table('app.reader_calls');
GRANT SELECT, INSERT ON app.reader_calls TO mtmcp_tool;

CREATE FUNCTION app.read_document(vars jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	d app.documents;
BEGIN
	INSERT INTO app.reader_calls (uri) VALUES (vars ->> 'uri');
	SELECT * INTO d FROM app.documents WHERE doc_id = (vars ->> 'doc_id')::integer;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	RETURN to_jsonb('# ' || d.title || E'\n\n' || d.body);
END $$;
CREATE FUNCTION app.list_document_resources(params jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('uri', 'kb://tenants/' || tenant_id || '/documents/' || doc_id,
		'name', title, 'description', 'A document about ' || lower(title)) ORDER BY doc_id), '[]')
	  FROM app.documents
$$;
CREATE FUNCTION app.complete_doc_id(req jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_agg(doc_id::text ORDER BY doc_id), '[]') FROM app.documents
	 WHERE doc_id::text LIKE (req -> 'argument' ->> 'value') || '%'
$$;
CREATE FUNCTION app.read_help(vars jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT CASE vars ->> 'topic' WHEN 'tokens' THEN to_jsonb('Send a bearer token with every request.'::text) END
$$;
CREATE FUNCTION app.read_logo(vars jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('blob', encode(convert_to('PNG:' || (vars ->> 'tenant'), 'UTF8'), 'base64'),
							  'mimeType', 'image/png')
$$;
CREATE FUNCTION app.leaky_lister(params jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_array(jsonb_build_object('uri', 'kb://tenants/globex/notes/1', 'name', 'not yours'),
							 jsonb_build_object('uri', 'kb://tenants/' || mtmcp.current_tenant() || '/notes/2', 'name', 'yours'))
$$;
CREATE FUNCTION app.broken_reader(vars jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT '{"text": "x", "blob": "eA=="}'::jsonb
$$;
GRANT EXECUTE ON FUNCTION app.read_document(jsonb), app.list_document_resources(jsonb), app.complete_doc_id(jsonb),
	app.read_help(jsonb), app.read_logo(jsonb), app.leaky_lister(jsonb), app.broken_reader(jsonb) TO mtmcp_tool;

SELECT mtmcp.register_resource_template('documents', 'kb://tenants/{tenant}/documents/{doc_id}',
	'A document of the knowledge base.', 'text/markdown', 'app.read_document(jsonb)',
	lister => 'app.list_document_resources(jsonb)', completer => 'app.complete_doc_id(jsonb)', title => 'Documents');
SELECT mtmcp.register_resource_template('help', 'docs://help/{topic}', 'Product help, the same for everyone.',
	'text/plain', 'app.read_help(jsonb)', public => true);
SELECT mtmcp.register_resource_template('logos', 'kb://tenants/{tenant}/logo', 'The tenant''s logo.',
	'image/png', 'app.read_logo(jsonb)', required_feature => 'analytics');
SELECT mtmcp.register_resource_template('notes', 'kb://tenants/{tenant}/notes/{note_id}', 'Notes.',
	'text/plain', 'app.read_help(jsonb)', lister => 'app.leaky_lister(jsonb)');
SELECT mtmcp.register_resource_template('broken', 'kb://tenants/{tenant}/broken', 'Broken.',
	'text/plain', 'app.broken_reader(jsonb)');

-- Registration refuses templates that do not name their tenant, and
-- anything that is not RFC 6570 level 1.
SELECT mtmcp.register_resource_template('bad', 'kb://documents/{doc_id}', 'x', 'text/plain', 'app.read_help(jsonb)');
SELECT mtmcp.register_resource_template('bad', 'kb://tenants/{+tenant}/x', 'x', 'text/plain', 'app.read_help(jsonb)');
SELECT mtmcp.register_resource_template('bad', 'kb://tenants/{tenant}{doc}', 'x', 'text/plain', 'app.read_help(jsonb)');
SELECT mtmcp.register_resource_template('bad', 'kb://tenants/{tenant', 'x', 'text/plain', 'app.read_help(jsonb)');
SELECT mtmcp.register_resource_template('bad', 'tenants/{tenant}', 'x', 'text/plain', 'app.read_help(jsonb)');
SELECT mtmcp.register_resource_template('bad', 'kb://{tenant}/{tenant}', 'x', 'text/plain', 'app.read_help(jsonb)');
SELECT mtmcp.register_resource_template('bad', 'kb://tenants/{tenant}', 'x', 'not a mime type', 'app.read_help(jsonb)');
SELECT mtmcp.register_resource_template('bad', 'kb://tenants/{tenant}', 'x', 'text/plain', 'app.text_result(jsonb)');

-- Reading: tenant A's document 1 and tenant B's document 1 are different
-- documents.
SELECT rpc(:'a', 'resources/read', '{"uri": "kb://tenants/acme/documents/1"}') -> 'result' AS acme_doc_1;
SELECT rpc(:'g', 'resources/read', '{"uri": "kb://tenants/globex/documents/1"}') -> 'result' AS globex_doc_1;
SELECT rpc(:'a', 'resources/read', '{"uri": "docs://help/tokens"}') -> 'result' AS public;
SELECT rpc(:'a', 'resources/read', '{"uri": "kb://tenants/acme/logo"}') -> 'result' AS blob;
-- percent-encoded values are decoded before the tenant is compared
SELECT rpc(:'a', 'resources/read', '{"uri": "kb://tenants/ac%6De/documents/%31"}') -> 'result' -> 'contents' -> 0 ->> 'text' AS encoded;

-- The attack: acme asks for globex's document 1, which exists.  The answer
-- is byte-identical to one for a document that does not exist, and no
-- reader ran.
SELECT count(*) AS globex_doc_1_exists FROM app.documents WHERE tenant_id = 'globex' AND doc_id = 1;
SELECT count(*) AS foreign_reads_before FROM app.reader_calls WHERE uri LIKE '%globex%' \gset
SELECT u AS uri, rpc(:'a', 'resources/read', jsonb_build_object('uri', u)) AS response
  FROM unnest(ARRAY['kb://tenants/globex/documents/1', 'kb://tenants/globex/documents/999',
					'kb://tenants/acme/documents/999', 'kb://tenants/umbrella/documents/1',
					'kb://tenants/globe%78/documents/1', 'kb://tenants/acme/../globex/documents/1',
					'kb://tenants/acme/documents/1/../../../globex/documents/1', 'nope://x',
					'kb://tenants/globex/logo', 'kb://tenants/acme/documents/%00']) u;
SELECT (SELECT rpc(:'a', 'resources/read', '{"uri": "kb://tenants/globex/documents/1"}')::text)
	 = replace((SELECT rpc(:'a', 'resources/read', '{"uri": "kb://tenants/globex/documents/5"}')::text),
			   'documents/5', 'documents/1') AS byte_identical_modulo_uri,
	   (SELECT rpc(:'a', 'resources/read', '{"uri": "kb://tenants/globex/documents/1"}') -> 'error')
	 - 'data' = (SELECT rpc(:'a', 'resources/read', '{"uri": "kb://tenants/acme/documents/999"}') -> 'error') - 'data'
	   AS same_error_as_own_missing;
SELECT count(*) - :foreign_reads_before AS reader_calls_for_foreign_uris FROM app.reader_calls WHERE uri LIKE '%globex%';
SELECT count(*) AS globex_reader_calls FROM app.reader_calls WHERE tenant_id = 'globex';
-- recorded as what they are
SELECT result_kind, severity, detail, target, count(*) FROM mtmcp.audit_log
 WHERE method = 'resources/read' AND tenant_id = 'acme' AND result_kind <> 'ok'
 GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4;
-- the logo template needs "analytics": globex (free plan) gets "not found"
SELECT rpc(:'g', 'resources/read', '{"uri": "kb://tenants/globex/logo"}') -> 'error' AS globex_logo;
-- malformed reader output, bad params
SELECT rpc(:'a', 'resources/read', '{"uri": "kb://tenants/acme/broken"}') -> 'error' AS broken;
SELECT rpc(:'a', 'resources/read', '{"uri": 5}') -> 'error' AS bad_uri;
SELECT rpc(:'a', 'resources/read') -> 'error' AS no_uri;

-- Listing: only the caller's resources, sorted by URI, paginated; a lister
-- that returns another tenant's URI has that entry dropped.
SELECT jsonb_pretty(rpc(:'a', 'resources/list') -> 'result');
SELECT string_agg(r ->> 'uri', ', ') AS globex_list FROM jsonb_array_elements(rpc(:'g', 'resources/list') -> 'result' -> 'resources') r;
SET mtmcp.page_size = 2;
SELECT rpc(:'a', 'resources/list') -> 'result' ->> 'nextCursor' AS rc \gset
SELECT string_agg(r ->> 'uri', ', ') AS page_2 FROM jsonb_array_elements(rpc(:'a', 'resources/list', jsonb_build_object('cursor', :'rc')) -> 'result' -> 'resources') r;
SELECT rpc(:'g', 'resources/list', jsonb_build_object('cursor', :'rc')) -> 'error' AS foreign_cursor;
SELECT rpc(:'a', 'prompts/list', jsonb_build_object('cursor', :'rc')) -> 'error' AS other_list_cursor;
RESET mtmcp.page_size;

-- Templates list (the feature-gated one only where the feature is).
SELECT string_agg(t ->> 'name' || '=' || (t ->> 'uriTemplate'), ', ') AS acme_templates
  FROM jsonb_array_elements(rpc(:'a', 'resources/templates/list') -> 'result' -> 'resourceTemplates') t;
SELECT string_agg(t ->> 'name', ', ') AS globex_templates
  FROM jsonb_array_elements(rpc(:'g', 'resources/templates/list') -> 'result' -> 'resourceTemplates') t;

-- Subscriptions are recorded per caller and session; a foreign URI is "not found".
SELECT rpc(:'a', 'resources/subscribe', '{"uri": "kb://tenants/acme/documents/1"}', 'sess-a') -> 'result' AS subscribed;
SELECT rpc(:'a', 'resources/subscribe', '{"uri": "kb://tenants/globex/documents/1"}', 'sess-a') -> 'error' AS foreign;
SELECT tenant_id, subject, session_id, uri FROM mtmcp.resource_subscriptions;
SELECT rpc(:'a', 'resources/unsubscribe', '{"uri": "kb://tenants/acme/documents/1"}', 'sess-a') -> 'result' AS unsubscribed;
SELECT count(*) AS left FROM mtmcp.resource_subscriptions;

-- Completion of template variables: the tenant variable only ever completes
-- to the caller's own tenant; others go to the template's completer (under RLS).
SELECT rpc(:'a', 'completion/complete', '{"ref": {"type": "ref/resource", "uri": "kb://tenants/{tenant}/documents/{doc_id}"},
	"argument": {"name": "tenant", "value": ""}}') -> 'result' AS tenant_any;
SELECT rpc(:'a', 'completion/complete', '{"ref": {"type": "ref/resource", "uri": "kb://tenants/{tenant}/documents/{doc_id}"},
	"argument": {"name": "tenant", "value": "glo"}}') -> 'result' AS tenant_glo;
SELECT rpc(:'g', 'completion/complete', '{"ref": {"type": "ref/resource", "uri": "kb://tenants/{tenant}/documents/{doc_id}"},
	"argument": {"name": "doc_id", "value": ""}}') -> 'result' AS globex_doc_ids;
SELECT rpc(:'a', 'completion/complete', '{"ref": {"type": "ref/resource", "uri": "kb://nope/{x}"},
	"argument": {"name": "x", "value": ""}}') -> 'error' AS unknown_template;
SELECT rpc(:'a', 'completion/complete', '{"ref": {"type": "ref/resource", "uri": "kb://tenants/{tenant}/documents/{doc_id}"},
	"argument": {"name": "nope", "value": ""}}') -> 'error' AS unknown_variable;
SELECT rpc(:'a', 'completion/complete', '{"ref": {"type": "ref/other"}, "argument": {"name": "x", "value": ""}}') -> 'error' AS bad_ref;
