--
-- roles: who may do what; handlers cannot escape row-level security
--
\set fixture_after guc_attacks
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT rolname, rolsuper, rolbypassrls, rolcanlogin
  FROM pg_roles WHERE rolname IN ('mtmcp_gateway', 'mtmcp_tool', 'mtmcp_admin', 'mtmcp_tenant') ORDER BY 1;

-- The gateway (the shim's role) may only call mcp_dispatch.
DROP ROLE IF EXISTS regress_shim;
CREATE ROLE regress_shim LOGIN IN ROLE mtmcp_gateway;
-- (SESSION AUTHORIZATION, not SET ROLE: the shim logs in as itself)
SET SESSION AUTHORIZATION regress_shim;
SELECT mtmcp.mcp_dispatch(tok('acme'), '{"jsonrpc":"2.0","id":1,"method":"ping"}');
SELECT count(*) FROM mtmcp.tenants;
SELECT count(*) FROM mtmcp.signing_keys;
SELECT mtmcp.authenticate(tok('acme'));
SELECT mtmcp.add_issuer('https://evil.example', 'x');
CALL mtmcp.suspend_tenant('globex', 'sabotage');
SELECT count(*) FROM app.documents;
SET ROLE mtmcp_tool;
SET ROLE postgres;
RESET SESSION AUTHORIZATION;

-- Tenants authenticate, then read; they cannot administer.
DROP ROLE IF EXISTS regress_tenant;
CREATE ROLE regress_tenant LOGIN IN ROLE mtmcp_tenant;
GRANT USAGE ON SCHEMA app TO regress_tenant;
GRANT SELECT ON app.documents TO regress_tenant;
SET SESSION AUTHORIZATION regress_tenant;
BEGIN;
SELECT mtmcp.authenticate(tok('globex'));
SELECT tenant_id, doc_id, title FROM app.documents ORDER BY doc_id;
COMMIT;
SELECT count(*) FROM mtmcp.tenants;
CALL mtmcp.resume_tenant('initech');
RESET SESSION AUTHORIZATION;

-- Tools run as mtmcp_tool, whoever calls dispatch.
CREATE FUNCTION app.whoami(args jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('current_user', current_user, 'tenant', mtmcp.current_tenant(),
							  'subject', mtmcp.current_subject())
$$;
GRANT EXECUTE ON FUNCTION app.whoami(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('whoami', 'Who runs tools.', '{"type":"object"}', 'app.whoami(jsonb)');
SELECT result_text(call(tok('acme', sub => 'alice'), 'whoami')) AS as_superuser;
SET SESSION AUTHORIZATION regress_shim;
SELECT result_text(call(tok('globex', sub => 'bob'), 'whoami')) AS as_gateway;
RESET SESSION AUTHORIZATION;

-- Handlers that would escape RLS are refused at registration...
CREATE FUNCTION app.definer_count(args jsonb) RETURNS jsonb LANGUAGE sql SECURITY DEFINER AS $$
	SELECT jsonb_build_object('n', count(*)) FROM app.documents
$$;
GRANT EXECUTE ON FUNCTION app.definer_count(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('definer_count', 'x', '{"type":"object"}', 'app.definer_count(jsonb)');
DROP ROLE IF EXISTS regress_bypass;
CREATE ROLE regress_bypass BYPASSRLS;
ALTER FUNCTION app.definer_count(jsonb) OWNER TO regress_bypass;
SELECT mtmcp.register_tool('definer_count', 'x', '{"type":"object"}', 'app.definer_count(jsonb)');
-- ... a SECURITY DEFINER owned by an ordinary role is fine (RLS still applies).
DROP ROLE IF EXISTS regress_plain;
CREATE ROLE regress_plain;
GRANT USAGE ON SCHEMA app TO regress_plain;
GRANT SELECT ON app.documents TO regress_plain;
ALTER FUNCTION app.definer_count(jsonb) OWNER TO regress_plain;
SELECT mtmcp.register_tool('definer_count', 'x', '{"type":"object"}', 'app.definer_count(jsonb)');
SELECT result_text(call(tok('acme'), 'definer_count')) AS acme_count,
	   result_text(call(tok('globex'), 'definer_count')) AS globex_count;
-- ... and at every call, when the function changes after registration.
ALTER FUNCTION app.definer_count(jsonb) OWNER TO regress_bypass;
SELECT call(tok('acme'), 'definer_count') -> 'result' AS after_owner_change;
ALTER FUNCTION app.definer_count(jsonb) OWNER TO postgres;
SELECT call(tok('acme'), 'definer_count') -> 'result' AS after_owner_change;
DELETE FROM mtmcp.tools WHERE name = 'definer_count';

-- Handler shape and privileges.
CREATE FUNCTION app.text_arg(args text) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION app.text_result(args jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
CREATE FUNCTION app.set_result(args jsonb) RETURNS SETOF jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE PROCEDURE app.proc(args jsonb) LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION app.no_grant(args jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
REVOKE EXECUTE ON FUNCTION app.no_grant(jsonb) FROM PUBLIC;
SELECT mtmcp.register_tool('t', 'x', '{"type":"object"}', 'app.text_arg(text)');
SELECT mtmcp.register_tool('t', 'x', '{"type":"object"}', 'app.text_result(jsonb)');
SELECT mtmcp.register_tool('t', 'x', '{"type":"object"}', 'app.set_result(jsonb)');
SELECT mtmcp.register_tool('t', 'x', '{"type":"object"}', 'app.proc(jsonb)');
SELECT mtmcp.register_tool('t', 'x', '{"type":"object"}', 'app.no_grant(jsonb)');
SELECT mtmcp.register_tool('bad name!', 'x', '{"type":"object"}', 'app.whoami(jsonb)');
SELECT mtmcp.register_tool('t', 'x', '{"type":"array"}', 'app.whoami(jsonb)');
SELECT mtmcp.register_tool('t', 'x', '[]', 'app.whoami(jsonb)');
SELECT mtmcp.register_tool('t', NULL, '{"type":"object"}', 'app.whoami(jsonb)');

-- register_tenant_table refuses what RLS cannot protect well.
CREATE TABLE app.no_index (tenant_id text NOT NULL, v text);
SELECT mtmcp.register_tenant_table('app.no_index');
CREATE TABLE app.wrong_lead (id int, tenant_id text NOT NULL);
CREATE INDEX ON app.wrong_lead (id, tenant_id);
SELECT mtmcp.register_tenant_table('app.wrong_lead');
CREATE TABLE app.int_tenant (tenant_id integer NOT NULL PRIMARY KEY);
SELECT mtmcp.register_tenant_table('app.int_tenant');
CREATE TABLE app.nullable (tenant_id text, id int);
CREATE INDEX ON app.nullable (tenant_id);
SELECT mtmcp.register_tenant_table('app.nullable');
SELECT mtmcp.register_tenant_table('app.nullable', 'org');
CREATE TABLE app.open_policy (tenant_id text NOT NULL PRIMARY KEY);
CREATE POLICY everyone ON app.open_policy USING (true);
SELECT mtmcp.register_tenant_table('app.open_policy');
CREATE VIEW app.a_view AS SELECT * FROM app.documents;
SELECT mtmcp.register_tenant_table('app.a_view');
SELECT tbl, tenant_column FROM mtmcp.tenant_tables ORDER BY tbl::text;
-- a registered table has forced RLS and the standard policy
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'app.documents'::regclass;
SELECT polname, polpermissive, pg_get_expr(polqual, polrelid) AS using_expr,
	   pg_get_expr(polwithcheck, polrelid) AS check_expr
  FROM pg_policy WHERE polrelid = 'app.documents'::regclass;
