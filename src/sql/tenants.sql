-------------------------------------------------------------------------------
-- Plans and tenants
-------------------------------------------------------------------------------

CREATE TABLE mtmcp.plans (
	plan		text PRIMARY KEY
				CONSTRAINT plan_name_format CHECK (plan ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
	features	text[] NOT NULL DEFAULT '{}'
				CONSTRAINT features_not_null CHECK (array_position(features, NULL) IS NULL),
	settings	jsonb NOT NULL DEFAULT '{}'
				CONSTRAINT settings_is_object CHECK (jsonb_typeof(settings) = 'object'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mtmcp.plans IS 'Plans: the features (and settings) a tenant gets.';

CREATE TABLE mtmcp.tenants (
	tenant_id	text PRIMARY KEY
				CONSTRAINT tenant_id_format CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
	plan		text NOT NULL REFERENCES mtmcp.plans (plan),
	display_name text,
	status		text NOT NULL DEFAULT 'provisioning'
				CONSTRAINT tenant_status CHECK (status IN ('provisioning', 'active', 'suspended', 'deleted', 'purged')),
	status_reason text,
	settings	jsonb NOT NULL DEFAULT '{}'
				CONSTRAINT tenant_settings_is_object CHECK (jsonb_typeof(settings) = 'object'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	status_changed_at timestamptz NOT NULL DEFAULT now(),
	status_before_delete text,
	deleted_at	timestamptz,
	purge_after	timestamptz
);
CREATE INDEX tenants_plan_idx ON mtmcp.tenants (plan);
COMMENT ON TABLE mtmcp.tenants IS
'Tenants. Only an active tenant is served; every other status is refused at the auth boundary.';

CREATE FUNCTION mtmcp.create_plan(plan text, features text[], settings jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF plan !~ '^[a-z0-9][a-z0-9_-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid plan name "%"', plan
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A plan name is 1 to 63 characters: lower-case letters, digits, "_" and "-".';
	END IF;
	IF array_position(features, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'plan features must not contain nulls' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF jsonb_typeof(settings) <> 'object' THEN
		RAISE EXCEPTION 'plan settings must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM mtmcp.plans p WHERE p.plan = create_plan.plan) THEN
		RAISE EXCEPTION 'plan "%" already exists', plan
			USING ERRCODE = 'duplicate_object', HINT = 'Use mtmcp.update_plan() to change it.';
	END IF;
	INSERT INTO mtmcp.plans (plan, features, settings) VALUES (plan, features, settings);
END
$$;
COMMENT ON FUNCTION mtmcp.create_plan(text, text[], jsonb) IS 'Creates a plan with its features.';

CREATE FUNCTION mtmcp.update_plan(plan text, features text[], settings jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE mtmcp.plans p
	   SET features = coalesce(update_plan.features, p.features),
		   settings = coalesce(update_plan.settings, p.settings),
		   updated_at = now()
	 WHERE p.plan = update_plan.plan;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'plan "%" does not exist', plan USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION mtmcp.update_plan(text, text[], jsonb) IS
'Changes a plan''s features or settings; takes effect on every tenant''s next call.';

CREATE FUNCTION mtmcp._tenant_must_exist(tenant_id text)
RETURNS text
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st text;
BEGIN
	SELECT t.status INTO st FROM mtmcp.tenants t WHERE t.tenant_id = _tenant_must_exist.tenant_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'tenant "%" does not exist', tenant_id USING ERRCODE = 'undefined_object';
	END IF;
	RETURN st;
END
$$;
COMMENT ON FUNCTION mtmcp._tenant_must_exist(text) IS
'Locks a tenant row and returns its status; an error when there is no such tenant.';

CREATE PROCEDURE mtmcp.create_tenant(tenant_id text, plan text, display_name text DEFAULT NULL,
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

CREATE FUNCTION mtmcp.set_tenant_setting(tenant_id text, key text, value jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF tenant_id IS NULL OR key IS NULL OR key = '' THEN
		RAISE EXCEPTION 'tenant id and key must not be null or empty' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM mtmcp._tenant_must_exist(tenant_id);
	UPDATE mtmcp.tenants t
	   SET settings = CASE WHEN value IS NULL THEN t.settings - key
						   ELSE t.settings || jsonb_build_object(key, value) END
	 WHERE t.tenant_id = set_tenant_setting.tenant_id;
END
$$;
COMMENT ON FUNCTION mtmcp.set_tenant_setting(text, text, jsonb) IS
'Overrides one plan setting for one tenant (NULL removes the override), e.g. "audit_budget".';

CREATE PROCEDURE mtmcp.activate_tenant(tenant_id text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF mtmcp._tenant_must_exist(tenant_id) <> 'provisioning' THEN
		RAISE EXCEPTION 'tenant "%" is not provisioning', tenant_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE mtmcp.tenants t SET status = 'active', status_changed_at = now()
	 WHERE t.tenant_id = activate_tenant.tenant_id;
END
$$;
COMMENT ON PROCEDURE mtmcp.activate_tenant(text) IS 'Ends provisioning: the tenant is served from now on.';

CREATE PROCEDURE mtmcp.suspend_tenant(tenant_id text, reason text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st text := mtmcp._tenant_must_exist(tenant_id);
BEGIN
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'a suspension needs a reason' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF st NOT IN ('active', 'suspended') THEN
		RAISE EXCEPTION 'tenant "%" cannot be suspended while %', tenant_id, st
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE mtmcp.tenants t SET status = 'suspended', status_reason = reason, status_changed_at = now()
	 WHERE t.tenant_id = suspend_tenant.tenant_id;
END
$$;
COMMENT ON PROCEDURE mtmcp.suspend_tenant(text, text) IS
'Suspends a tenant: every later request from it is refused at the auth boundary.';

CREATE PROCEDURE mtmcp.resume_tenant(tenant_id text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF mtmcp._tenant_must_exist(tenant_id) <> 'suspended' THEN
		RAISE EXCEPTION 'tenant "%" is not suspended', tenant_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE mtmcp.tenants t SET status = 'active', status_reason = NULL, status_changed_at = now()
	 WHERE t.tenant_id = resume_tenant.tenant_id;
END
$$;
COMMENT ON PROCEDURE mtmcp.resume_tenant(text) IS 'Lifts a suspension.';

-- Privileges and pg_dump marks of this section
GRANT SELECT, INSERT, UPDATE, DELETE ON mtmcp.plans, mtmcp.tenants TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION
	mtmcp.create_plan(text, text[], jsonb),
	mtmcp.update_plan(text, text[], jsonb),
	mtmcp._tenant_must_exist(text),
	mtmcp.set_tenant_setting(text, text, jsonb)
	TO mtmcp_admin;
GRANT EXECUTE ON PROCEDURE
	mtmcp.create_tenant(text, text, text, text[], boolean),
	mtmcp.activate_tenant(text),
	mtmcp.suspend_tenant(text, text),
	mtmcp.resume_tenant(text)
	TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.plans', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenants', '');
