--
-- test/e2e/mrtr_fixtures.sql -- the tools and the prompt the conformance
-- suite (@modelcontextprotocol/conformance 0.2.0-alpha.12) expects for
-- 2026-07-28's multi round-trip requests (input-required-result-*) and the
-- server-stateless scenario, written with mtmcp's handler API
-- (mtmcp.elicit, mtmcp.sample, mtmcp.list_roots, mtmcp.await_input,
-- mtmcp.client_capabilities).  Load after conformance_fixtures.sql (same
-- schema, plan and feature "conformance"):
--
--   psql -v ON_ERROR_STOP=1 -d DB -f test/e2e/mrtr_fixtures.sql
--
-- Handlers are replayed from the start on every round: each asks, and gets
-- the answer when the client has sent it (this round or an earlier one,
-- carried in the sealed requestState).  The same handlers serve 2025-11-25
-- session clients, to whom the shim sends real server-to-client requests.
--
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\o /dev/null

CREATE FUNCTION conformance.text_result(t text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('content', jsonb_build_array(jsonb_build_object('type', 'text', 'text', t)))
$$;

-- A1: one elicitation under the key "user_name".
CREATE FUNCTION conformance.irr_elicitation(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := mtmcp.elicit('user_name', 'What is your name?',
		'{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}');
BEGIN
	RETURN conformance.text_result('Hello, ' || coalesce(r #>> '{content,name}', '(no name: ' || (r ->> 'action') || ')') || '!');
END
$$;

-- A2: one sampling request.
CREATE FUNCTION conformance.irr_sampling(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := mtmcp.sample('capital_question', '{"messages": [{"role": "user",
		"content": {"type": "text", "text": "What is the capital of France?"}}], "maxTokens": 100}');
BEGIN
	RETURN conformance.text_result('Sampling response: ' || coalesce(r #>> '{content,text}', r::text));
END
$$;

-- A3: the client's roots.
CREATE FUNCTION conformance.irr_list_roots(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := mtmcp.list_roots('client_roots');
BEGIN
	RETURN conformance.text_result('Roots: ' || coalesce((SELECT string_agg(x ->> 'uri', ', ')
		FROM jsonb_array_elements(r -> 'roots') x), '(none)'));
END
$$;

-- A4: a confirmation; the answer only counts with the state mtmcp sealed.
CREATE FUNCTION conformance.irr_request_state(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := mtmcp.elicit('confirm', 'Please confirm',
		'{"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}');
BEGIN
	RETURN conformance.text_result('state-ok: action=' || (r ->> 'action') || ', ok=' || coalesce(r #>> '{content,ok}', 'null'));
END
$$;

-- A5: three questions in one round (wait => false), then await them together.
CREATE FUNCTION conformance.irr_multiple_inputs(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n jsonb := mtmcp.elicit('user_name', 'What is your name?',
		'{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}', wait => false);
	g jsonb := mtmcp.sample('greeting', '{"messages": [{"role": "user",
		"content": {"type": "text", "text": "Generate a greeting"}}], "maxTokens": 50}', wait => false);
	r jsonb := mtmcp.list_roots('client_roots', wait => false);
BEGIN
	PERFORM mtmcp.await_input();
	RETURN conformance.text_result(format('%s, %s (roots: %s)', g #>> '{content,text}', n #>> '{content,name}',
		jsonb_array_length(r -> 'roots')));
END
$$;

-- A6: two rounds of questions, each with its own state.
CREATE FUNCTION conformance.irr_multi_round(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n jsonb := mtmcp.elicit('step1', 'Step 1: What is your name?',
		'{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}');
	c jsonb := mtmcp.elicit('step2', 'Step 2: What is your favorite color?',
		'{"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}');
BEGIN
	RETURN conformance.text_result(format('%s likes %s', n #>> '{content,name}', c #>> '{content,color}'));
END
$$;

-- A9: only what the client declared (sampling and/or elicitation).
CREATE FUNCTION conformance.irr_capabilities(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	caps jsonb := mtmcp.client_capabilities();
	s jsonb;
	e jsonb;
BEGIN
	IF caps ? 'sampling' THEN
		s := mtmcp.sample('summary', '{"messages": [{"role": "user",
			"content": {"type": "text", "text": "Summarize the day"}}], "maxTokens": 50}', wait => false);
	END IF;
	IF caps ? 'elicitation' THEN
		e := mtmcp.elicit('feedback', 'How was your day?',
			'{"type": "object", "properties": {"feedback": {"type": "string"}}}', wait => false);
	END IF;
	PERFORM mtmcp.await_input();
	RETURN conformance.text_result(format('sampling: %s, elicitation: %s', s IS NOT NULL, e IS NOT NULL));
END
$$;

-- The prompt that asks (input-required-result-non-tool-request).
CREATE FUNCTION conformance.irr_prompt(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := mtmcp.elicit('user_context', 'What context should the prompt use?',
		'{"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}');
BEGIN
	RETURN jsonb_build_array(jsonb_build_object('role', 'user', 'content', jsonb_build_object('type', 'text',
		'text', 'Use this context: ' || coalesce(r #>> '{content,context}', '(none)'))));
END
$$;

-- server-stateless: a tool that needs sampling (called with no capabilities: -32021) ...
CREATE FUNCTION conformance.missing_capability(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := mtmcp.sample('needs_sampling', '{"messages": [{"role": "user",
		"content": {"type": "text", "text": "Hello"}}], "maxTokens": 10}');
BEGIN
	RETURN conformance.text_result(coalesce(r #>> '{content,text}', r::text));
END
$$;
-- ... one that asks (its response stream carries the input_required result, never a request) ...
CREATE FUNCTION conformance.streaming_elicitation(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb;
BEGIN
	PERFORM mtmcp.notify_progress(1, 2, 'about to ask');
	r := mtmcp.elicit('answer', 'Continue?',
		'{"type": "object", "properties": {"continue": {"type": "boolean"}}, "required": ["continue"]}');
	RETURN conformance.text_result('answered: ' || (r ->> 'action'));
END
$$;
-- ... and one that logs (nothing reaches a client that set no _meta logLevel).
CREATE FUNCTION conformance.logging_tool(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.log('info', '"log message 1"', 'conformance');
	PERFORM mtmcp.log('warning', '"log message 2"', 'conformance');
	RETURN conformance.text_result('logged');
END
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA conformance TO mtmcp_tool;

SELECT mtmcp.register_tool(t.name, t.description, '{"type": "object", "properties": {}}', t.handler::regprocedure,
						   required_feature => 'conformance')
  FROM (VALUES
	('test_input_required_result_elicitation', 'Asks the user''s name (multi round-trip).', 'conformance.irr_elicitation(jsonb)'),
	('test_input_required_result_sampling', 'Asks the client''s model a question (multi round-trip).', 'conformance.irr_sampling(jsonb)'),
	('test_input_required_result_list_roots', 'Asks for the client''s roots (multi round-trip).', 'conformance.irr_list_roots(jsonb)'),
	('test_input_required_result_request_state', 'Asks for a confirmation under a sealed requestState.', 'conformance.irr_request_state(jsonb)'),
	('test_input_required_result_multiple_inputs', 'Asks three things in one round.', 'conformance.irr_multiple_inputs(jsonb)'),
	('test_input_required_result_multi_round', 'Asks two things, one round after the other.', 'conformance.irr_multi_round(jsonb)'),
	('test_input_required_result_tampered_state', 'Asks for a confirmation; a tampered requestState is refused.', 'conformance.irr_request_state(jsonb)'),
	('test_input_required_result_capabilities', 'Asks only for what the client declared.', 'conformance.irr_capabilities(jsonb)'),
	('test_missing_capability', 'Needs sampling: refused with -32021 when the client did not declare it.', 'conformance.missing_capability(jsonb)'),
	('test_streaming_elicitation', 'Reports progress, then asks the user.', 'conformance.streaming_elicitation(jsonb)'),
	('test_logging_tool', 'Logs two messages.', 'conformance.logging_tool(jsonb)')
  ) AS t(name, description, handler);

SELECT mtmcp.register_prompt('test_input_required_result_prompt', 'A prompt that asks the user for context first.',
	'[]', renderer => 'conformance.irr_prompt(jsonb)', required_feature => 'conformance');


-- subscriptions/listen (server-stateless): the trigger tools announce a change
-- of the caller's tenant's tools or prompts list (the handler API; only the
-- verified tenant's listen streams hear it)
CREATE FUNCTION conformance.trigger_tool_change(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.notify_list_changed('tools');
	RETURN conformance.text_result('tools list changed');
END
$$;
CREATE FUNCTION conformance.trigger_prompt_change(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.notify_list_changed('prompts');
	RETURN conformance.text_result('prompts list changed');
END
$$;
GRANT EXECUTE ON FUNCTION conformance.trigger_tool_change(jsonb), conformance.trigger_prompt_change(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('test_trigger_tool_change', 'Announces that the tools list changed (listen streams).',
	'{"type": "object", "properties": {}}', 'conformance.trigger_tool_change(jsonb)', required_feature => 'conformance');
SELECT mtmcp.register_tool('test_trigger_prompt_change', 'Announces that the prompts list changed (listen streams).',
	'{"type": "object", "properties": {}}', 'conformance.trigger_prompt_change(jsonb)', required_feature => 'conformance');

\o
