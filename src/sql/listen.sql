-------------------------------------------------------------------------------
-- List changes for subscriptions/listen streams (src/listen.c)
-------------------------------------------------------------------------------

-- A tenant's tools, prompts or resources list changed: NOTIFY
-- mtmcp_list_changed '<listen key> <kind>' at commit, for the shim to pass to
-- that tenant's listen streams.  The key is opaque (an HMAC of the tenant
-- under the database's secret): no tenant name travels on the channel.
CREATE FUNCTION mtmcp.notify_list_changed(kind text)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_notify_list_changed'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.notify_list_changed(text) IS
'From a handler: the verified tenant''s tools, prompts or resources list changed (kind); its subscriptions/listen streams that asked for it hear it at commit.';

CREATE FUNCTION mtmcp._announce_list_changed(tenant_ids text[], kinds text[])
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_announce_list_changed'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp._announce_list_changed(text[], text[]) IS
'For the configuration triggers: at commit, every kind of list changed for every tenant named.';

CREATE FUNCTION mtmcp._listen_key(tenant_id text)
RETURNS text
AS 'MODULE_PATHNAME', 'mtmcp_listen_key_sql'
LANGUAGE C STABLE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp._listen_key(text) IS
'The tenant''s listen key: what NOTIFY mtmcp_list_changed names it by (for tests and operators; not granted).';

-- The active tenants that have a feature (NULL: every active tenant), by
-- plan and the tenant's own switches.
CREATE FUNCTION mtmcp._tenants_with_feature(feature text)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_agg(t.tenant_id), '{}')
	  FROM mtmcp.tenants t JOIN mtmcp.plans p ON p.plan = t.plan
	 WHERE t.status = 'active'
	   AND ($1 IS NULL
			OR coalesce((SELECT f.enabled FROM mtmcp.tenant_features f
						  WHERE f.tenant_id = t.tenant_id AND f.feature = $1),
						$1 = ANY (p.features)))
$$;
COMMENT ON FUNCTION mtmcp._tenants_with_feature(text) IS
'The active tenants whose plan or own switches give them the feature (NULL: all active tenants).';

-- Row trigger of the global catalogs (tools, prompts, resource templates;
-- TG_ARGV[0] the kind): every tenant that has the entry's required feature,
-- before or after the change, hears it.  A scope is per token, so every
-- such tenant hears it whatever its callers' scopes.
CREATE FUNCTION mtmcp._catalog_list_changed()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tenants text[] := '{}';
BEGIN
	IF TG_LEVEL = 'STATEMENT' THEN		-- TRUNCATE
		tenants := mtmcp._tenants_with_feature(NULL);
	ELSE
		IF TG_OP IN ('UPDATE', 'DELETE') THEN
			tenants := tenants || mtmcp._tenants_with_feature(OLD.required_feature);
		END IF;
		IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.required_feature IS DISTINCT FROM OLD.required_feature) THEN
			tenants := tenants || mtmcp._tenants_with_feature(NEW.required_feature);
		END IF;
	END IF;
	PERFORM mtmcp._announce_list_changed(tenants, ARRAY[TG_ARGV[0]]);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION mtmcp._catalog_list_changed() IS
'Trigger: a tool, prompt or resource template changed; tells the listen streams of every tenant whose catalog has it.';

-- Row trigger of the per-tenant tables (TG_ARGV: the kinds they touch):
-- only that tenant hears it.
CREATE FUNCTION mtmcp._tenant_list_changed()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tenants text[] := '{}';
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		tenants := tenants || OLD.tenant_id;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		tenants := tenants || NEW.tenant_id;
	END IF;
	PERFORM mtmcp._announce_list_changed(tenants, TG_ARGV::text[]);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION mtmcp._tenant_list_changed() IS
'Trigger: one tenant''s catalog configuration changed; tells that tenant''s listen streams only.';

-- A plan's features or settings changed: its tenants hear every kind.
CREATE FUNCTION mtmcp._plan_list_changed()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM mtmcp._announce_list_changed(
		(SELECT coalesce(array_agg(t.tenant_id), '{}') FROM mtmcp.tenants t
		  WHERE t.plan = NEW.plan AND t.status = 'active'),
		'{tools,prompts,resources}');
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION mtmcp._plan_list_changed() IS
'Trigger: a plan''s features or settings changed; tells the listen streams of its active tenants.';

-- (updates only of what a listing shows, or who sees it: a new handler or time limit changes no list)
CREATE TRIGGER tools_list_changed AFTER INSERT OR DELETE ON mtmcp.tools
	FOR EACH ROW EXECUTE FUNCTION mtmcp._catalog_list_changed('tools');
