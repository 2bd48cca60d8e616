--
-- prompts, completion of prompt arguments, logging/setLevel
--
\set fixture_after resources
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT tok('acme', scope => 'tools docs:write') AS a \gset
SELECT tok('globex', scope => 'tools docs:write') AS g \gset

SELECT mtmcp.register_prompt('summarize_document', 'Summarize a document for a busy reader.',
	'[{"name": "doc_id", "description": "Which document", "required": true},
	  {"name": "style", "description": "bullet or prose"}]',
	template => '[{"role": "user", "content": {"type": "text",
	  "text": "Summarize document {{doc_id}} in {{style}} style."}}]');
CREATE FUNCTION app.document_context(args jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_array(
		jsonb_build_object('role', 'user', 'content', jsonb_build_object('type', 'resource', 'resource',
			jsonb_build_object('uri', 'kb://tenants/' || d.tenant_id || '/documents/' || d.doc_id,
							   'mimeType', 'text/markdown', 'text', d.body))),
		jsonb_build_object('role', 'user', 'content', jsonb_build_object('type', 'image', 'data', 'iVBORw0KGgo=',
							   'mimeType', 'image/png')),
		jsonb_build_object('role', 'assistant', 'content', jsonb_build_object('type', 'text', 'text', 'Got it: ' || d.title)))
	  FROM app.documents d WHERE d.doc_id = (args ->> 'doc_id')::integer
$$;
CREATE FUNCTION app.complete_style(req jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT coalesce(jsonb_agg(s), '[]') FROM unnest(ARRAY['bullet', 'brief', 'prose']) s
	 WHERE s LIKE (req -> 'argument' ->> 'value') || '%'
$$;
CREATE FUNCTION app.complete_many(req jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_agg('v' || g) FROM generate_series(1, 250) g
$$;
CREATE FUNCTION app.bad_renderer(args jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT '[{"role": "system", "content": {"type": "text", "text": "x"}}]'::jsonb
$$;
GRANT EXECUTE ON FUNCTION app.document_context(jsonb), app.complete_style(jsonb), app.complete_many(jsonb),
	app.bad_renderer(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_prompt('document_context', 'Put a document in context.',
	'[{"name": "doc_id", "required": true}]', renderer => 'app.document_context(jsonb)');
SELECT mtmcp.register_prompt('summarize_styled', 'Summarize with a style.',
	'[{"name": "style", "required": true}]',
	template => '[{"role": "user", "content": {"type": "text", "text": "Style: {{style}}"}}]',
	completer => 'app.complete_style(jsonb)');
SELECT mtmcp.register_prompt('many', 'Many completions.', '[{"name": "v"}]',
	template => '[{"role": "user", "content": {"type": "text", "text": "{{v}}"}}]', completer => 'app.complete_many(jsonb)');
SELECT mtmcp.register_prompt('analytics_brief', 'Brief on the analytics of the documents.', '[]',
	template => '[{"role": "user", "content": {"type": "text", "text": "Brief me."}}]', required_feature => 'analytics');
SELECT mtmcp.register_prompt('bad_render', 'Renders badly.', '[]', renderer => 'app.bad_renderer(jsonb)');

-- Registration refusals.
SELECT mtmcp.register_prompt('p', 'x', '[]');
SELECT mtmcp.register_prompt('p', 'x', '[]', renderer => 'app.document_context(jsonb)', template => '[]');
SELECT mtmcp.register_prompt('p', 'x', '[{"name": "a"}, {"name": "a"}]', template => '[{"role":"user","content":{"type":"text","text":"x"}}]');
SELECT mtmcp.register_prompt('p', 'x', '[{"nom": "a"}]', template => '[{"role":"user","content":{"type":"text","text":"x"}}]');
SELECT mtmcp.register_prompt('p', 'x', '[{"name": "tenant_id"}]', template => '[{"role":"user","content":{"type":"text","text":"x"}}]');
SELECT mtmcp.register_prompt('p', 'x', '[]', template => '[{"role":"system","content":{"type":"text","text":"x"}}]');
SELECT mtmcp.register_prompt('p', 'x', '[]', template => '[]');

-- Listing: filtered by feature; descriptions carry the tenant's override and terms.
SELECT mtmcp.set_prompt_description('acme', 'summarize_document', 'Summarize an Acme document for an executive.');
SELECT mtmcp.set_term('globex', 'document', 'record');
SELECT p ->> 'name' AS name, p ->> 'description' AS acme_sees
  FROM jsonb_array_elements(mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"prompts/list"}') -> 'result' -> 'prompts') p;
SELECT p ->> 'name' AS name, p ->> 'description' AS globex_sees
  FROM jsonb_array_elements(mtmcp.mcp_dispatch(:'g', '{"jsonrpc":"2.0","id":1,"method":"prompts/list"}') -> 'result' -> 'prompts') p;
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"prompts/list"}') -> 'result' -> 'prompts' -> 3 -> 'arguments' AS arguments;
SELECT mtmcp.set_prompt_description('acme', 'nope', 'x');

-- Getting: template fill, renderer with text, image and embedded resource
-- (confined by RLS), the tenant's description.
SELECT jsonb_pretty(mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"prompts/get",
	"params":{"name":"summarize_document","arguments":{"doc_id":"1","style":"bullet"}}}') -> 'result');
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"prompts/get",
	"params":{"name":"summarize_document","arguments":{"doc_id":"2"}}}') -> 'result' -> 'messages' -> 0 -> 'content' ->> 'text' AS optional_missing;
-- A missing optional argument leaves no empty substitution: an optional
-- section {{#name}}...{{/name}} goes, a declared default fills in, a line
-- with the placeholder goes when other lines remain (else the placeholder
-- goes with the space before it, as above).
SELECT mtmcp.register_prompt('brief', 'A brief.',
	'[{"name": "topic", "required": true}, {"name": "tone", "default": "neutral"},
	  {"name": "audience"}, {"name": "deadline"}]',
	template => '[{"role": "user", "content": {"type": "text",
	  "text": "Brief on {{topic}}{{#audience}} for {{audience}}{{/audience}}, in a {{tone}} tone.\nDue: {{deadline}}\nKeep it short."}}]');
SELECT a AS arguments, mtmcp.mcp_dispatch(:'a', jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'prompts/get',
	'params', jsonb_build_object('name', 'brief', 'arguments', a))) -> 'result' -> 'messages' -> 0 -> 'content' ->> 'text' AS text
  FROM unnest(ARRAY['{"topic": "rockets"}', '{"topic": "rockets", "audience": "engineers", "tone": "dry", "deadline": "Friday"}']::jsonb[]) a;
SELECT mtmcp.unregister_prompt('brief');
SELECT jsonb_pretty(mtmcp.mcp_dispatch(:'g', '{"jsonrpc":"2.0","id":1,"method":"prompts/get",
	"params":{"name":"document_context","arguments":{"doc_id":"1"}}}') -> 'result');
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"prompts/get",
	"params":{"name":"document_context","arguments":{"doc_id":"3"}}}') -> 'result' -> 'messages' -> 2 -> 'content' ->> 'text' AS acme_doc_3;

-- Refusals, all -32602; a hidden prompt answers like a missing one.
SELECT label, mtmcp.mcp_dispatch(t, jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'prompts/get', 'params', p)) -> 'error' AS error
  FROM (VALUES
	('missing required', :'a', '{"name": "summarize_document", "arguments": {"style": "prose"}}'::jsonb),
	('no arguments', :'a', '{"name": "summarize_document"}'),
	('unknown prompt', :'a', '{"name": "nope"}'),
	('hidden prompt', :'g', '{"name": "analytics_brief"}'),
	('undeclared argument', :'a', '{"name": "summarize_document", "arguments": {"doc_id": "1", "colour": "red"}}'),
	('number argument', :'a', '{"name": "summarize_document", "arguments": {"doc_id": 1}}'),
	('reserved argument', :'a', '{"name": "summarize_document", "arguments": {"doc_id": "1", "tenant_id": "globex"}}'),
	('arguments not an object', :'a', '{"name": "summarize_document", "arguments": ["1"]}'),
	('name not a string', :'a', '{"name": 5}'),
	('bad rendering', :'a', '{"name": "bad_render"}')
  ) AS v(label, t, p);
