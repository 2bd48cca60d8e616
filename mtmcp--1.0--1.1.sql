/* mtmcp--1.0--1.1.sql -- upgrade mtmcp from 1.0 to 1.1
 *
 * Written by hand.  Every change to the section files in src/sql between 1.0
 * and 1.1 appears here too; test/upgrade proves that 1.0 plus this script
 * equals a fresh 1.1 install.
 */

\echo Use "ALTER EXTENSION mtmcp UPDATE TO '1.1'" to load this file. \quit

-------------------------------------------------------------------------------
-- The administration API under one naming rule (removals, uniform names)
-------------------------------------------------------------------------------

-- The rule (README, "Naming"):
--   create_<thing> / drop_<thing>            plans, meters (named configuration)
--   register_<thing> / unregister_<thing>    tools, resource templates, prompts,
--                                            tenant and shared tables (code or
--                                            database objects mtmcp serves)
--   add_<thing> / remove_<thing>             issuers, keys (members of a set)
--   trust_issuer / untrust_issuer            an issuer for one tenant
--   set_tenant_<what>(tenant, ...)           everything configured per tenant
--   set_<thing>_<what>(thing, ...)           a property of a global thing
--   notify_<what>(...)                       a handler's messages to its caller
-- Names fixed before the rule (set_tool_enabled, set_tool_description,
-- set_tool_defaults, set_term, set_prompt_description, log, resource_updated)
-- stay as documented aliases of the rule's names.

CREATE FUNCTION mtmcp.set_tenant_tool_enabled(tenant_id text, tool text, enabled boolean)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT mtmcp.set_tool_enabled(tenant_id, tool, enabled);
END;
COMMENT ON FUNCTION mtmcp.set_tenant_tool_enabled(text, text, boolean) IS
'The tenant admin''s switch for one tool; destructive tools stay off until enabled here (NULL: back to the default). Alias: set_tool_enabled.';

CREATE FUNCTION mtmcp.set_tenant_tool_description(tenant_id text, tool text, description text)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT mtmcp.set_tool_description(tenant_id, tool, description);
END;
COMMENT ON FUNCTION mtmcp.set_tenant_tool_description(text, text, text) IS
'The description one tenant sees for a tool (prose only; NULL removes it). Alias: set_tool_description.';

CREATE FUNCTION mtmcp.set_tenant_tool_defaults(tenant_id text, tool text, defaults jsonb)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT mtmcp.set_tool_defaults(tenant_id, tool, defaults);
END;
COMMENT ON FUNCTION mtmcp.set_tenant_tool_defaults(text, text, jsonb) IS
'Defaults for a tool''s optional arguments for one tenant (NULL removes them). Alias: set_tool_defaults.';

CREATE FUNCTION mtmcp.set_tenant_term(tenant_id text, term text, replacement text)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT mtmcp.set_term(tenant_id, term, replacement);
END;
COMMENT ON FUNCTION mtmcp.set_tenant_term(text, text, text) IS
'One tenant''s word for a term in descriptions ("ticket" -> "issue"); NULL removes it. Alias: set_term.';

CREATE FUNCTION mtmcp.set_tenant_prompt_description(tenant_id text, prompt text, description text)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT mtmcp.set_prompt_description(tenant_id, prompt, description);
END;
COMMENT ON FUNCTION mtmcp.set_tenant_prompt_description(text, text, text) IS
'The description one tenant sees for a prompt (NULL removes the override). Alias: set_prompt_description.';

