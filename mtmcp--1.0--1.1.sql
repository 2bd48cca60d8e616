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
