--
-- cost: charges attributed to the verified tenant, billed even when the
-- tool fails, per call or bucketed per transaction
--
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT mtmcp.create_meter('search.api', 2000, description => 'Third-party search, per request');
SELECT mtmcp.create_meter('llm.tokens', 3, 'bucketed', 'token');
SELECT meter, unit_price_micros, mode, unit FROM mtmcp.meters ORDER BY meter;

-- A tool that pays for a search, then optionally fails; one that spends tokens.
CREATE FUNCTION app.web_search(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.charge('search.api', 1);
	IF (args ->> 'fail')::boolean THEN
		RAISE EXCEPTION 'search provider returned garbage';
	END IF;
	RETURN jsonb_build_object('hits', 3);
END $$;
CREATE FUNCTION app.summarize(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n numeric;
BEGIN
	FOR n IN SELECT jsonb_array_elements_text(args -> 'chunks')::numeric LOOP
		PERFORM mtmcp.charge('llm.tokens', n);
	END LOOP;
	RETURN jsonb_build_object('ok', true);
END $$;
CREATE FUNCTION app.charge_any(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mtmcp.charge(args ->> 'meter', (args ->> 'quantity')::numeric);
	RETURN '{}'::jsonb;
END $$;
GRANT EXECUTE ON FUNCTION app.web_search(jsonb), app.summarize(jsonb), app.charge_any(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('web_search', 'Search the web.', '{"type":"object"}', 'app.web_search(jsonb)');
SELECT mtmcp.register_tool('summarize', 'Summarize.', '{"type":"object"}', 'app.summarize(jsonb)');
SELECT mtmcp.register_tool('charge_any', 'Charge.', '{"type":"object"}', 'app.charge_any(jsonb)');

SELECT tok('acme', sub => 'alice') AS a \gset
SELECT tok('globex', sub => 'bob') AS g \gset

-- Per call: one row per charge, linked to the audit event, attributed to the
-- verified tenant and subject (arguments cannot even name a tenant).
SELECT call(:'a', 'web_search', '{"q": "anvils"}') -> 'result' ->> 'isError' AS is_error;
SELECT tenant_id, subject, meter, quantity, unit_price_micros, amount_micros, mode, tool,
	   event_id = (SELECT event_id FROM mtmcp.audit_log WHERE target = 'web_search' ORDER BY ts DESC LIMIT 1) AS linked
  FROM mtmcp.cost_ledger ORDER BY ts;
-- A tool that fails after paying is still billed; its audit row says it failed.
SELECT call(:'g', 'web_search', '{"fail": true}') -> 'result' AS failed;
SELECT tenant_id, meter, amount_micros, tool FROM mtmcp.cost_ledger WHERE tenant_id = 'globex';
SELECT result_kind, error_code FROM mtmcp.audit_log WHERE tenant_id = 'globex' AND target = 'web_search';

-- Bucketed: summed per tenant and meter, one row per transaction.
SELECT call(:'a', 'summarize', '{"chunks": [100, 250, 50]}') -> 'result' ->> 'isError' AS is_error;
SELECT tenant_id, meter, quantity, amount_micros, mode, tool FROM mtmcp.cost_ledger WHERE meter = 'llm.tokens';
BEGIN;
SELECT call(:'a', 'summarize', '{"chunks": [10, 20]}') -> 'result' ->> 'isError' AS is_error;
SELECT call(:'a', 'summarize', '{"chunks": [30]}') -> 'result' ->> 'isError' AS is_error;
SELECT call(:'g', 'summarize', '{"chunks": [7]}') -> 'result' ->> 'isError' AS is_error;
SELECT count(*) AS before_commit FROM mtmcp.cost_ledger WHERE meter = 'llm.tokens';
COMMIT;
SELECT tenant_id, quantity, amount_micros FROM mtmcp.cost_ledger WHERE meter = 'llm.tokens' ORDER BY ts, tenant_id;
-- an aborted transaction bills nothing (its work is gone too)
BEGIN;
SELECT call(:'a', 'summarize', '{"chunks": [999]}') -> 'result' ->> 'isError' AS is_error;
ROLLBACK;
SELECT count(*) AS aborted_rows FROM mtmcp.cost_ledger WHERE quantity = 999;
-- rounding: micro-units are whole, amount = round(quantity * price)
SELECT call(:'a', 'summarize', '{"chunks": [0.5]}') -> 'result' ->> 'isError' AS is_error;
SELECT quantity, unit_price_micros, amount_micros FROM mtmcp.cost_ledger WHERE quantity = 0.5;

-- Bad charges are tool errors, and bill nothing.
SELECT result_text(call(:'a', 'charge_any', '{"meter": "nope", "quantity": 1}')) AS unknown_meter;
SELECT result_text(call(:'a', 'charge_any', '{"meter": "search.api", "quantity": -1}')) AS negative;
SELECT result_text(call(:'a', 'charge_any', '{"meter": "search.api", "quantity": "NaN"}')) AS nan;
SELECT result_text(call(:'a', 'charge_any', '{"meter": "search.api"}')) AS no_quantity;
-- Outside a verified call there is nobody to charge.
SELECT mtmcp.charge('search.api', 1);

-- Background costs, attributed to the tenant whose data it is.
SELECT mtmcp.charge_background('globex', 'search.api', 5, 're-indexing documents');
SELECT tenant_id, quantity, amount_micros, mode, reason, subject FROM mtmcp.cost_ledger WHERE mode = 'background';
SELECT mtmcp.charge_background('globex', 'search.api', 5, '');
SELECT mtmcp.charge_background('nobody', 'search.api', 5, 'x');
SELECT mtmcp.charge_background('globex', 'nope', 5, 'x');
SELECT mtmcp.charge_background('globex', 'search.api', -5, 'x');
SET SESSION AUTHORIZATION regress_tenant;
SELECT mtmcp.charge_background('globex', 'search.api', 5, 'tenant tries');
RESET SESSION AUTHORIZATION;

-- Meters refuse bad definitions.
SELECT mtmcp.create_meter('search.api', 1);
SELECT mtmcp.create_meter('bad meter', 1);
SELECT mtmcp.create_meter('m', -1);
SELECT mtmcp.create_meter('m', 1, 'hourly');
SELECT mtmcp.set_meter_price('nope', 1);
SELECT mtmcp.set_meter_price('search.api', 2500);
SELECT call(:'a', 'web_search', '{}') -> 'result' ->> 'isError' AS is_error;
SELECT unit_price_micros, amount_micros FROM mtmcp.cost_ledger WHERE tenant_id = 'acme' AND meter = 'search.api' ORDER BY ts;

-- Tenants read their own costs; admins see the day view.
SET SESSION AUTHORIZATION regress_tenant;
BEGIN;
SELECT mtmcp.authenticate(:'g');
SELECT meter, quantity, amount_micros, mode FROM mtmcp.tenant_costs ORDER BY ts;
COMMIT;
SELECT count(*) FROM mtmcp.cost_ledger;
RESET SESSION AUTHORIZATION;
SELECT tenant_id, meter, quantity, amount_micros, entries FROM mtmcp.cost_by_tenant_day ORDER BY 1, 2;