SELECT result_kind, severity, detail, target FROM mtmcp.audit_log
 WHERE method = 'prompts/get' AND severity = 'security' ORDER BY ts;

-- Completion of prompt arguments: at most 100 values, total and hasMore.
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"completion/complete",
	"params":{"ref":{"type":"ref/prompt","name":"summarize_styled"},"argument":{"name":"style","value":"b"}}}') -> 'result' AS style_b;
SELECT c -> 'completion' -> 'total' AS total, c -> 'completion' -> 'hasMore' AS has_more,
	   jsonb_array_length(c -> 'completion' -> 'values') AS returned
  FROM (SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"completion/complete",
	"params":{"ref":{"type":"ref/prompt","name":"many"},"argument":{"name":"v","value":""}}}') -> 'result' AS c) s;
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"completion/complete",
	"params":{"ref":{"type":"ref/prompt","name":"summarize_document"},"argument":{"name":"doc_id","value":""}}}') -> 'result' AS no_completer;
SELECT mtmcp.mcp_dispatch(:'g', '{"jsonrpc":"2.0","id":1,"method":"completion/complete",
	"params":{"ref":{"type":"ref/prompt","name":"analytics_brief"},"argument":{"name":"x","value":""}}}') -> 'error' AS hidden_prompt;
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"completion/complete",
	"params":{"ref":{"type":"ref/prompt","name":"summarize_styled"},"argument":{"name":"nope","value":""}}}') -> 'error' AS unknown_argument;
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"completion/complete",
	"params":{"ref":{"type":"ref/prompt","name":"summarize_styled"}}}') -> 'error' AS no_argument;

-- logging/setLevel: the eight syslog levels, per caller and session.
SELECT l AS level, mtmcp.mcp_dispatch(:'a', jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'logging/setLevel',
		'params', jsonb_build_object('level', l)), 'sess-' || l) -> 'result' AS result
  FROM unnest(ARRAY['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']) l;
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"verbose"}}') -> 'error' AS invalid;
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{}}') -> 'error' AS missing;
SELECT mtmcp.mcp_dispatch(:'a', '{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"error"}}', 'sess-debug') IS NOT NULL;
SELECT tenant_id, session_id, level FROM mtmcp.log_levels ORDER BY session_id;
