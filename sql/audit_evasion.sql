--
-- audit_evasion: every message of a verified tenant leaves exactly one
-- audit row whatever fails after its handler, and no flood of refusals can
-- hide an attack on a real tenant (issue 10, items 5 and 6)
--
\set fixture_after tools
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT now() AS t0 \gset
CREATE FUNCTION ev_d(token text, req jsonb, session text) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	SELECT mtmcp.mcp_dispatch(token, req, session)
$$;
CREATE FUNCTION ev_call(token text, tool text, args jsonb, session text) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	SELECT mtmcp.mcp_dispatch(token, jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/call',
		'params', jsonb_build_object('name', tool, 'arguments', args)), session)
$$;
CREATE FUNCTION ev_rows(session text) RETURNS TABLE (target text, result_kind text, severity text, error_code text,
		detail text) LANGUAGE sql STABLE AS $$
	SELECT target, result_kind, severity, error_code, detail FROM mtmcp.audit_log WHERE session_id = session
$$;

SELECT mtmcp.create_meter('ev.search', 2000);
SELECT mtmcp.create_meter('ev.tokens', 3, 'bucketed', 'token');
SELECT mtmcp.create_meter('ev.broken', 1);
-- A tool that charges what it is told; one that writes a document, then pays.
CREATE FUNCTION app.ev_charge(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	q numeric;
BEGIN
	FOR q IN SELECT jsonb_array_elements_text(args -> 'quantities')::numeric LOOP
		PERFORM mtmcp.charge(args ->> 'meter', q);
	END LOOP;
	RETURN '{"charged": true}'::jsonb;
END $$;
CREATE FUNCTION app.ev_write(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO app.documents (tenant_id, doc_id, title, body)
	VALUES (mtmcp.current_tenant(), (SELECT coalesce(max(doc_id), 0) + 1 FROM app.documents), args ->> 'title', '');
	PERFORM mtmcp.charge(args ->> 'meter', 1);
	RETURN '{"written": true}'::jsonb;
END $$;
GRANT EXECUTE ON FUNCTION app.ev_charge(jsonb), app.ev_write(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('ev_charge', 'Charge.', '{"type":"object"}', 'app.ev_charge(jsonb)');
SELECT mtmcp.register_tool('ev_write', 'Write, then pay.', '{"type":"object"}', 'app.ev_write(jsonb)');
SELECT tok('acme', sub => 'alice') AS a \gset

-- 1. charge(meter, 1e20): refused at charge() with 22003, a tool error, one
-- audit row, nothing queued (the ledger flush cannot overflow later).
SELECT result_text(ev_call(:'a', 'ev_charge', '{"meter": "ev.search", "quantities": [1e20]}', 'ev1')) AS huge;
SELECT * FROM ev_rows('ev1');
SELECT count(*) AS ledger_rows FROM mtmcp.cost_ledger WHERE meter = 'ev.search';
-- the charge alone fits; the bucket's running sum would not: refused too (the
-- first charge was made, so it is billed: paid is paid)
SELECT result_text(ev_call(:'a', 'ev_charge', '{"meter": "ev.tokens", "quantities": [3e18, 3e18]}', 'ev2')) AS bucket_sum;
SELECT * FROM ev_rows('ev2');
-- the largest amount that fits is accepted, and billed
SELECT ev_call(:'a', 'ev_charge', '{"meter": "ev.search", "quantities": [4611686018427387]}', 'ev3') -> 'result' ->> 'isError' AS is_error;
SELECT * FROM ev_rows('ev3');
SELECT quantity, amount_micros FROM mtmcp.cost_ledger WHERE meter IN ('ev.search', 'ev.tokens') ORDER BY ts;
-- outside a dispatch the check is the same
BEGIN;
SELECT mtmcp.authenticate(:'a') IS NOT NULL AS authenticated;
SELECT mtmcp.charge('ev.search', 1e20);
ROLLBACK;

-- 2. A failure after the handler (here: the ledger refuses the row): the
-- handler's write is rolled back, the caller gets -32603, and the message
-- still has exactly one audit row, saying so.
CREATE FUNCTION ev_ledger_down() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.meter = 'ev.broken' THEN
		RAISE EXCEPTION 'ledger unavailable' USING ERRCODE = 'io_error';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ev_ledger_down BEFORE INSERT ON mtmcp.cost_ledger FOR EACH ROW EXECUTE FUNCTION ev_ledger_down();
SELECT ev_call(tok('acme', scope => 'tools docs:write'), 'ev_write',
	'{"title": "written then lost", "meter": "ev.broken"}', 'ev4') #- '{error,data}' AS answer;
SELECT * FROM ev_rows('ev4');
SELECT (SELECT count(*) FROM app.documents WHERE title = 'written then lost') AS docs,
	   (SELECT count(*) FROM mtmcp.cost_ledger WHERE meter = 'ev.broken') AS ledger_rows;
-- the answer names the row
SELECT ev_call(:'a', 'ev_write', '{"title": "again", "meter": "ev.broken"}', 'ev5') -> 'error' -> 'data' ->> 'eventId' AS ev5_id \gset
SELECT count(*) AS names_its_row FROM mtmcp.audit_log WHERE session_id = 'ev5' AND event_id = :'ev5_id'::uuid;
-- Over HTTP, as the shim calls it: the handler's live log notification
-- went out before the failure (it cannot be taken back); the answer is
-- -32603 with HTTP 200, and the message has its one row.
CREATE FUNCTION app.ev_log_then_pay(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.log('warning', '{"step": "about to pay"}', 'ev');
	PERFORM mtmcp.charge('ev.broken', 1);
	RETURN '{}'::jsonb;
END $$;
GRANT EXECUTE ON FUNCTION app.ev_log_then_pay(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('ev_log_then_pay', 'Log, then pay.', '{"type":"object"}', 'app.ev_log_then_pay(jsonb)');
SELECT session_id AS hs FROM mtmcp.mcp_http(:'a', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}', NULL) \gset
SET client_min_messages = notice;
SELECT http_status, session_id = :'hs' AS same_session, response #- '{error,data}' AS response
  FROM mtmcp.mcp_http(:'a', '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ev_log_then_pay"}}', :'hs', 'k-ev');
SET client_min_messages = warning;
SELECT method, target, result_kind, error_code, detail FROM mtmcp.audit_log WHERE session_id = :'hs' ORDER BY ts;
DROP TRIGGER ev_ledger_down ON mtmcp.cost_ledger;
-- a working ledger again: the write and its charge commit with their row
SELECT ev_call(:'a', 'ev_write', '{"title": "written and kept", "meter": "ev.search"}', 'ev6') -> 'result' ->> 'isError' AS is_error;
SELECT * FROM ev_rows('ev6');
SELECT (SELECT count(*) FROM app.documents WHERE title = 'written and kept') AS docs;

-- Budget settings out of range are no budget, not a failed message.
SELECT mtmcp.set_tenant_setting('globex', 'audit_budget', '{"rows": 1e30}');
SELECT mtmcp.set_tenant_setting('globex', 'rate_limit', '{"requests": 1e30, "window_seconds": 1e30}');
SELECT ev_d(tok('globex'), '{"jsonrpc":"2.0","id":1,"method":"ping"}', 'ev7') -> 'result' AS pong;
SELECT * FROM ev_rows('ev7');
SELECT mtmcp.set_tenant_setting('globex', 'audit_budget', NULL);
SELECT mtmcp.set_tenant_setting('globex', 'rate_limit', NULL);

-- 3. A flood: 2000 tokens of the real issuer with bad signatures, for a
-- tenant that does not exist.  Their budget (source https://idp.test, reason
-- invalid_signature) runs out; the rest are counted, and each window that
-- ran out has exactly one alert row.
SELECT count(*) AS refused FROM generate_series(1, 2000) i,
	LATERAL ev_d(tok('nosuch' || i, secret => '\x0102'::bytea), '{"jsonrpc":"2.0","id":1,"method":"ping"}', 'ev-flood') r
 WHERE r -> 'error' -> 'data' ->> 'reason' = 'invalid_signature';
SELECT (SELECT count(*) FROM mtmcp.auth_failures WHERE session_id = 'ev-flood') < 2000 AS budgeted,
	   (SELECT count(*) FROM mtmcp.auth_failures WHERE session_id = 'ev-flood')
	   + (SELECT coalesce(sum(dropped), 0) FROM mtmcp.auth_failure_overflow
		   WHERE source = 'https://idp.test' AND reason = 'invalid_signature'
			 AND window_start >= date_trunc('minute', :'t0'::timestamptz)) AS written_plus_counted;
SELECT count(*) >= 1 AS alerted,
	   count(*) = (SELECT count(*) FROM mtmcp.auth_failure_overflow
					WHERE source = 'https://idp.test' AND reason = 'invalid_signature'
					  AND window_start >= date_trunc('minute', :'t0'::timestamptz)) AS one_per_window,
	   bool_and(severity = 'security' AND detail LIKE 'Refusals of reason "invalid_signature" from "https://idp.test" beyond %') AS says_what
  FROM mtmcp.auth_failures WHERE reason = 'refusals_suppressed' AND source = 'https://idp.test' AND ts >= :'t0';
-- the flood's rows carry their source; none is a security row (nobody real was attacked)
SELECT source, severity, count(*) > 0 AS some FROM mtmcp.auth_failures WHERE session_id = 'ev-flood' GROUP BY 1, 2;

-- After the flood, same issuer, same reason: a forged signature against a
-- real tenant (acme, whose data is there) is still written, as security.
SELECT count(*) > 0 AS victim_has_data FROM app.documents WHERE tenant_id = 'acme';
SELECT ev_d(tok('acme', secret => '\x0102'::bytea), '{"jsonrpc":"2.0","id":1,"method":"tools/list"}', 'ev-forged')
	-> 'error' -> 'data' AS forged;
SELECT count(*) AS forged_rows FROM mtmcp.auth_failures WHERE session_id = 'ev-forged';
SELECT reason, severity, source, detail FROM mtmcp.auth_failures WHERE session_id = 'ev-forged';
-- another reason from the same source is not silenced by the flood
SELECT ev_d(tok('acme', ttl => -3600), '{"jsonrpc":"2.0","id":1,"method":"ping"}', 'ev-expired') -> 'error' -> 'data' ->> 'reason' AS expired;
SELECT count(*) AS expired_rows FROM mtmcp.auth_failures WHERE session_id = 'ev-expired';
SELECT reason, severity, source FROM mtmcp.auth_failures WHERE session_id = 'ev-expired';
-- nor is a verified tenant's security row
SELECT ev_d(tok('globex'), '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"cohort_analysis"}}', 'ev-hidden')
	-> 'error' ->> 'message' AS hidden;
SELECT * FROM ev_rows('ev-hidden');
-- a flood of forged tokens against the real tenant is never budgeted
SELECT count(*) FROM generate_series(1, 700) i,
	LATERAL ev_d(tok('acme', sub => 'mallory' || i, secret => '\x0102'::bytea), '{"jsonrpc":"2.0","id":1,"method":"ping"}', 'ev-forged-flood') r;
SELECT count(*) AS forged_flood_rows FROM mtmcp.auth_failures WHERE session_id = 'ev-forged-flood';
SELECT severity, count(*) FROM mtmcp.auth_failures WHERE session_id = 'ev-forged-flood' GROUP BY 1;

-- 4. Handlers cannot raise an alert themselves: NOTIFY and pg_notify are
-- refused inside them (the sandbox), so every mtmcp_security payload comes
-- from mtmcp and names its row (test/shell/notify.sh checks the payloads).
CREATE FUNCTION app.ev_notify(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF (args ->> 'statement')::boolean THEN
		NOTIFY mtmcp_security, '{"tenant":"globex","event_id":"00000000-0000-4000-8000-000000000000","kind":"forged"}';
	ELSE
		PERFORM pg_notify('mtmcp_security', '{"tenant":"globex","event_id":"00000000-0000-4000-8000-000000000000","kind":"forged"}');
	END IF;
	RETURN '{}'::jsonb;
END $$;
GRANT EXECUTE ON FUNCTION app.ev_notify(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('ev_notify', 'Notify.', '{"type":"object"}', 'app.ev_notify(jsonb)');
SELECT ev_call(:'a', 'ev_notify', '{"statement": true}', 'ev-notify') -> 'result' ->> 'isError' AS notify_refused,
	   ev_call(:'a', 'ev_notify', '{"statement": false}', 'ev-notify') -> 'result' ->> 'isError' AS pg_notify_refused;
SELECT result_kind, error_code FROM mtmcp.audit_log WHERE session_id = 'ev-notify' ORDER BY ts;
SELECT mtmcp.verify_security_notification('{"tenant":"globex","event_id":"00000000-0000-4000-8000-000000000000","table":"mtmcp.audit_log","kind":"forged"}') AS forged_payload_verifies,
	   mtmcp.verify_security_notification('not json') AS garbage_verifies;
SELECT mtmcp.verify_security_notification(json_build_object('tenant', 'globex', 'event_id', event_id,
		'table', 'mtmcp.audit_log', 'kind', detail)::text) AS real_payload_verifies,
	   mtmcp.verify_security_notification(json_build_object('tenant', 'acme', 'event_id', event_id,
		'table', 'mtmcp.audit_log', 'kind', detail)::text) AS replayed_for_another_tenant
  FROM mtmcp.audit_log WHERE session_id = 'ev-hidden';

-- Clean up what this file made.
SELECT mtmcp.unregister_tool('ev_charge');
SELECT mtmcp.unregister_tool('ev_write');
SELECT mtmcp.unregister_tool('ev_log_then_pay');
SELECT mtmcp.unregister_tool('ev_notify');
DROP FUNCTION app.ev_charge(jsonb), app.ev_write(jsonb), app.ev_log_then_pay(jsonb), app.ev_notify(jsonb), ev_ledger_down(), ev_d(text, jsonb, text),
	ev_call(text, text, jsonb, text), ev_rows(text);
DELETE FROM app.documents WHERE title = 'written and kept';