CREATE TRIGGER tools_list_updated AFTER UPDATE ON mtmcp.tools
	FOR EACH ROW WHEN ((OLD.name, OLD.description, OLD.input_schema, OLD.output_schema, OLD.annotations,
						OLD.required_feature, OLD.required_scope, OLD.destructive)
					   IS DISTINCT FROM (NEW.name, NEW.description, NEW.input_schema, NEW.output_schema,
										 NEW.annotations, NEW.required_feature, NEW.required_scope, NEW.destructive))
	EXECUTE FUNCTION mtmcp._catalog_list_changed('tools');
CREATE TRIGGER tools_list_truncated AFTER TRUNCATE ON mtmcp.tools
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._catalog_list_changed('tools');
CREATE TRIGGER prompts_list_changed AFTER INSERT OR DELETE ON mtmcp.prompts
	FOR EACH ROW EXECUTE FUNCTION mtmcp._catalog_list_changed('prompts');
CREATE TRIGGER prompts_list_updated AFTER UPDATE ON mtmcp.prompts
	FOR EACH ROW WHEN ((OLD.name, OLD.title, OLD.description, OLD.arguments, OLD.required_feature, OLD.required_scope)
					   IS DISTINCT FROM (NEW.name, NEW.title, NEW.description, NEW.arguments, NEW.required_feature,
										 NEW.required_scope))
	EXECUTE FUNCTION mtmcp._catalog_list_changed('prompts');
CREATE TRIGGER prompts_list_truncated AFTER TRUNCATE ON mtmcp.prompts
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._catalog_list_changed('prompts');
CREATE TRIGGER resource_templates_list_changed AFTER INSERT OR DELETE ON mtmcp.resource_templates
	FOR EACH ROW EXECUTE FUNCTION mtmcp._catalog_list_changed('resources');
CREATE TRIGGER resource_templates_list_updated AFTER UPDATE ON mtmcp.resource_templates
	FOR EACH ROW WHEN ((OLD.name, OLD.uri_template, OLD.title, OLD.description, OLD.mime_type, OLD.lister, OLD.public,
						OLD.required_feature, OLD.required_scope)
					   IS DISTINCT FROM (NEW.name, NEW.uri_template, NEW.title, NEW.description, NEW.mime_type,
										 NEW.lister, NEW.public, NEW.required_feature, NEW.required_scope))
	EXECUTE FUNCTION mtmcp._catalog_list_changed('resources');
CREATE TRIGGER resource_templates_list_truncated AFTER TRUNCATE ON mtmcp.resource_templates
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._catalog_list_changed('resources');
CREATE TRIGGER tenant_features_list_changed AFTER INSERT OR UPDATE OR DELETE ON mtmcp.tenant_features
	FOR EACH ROW EXECUTE FUNCTION mtmcp._tenant_list_changed('tools', 'prompts', 'resources');
CREATE TRIGGER tenant_tools_list_changed AFTER INSERT OR UPDATE OR DELETE ON mtmcp.tenant_tools
	FOR EACH ROW EXECUTE FUNCTION mtmcp._tenant_list_changed('tools');
CREATE TRIGGER tenant_terms_list_changed AFTER INSERT OR UPDATE OR DELETE ON mtmcp.tenant_terms
	FOR EACH ROW EXECUTE FUNCTION mtmcp._tenant_list_changed('tools', 'prompts', 'resources');
CREATE TRIGGER tenant_prompts_list_changed AFTER INSERT OR UPDATE OR DELETE ON mtmcp.tenant_prompts
	FOR EACH ROW EXECUTE FUNCTION mtmcp._tenant_list_changed('prompts');
-- a tenant moved to another plan, or (re)activated
CREATE TRIGGER tenants_list_changed AFTER UPDATE ON mtmcp.tenants
	FOR EACH ROW WHEN (OLD.plan IS DISTINCT FROM NEW.plan OR OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION mtmcp._tenant_list_changed('tools', 'prompts', 'resources');
CREATE TRIGGER plans_list_changed AFTER UPDATE ON mtmcp.plans
	FOR EACH ROW WHEN (OLD.features IS DISTINCT FROM NEW.features OR OLD.settings IS DISTINCT FROM NEW.settings)
	EXECUTE FUNCTION mtmcp._plan_list_changed();

-- Privileges and pg_dump marks of this section
GRANT EXECUTE ON FUNCTION mtmcp.notify_list_changed(text) TO mtmcp_tool;