CREATE FUNCTION mtmcp.notify_log(level text, data jsonb, logger text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_log'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.notify_log(text, jsonb, text) IS
'From a handler: notifications/message to the caller, delivered live, at or above the caller''s logging level. Alias: log.';

CREATE FUNCTION mtmcp.notify_resource_updated(uri text)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_resource_updated'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.notify_resource_updated(text) IS
'Announces (at commit) that a resource of the verified tenant changed. Alias: resource_updated.';

-- Removals.  Each refuses an unknown name (42704) and anything still in use
-- (2BP01), and leaves the caches to the config-table triggers.
CREATE FUNCTION mtmcp._must_delete(what text, name text, deleted bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION '% must not be null', what USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF deleted = 0 THEN
		RAISE EXCEPTION '% "%" does not exist', what, name USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION mtmcp._must_delete(text, text, bigint) IS 'An error when a removal was given no name or found nothing to remove.';

CREATE FUNCTION mtmcp.unregister_tool(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	-- tenants' switches, descriptions and defaults for it go with it
	DELETE FROM mtmcp.tools t WHERE t.name = unregister_tool.name;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM mtmcp._must_delete('tool', name, n);
END
$$;
COMMENT ON FUNCTION mtmcp.unregister_tool(text) IS
'Removes a tool from every catalog at once, with every tenant''s configuration of it; its audit history stays.';

CREATE FUNCTION mtmcp.unregister_resource_template(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	DELETE FROM mtmcp.resource_templates t WHERE t.name = unregister_resource_template.name;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM mtmcp._must_delete('resource template', name, n);
END
$$;
COMMENT ON FUNCTION mtmcp.unregister_resource_template(text) IS
'Removes a resource template; its URIs then read as unknown resources.';

CREATE FUNCTION mtmcp.unregister_prompt(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	DELETE FROM mtmcp.prompts p WHERE p.name = unregister_prompt.name;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM mtmcp._must_delete('prompt', name, n);
END
$$;
COMMENT ON FUNCTION mtmcp.unregister_prompt(text) IS
'Removes a prompt, with every tenant''s description override of it.';

CREATE FUNCTION mtmcp.unregister_tenant_table(tbl regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	DELETE FROM mtmcp.tenant_tables t WHERE t.tbl = unregister_tenant_table.tbl;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM mtmcp._must_delete('tenant table', tbl::text, n);
END
$$;
COMMENT ON FUNCTION mtmcp.unregister_tenant_table(regclass) IS
'Takes a table out of export, hard delete and purge verification. Its row-level security stays on: dropping that is a deliberate DBA act.';

CREATE FUNCTION mtmcp.remove_key(issuer text, kid text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF issuer IS NULL THEN
		RAISE EXCEPTION 'issuer must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- NULL kid: the issuer's key without a kid
	DELETE FROM mtmcp.signing_keys k
	 WHERE k.issuer = remove_key.issuer AND coalesce(k.kid, '') = coalesce(remove_key.kid, '');
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM mtmcp._must_delete('key', issuer || coalesce(' ' || kid, ''), n);
END
$$;
COMMENT ON FUNCTION mtmcp.remove_key(text, text) IS
'Removes one verification key (NULL kid: the one without a kid); every backend forgets it and the tokens it verified at commit.';

CREATE FUNCTION mtmcp.remove_issuer(issuer text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	DELETE FROM mtmcp.issuers i WHERE i.issuer = remove_issuer.issuer;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM mtmcp._must_delete('issuer', issuer, n);
END
$$;
COMMENT ON FUNCTION mtmcp.remove_issuer(text) IS
'Removes an issuer with its keys and every tenant''s trust in it: its tokens are refused from commit on.';

CREATE FUNCTION mtmcp.drop_plan(plan text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
	users bigint;
BEGIN
	SELECT count(*) INTO users FROM mtmcp.tenants t WHERE t.plan = drop_plan.plan;
	IF users > 0 THEN
		RAISE EXCEPTION 'plan "%" is in use by % tenant(s)', plan, users
			USING ERRCODE = 'dependent_objects_still_exist',
				  HINT = 'Move those tenants to another plan first.';
	END IF;
	DELETE FROM mtmcp.plans p WHERE p.plan = drop_plan.plan;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM mtmcp._must_delete('plan', plan, n);
END
$$;
COMMENT ON FUNCTION mtmcp.drop_plan(text) IS 'Removes a plan no tenant is on.';

CREATE FUNCTION mtmcp.drop_meter(meter text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF EXISTS (SELECT 1 FROM mtmcp.cost_ledger c WHERE c.meter = drop_meter.meter) THEN
		RAISE EXCEPTION 'meter "%" has charges in the cost ledger', meter
			USING ERRCODE = 'dependent_objects_still_exist',
				  HINT = 'A meter that billed anyone stays; set its price to 0 to stop charging.';
	END IF;
	DELETE FROM mtmcp.meters m WHERE m.meter = drop_meter.meter;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM mtmcp._must_delete('meter', meter, n);
END
$$;
COMMENT ON FUNCTION mtmcp.drop_meter(text) IS 'Removes a meter that never charged anyone.';

-- Privileges of this section
GRANT EXECUTE ON FUNCTION
	mtmcp.set_tenant_tool_enabled(text, text, boolean),
	mtmcp.set_tenant_tool_description(text, text, text),
	mtmcp.set_tenant_tool_defaults(text, text, jsonb),
	mtmcp.set_tenant_term(text, text, text),
	mtmcp.set_tenant_prompt_description(text, text, text),
	mtmcp._must_delete(text, text, bigint),
	mtmcp.unregister_tool(text),
	mtmcp.unregister_resource_template(text),
	mtmcp.unregister_prompt(text),
	mtmcp.unregister_tenant_table(regclass),
	mtmcp.remove_key(text, text),
	mtmcp.remove_issuer(text),
	mtmcp.drop_plan(text),
	mtmcp.drop_meter(text)
	TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.notify_log(text, jsonb, text), mtmcp.notify_resource_updated(text) TO mtmcp_tool;

-------------------------------------------------------------------------------
-- Canonical tenant ids: lowercase letters, digits and "-" (no look-alikes)
-------------------------------------------------------------------------------
DO $canon$
DECLARE
	bad text;
BEGIN
	SELECT string_agg(pg_catalog.quote_literal(t.tenant_id), ', ' ORDER BY t.tenant_id) INTO bad
	  FROM mtmcp.tenants t WHERE t.tenant_id !~ '^[a-z0-9][a-z0-9-]{0,62}$';
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'tenant ids not in the canonical form: %', bad
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'mtmcp 1.1 accepts lowercase letters, digits and "-" only, so that no two tenant ids can look alike.',
				  HINT = 'Export, hard delete and re-create those tenants under canonical ids, then update again.';
	END IF;
END
$canon$;
ALTER TABLE mtmcp.tenants DROP CONSTRAINT tenant_id_format;
ALTER TABLE mtmcp.tenants ADD CONSTRAINT tenant_id_format CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{0,62}$');

CREATE OR REPLACE PROCEDURE mtmcp.create_tenant(tenant_id text, plan text, display_name text DEFAULT NULL,
									 trusted_issuers text[] DEFAULT '{}', activate boolean DEFAULT true)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	iss text;
BEGIN
	IF tenant_id IS NULL OR plan IS NULL THEN
		RAISE EXCEPTION 'tenant id and plan must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- One canonical form, so that no two ids can look alike (GLOBEX, globex.)
	IF tenant_id !~ '^[a-z0-9][a-z0-9-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid tenant id "%"', tenant_id
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A tenant id is 1 to 63 characters: lowercase letters, digits and "-", starting with a letter or digit.',
				  HINT = CASE WHEN lower(tenant_id) ~ '^[a-z0-9][a-z0-9-]{0,62}$'
							  THEN pg_catalog.format('Use "%s".', lower(tenant_id))
							  ELSE 'For example "acme" or "acme-eu-2".' END;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM mtmcp.plans p WHERE p.plan = create_tenant.plan) THEN
		RAISE EXCEPTION 'plan "%" does not exist', plan USING ERRCODE = 'undefined_object';
	END IF;
	IF EXISTS (SELECT 1 FROM mtmcp.tenants t WHERE t.tenant_id = create_tenant.tenant_id) THEN
		RAISE EXCEPTION 'tenant "%" already exists', tenant_id USING ERRCODE = 'duplicate_object';
	END IF;
	-- The row exists as 'provisioning' until every step below has succeeded;
	-- a request that arrives meanwhile is refused (tenant_provisioning).
	INSERT INTO mtmcp.tenants (tenant_id, plan, display_name, status)
	VALUES (tenant_id, plan, display_name, 'provisioning');
	FOREACH iss IN ARRAY coalesce(trusted_issuers, '{}')
	LOOP
		PERFORM mtmcp.trust_issuer(tenant_id, iss);
	END LOOP;
	IF activate THEN
		UPDATE mtmcp.tenants t SET status = 'active', status_changed_at = now()
		 WHERE t.tenant_id = create_tenant.tenant_id;
	END IF;
END
$$;
COMMENT ON PROCEDURE mtmcp.create_tenant(text, text, text, text[], boolean) IS
'Creates a tenant atomically; with activate => false it stays provisioning until mtmcp.activate_tenant.';


-------------------------------------------------------------------------------
-- Registration refuses what row-level security cannot guard
-------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION mtmcp.register_tenant_table(tbl regclass, tenant_column name DEFAULT 'tenant_id')
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	att smallint;
	typ regtype;
	other text;
	part regclass;
	rels regclass[];
BEGIN
	IF (SELECT c.relkind FROM pg_class c WHERE c.oid = tbl) NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '% is not a table', tbl USING ERRCODE = 'wrong_object_type';
	END IF;
	SELECT a.attnum, a.atttypid::regtype INTO att, typ
	  FROM pg_attribute a
	 WHERE a.attrelid = tbl AND a.attname = tenant_column AND NOT a.attisdropped AND a.attnum > 0;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', tenant_column, tbl
			USING ERRCODE = 'undefined_column';
	END IF;
	IF typ NOT IN ('text'::regtype, 'character varying'::regtype) THEN
		RAISE EXCEPTION 'tenant column "%" of % must be of type text', tenant_column, tbl
			USING ERRCODE = 'datatype_mismatch', DETAIL = pg_catalog.format('It is of type %s.', typ);
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum = att AND a.attnotnull) THEN
		RAISE EXCEPTION 'tenant column "%" of % must be NOT NULL', tenant_column, tbl
			USING ERRCODE = 'invalid_table_definition';
	END IF;
	-- Every tenant predicate must be an index scan, never a sequential scan.
	IF NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = tbl AND i.indkey[0] = att) THEN
		RAISE EXCEPTION 'table % has no index whose first column is "%"', tbl, tenant_column
			USING ERRCODE = 'invalid_table_definition',
				  HINT = pg_catalog.format('Create one, e.g. CREATE INDEX ON %s (%I, ...), or make "%s" the first column of the primary key.',
										   tbl, tenant_column, tenant_column);
	END IF;
	-- Another permissive policy would widen what our policy allows.
	SELECT p.polname INTO other FROM pg_policy p
	 WHERE p.polrelid = tbl AND p.polpermissive AND p.polname <> 'mtmcp_tenant_isolation' LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'table % already has the permissive policy "%"', tbl, other
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Permissive policies are OR-ed together, so it could admit another tenant''s rows.',
				  HINT = 'Drop it or make it RESTRICTIVE before registering the table.';
	END IF;
	-- A partitioned parent's policy does not apply to a partition queried by
	-- name, so every existing partition gets the same policy.
	rels := ARRAY[tbl] || coalesce((SELECT array_agg(t.relid::regclass) FROM pg_partition_tree(tbl) t WHERE t.relid <> tbl::oid), '{}');
	FOREACH part IN ARRAY rels
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', part);
		EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', part);
		EXECUTE pg_catalog.format('DROP POLICY IF EXISTS mtmcp_tenant_isolation ON %s', part);
		EXECUTE pg_catalog.format(
			'CREATE POLICY mtmcp_tenant_isolation ON %s AS PERMISSIVE FOR ALL TO PUBLIC '
			'USING (%2$I = (SELECT mtmcp.current_tenant())) WITH CHECK (%2$I = (SELECT mtmcp.current_tenant()))',
			part, tenant_column);
	END LOOP;
	-- What RLS cannot guard is refused here and re-checked on every call.
	FOREACH part IN ARRAY rels
	LOOP
		other := mtmcp._sandbox_table_check(part, tenant_column);
		IF other IS NOT NULL THEN
			RAISE EXCEPTION 'table % cannot be guarded by row-level security alone', part
				USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = other || '.';
		END IF;
	END LOOP;
	INSERT INTO mtmcp.tenant_tables (tbl, tenant_column) VALUES (tbl, tenant_column)
	ON CONFLICT ON CONSTRAINT tenant_tables_pkey DO UPDATE SET tenant_column = excluded.tenant_column;
END
$$;
COMMENT ON FUNCTION mtmcp.register_tenant_table(regclass, name) IS
'Confines a table to the verified tenant with a forced RLS policy and enrols it in export, deletion and purge checks.';


-------------------------------------------------------------------------------
-- The sandbox: shared reference tables, table guards, the policy (src/sandbox.c)
-------------------------------------------------------------------------------

-- Tables or views every tenant's handlers may read (reference data: price
-- lists, country codes); writable only when registered so.  Anything a
-- handler touches must be a registered tenant table or one of these.
CREATE TABLE mtmcp.shared_tables (
	tbl			regclass PRIMARY KEY,
	writable	boolean NOT NULL DEFAULT false,
	registered_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mtmcp.shared_tables IS
'Relations every tenant''s handlers may read (and write, when writable): reference data outside row-level security.';

CREATE FUNCTION mtmcp._sandbox_table_check(tbl regclass, tenant_column name)
RETURNS text
AS 'MODULE_PATHNAME', 'mtmcp_sandbox_table_check'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp._sandbox_table_check(regclass, name) IS
'Why a table is unsafe for handlers (privileges RLS does not confine, a unique index without the tenant column, RLS not forced), or NULL.';

CREATE FUNCTION mtmcp.register_shared_table(tbl regclass, writable boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	problem text;
BEGIN
	IF tbl IS NULL OR writable IS NULL THEN
		RAISE EXCEPTION 'table and writable must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF (SELECT c.relkind FROM pg_class c WHERE c.oid = tbl) NOT IN ('r', 'p', 'v', 'm', 'f') THEN
		RAISE EXCEPTION '% is not a table or view', tbl USING ERRCODE = 'wrong_object_type';
	END IF;
	IF EXISTS (SELECT 1 FROM mtmcp.tenant_tables t WHERE t.tbl = register_shared_table.tbl) THEN
		RAISE EXCEPTION '% is a tenant table', tbl
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Its rows belong to tenants; sharing it would show every tenant''s rows to every handler.';
	END IF;
	IF (SELECT c.relnamespace FROM pg_class c WHERE c.oid = tbl) IN
	   ('pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'mtmcp'::regnamespace) THEN
		RAISE EXCEPTION '% cannot be shared with handlers', tbl
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'System catalogs and mtmcp''s own tables hold every tenant''s data.';
	END IF;
	problem := mtmcp._sandbox_table_check(tbl, NULL);
	IF problem IS NOT NULL THEN
		RAISE EXCEPTION 'table % cannot be shared with handlers safely', tbl
			USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = problem || '.';
	END IF;
	INSERT INTO mtmcp.shared_tables (tbl, writable) VALUES (tbl, writable)
	ON CONFLICT ON CONSTRAINT shared_tables_pkey DO UPDATE SET writable = excluded.writable;
END
$$;
COMMENT ON FUNCTION mtmcp.register_shared_table(regclass, boolean) IS
'Lets every tenant''s handlers read a table or view of reference data (and write it, when writable: a channel between tenants, which the drill reports).';

CREATE FUNCTION mtmcp.unregister_shared_table(tbl regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	DELETE FROM mtmcp.shared_tables s WHERE s.tbl = unregister_shared_table.tbl;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM mtmcp._must_delete('shared table', tbl::text, n);
END
$$;
COMMENT ON FUNCTION mtmcp.unregister_shared_table(regclass) IS 'Handlers may no longer touch the table.';

CREATE FUNCTION mtmcp.sandbox_policy()
RETURNS TABLE (kind text, object text, in_handlers boolean, in_tenant_sessions boolean, why text)
AS 'MODULE_PATHNAME', 'mtmcp_sandbox_policy'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp.sandbox_policy() IS
'The sandbox''s whole policy, one row per rule: what handlers and tenant sessions may reach, and why.';

-- Handlers see registration changes at once (the sandbox's cache follows).
CREATE TRIGGER tenant_tables_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.tenant_tables
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();
CREATE TRIGGER shared_tables_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.shared_tables
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();

-- Privileges and pg_dump marks of this section
GRANT SELECT, INSERT, UPDATE, DELETE ON mtmcp.shared_tables TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION
	mtmcp._sandbox_table_check(regclass, name),
	mtmcp.register_shared_table(regclass, boolean),
	mtmcp.unregister_shared_table(regclass),
	mtmcp.sandbox_policy()
	TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.shared_tables', '');

CREATE OR REPLACE FUNCTION mtmcp.blast_radius_drill(tenant_id text)
RETURNS TABLE (operation text, auth_refuses text, subsetting_refuses text, scoping_refuses text,
			   rate_limit_refuses text, logged text, alerted text, verdict text, evidence text)
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	attacker text := tenant_id;
	victim text;
	victim_rows bigint := -1;
	rows_n bigint;
	iss_a text := 'urn:mtmcp:drill:attacker:' || gen_random_uuid();
	iss_v text := 'urn:mtmcp:drill:victim:' || gen_random_uuid();
	secret bytea := decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');
	scopes text;
	result jsonb := '[]';
	ta text;
	tv text;
	bad text;
	r jsonb;
	t record;
	ev record;
	uri text;
	victim_uris text[] := '{}';
	tool_visible text;
	tool_hidden text;
	sid text;
	cur text;
	settings jsonb;
	lim bigint;
	win bigint;
	i integer;
	ok boolean;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM mtmcp.tenants x WHERE x.tenant_id = attacker AND x.status = 'active') THEN
		RAISE EXCEPTION 'tenant "%" does not exist or is not active', attacker
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	-- the victim: the other active tenant with the most data
	FOR t IN SELECT x.tenant_id AS id FROM mtmcp.tenants x
			  WHERE x.status = 'active' AND x.tenant_id <> attacker ORDER BY x.tenant_id
	LOOP
		rows_n := 0;
		FOR ev IN SELECT tt.tbl, tt.tenant_column FROM mtmcp.tenant_tables tt LOOP
			EXECUTE pg_catalog.format('SELECT %s + count(*) FROM %s WHERE %I = $1', rows_n, ev.tbl, ev.tenant_column)
				INTO rows_n USING t.id;
		END LOOP;
		IF rows_n > victim_rows THEN
			victim := t.id;
			victim_rows := rows_n;
		END IF;
	END LOOP;
	IF victim IS NULL THEN
		RAISE EXCEPTION 'the drill needs a second active tenant to attack' USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	settings := (SELECT p.settings || x.settings FROM mtmcp.tenants x JOIN mtmcp.plans p USING (plan) WHERE x.tenant_id = attacker);
	-- the attacker holds a token with every scope there is (the worst case)
	scopes := concat_ws(' ', (SELECT string_agg(DISTINCT x.required_scope, ' ') FROM mtmcp.tools x),
						nullif(current_setting('mtmcp.access_scope'), ''));

	BEGIN
		-- Throwaway issuers, one trusted by each tenant; everything the drill
		-- writes (issuers, sessions, audit rows) is rolled back at the end.
		PERFORM mtmcp.add_issuer(iss_a, 'mtmcp-drill', leeway => '0 seconds');
		PERFORM mtmcp.add_key(iss_a, NULL, 'HS256', secret);
		PERFORM mtmcp.trust_issuer(attacker, iss_a);
		PERFORM mtmcp.add_issuer(iss_v, 'mtmcp-drill', leeway => '0 seconds');
		PERFORM mtmcp.add_key(iss_v, NULL, 'HS256', secret || '\x01'::bytea);
		PERFORM mtmcp.trust_issuer(victim, iss_v);
		ta := mtmcp._hs256_token(jsonb_build_object('iss', iss_a, 'aud', 'mtmcp-drill', 'sub', 'drill-attacker',
				'tenant_id', attacker, 'scope', coalesce(scopes, ''), 'exp', extract(epoch FROM now())::bigint + 600), secret);
		tv := mtmcp._hs256_token(jsonb_build_object('iss', iss_v, 'aud', 'mtmcp-drill', 'sub', 'drill-victim',
				'tenant_id', victim, 'scope', coalesce(scopes, ''), 'exp', extract(epoch FROM now())::bigint + 600),
				secret || '\x01'::bytea);

		-- 1. tokens
		FOR t IN SELECT * FROM (VALUES
			('a token naming the victim, signed by the attacker''s issuer',
			 mtmcp._hs256_token(jsonb_build_object('iss', iss_a, 'aud', 'mtmcp-drill', 'sub', 'drill-attacker',
				'tenant_id', victim, 'exp', extract(epoch FROM now())::bigint + 600), secret)),
			('a token with a forged signature',
			 split_part(ta, '.', 1) || '.' || split_part(ta, '.', 2) || '.' || split_part(tv, '.', 3)),
			('an expired token',
			 mtmcp._hs256_token(jsonb_build_object('iss', iss_a, 'aud', 'mtmcp-drill', 'sub', 'drill-attacker',
				'tenant_id', attacker, 'exp', extract(epoch FROM now())::bigint - 600), secret)),
			('a token for another service (audience)',
			 mtmcp._hs256_token(jsonb_build_object('iss', iss_a, 'aud', 'another-service', 'sub', 'drill-attacker',
				'tenant_id', attacker, 'exp', extract(epoch FROM now())::bigint + 600), secret))) AS v(op, token)
		LOOP
			r := mtmcp.mcp_dispatch(t.token, '{"jsonrpc":"2.0","id":1,"method":"tools/list"}', 'drill:' || t.op);
			SELECT * INTO ev FROM mtmcp._drill_evidence('drill:' || t.op);
			result := result || jsonb_build_object('operation', t.op,
				'auth', CASE WHEN r -> 'error' ->> 'code' = '-32001' THEN 'yes (' || (r -> 'error' -> 'data' ->> 'reason') || ')' ELSE 'no' END,
				'subsetting', '-', 'scoping', '-', 'rate', '-', 'logged', ev.logged, 'alerted', ev.alerted,
				'evidence', left(r::text, 200));
		END LOOP;

		-- 2. the tool surface
		r := mtmcp.mcp_dispatch(ta, '{"jsonrpc":"2.0","id":1,"method":"tools/list"}', 'drill:list');
		tool_visible := r -> 'result' -> 'tools' -> 0 ->> 'name';
		SELECT x.name INTO tool_hidden FROM mtmcp.tools x
		 WHERE NOT (r -> 'result' -> 'tools') @> jsonb_build_array(jsonb_build_object('name', x.name)) ORDER BY x.name LIMIT 1;
		IF tool_visible IS NOT NULL THEN
			r := mtmcp.mcp_dispatch(ta, jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/call',
					'params', jsonb_build_object('name', tool_visible, 'arguments', jsonb_build_object('tenant_id', victim))),
					'drill:args');
			SELECT * INTO ev FROM mtmcp._drill_evidence('drill:args');
			result := result || jsonb_build_object('operation', 'the victim''s tenant id in tool arguments',
				'auth', 'no', 'subsetting', CASE WHEN (r -> 'result' ->> 'isError')::boolean THEN 'yes (reserved argument)' ELSE 'no' END,
				'scoping', 'yes (RLS: the tenant comes from the token)', 'rate', '-', 'logged', ev.logged, 'alerted', ev.alerted,
				'evidence', format('called %s', tool_visible));
		END IF;
		IF tool_hidden IS NOT NULL THEN
			r := mtmcp.mcp_dispatch(ta, jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/call',
					'params', jsonb_build_object('name', tool_hidden)), 'drill:hidden');
			SELECT * INTO ev FROM mtmcp._drill_evidence('drill:hidden');
			result := result || jsonb_build_object('operation', 'a tool outside the attacker''s catalog',
				'auth', 'no', 'subsetting', CASE WHEN r -> 'error' ->> 'code' = '-32602' THEN 'yes (answered as unknown)' ELSE 'no' END,
				'scoping', '-', 'rate', '-', 'logged', ev.logged, 'alerted', ev.alerted, 'evidence', format('called %s', tool_hidden));
		END IF;

		-- 3. resources: the victim's, which really exist
		r := mtmcp.mcp_dispatch(tv, '{"jsonrpc":"2.0","id":1,"method":"resources/list"}', 'drill:victim-list');
		SELECT coalesce(array_agg(x ->> 'uri'), '{}') INTO victim_uris FROM jsonb_array_elements(r -> 'result' -> 'resources') x;
		uri := victim_uris[1];
		IF uri IS NULL THEN
			SELECT replace(regexp_replace(x.uri_template, '\{(?!tenant\})[A-Za-z0-9_]+\}', '1', 'g'), '{tenant}', victim)
			  INTO uri FROM mtmcp.resource_templates x WHERE x.uri_template LIKE '%{tenant}%' ORDER BY x.name LIMIT 1;
		END IF;
		IF uri IS NOT NULL THEN
			r := mtmcp.mcp_dispatch(ta, jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'resources/read',
					'params', jsonb_build_object('uri', uri)), 'drill:read');
			SELECT * INTO ev FROM mtmcp._drill_evidence('drill:read');
			result := result || jsonb_build_object('operation', 'read the victim''s resource',
				'auth', 'no', 'subsetting', '-',
				'scoping', CASE WHEN r -> 'error' ->> 'code' = '-32002' THEN 'yes (answered as not found)' ELSE 'no' END,
				'rate', '-', 'logged', ev.logged, 'alerted', ev.alerted,
				'evidence', format('%s (%s)', uri, CASE WHEN cardinality(victim_uris) > 0 THEN 'listed by the victim' ELSE 'made up' END));
			r := mtmcp.mcp_dispatch(ta, jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'resources/subscribe',
					'params', jsonb_build_object('uri', uri)), 'drill:subscribe');
			SELECT * INTO ev FROM mtmcp._drill_evidence('drill:subscribe');
			result := result || jsonb_build_object('operation', 'subscribe to the victim''s resource',
				'auth', 'no', 'subsetting', '-',
				'scoping', CASE WHEN r -> 'error' ->> 'code' = '-32002' THEN 'yes (answered as not found)' ELSE 'no' END,
				'rate', '-', 'logged', ev.logged, 'alerted', ev.alerted, 'evidence', uri);
		END IF;
		r := mtmcp.mcp_dispatch(ta, '{"jsonrpc":"2.0","id":1,"method":"resources/list"}', 'drill:enumerate');
		SELECT * INTO ev FROM mtmcp._drill_evidence('drill:enumerate');
		ok := NOT EXISTS (SELECT 1 FROM jsonb_array_elements(r -> 'result' -> 'resources') x WHERE (x ->> 'uri') = ANY (victim_uris))
			  AND r ? 'result';
		result := result || jsonb_build_object('operation', 'enumerate resources',
			'auth', 'no', 'subsetting', '-', 'scoping', CASE WHEN ok THEN 'yes (only the attacker''s own)' ELSE 'no' END,
			'rate', '-', 'logged', ev.logged, 'alerted', ev.alerted,
			'evidence', format('%s of the victim''s %s URIs listed', CASE WHEN ok THEN 0 ELSE NULL END, cardinality(victim_uris)));

		-- 4. sessions and cursors of the victim
		SELECT h.session_id, h.http_status::text INTO sid, cur
		  FROM mtmcp.mcp_http(tv, '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}', NULL) h;
		IF sid IS NULL THEN
			result := result || jsonb_build_object('operation', 'use the victim''s session id', 'skipped', true,
				'auth', '-', 'subsetting', '-', 'scoping', '-', 'rate', '-', 'logged', '-', 'alerted', '-',
				'evidence', format('not run: the victim could not open a session (HTTP %s)', cur));
		ELSE
			SELECT h.http_status::text INTO cur FROM mtmcp.mcp_http(ta, '{"jsonrpc":"2.0","id":2,"method":"tools/list"}', sid) h;
			SELECT * INTO ev FROM mtmcp._drill_evidence(sid);
			result := result || jsonb_build_object('operation', 'use the victim''s session id',
				'auth', 'no', 'subsetting', '-', 'scoping', CASE WHEN cur = '404' THEN 'yes (answered as unknown session)' ELSE 'no' END,
				'rate', '-', 'logged', ev.logged, 'alerted', ev.alerted, 'evidence', format('HTTP %s', cur));
		END IF;
		PERFORM set_config('mtmcp.page_size', '1', true);
		cur := mtmcp.mcp_dispatch(tv, '{"jsonrpc":"2.0","id":1,"method":"tools/list"}') -> 'result' ->> 'nextCursor';
		PERFORM set_config('mtmcp.page_size', current_setting('mtmcp.page_size', true), true);
		IF cur IS NOT NULL THEN
			r := mtmcp.mcp_dispatch(ta, jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/list',
					'params', jsonb_build_object('cursor', cur)), 'drill:cursor');
			SELECT * INTO ev FROM mtmcp._drill_evidence('drill:cursor');
			result := result || jsonb_build_object('operation', 'replay the victim''s pagination cursor',
				'auth', 'no', 'subsetting', '-', 'scoping', CASE WHEN r -> 'error' ->> 'code' = '-32602' THEN 'yes (invalid cursor)' ELSE 'no' END,
				'rate', '-', 'logged', ev.logged, 'alerted', ev.alerted, 'evidence', r -> 'error' ->> 'message');
		END IF;

		-- 5. the database below the handlers
		SELECT string_agg(x.tbl::text, ', ') INTO bad FROM mtmcp.tenant_tables x JOIN pg_class c ON c.oid = x.tbl
		 WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity)
			OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = x.tbl AND p.polname = 'mtmcp_tenant_isolation')
			OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = x.tbl AND p.polpermissive AND p.polname <> 'mtmcp_tenant_isolation');
		ok := bad IS NULL AND NOT EXISTS (SELECT 1 FROM pg_roles x WHERE x.rolname = 'mtmcp_tool' AND (x.rolsuper OR x.rolbypassrls));
		result := result || jsonb_build_object('operation', 'read or write the victim''s rows from a handler',
			'auth', 'no', 'subsetting', '-', 'scoping', CASE WHEN ok THEN 'yes (forced RLS, unprivileged mtmcp_tool)' ELSE 'no' END,
			'rate', '-', 'logged', '-', 'alerted', '-',
			'evidence', coalesce('unprotected: ' || bad, format('%s registered tables; victim has %s rows', (SELECT count(*) FROM mtmcp.tenant_tables), victim_rows)));

		-- 5b. the sandbox: channels row-level security does not cover, tried
		--    from a careless handler that runs whatever SQL the agent sends
		EXECUTE 'CREATE FUNCTION mtmcp._drill_probe(args jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS '
			|| quote_literal('BEGIN EXECUTE args ->> ''sql''; RETURN ''{"done": true}''; END');
		EXECUTE 'GRANT EXECUTE ON FUNCTION mtmcp._drill_probe(jsonb) TO mtmcp_tool';
		PERFORM mtmcp.register_tool('mtmcp-drill-probe', 'The blast-radius drill''s probe.', '{"type":"object"}',
									pg_catalog.to_regprocedure('mtmcp._drill_probe(jsonb)'));
		SELECT x.tbl::text INTO bad FROM mtmcp.tenant_tables x ORDER BY x.tbl::text LIMIT 1;
		FOR t IN SELECT * FROM (VALUES
			('read planner statistics of the victim''s rows (EXPLAIN)',
			 'EXPLAIN SELECT * FROM ' || coalesce(bad, 'mtmcp.tenants')),
			('read or create large objects', 'SELECT lo_from_bytea(0, ''\x00''::bytea)'),
			('empty every tenant''s rows (TRUNCATE)', 'TRUNCATE ' || coalesce(bad, 'mtmcp.tenants')),
			('plant code that runs on other tenants'' writes (DDL, triggers)',
			 'CREATE FUNCTION pg_temp.drill_spy() RETURNS trigger LANGUAGE plpgsql AS ''BEGIN RETURN NEW; END'''),
			('forge a security alert (NOTIFY)', 'NOTIFY mtmcp_security, ''{"forged": true}'''),
			('read activity statistics and row counts', 'SELECT count(*) FROM pg_catalog.pg_stat_user_tables'),
			('read a relation nobody registered', 'SELECT count(*) FROM mtmcp.audit_log'),
			('keep state on the connection (session advisory lock)', 'SELECT pg_advisory_lock(8675309)'))
			AS v(op, probe)
		LOOP
			r := mtmcp.mcp_dispatch(ta, jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/call',
					'params', jsonb_build_object('name', 'mtmcp-drill-probe', 'arguments', jsonb_build_object('sql', t.probe))),
					'drill:sandbox:' || t.op);
			SELECT * INTO ev FROM mtmcp._drill_evidence('drill:sandbox:' || t.op);
			SELECT a.error_code INTO cur FROM mtmcp.audit_log a WHERE a.session_id = 'drill:sandbox:' || t.op
			 ORDER BY a.ts DESC LIMIT 1;
			result := result || jsonb_build_object('operation', t.op,
				'auth', 'no', 'subsetting', '-',
				'scoping', CASE WHEN cur = '42501' THEN 'yes (sandbox)' ELSE 'no' END,
				'rate', '-', 'logged', ev.logged, 'alerted', ev.alerted,
				'evidence', format('handler ran: %s -> %s', t.probe,
					coalesce(cur, r -> 'result' -> 'content' -> 0 ->> 'text', r::text)));
		END LOOP;
		PERFORM pg_advisory_unlock_all();
		-- configuration the sandbox reports rather than fixes
		SELECT string_agg(x.tbl::text || ': ' || p.problem, '; ') INTO bad
		  FROM mtmcp.tenant_tables x, LATERAL (SELECT mtmcp._sandbox_table_check(x.tbl, x.tenant_column) AS problem) p
		 WHERE p.problem IS NOT NULL;
		result := result || jsonb_build_object('operation', 'reach past RLS through privileges or indexes on a tenant table',
			'auth', 'no', 'subsetting', '-', 'scoping', CASE WHEN bad IS NULL THEN 'yes (no grant or index RLS cannot guard)' ELSE 'no' END,
			'rate', '-', 'logged', '-', 'alerted', '-',
			'evidence', coalesce(bad, format('%s registered tables checked', (SELECT count(*) FROM mtmcp.tenant_tables))));
		SELECT string_agg(s.tbl::text, ', ') INTO bad FROM mtmcp.shared_tables s WHERE s.writable;
		result := result || jsonb_build_object('operation', 'write shared reference data that every tenant reads',
			'auth', 'no', 'subsetting', '-', 'scoping', CASE WHEN bad IS NULL THEN 'yes (shared tables are read-only)' ELSE 'no' END,
			'rate', '-', 'logged', '-', 'alerted', '-',
			'evidence', coalesce('writable for every tenant: ' || bad, format('%s shared tables, none writable', (SELECT count(*) FROM mtmcp.shared_tables))));

		-- 6. flooding
		lim := (settings -> 'rate_limit' ->> 'requests')::bigint;
		win := coalesce((settings -> 'rate_limit' ->> 'window_seconds')::bigint, 60);
		IF lim IS NULL THEN
			result := result || jsonb_build_object('operation', 'flood the server with requests',
				'auth', 'no', 'subsetting', 'no', 'scoping', 'no', 'rate', 'no (no rate_limit in the plan or tenant settings)',
				'logged', 'yes (each request)', 'alerted', 'no', 'evidence', 'set {"rate_limit": {"requests": N, "window_seconds": S}}');
		ELSIF lim <= 50 THEN
			FOR i IN 1..lim + 1 LOOP
				r := mtmcp.mcp_dispatch(ta, jsonb_build_object('jsonrpc', '2.0', 'id', i, 'method', 'ping'), 'drill:flood');
			END LOOP;
			SELECT * INTO ev FROM mtmcp._drill_evidence('drill:flood');
			result := result || jsonb_build_object('operation', 'flood the server with requests',
				'auth', 'no', 'subsetting', 'no', 'scoping', 'no',
				'rate', CASE WHEN r -> 'error' ->> 'code' = '-32029' THEN format('yes (after %s per %s s)', lim, win) ELSE 'no' END,
				'logged', ev.logged, 'alerted', ev.alerted,
				'evidence', format('request %s: %s %s', lim + 1, r -> 'error' ->> 'code', r -> 'error' ->> 'message'));
		ELSE
			result := result || jsonb_build_object('operation', 'flood the server with requests',
				'auth', 'no', 'subsetting', 'no', 'scoping', 'no',
				'rate', format('yes (%s per %s s; not flooded by the drill)', lim, win),
				'logged', 'yes (rate_limited)', 'alerted', 'no', 'evidence', 'configured limit');
		END IF;

		-- 7. the tenant views, as the attacker
		PERFORM mtmcp.authenticate(ta);
		SELECT count(*) INTO rows_n FROM mtmcp.tenant_audit v JOIN mtmcp.audit_log a USING (event_id) WHERE a.tenant_id <> attacker;
		result := result || jsonb_build_object('operation', 'read the victim''s audit trail through the tenant views',
			'auth', 'no', 'subsetting', '-', 'scoping', CASE WHEN rows_n = 0 THEN 'yes (the view filters by the verified tenant)' ELSE 'no' END,
			'rate', '-', 'logged', '-', 'alerted', '-', 'evidence', format('%s foreign rows visible', rows_n));

		RAISE EXCEPTION USING ERRCODE = 'MTDRL', MESSAGE = 'drill done';
	EXCEPTION WHEN SQLSTATE 'MTDRL' THEN
		NULL;	-- everything above is rolled back; the findings are in result
	END;

	RETURN QUERY
		SELECT x.operation, x.auth, x.subsetting, x.scoping, x.rate, x.logged, x.alerted,
			   CASE WHEN x.skipped THEN 'not run' ELSE mtmcp._drill_verdict(x.auth, x.subsetting, x.scoping, x.rate) END,
			   x.evidence
		  FROM jsonb_to_recordset(result) AS x(operation text, auth text, subsetting text, scoping text, rate text,
											   logged text, alerted text, evidence text, skipped boolean);
END
$$;
COMMENT ON FUNCTION mtmcp.blast_radius_drill(text) IS
'Attacks the other tenant with the most data from this tenant, through the real code paths (tokens, tools, resources, sessions, cursors, RLS, the sandbox, rate limits, views), and reports per operation which layers refused, what was logged and alerted, and a verdict. Leaves nothing behind.';

-------------------------------------------------------------------------------
-- Multi round-trip requests: handlers ask the client for input (src/mrtr.c, src/revision.c)
-------------------------------------------------------------------------------

-- The key that seals requestState (HMAC-SHA-256); nothing else of a round is kept.
CREATE TABLE mtmcp.request_state_secret (
	singleton	boolean PRIMARY KEY DEFAULT true CONSTRAINT one_row CHECK (singleton),
	secret		bytea NOT NULL
);
INSERT INTO mtmcp.request_state_secret (secret)
SELECT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');
COMMENT ON TABLE mtmcp.request_state_secret IS
'The key that seals the requestState of multi round-trip requests (random per database; replacing it voids every open round).';
-- every backend drops its copy of the key when it changes
CREATE TRIGGER request_state_secret_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.request_state_secret
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();

-- What a session client declared at initialize (elicitation, sampling, roots).
ALTER TABLE mtmcp.sessions ADD COLUMN client_capabilities jsonb;
COMMENT ON COLUMN mtmcp.sessions.client_capabilities IS
'The capabilities the client declared at initialize; handlers ask only for what is here.';

CREATE FUNCTION mtmcp.elicit(key text, message text, requested_schema jsonb, wait boolean DEFAULT true)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_elicit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.elicit(text, text, jsonb, boolean) IS
'From a tool, prompt renderer or resource reader: the client''s ElicitResult for a form (requested_schema), asked under key; when not answered yet the round ends input_required (wait => false: returns NULL and the handler goes on).';

CREATE FUNCTION mtmcp.elicit_url(key text, message text, url text, wait boolean DEFAULT true)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_elicit_url'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.elicit_url(text, text, text, boolean) IS
'From a handler: the client''s ElicitResult for a URL-mode elicitation (the user visits url), asked under key.';

CREATE FUNCTION mtmcp.sample(key text, params jsonb, wait boolean DEFAULT true)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_sample'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.sample(text, jsonb, boolean) IS
'From a handler: the client''s CreateMessageResult for sampling/createMessage params, asked under key.';

CREATE FUNCTION mtmcp.list_roots(key text, wait boolean DEFAULT true)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_list_roots'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.list_roots(text, boolean) IS
'From a handler: the client''s ListRootsResult, asked under key.';

CREATE FUNCTION mtmcp.await_input()
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_await_input'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.await_input() IS
'From a handler: ends the round input_required when something asked with wait => false is unanswered.';

CREATE FUNCTION mtmcp.client_capabilities()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_client_capabilities'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.client_capabilities() IS
'From a handler: the capabilities the client declared (this request''s _meta, or its session''s initialize); {} elsewhere.';

-- The shim's door with the request's MCP headers (2026-07-28): the
-- MCP-Protocol-Version header makes a request stateless even without _meta,
-- and x-mcp-header parameters of tools/call are checked against Mcp-Param-*.
CREATE FUNCTION mtmcp.mcp_http(token text, request jsonb, session_id text, notify_key text, headers jsonb,
							   OUT http_status integer, OUT session_id text, OUT response jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'mtmcp_mcp_http'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = notice;
COMMENT ON FUNCTION mtmcp.mcp_http(text, jsonb, text, text, jsonb) IS
'mcp_http with the request''s MCP headers, lower-cased: {"mcp-protocol-version", "mcp-method", "mcp-name", "mcp-param": {"<name>": "<decoded value>"}}.';

-- Privileges and pg_dump marks of this section
GRANT EXECUTE ON FUNCTION
	mtmcp.elicit(text, text, jsonb, boolean),
	mtmcp.elicit_url(text, text, text, boolean),
	mtmcp.sample(text, jsonb, boolean),
	mtmcp.list_roots(text, boolean),
	mtmcp.await_input(),
	mtmcp.client_capabilities()
	TO mtmcp_tool;
GRANT EXECUTE ON FUNCTION mtmcp.mcp_http(text, jsonb, text, text, jsonb) TO mtmcp_gateway;

-------------------------------------------------------------------------------
-- Privileges: nothing new is PUBLIC (as src/sql/privileges.sql at install)
-------------------------------------------------------------------------------
REVOKE ALL ON ALL ROUTINES IN SCHEMA mtmcp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA mtmcp FROM PUBLIC;
-- Policies and argument checks call these as whoever runs the query.
GRANT EXECUTE ON FUNCTION mtmcp.reserved_argument_names() TO PUBLIC;
GRANT EXECUTE ON FUNCTION mtmcp.current_tenant(), mtmcp.current_subject() TO PUBLIC;
GRANT EXECUTE ON FUNCTION
	mtmcp.validate_json(jsonb, jsonb),
	mtmcp.check_json_schema(jsonb)
	TO PUBLIC;
