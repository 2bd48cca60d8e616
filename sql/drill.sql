--
-- drill: the blast-radius drill attacks one tenant from another through
-- the real code paths and leaves nothing behind
--
\set fixture_after lifecycle
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT (SELECT count(*) FROM mtmcp.issuers) AS issuers_before, (SELECT count(*) FROM mtmcp.audit_log) AS audit_before,
	   (SELECT count(*) FROM mtmcp.sessions) AS sessions_before \gset
-- acme has no rate limit: the drill reports flooding as the one hazard
\x on
SELECT * FROM mtmcp.blast_radius_drill('acme');
\x off
-- with a rate limit, no operation is left without a refusing layer
SELECT mtmcp.set_tenant_setting('globex', 'rate_limit', '{"requests": 20, "window_seconds": 1000000000}');
-- (the planted prompt injection is left out here: whether its calls reach the policy or the rate
-- limit first depends on the counts earlier runs left in shared memory; acme's run shows it)
SELECT operation, verdict FROM mtmcp.blast_radius_drill('globex') WHERE operation NOT LIKE '%planted%';
SELECT mtmcp.set_tenant_setting('globex', 'rate_limit', NULL);
-- with results withheld, the instruction planted in acme's own data never reaches its agent
SELECT mtmcp.set_tenant_setting('acme', 'injection_policy', '{"results": {"override": "withhold"}}');
SELECT operation, scoping_refuses, alerted, verdict FROM mtmcp.blast_radius_drill('acme') WHERE operation LIKE '%planted%';
SELECT mtmcp.set_tenant_setting('acme', 'injection_policy', NULL);
-- nothing left behind
SELECT (SELECT count(*) FROM mtmcp.issuers) = :issuers_before AS issuers_unchanged,
	   (SELECT count(*) FROM mtmcp.audit_log) = :audit_before AS audit_unchanged,
	   (SELECT count(*) FROM mtmcp.sessions) = :sessions_before AS sessions_unchanged;
SELECT * FROM mtmcp.blast_radius_drill('initech');
SELECT * FROM mtmcp.blast_radius_drill('nobody');
SET SESSION AUTHORIZATION regress_tenant;
SELECT * FROM mtmcp.blast_radius_drill('acme');
RESET SESSION AUTHORIZATION;
-- Configuration that opens a channel shows up as a hazard: a grant RLS does
-- not confine, given after registration, and a writable shared table.
GRANT TRUNCATE ON app.documents TO mtmcp_tool;
CREATE TABLE app.drill_shared (k text PRIMARY KEY, v text);
GRANT SELECT, UPDATE ON app.drill_shared TO mtmcp_tool;
SELECT mtmcp.register_shared_table('app.drill_shared', writable => true);
SELECT operation, verdict, evidence FROM mtmcp.blast_radius_drill('acme')
 WHERE operation IN ('reach past RLS through privileges or indexes on a tenant table',
					 'write shared reference data that every tenant reads', 'empty every tenant''s rows (TRUNCATE)');
SELECT count(*) AS victim_rows_still_there FROM app.documents WHERE tenant_id = 'globex';
REVOKE TRUNCATE ON app.documents FROM mtmcp_tool;
SELECT mtmcp.unregister_shared_table('app.drill_shared');
DROP TABLE app.drill_shared;
