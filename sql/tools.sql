--
-- tools: listing and calling, filtered by plan feature and token scope
--
\set fixture_after roles
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE FUNCTION names(resp jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT string_agg(t ->> 'name', ', ' ORDER BY t ->> 'name') FROM jsonb_array_elements(resp -> 'result' -> 'tools') t
$$;
CREATE FUNCTION list(token text) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	SELECT mtmcp.mcp_dispatch(token, '{"jsonrpc":"2.0","id":1,"method":"tools/list"}')
$$;

-- A write tool that needs a feature only the pro plan has, and a scope.
CREATE FUNCTION app.add_document(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	id integer;
BEGIN
	INSERT INTO app.documents (tenant_id, doc_id, title, body)
	VALUES (mtmcp.current_tenant(),
			(SELECT coalesce(max(doc_id), 0) + 1 FROM app.documents),
			args ->> 'title', coalesce(args ->> 'body', ''))
	RETURNING doc_id INTO id;
	IF args ->> 'title' = 'fail after insert' THEN
		RAISE EXCEPTION 'refusing after the insert';
	END IF;
	RETURN jsonb_build_object('doc_id', id);
END $$;
GRANT EXECUTE ON FUNCTION app.add_document(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('add_document', 'Add a document.',
	'{"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"}},"required":["title"]}',
	'app.add_document(jsonb)', required_feature => 'documents.write', required_scope => 'docs:write',
	output_schema => '{"type":"object","properties":{"doc_id":{"type":"integer"}}}');
-- A tool that needs a feature no plan has.
SELECT mtmcp.register_tool('cohort_analysis', 'Cohort analysis.', '{"type":"object"}', 'app.whoami(jsonb)',
	required_feature => 'advanced_analytics');

-- The catalog is plan features ∩ token scopes.
SELECT names(list(tok('acme', scope => 'tools docs:read docs:write'))) AS acme_full_scope;
SELECT names(list(tok('acme', scope => 'tools'))) AS acme_narrow_scope;
SELECT names(list(tok('globex', scope => 'tools docs:read docs:write'))) AS globex_free_plan;
SELECT names(list(tok('acme', extra => '{"scope": ["docs:write", "tools"]}'))) AS acme_array_scope;
-- the listing is what was registered
SELECT jsonb_pretty(t) FROM jsonb_array_elements(list(tok('acme', scope => 'docs:write')) -> 'result' -> 'tools') t
 WHERE t ->> 'name' = 'add_document';

-- Calling: a result, an error, and the handler's writes.
SELECT tok('acme', scope => 'tools docs:write') AS w \gset
SELECT jsonb_pretty(call(:'w', 'add_document', '{"title": "Acme memo", "body": "hello"}'));
SELECT tenant_id, doc_id, title FROM app.documents WHERE title = 'Acme memo';
-- a failing handler's writes roll back; the answer is a tool error
SELECT call(:'w', 'add_document', '{"title": "fail after insert"}') -> 'result' AS failed;
SELECT count(*) AS rolled_back FROM app.documents WHERE title = 'fail after insert';
-- errors that could describe the schema are not shown to the model
CREATE FUNCTION app.broken(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT jsonb_agg(x) FROM app.no_such_table x);
END $$;
GRANT EXECUTE ON FUNCTION app.broken(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('broken', 'Broken.', '{"type":"object"}', 'app.broken(jsonb)');
SELECT call(:'w', 'broken') -> 'result' AS broken;
-- data errors and deliberate RAISEs are shown (a lax schema lets "seven" through)
CREATE FUNCTION app.parse_int(args jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT to_jsonb((args ->> 'n')::integer) $$;
GRANT EXECUTE ON FUNCTION app.parse_int(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('parse_int', 'Parse.', '{"type":"object"}', 'app.parse_int(jsonb)');
SELECT call(:'w', 'parse_int', '{"n": "seven"}') -> 'result' AS data_error;
SELECT call(:'w', 'get_document', '{"doc_id": 404}') -> 'result' AS raised;

-- Result shapes: a string, a scalar, an array, NULL, a CallToolResult.
CREATE FUNCTION app.shapes(args jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT CASE args ->> 'shape'
		WHEN 'string' THEN to_jsonb('plain text'::text)
		WHEN 'number' THEN to_jsonb(42)
		WHEN 'array' THEN '[1, 2]'::jsonb
		WHEN 'null' THEN NULL
		WHEN 'result' THEN '{"content": [{"type": "text", "text": "custom"}], "isError": false}'::jsonb
		ELSE '{"a": 1}'::jsonb END
$$;
GRANT EXECUTE ON FUNCTION app.shapes(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('shapes', 'Shapes.', '{"type":"object"}', 'app.shapes(jsonb)');
SELECT s AS shape, call(:'w', 'shapes', jsonb_build_object('shape', s)) -> 'result' AS result
  FROM unnest(ARRAY['string', 'number', 'array', 'null', 'result', 'object']) s;

-- Unknown tools and tools outside the caller's catalog get the same answer.
SELECT call(tok('acme'), 'no_such_tool') AS unknown;
SELECT call(tok('globex', scope => 'docs:write'), 'add_document', '{"title": "x"}') AS not_in_plan;
SELECT call(tok('acme', scope => 'tools'), 'add_document', '{"title": "x"}') AS not_in_scope;
SELECT call(tok('acme'), 'cohort_analysis') AS no_plan_has_it;
-- byte-identical to the answer once the tool really does not exist
SELECT call(tok('acme'), 'cohort_analysis')::text AS hidden \gset
BEGIN;
DELETE FROM mtmcp.tools WHERE name = 'cohort_analysis';
SELECT call(tok('acme'), 'cohort_analysis')::text = :'hidden' AS identical_to_nonexistent;
ROLLBACK;
SELECT count(*) AS globex_wrote_nothing FROM app.documents WHERE title = 'x';

-- A plan downgrade between list and call takes effect on the next call.
SELECT names(list(:'w')) AS before_downgrade;
SELECT mtmcp.update_plan('pro', ARRAY['documents']);
SELECT call(:'w', 'add_document', '{"title": "after downgrade"}') -> 'error' AS after_downgrade;
SELECT names(list(:'w')) AS after_downgrade;
SELECT mtmcp.update_plan('pro', ARRAY['documents', 'documents.write', 'analytics']);
SELECT update_plan FROM mtmcp.update_plan('nope', NULL);

-- Bad tools/call params.
SELECT mtmcp.mcp_dispatch(:'w', '{"jsonrpc":"2.0","id":1,"method":"tools/call"}');
SELECT mtmcp.mcp_dispatch(:'w', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}');
SELECT mtmcp.mcp_dispatch(:'w', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"shapes","arguments":[1]}}');
SELECT mtmcp.mcp_dispatch(:'w', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"shapes","arguments":null}}') -> 'result' AS null_arguments;
SELECT mtmcp.mcp_dispatch(:'w', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"shapes"}}') -> 'result' AS no_arguments;
