--
-- catalog: per-tenant tool subsetting, configuration and argument safety
--
\set fixture_after cost
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE FUNCTION tool_names(token text) RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT string_agg(t ->> 'name', ', ' ORDER BY t ->> 'name')
	  FROM jsonb_array_elements(mtmcp.mcp_dispatch(token, '{"jsonrpc":"2.0","id":1,"method":"tools/list"}')
								-> 'result' -> 'tools') t
$$;
CREATE FUNCTION listing(token text, tool text) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	SELECT t FROM jsonb_array_elements(mtmcp.mcp_dispatch(token, '{"jsonrpc":"2.0","id":1,"method":"tools/list"}')
									   -> 'result' -> 'tools') t
	 WHERE t ->> 'name' = tool
$$;
SELECT tok('acme', scope => 'tools docs:write') AS a \gset
SELECT tok('globex', scope => 'tools docs:write') AS g \gset

-- Baseline catalogs (acme: pro plan; globex: free plan).
SELECT tool_names(:'a') AS acme;
SELECT tool_names(:'g') AS globex;

-- Tenant feature switches: globex gains a feature its plan lacks, acme
-- loses one its plan has.
SELECT mtmcp.register_tool('cohort_report', 'Cohort report.', '{"type":"object"}', 'app.whoami(jsonb)',
	required_feature => 'analytics');
SELECT mtmcp.set_tenant_feature('globex', 'analytics', true);
SELECT mtmcp.set_tenant_feature('acme', 'documents', false);
SELECT tool_names(:'a') AS acme_without_documents;
SELECT tool_names(:'g') AS globex_with_analytics;
SELECT call(:'a', 'search_documents', '{"query": "x"}') -> 'error' ->> 'message' AS acme_call;
SELECT mtmcp.set_tenant_feature('acme', 'documents', NULL);
SELECT mtmcp.set_tenant_feature('globex', 'analytics', NULL);
SELECT tool_names(:'g') AS globex_back_to_plan;
SELECT mtmcp.set_tenant_feature('nobody', 'x', true);

-- Tool switches: one tenant turns a tool off for itself only.
SELECT mtmcp.set_tool_enabled('acme', 'whoami', false);
SELECT 'whoami' = ANY (string_to_array(tool_names(:'a'), ', ')) AS acme_sees_whoami,
	   'whoami' = ANY (string_to_array(tool_names(:'g'), ', ')) AS globex_sees_whoami;
SELECT call(:'a', 'whoami') -> 'error' ->> 'message' AS acme_call;
SELECT mtmcp.set_tool_enabled('acme', 'whoami', NULL);
SELECT mtmcp.set_tool_enabled('acme', 'no_such_tool', true);

