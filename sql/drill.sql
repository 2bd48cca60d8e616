--
-- drill: the blast-radius drill attacks one tenant from another through
-- the real code paths and leaves nothing behind
--
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
SELECT operation, verdict FROM mtmcp.blast_radius_drill('globex');
SELECT mtmcp.set_tenant_setting('globex', 'rate_limit', NULL);
-- nothing left behind
SELECT (SELECT count(*) FROM mtmcp.issuers) = :issuers_before AS issuers_unchanged,
	   (SELECT count(*) FROM mtmcp.audit_log) = :audit_before AS audit_unchanged,
	   (SELECT count(*) FROM mtmcp.sessions) = :sessions_before AS sessions_unchanged;
SELECT * FROM mtmcp.blast_radius_drill('initech');
SELECT * FROM mtmcp.blast_radius_drill('nobody');
SET SESSION AUTHORIZATION regress_tenant;
SELECT * FROM mtmcp.blast_radius_drill('acme');
RESET SESSION AUTHORIZATION;
