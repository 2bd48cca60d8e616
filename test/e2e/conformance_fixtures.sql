--
-- test/e2e/conformance_fixtures.sql -- the tools, resources and prompts the
-- official MCP conformance suite (@modelcontextprotocol/conformance
-- 0.2.0-alpha.12, server scenarios of 2025-11-25 and 2026-07-28) expects, as an
-- ordinary mtmcp fixture pack.  The multi round-trip fixtures of the 2026-07-28
-- input-required-* scenarios are in mrtr_fixtures.sql (loaded after this).
--
-- Load into a database that has the extension:
--
--   psql -v ON_ERROR_STOP=1 -d DB -f test/e2e/conformance_fixtures.sql
--
-- Everything is gated on the feature "conformance" and carried by the plan
-- "conformance": only a tenant on that plan (test/e2e/run.sh creates one,
-- "conformance") sees any of it.  Other tenants of the same database never
-- do.  Names, arguments and outputs follow the scenario sources of the suite.
--
-- The sampling and elicitation tools ask through the handler API
-- (mtmcp.sample, mtmcp.elicit): a 2026-07-28 client gets an input_required
-- result and retries; a 2025-11-25 session client gets real server-to-client
-- requests on the call's event stream (the shim's bridge, src/shim/mrtr.c).
-- The same handler serves both.
--
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\o /dev/null

SELECT mtmcp.create_plan('conformance', ARRAY['conformance']);

CREATE SCHEMA conformance;
GRANT USAGE ON SCHEMA conformance TO mtmcp_tool;

-- A 1x1 red PNG and a four-sample 16-bit mono WAV.
CREATE FUNCTION conformance.png() RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC'::text $$;
CREATE FUNCTION conformance.wav() RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT 'UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQgAAAAAAOgDAAAY/A=='::text $$;

-------------------------------------------------------------------------------
-- Tools.  A handler returning {"content": [...], ...} gives the whole
-- CallToolResult; anything else would become one text block.
-------------------------------------------------------------------------------

CREATE FUNCTION conformance.simple_text(args jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT '{"content": [{"type": "text", "text": "This is a simple text response for testing."}]}'::jsonb
$$;

CREATE FUNCTION conformance.image_content(args jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('content', jsonb_build_array(
		jsonb_build_object('type', 'image', 'data', conformance.png(), 'mimeType', 'image/png')))
$$;

CREATE FUNCTION conformance.audio_content(args jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('content', jsonb_build_array(
		jsonb_build_object('type', 'audio', 'data', conformance.wav(), 'mimeType', 'audio/wav')))
$$;

CREATE FUNCTION conformance.embedded_resource(args jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT '{"content": [{"type": "resource", "resource": {"uri": "test://embedded-resource",
		"mimeType": "text/plain", "text": "This is an embedded resource content."}}]}'::jsonb
$$;