-- Destructive tools are off until the tenant's admin turns them on.
CREATE FUNCTION app.delete_document(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	DELETE FROM app.documents WHERE doc_id = (args ->> 'doc_id')::integer;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN jsonb_build_object('deleted', n);
END $$;
GRANT EXECUTE ON FUNCTION app.delete_document(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('delete_document', 'Delete a document.',
	'{"type":"object","properties":{"doc_id":{"type":"integer"}},"required":["doc_id"]}',
	'app.delete_document(jsonb)', destructive => true);
SELECT listing(:'a', 'delete_document') IS NULL AS hidden_for_acme, listing(:'g', 'delete_document') IS NULL AS hidden_for_globex;
SELECT call(:'a', 'delete_document', '{"doc_id": 2}') -> 'error' ->> 'message' AS before_enabling;
SELECT mtmcp.set_tool_enabled('acme', 'delete_document', true);
SELECT listing(:'a', 'delete_document') -> 'annotations' AS acme_annotations,
	   listing(:'g', 'delete_document') IS NULL AS still_hidden_for_globex;
INSERT INTO app.documents VALUES ('globex', 2, 'Globex doc 2', 'victim row');
SELECT result_text(call(:'a', 'delete_document', '{"doc_id": 2}')) AS acme_deletes;
SELECT tenant_id, doc_id FROM app.documents WHERE doc_id = 2 ORDER BY 1;
SELECT call(:'g', 'delete_document', '{"doc_id": 2}') -> 'error' ->> 'message' AS globex_call;
SELECT mtmcp.register_tool('bad', 'x', '{"type":"object"}', 'app.whoami(jsonb)', destructive => true,
	annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('bad', 'x', '{"type":"object"}', 'app.whoami(jsonb)', annotations => '{"destructiveHint": false}');

-- Pagination: opaque cursors, stable order, bound to the caller and list.
SELECT tool_names(:'a') AS full_list \gset
SET mtmcp.page_size = 3;
CREATE FUNCTION all_pages(token text) RETURNS TABLE (page integer, names text, has_next boolean) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	c text := NULL;
	r jsonb;
	i integer := 0;
BEGIN
	LOOP
		i := i + 1;
		r := mtmcp.mcp_dispatch(token, jsonb_build_object('jsonrpc', '2.0', 'id', i, 'method', 'tools/list',
				'params', CASE WHEN c IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('cursor', c) END));
		page := i;
		names := (SELECT string_agg(t ->> 'name', ', ') FROM jsonb_array_elements(r -> 'result' -> 'tools') t);
		c := r -> 'result' ->> 'nextCursor';
		has_next := c IS NOT NULL;
		RETURN NEXT;
		EXIT WHEN c IS NULL OR i > 20;
	END LOOP;
END $$;
SELECT * FROM all_pages(:'a');
SELECT (SELECT string_agg(names, ', ' ORDER BY page) FROM all_pages(:'a')) = :'full_list' AS pages_cover_catalog;
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"tools/list"}') -> 'result' ->> 'nextCursor' AS c1 \gset
SELECT (mtmcp.mcp_dispatch(:'a', jsonb_build_object('jsonrpc', '2.0', 'id', 2, 'method', 'tools/list',
		'params', jsonb_build_object('cursor', :'c1'))) -> 'result' -> 'tools') =
	   (mtmcp.mcp_dispatch(:'a', jsonb_build_object('jsonrpc', '2.0', 'id', 3, 'method', 'tools/list',
		'params', jsonb_build_object('cursor', :'c1'))) -> 'result' -> 'tools') AS same_page_twice;
SELECT label, mtmcp.mcp_dispatch(t, jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/list',
		'params', jsonb_build_object('cursor', c))) -> 'error' AS error
  FROM (VALUES
	('tampered position', :'a', 'eg' || substr(:'c1', 3)),
	('tampered mac', :'a', left(:'c1', -2) || CASE WHEN right(:'c1', 2) = 'AA' THEN 'AE' ELSE 'AA' END),
	('made up', :'a', 'd2hvYW1p.AAAAAAAAAAAAAAAAAAAAAA'),
	('other tenant', :'g', :'c1'),
	('other subject', tok('acme', sub => 'mallory', scope => 'tools docs:write'), :'c1'),
	('not base64url', :'a', '!!!.???'),
	('empty', :'a', '')
  ) AS v(label, t, c);
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":42}}') -> 'error' AS number_cursor;
RESET mtmcp.page_size;

-- Description overrides and terms: one tenant's words, not the other's;
-- the parameter shape never changes.
SELECT mtmcp.set_tool_description('acme', 'search_documents', 'Search the Acme knowledge base by keyword.');
SELECT mtmcp.set_term('globex', 'documents', 'records');
SELECT mtmcp.set_term('globex', 'title', 'heading');
SELECT listing(:'a', 'search_documents') ->> 'description' AS acme_sees,
	   listing(:'g', 'search_documents') ->> 'description' AS globex_sees,
	   listing(tok('initech'), 'search_documents') IS NULL AS suspended_sees_nothing;
SELECT listing(:'g', 'get_document') ->> 'description' AS globex_other_tool;
SELECT (listing(:'a', 'search_documents') - 'description') = (listing(:'g', 'search_documents') - 'description') AS same_shape;
SELECT mtmcp.set_term('globex', 'Document', 'Record');
SELECT mtmcp.set_tool_description('globex', 'get_document', 'FETCH ONE DOCUMENT. A document is identified by its id.');
SELECT listing(:'g', 'get_document') ->> 'description' AS case_kept;
SELECT mtmcp.set_tool_description('acme', 'search_documents', '');
SELECT mtmcp.set_term('acme', 'two  spaces', 'x');
SELECT mtmcp.set_term('acme', 'bad-term', 'x');
SELECT mtmcp.set_tool_description('acme', 'search_documents', NULL);
SELECT mtmcp.set_term('globex', 'documents', NULL);
SELECT listing(:'a', 'search_documents') ->> 'description' AS acme_reset;

-- Tenant-specific defaults for optional arguments: plan level, tenant level
-- (winning), and the caller's own value (winning over both).
CREATE FUNCTION app.list_documents(args jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('limit', args -> 'limit', 'order', args -> 'order')
$$;
GRANT EXECUTE ON FUNCTION app.list_documents(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('list_documents', 'List documents.',
	'{"type":"object","properties":{"limit":{"type":"integer","minimum":1,"maximum":100},
	  "order":{"enum":["title","doc_id"]},"doc_id":{"type":"integer"}},"required":["doc_id"]}',
	'app.list_documents(jsonb)');
SELECT mtmcp.update_plan('pro', NULL, '{"tool_defaults": {"list_documents": {"limit": 30, "order": "title"}}}');
SELECT mtmcp.set_tool_defaults('globex', 'list_documents', '{"limit": 10}');
SELECT result_text(call(:'a', 'list_documents', '{"doc_id": 1}')) AS acme_plan_default,
	   result_text(call(:'g', 'list_documents', '{"doc_id": 1}')) AS globex_tenant_default,
	   result_text(call(:'a', 'list_documents', '{"doc_id": 1, "limit": 5}')) AS explicit_wins;
SELECT mtmcp.set_tool_defaults('acme', 'list_documents', '{"order": "doc_id"}');
SELECT result_text(call(:'a', 'list_documents', '{"doc_id": 1}')) AS tenant_over_plan;
SELECT arguments FROM mtmcp.audit_log WHERE target = 'list_documents' ORDER BY ts DESC LIMIT 1;
SELECT mtmcp.set_tool_defaults('acme', 'list_documents', '{"colour": "red"}');
SELECT mtmcp.set_tool_defaults('acme', 'list_documents', '{"doc_id": 3}');
SELECT mtmcp.set_tool_defaults('acme', 'list_documents', '{"limit": 0}');
SELECT mtmcp.set_tool_defaults('acme', 'list_documents', '[1]');
SELECT mtmcp.set_tool_defaults('acme', 'no_such_tool', '{}');
SELECT mtmcp.update_plan('pro', NULL, '{}');

-- Arguments are validated before the handler runs; a failure is a tool
-- result naming the path, and the handler never ran.
SELECT count(*) AS docs_before FROM app.documents \gset
SELECT label, call(:'a', tool, args) -> 'result' AS result
  FROM (VALUES
	('missing required', 'get_document', '{}'::jsonb),
	('wrong type', 'get_document', '{"doc_id": "one"}'),
	('out of range', 'list_documents', '{"doc_id": 1, "limit": 500}'),
	('not in enum', 'list_documents', '{"doc_id": 1, "order": "random"}'),
	('wrong type for write', 'add_document', '{"title": 42}')
  ) AS v(label, tool, args);
SELECT count(*) = :docs_before AS nothing_written FROM app.documents;
SELECT result_kind, severity, error_code FROM mtmcp.audit_log WHERE target = 'add_document' ORDER BY ts DESC LIMIT 1;

-- tools/list returns the schema exactly as registered.
SELECT mtmcp.register_tool('strict_tool', 'Strict.',
	'{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
	  "$defs":{"id":{"type":"integer","minimum":1}},
	  "properties":{"a":{"$ref":"#/$defs/id"},"b":{"type":"array","items":{"$ref":"#/$defs/id"}}},
	  "additionalProperties":false}', 'app.whoami(jsonb)');
SELECT listing(:'a', 'strict_tool') -> 'inputSchema' = (SELECT input_schema FROM mtmcp.tools WHERE name = 'strict_tool') AS as_registered;
SELECT label, call(:'a', 'strict_tool', args) -> 'result' ->> 'isError' AS is_error, result_text(call(:'a', 'strict_tool', args)) AS text
  FROM (VALUES ('ok', '{"a": 1, "b": [2, 3]}'::jsonb), ('ref violated', '{"a": 0}'),
			   ('nested ref violated', '{"b": [1, -2]}'), ('extra property', '{"c": 1}')) AS v(label, args)
 WHERE label <> 'ok';
SELECT call(:'a', 'strict_tool', '{"a": 1, "b": [2, 3]}') -> 'result' ->> 'isError' AS ok_is_error;
-- malformed schemas are refused at registration
SELECT mtmcp.register_tool('bad', 'x', '{"type":"object","properties":{"a":{"type":"strnig"}}}', 'app.whoami(jsonb)');
SELECT mtmcp.register_tool('bad', 'x', '{"type":"object","required":"a"}', 'app.whoami(jsonb)');
SELECT mtmcp.register_tool('bad', 'x', '{"type":"object","properties":{"a":{"$ref":"#/$defs/missing"}}}', 'app.whoami(jsonb)');
SELECT mtmcp.register_tool('bad', 'x', '{"type":"object"}', 'app.whoami(jsonb)', output_schema => '{"type":"object","minProperties":-1}');

-- Tenant identity never travels in arguments: every reserved name (and its
-- spellings) is refused in schemas at registration...
SELECT string_agg(n, ', ' ORDER BY n) AS reserved FROM mtmcp.reserved_argument_names() n;
CREATE FUNCTION try_register(prop text, nested boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.register_tool('leaky', 'x',
		CASE WHEN nested
			 THEN jsonb_build_object('type', 'object', '$defs', jsonb_build_object('scope',
				  jsonb_build_object('type', 'object', 'properties', jsonb_build_object(prop, '{"type":"string"}'::jsonb))))
			 ELSE jsonb_build_object('type', 'object', 'properties', jsonb_build_object(prop, '{"type":"string"}'::jsonb)) END,
		'app.whoami(jsonb)');
	RETURN 'accepted';
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN SQLERRM;
END $$;
SELECT p, try_register(p, false) AS top_level, try_register(p, true) AS nested
  FROM unnest(ARRAY['tenant', 'tenant_id', 'tenantId', 'Tenant-ID', 'org_id', 'orgId', 'organization_id',
					'organizationId', 'session_id', 'sessionId', 'mcp-session-id', 'workspace_id']) p;
-- a property merely named "properties" is a property, not a map
SELECT try_register('properties', false) AS property_named_properties;
DELETE FROM mtmcp.tools WHERE name = 'leaky';
-- ... and in calls, even where the schema allows additional properties.
SELECT p, result_text(call(:'a', 'search_documents', jsonb_build_object('query', 'x', p, 'globex'))) AS top_level,
	   call(:'a', 'search_documents', jsonb_build_object('query', 'x', 'filter', jsonb_build_array(jsonb_build_object(p, 'globex'))))
		   -> 'result' ->> 'isError' AS nested_is_error
  FROM unnest(ARRAY['tenant', 'tenant_id', 'tenantId', 'org_id', 'orgId', 'organization_id', 'session_id', 'sessionId']) p;
SELECT result_kind, severity, detail, count(*) FROM mtmcp.audit_log
 WHERE target = 'search_documents' AND detail = 'reserved_argument' GROUP BY 1, 2, 3;

-- outputSchema: a conforming result carries structuredContent and the same
-- JSON as text; a non-conforming one is a tool error and its writes roll back.
CREATE FUNCTION app.count_documents(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO app.documents VALUES (mtmcp.current_tenant(), 900 + (args ->> 'n')::integer, 'counted', '');
	IF args ->> 'shape' = 'bad' THEN
		RETURN jsonb_build_object('count', 'many');
	ELSIF args ->> 'shape' = 'scalar' THEN
		RETURN to_jsonb(3);
	END IF;
	RETURN jsonb_build_object('count', (SELECT count(*) FROM app.documents));
END $$;
GRANT EXECUTE ON FUNCTION app.count_documents(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('count_documents', 'Count documents.', '{"type":"object"}', 'app.count_documents(jsonb)',
	output_schema => '{"type":"object","properties":{"count":{"type":"integer"}},"required":["count"]}');
SELECT jsonb_pretty(call(:'g', 'count_documents', '{"n": 1}') -> 'result');
SELECT call(:'g', 'count_documents', '{"n": 2, "shape": "bad"}') -> 'result' AS bad_shape;
SELECT call(:'g', 'count_documents', '{"n": 3, "shape": "scalar"}') -> 'result' AS scalar;
SELECT doc_id FROM app.documents WHERE title = 'counted' ORDER BY doc_id;
SELECT error_code, count(*) FROM mtmcp.audit_log WHERE target = 'count_documents' GROUP BY 1 ORDER BY 1;
