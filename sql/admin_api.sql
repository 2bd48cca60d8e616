--
-- admin_api: the one naming rule, its aliases, and the removals
--
\set ECHO none
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS mtmcp CASCADE;
DROP SCHEMA IF EXISTS api_t CASCADE;
CREATE EXTENSION mtmcp;
\set ECHO all
\set VERBOSITY sqlstate
\set SHOW_CONTEXT never
SELECT mtmcp.create_plan('basic', ARRAY['docs']);
SELECT mtmcp.add_issuer('https://idp.test', 'mcp');
SELECT mtmcp.add_key('https://idp.test', 'k1', 'HS256', 'secret-one'::bytea);
SELECT mtmcp.add_key('https://idp.test', NULL, 'HS256', 'secret-two'::bytea);
CALL mtmcp.create_tenant('acme', 'basic', 'Acme', ARRAY['https://idp.test']);
CREATE SCHEMA api_t;
CREATE FUNCTION api_t.echo(args jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT args $$;
GRANT USAGE ON SCHEMA api_t TO mtmcp_tool;
GRANT EXECUTE ON FUNCTION api_t.echo(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('echo', 'Echo.', '{"type":"object","properties":{"n":{"type":"integer"}}}', 'api_t.echo(jsonb)');

-- the rule's names and the old ones write the same configuration
SELECT mtmcp.set_tenant_tool_enabled('acme', 'echo', false);
SELECT mtmcp.set_tenant_tool_description('acme', 'echo', 'Echo, the Acme way.');
SELECT mtmcp.set_tenant_tool_defaults('acme', 'echo', '{"n": 3}');
SELECT tenant_id, tool, enabled, description, defaults FROM mtmcp.tenant_tools;
SELECT mtmcp.set_tool_enabled('acme', 'echo', true);
SELECT enabled FROM mtmcp.tenant_tools WHERE tenant_id = 'acme' AND tool = 'echo';
SELECT mtmcp.set_tenant_term('acme', 'ticket', 'issue');
SELECT tenant_id, term, replacement FROM mtmcp.tenant_terms;
-- aliases keep their checks
SELECT mtmcp.set_tenant_tool_defaults('acme', 'echo', '{"nope": 1}');
SELECT mtmcp.set_tenant_tool_enabled('nobody', 'echo', true);

-- unregister_tool: gone from the registry with every tenant's configuration
SELECT mtmcp.unregister_tool('echo');
SELECT count(*) AS tools, (SELECT count(*) FROM mtmcp.tenant_tools) AS tenant_configs FROM mtmcp.tools;
SELECT mtmcp.unregister_tool('echo');
SELECT mtmcp.unregister_tool(NULL);

-- remove_key: by kid, and the key without one
SELECT mtmcp.remove_key('https://idp.test', 'k1');
SELECT kid FROM mtmcp.signing_keys ORDER BY kid;
SELECT mtmcp.remove_key('https://idp.test', NULL);
SELECT count(*) AS keys_left FROM mtmcp.signing_keys;
SELECT mtmcp.remove_key('https://idp.test', 'k1');

-- drop_plan refuses a plan in use; remove_issuer takes trust and keys along
SELECT mtmcp.drop_plan('basic');
SELECT mtmcp.create_plan('spare', ARRAY[]::text[]);
SELECT mtmcp.drop_plan('spare');
SELECT mtmcp.drop_plan('spare');
SELECT mtmcp.add_key('https://idp.test', 'k2', 'HS256', 'secret-three'::bytea);
SELECT mtmcp.remove_issuer('https://idp.test');
SELECT (SELECT count(*) FROM mtmcp.issuers) AS issuers, (SELECT count(*) FROM mtmcp.signing_keys) AS keys,
	   (SELECT count(*) FROM mtmcp.tenant_issuers) AS trust;

-- drop_meter refuses a meter that billed someone
SELECT mtmcp.create_meter('api.calls', 100);
SELECT mtmcp.create_meter('unused', 1);
SELECT mtmcp.charge_background('acme', 'api.calls', 2, 'reindex');
SELECT mtmcp.drop_meter('api.calls');
SELECT mtmcp.drop_meter('unused');
SELECT meter FROM mtmcp.meters;

-- unregister_tenant_table keeps RLS on
CREATE TABLE api_t.notes (tenant_id text NOT NULL, id int, PRIMARY KEY (tenant_id, id));
SELECT mtmcp.register_tenant_table('api_t.notes');
SELECT mtmcp.unregister_tenant_table('api_t.notes');
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'api_t.notes'::regclass;
SELECT count(*) FROM mtmcp.tenant_tables;
SELECT mtmcp.unregister_tenant_table('api_t.notes');

-- only admins may remove
SET ROLE mtmcp_tool;
SELECT mtmcp.drop_plan('basic');
RESET ROLE;
\set ECHO none
DROP SCHEMA api_t CASCADE;
DROP EXTENSION mtmcp CASCADE;
