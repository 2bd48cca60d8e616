--
-- lifecycle: soft delete, restore, export, hard delete with proof
--
\set fixture_after sessions
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- A tenant with data, configuration, sessions, audit and costs.
CALL mtmcp.create_tenant('doomed', 'pro', 'Doomed Inc', ARRAY['https://idp.test']);
INSERT INTO app.documents VALUES ('doomed', 1, 'Doomed plan', 'All of it.'), ('doomed', 2, 'Doomed memo', 'Bye.');
INSERT INTO app.notes VALUES ('doomed', 1, 'doomed note');
SELECT mtmcp.set_tool_description('doomed', 'get_document', 'Fetch a doomed document.');
SELECT mtmcp.set_term('doomed', 'document', 'file');
SELECT mtmcp.set_tenant_feature('doomed', 'analytics', false);
SELECT tok('doomed', sub => 'dee', scope => 'tools docs:write') AS d \gset
SELECT session_id AS ds FROM mtmcp.mcp_http(:'d', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}', NULL) \gset
SELECT http_status FROM mtmcp.mcp_http(:'d', '{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"kb://tenants/doomed/documents/1"}}', :'ds');
SELECT result_text(call(:'d', 'web_search', '{}')) AS paid_search;
SELECT result_text(call(:'d', 'get_document', '{"doc_id": 1}')) AS works;
-- the bystanders, before
CREATE TEMP TABLE bystanders AS
	SELECT tenant_id, count(*) AS n FROM app.documents WHERE tenant_id <> 'doomed' GROUP BY 1;

-- Export: everything the tenant owns, nothing of anybody else's.
SELECT e -> 'tenant_id' AS tenant, jsonb_object_keys(e -> 'sections') AS section
  FROM mtmcp.export_tenant('doomed') e ORDER BY 2;
SELECT jsonb_pretty(mtmcp.export_tenant('doomed') -> 'sections' -> 'data' -> 'app.documents');
SELECT section, table_name, count(*) FROM mtmcp.export_tenant_rows('doomed') GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS foreign_rows FROM mtmcp.export_tenant_rows('doomed') r
 WHERE r.data ->> 'tenant_id' IS DISTINCT FROM 'doomed' AND r.section IN ('data', 'configuration', 'tenant');
SELECT mtmcp.export_tenant('nobody');

-- Soft delete: refused at the boundary at once, sessions ended, data kept.
CALL mtmcp.soft_delete_tenant('doomed', '7 days');
SELECT status, status_before_delete, purge_after - deleted_at AS window FROM mtmcp.tenants WHERE tenant_id = 'doomed';
SELECT reason(:'d') AS token_now;
SELECT http_status FROM mtmcp.mcp_http(tok('doomed', sub => 'dee'), '{"jsonrpc":"2.0","id":3,"method":"ping"}', :'ds');
SELECT ended_at IS NOT NULL AS session_ended FROM mtmcp.sessions WHERE session_id = :'ds';
SELECT count(*) AS docs_kept FROM app.documents WHERE tenant_id = 'doomed';
CALL mtmcp.soft_delete_tenant('doomed');
CALL mtmcp.suspend_tenant('doomed', 'x');
-- ... and restore within the window.
CALL mtmcp.restore_tenant('doomed');
SELECT status, deleted_at IS NULL AS undeleted FROM mtmcp.tenants WHERE tenant_id = 'doomed';
SELECT result_text(call(tok('doomed', sub => 'dee'), 'get_document', '{"doc_id": 2}')) AS works_again;
CALL mtmcp.restore_tenant('doomed');

-- Hard delete: only after a soft delete, only after the window (or forced).
CALL mtmcp.hard_delete_tenant('doomed');
CALL mtmcp.soft_delete_tenant('doomed', '7 days');
\set VERBOSITY terse
CALL mtmcp.hard_delete_tenant('doomed');
\set VERBOSITY default
CALL mtmcp.hard_delete_tenant('doomed', force => true);
SELECT tenant_id, rows_deleted, residual, retained, digest ~ '^[0-9a-f]{64}$' AS digest_ok
  FROM mtmcp.deletion_certificates;
SELECT * FROM mtmcp.verify_tenant_purged('doomed');
SELECT status, display_name, settings FROM mtmcp.tenants WHERE tenant_id = 'doomed';
-- the proof holds: the digest is of the certificate's own content
SELECT digest = encode(sha256(convert_to(jsonb_build_object('tenant_id', tenant_id, 'soft_deleted_at', soft_deleted_at,
		'rows_deleted', rows_deleted, 'residual', residual, 'retained', retained)::text, 'UTF8')), 'hex') AS digest_matches
  FROM mtmcp.deletion_certificates WHERE tenant_id = 'doomed';
-- audit and cost rows are retained by their own retention, not the tenant's
SELECT (SELECT count(*) > 0 FROM mtmcp.audit_log WHERE tenant_id = 'doomed') AS audit_kept,
	   (SELECT count(*) > 0 FROM mtmcp.cost_ledger WHERE tenant_id = 'doomed') AS costs_kept;
-- nobody else lost a row
SELECT b.tenant_id, b.n = (SELECT count(*) FROM app.documents d WHERE d.tenant_id = b.tenant_id) AS untouched
  FROM bystanders b ORDER BY 1;
-- the tombstone: the id never names a new customer; tokens are refused
CALL mtmcp.create_tenant('doomed', 'free');
SELECT reason(tok('doomed')) AS token_after_purge;
CALL mtmcp.restore_tenant('doomed');
CALL mtmcp.hard_delete_tenant('doomed', true);
SELECT mtmcp.export_tenant('doomed');
CALL mtmcp.hard_delete_tenant('nobody');
CALL mtmcp.soft_delete_tenant('acme', '20 years');
-- only administrators
SET SESSION AUTHORIZATION regress_tenant;
CALL mtmcp.soft_delete_tenant('globex');
SELECT mtmcp.export_tenant('globex');
RESET SESSION AUTHORIZATION;
