-- H: the handler plus a hand-written audit INSERT in one transaction -- what
-- a careful application writes without mtmcp (issue 3's yardstick for the
-- audited, charged tools/call of B).
BEGIN;
SELECT bench.noop('{}'::jsonb);
INSERT INTO mtmcp.audit_log (event_id, tenant_id, subject, method, target, result_kind, severity, arguments,
							 trace_id, span_id, duration_us)
VALUES (gen_random_uuid(), 'acme', 'bench', 'tools/call', 'noop', 'ok', 'info', '{}',
		md5(random()::text), left(md5(random()::text), 16), 0);
END;