CREATE FUNCTION conformance.multiple_content_types(args jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('content', jsonb_build_array(
		jsonb_build_object('type', 'text', 'text', 'Multiple content types test:'),
		jsonb_build_object('type', 'image', 'data', conformance.png(), 'mimeType', 'image/png'),
		jsonb_build_object('type', 'resource', 'resource', jsonb_build_object(
			'uri', 'test://mixed-content-resource', 'mimeType', 'application/json',
			'text', '{"test":"data","value":123}'))))
$$;

-- Three info-level log messages, about 50 ms apart.
CREATE FUNCTION conformance.tool_with_logging(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.log('info', to_jsonb('Tool execution started'::text), 'test_tool_with_logging');
	PERFORM pg_sleep(0.05);
	PERFORM mtmcp.log('info', to_jsonb('Tool processing data'::text), 'test_tool_with_logging');
	PERFORM pg_sleep(0.05);
	PERFORM mtmcp.log('info', to_jsonb('Tool execution completed'::text), 'test_tool_with_logging');
	RETURN '{"content": [{"type": "text", "text": "Tool with logging executed successfully"}]}'::jsonb;
END
$$;

-- Always fails: the error becomes a result with isError: true.
CREATE FUNCTION conformance.error_handling(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'This tool intentionally returns an error for testing';
END
$$;

-- Progress 0, 50, 100 of 100, about 50 ms apart (a no-op without a
-- progress token).
CREATE FUNCTION conformance.tool_with_progress(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.notify_progress(0, 100);
	PERFORM pg_sleep(0.05);
	PERFORM mtmcp.notify_progress(50, 100);
	PERFORM pg_sleep(0.05);
	PERFORM mtmcp.notify_progress(100, 100);
	RETURN '{"content": [{"type": "text", "text": "Tool with progress executed successfully"}]}'::jsonb;
END
$$;

-- For the pending scenario server-sse-polling: a tool that answers.
CREATE FUNCTION conformance.reconnection(args jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT '{"content": [{"type": "text", "text": "Reconnection test completed successfully"}]}'::jsonb
$$;

-- For the pending scenario json-schema-2020-12: the schema's keywords must
-- reach tools/list unchanged.
CREATE FUNCTION conformance.json_schema_2020_12(args jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('received', args)
$$;

-- Sampling: one sampling/createMessage with the prompt; the model's text comes back.
CREATE FUNCTION conformance.sampling(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := mtmcp.sample('llm', jsonb_build_object(
		'messages', jsonb_build_array(jsonb_build_object('role', 'user',
			'content', jsonb_build_object('type', 'text', 'text', args ->> 'prompt'))),
		'maxTokens', 100));
BEGIN
	RETURN jsonb_build_object('content', jsonb_build_array(jsonb_build_object('type', 'text',
		'text', 'LLM response: ' || coalesce(r #>> '{content,text}', r::text))));
END
$$;

-- Elicitation: the user's name and e-mail address.
CREATE FUNCTION conformance.elicitation(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := mtmcp.elicit('user', args ->> 'message', '{"type": "object", "properties": {
		"username": {"type": "string", "description": "User''s response"},
		"email": {"type": "string", "description": "User''s email address"}},
		"required": ["username", "email"]}');
BEGIN
	RETURN jsonb_build_object('content', jsonb_build_array(jsonb_build_object('type', 'text',
		'text', 'User response: action=' || (r ->> 'action') || ', content=' || coalesce(r -> 'content', '{}')::text)));
END
$$;

-- SEP-1034: a default for every primitive type.
CREATE FUNCTION conformance.elicitation_defaults(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := mtmcp.elicit('profile', 'Please review your profile', '{"type": "object", "properties": {
		"name": {"type": "string", "default": "John Doe"},
		"age": {"type": "integer", "default": 30},
		"score": {"type": "number", "default": 95.5},
		"status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
		"verified": {"type": "boolean", "default": true}}}');
BEGIN
	RETURN jsonb_build_object('content', jsonb_build_array(jsonb_build_object('type', 'text',
		'text', 'Elicitation completed: action=' || (r ->> 'action') || ', content=' || coalesce(r -> 'content', '{}')::text)));
END
$$;

-- SEP-1330: the five enum shapes.
CREATE FUNCTION conformance.elicitation_enums(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := mtmcp.elicit('choices', 'Please choose', '{"type": "object", "properties": {
		"untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
		"titledSingle": {"type": "string", "oneOf": [{"const": "value1", "title": "First Option"},
			{"const": "value2", "title": "Second Option"}, {"const": "value3", "title": "Third Option"}]},
		"legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
			"enumNames": ["Option One", "Option Two", "Option Three"]},
		"untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
		"titledMulti": {"type": "array", "items": {"anyOf": [{"const": "value1", "title": "First Choice"},
			{"const": "value2", "title": "Second Choice"}, {"const": "value3", "title": "Third Choice"}]}}}}');
BEGIN
	RETURN jsonb_build_object('content', jsonb_build_array(jsonb_build_object('type', 'text',
		'text', 'Elicitation completed: action=' || (r ->> 'action') || ', content=' || coalesce(r -> 'content', '{}')::text)));
END
$$;

-- SEP-2243: a parameter mirrored into the Mcp-Param-Region header.
CREATE FUNCTION conformance.x_mcp_header(args jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('content', jsonb_build_array(jsonb_build_object('type', 'text',
		'text', 'region=' || coalesce(args ->> 'region', '(none)'))))
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA conformance TO mtmcp_tool;

SELECT mtmcp.register_tool('test_sampling', 'Asks the client''s model to answer a prompt (sampling).',
	'{"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}',
	'conformance.sampling(jsonb)', required_feature => 'conformance', annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_elicitation', 'Asks the user for a name and an e-mail address.',
	'{"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}',
	'conformance.elicitation(jsonb)', required_feature => 'conformance', annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_elicitation_sep1034_defaults', 'Elicitation with a default for each primitive type.',
	'{"type": "object", "properties": {}}', 'conformance.elicitation_defaults(jsonb)',
	required_feature => 'conformance', annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_elicitation_sep1330_enums', 'Elicitation with the five enum schema shapes.',
	'{"type": "object", "properties": {}}', 'conformance.elicitation_enums(jsonb)',
	required_feature => 'conformance', annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_x_mcp_header', 'Echoes its region, which travels in the Mcp-Param-Region header too.',
	'{"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}}',
	'conformance.x_mcp_header(jsonb)', required_feature => 'conformance', annotations => '{"readOnlyHint": true}');

SELECT mtmcp.register_tool('test_simple_text', 'Returns a simple text response.',
	'{"type": "object", "properties": {}}', 'conformance.simple_text(jsonb)', required_feature => 'conformance',
	annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_image_content', 'Returns an image (a 1x1 red PNG).',
	'{"type": "object", "properties": {}}', 'conformance.image_content(jsonb)', required_feature => 'conformance',
	annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_audio_content', 'Returns audio (a tiny WAV).',
	'{"type": "object", "properties": {}}', 'conformance.audio_content(jsonb)', required_feature => 'conformance',
	annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_embedded_resource', 'Returns an embedded text resource.',
	'{"type": "object", "properties": {}}', 'conformance.embedded_resource(jsonb)', required_feature => 'conformance',
	annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_multiple_content_types', 'Returns text, an image and an embedded resource.',
	'{"type": "object", "properties": {}}', 'conformance.multiple_content_types(jsonb)',
	required_feature => 'conformance', annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_tool_with_logging', 'Sends three info log messages while it runs.',
	'{"type": "object", "properties": {}}', 'conformance.tool_with_logging(jsonb)', required_feature => 'conformance',
	annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_error_handling', 'Always fails.',
	'{"type": "object", "properties": {}}', 'conformance.error_handling(jsonb)', required_feature => 'conformance',
	annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_tool_with_progress', 'Reports progress 0, 50 and 100 of 100 while it runs.',
	'{"type": "object", "properties": {}}', 'conformance.tool_with_progress(jsonb)', required_feature => 'conformance',
	annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('test_reconnection', 'Answers; used by the SSE polling scenario.',
	'{"type": "object", "properties": {}}', 'conformance.reconnection(jsonb)', required_feature => 'conformance',
	annotations => '{"readOnlyHint": true}');
SELECT mtmcp.register_tool('json_schema_2020_12_tool', 'Tool with JSON Schema 2020-12 features',
	$${"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
	   "$defs": {"address": {"$anchor": "addressDef", "type": "object",
	                         "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
	   "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"},
	                  "contactMethod": {"type": "string", "enum": ["phone", "email"]},
	                  "phone": {"type": "string"}, "email": {"type": "string"}},
	   "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
	   "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
	   "then": {"required": ["phone"]}, "else": {"required": ["email"]},
	   "additionalProperties": false}$$,
	'conformance.json_schema_2020_12(jsonb)', required_feature => 'conformance', annotations => '{"readOnlyHint": true}');

-------------------------------------------------------------------------------
-- Resources.  A fixed URI is a template without variables; neither it nor a
-- template without {tenant} belongs to a tenant, so both are public (the
-- feature still keeps them to the conformance tenant).
-------------------------------------------------------------------------------

CREATE FUNCTION conformance.read_static_text(vars jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT to_jsonb('This is the content of the static text resource.'::text)
$$;
CREATE FUNCTION conformance.list_static_text(params jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT '[{"uri": "test://static-text", "name": "static-text", "title": "Static text",
		"description": "A static text resource.", "mimeType": "text/plain"}]'::jsonb
$$;

CREATE FUNCTION conformance.read_static_binary(vars jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('blob', conformance.png(), 'mimeType', 'image/png')
$$;
CREATE FUNCTION conformance.list_static_binary(params jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT '[{"uri": "test://static-binary", "name": "static-binary", "title": "Static binary",
		"description": "A static binary resource (a PNG image).", "mimeType": "image/png"}]'::jsonb
$$;

CREATE FUNCTION conformance.read_template_data(vars jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT to_jsonb(jsonb_build_object('id', vars ->> 'id', 'templateTest', true,
									   'data', 'Data for ID: ' || (vars ->> 'id'))::text)
$$;
CREATE FUNCTION conformance.complete_template_id(req jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(jsonb_agg(v ORDER BY v), '[]') FROM unnest(ARRAY['1', '2', '3', '123']) v
	 WHERE v LIKE (req -> 'argument' ->> 'value') || '%'
$$;

CREATE FUNCTION conformance.read_watched(vars jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT to_jsonb('Watched resource content.'::text)
$$;
CREATE FUNCTION conformance.list_watched(params jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT '[{"uri": "test://watched-resource", "name": "watched-resource", "title": "Watched resource",
		"description": "A resource to subscribe to.", "mimeType": "text/plain"}]'::jsonb
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA conformance TO mtmcp_tool;

SELECT mtmcp.register_resource_template('static-text', 'test://static-text', 'A static text resource.',
	'text/plain', 'conformance.read_static_text(jsonb)', lister => 'conformance.list_static_text(jsonb)',
	public => true, required_feature => 'conformance', title => 'Static text');
SELECT mtmcp.register_resource_template('static-binary', 'test://static-binary',
	'A static binary resource (a PNG image).', 'image/png', 'conformance.read_static_binary(jsonb)',
	lister => 'conformance.list_static_binary(jsonb)', public => true, required_feature => 'conformance',
	title => 'Static binary');
SELECT mtmcp.register_resource_template('template-data', 'test://template/{id}/data',
	'Data for an id, substituted into the content.', 'application/json', 'conformance.read_template_data(jsonb)',
	completer => 'conformance.complete_template_id(jsonb)', public => true, required_feature => 'conformance',
	title => 'Template data');
SELECT mtmcp.register_resource_template('watched-resource', 'test://watched-resource',
	'A resource to subscribe to.', 'text/plain', 'conformance.read_watched(jsonb)',
	lister => 'conformance.list_watched(jsonb)', public => true, required_feature => 'conformance',
	title => 'Watched resource');

-------------------------------------------------------------------------------
-- Prompts
-------------------------------------------------------------------------------

CREATE FUNCTION conformance.complete_arg(req jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(jsonb_agg(v ORDER BY v), '[]')
	  FROM unnest(ARRAY['paris', 'park', 'party', 'test', 'testing', 'test-value']) v
	 WHERE v LIKE (req -> 'argument' ->> 'value') || '%'
$$;

CREATE FUNCTION conformance.prompt_with_embedded_resource(args jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_array(
		jsonb_build_object('role', 'user', 'content', jsonb_build_object('type', 'resource', 'resource',
			jsonb_build_object('uri', args ->> 'resourceUri', 'mimeType', 'text/plain',
							   'text', 'Embedded resource content for testing.'))),
		jsonb_build_object('role', 'user', 'content',
			jsonb_build_object('type', 'text', 'text', 'Please process the embedded resource above.')))
$$;

CREATE FUNCTION conformance.prompt_with_image(args jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_array(
		jsonb_build_object('role', 'user', 'content',
			jsonb_build_object('type', 'image', 'data', conformance.png(), 'mimeType', 'image/png')),
		jsonb_build_object('role', 'user', 'content',
			jsonb_build_object('type', 'text', 'text', 'Please analyze the image above.')))
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA conformance TO mtmcp_tool;

SELECT mtmcp.register_prompt('test_simple_prompt', 'A simple prompt without arguments.', '[]',
	template => '[{"role": "user", "content": {"type": "text", "text": "This is a simple prompt for testing."}}]',
	required_feature => 'conformance');
SELECT mtmcp.register_prompt('test_prompt_with_arguments', 'A prompt with two required arguments.',
	'[{"name": "arg1", "description": "First test argument", "required": true},
	  {"name": "arg2", "description": "Second test argument", "required": true}]',
	template => $$[{"role": "user", "content": {"type": "text",
		"text": "Prompt with arguments: arg1='{{arg1}}', arg2='{{arg2}}'"}}]$$,
	completer => 'conformance.complete_arg(jsonb)', required_feature => 'conformance');
SELECT mtmcp.register_prompt('test_prompt_with_embedded_resource', 'A prompt embedding a resource.',
	'[{"name": "resourceUri", "description": "URI of the resource to embed", "required": true}]',
	renderer => 'conformance.prompt_with_embedded_resource(jsonb)', required_feature => 'conformance');
SELECT mtmcp.register_prompt('test_prompt_with_image', 'A prompt with an image.', '[]',
	renderer => 'conformance.prompt_with_image(jsonb)', required_feature => 'conformance');

\o
RESET client_min_messages;
