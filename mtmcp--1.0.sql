/* mtmcp--1.0.sql -- a multi-tenant MCP server inside PostgreSQL */

\echo Use "CREATE EXTENSION mtmcp" to load this file. \quit

/*
 * Sections mirror the C modules:
 *   0. prerequisites and roles          (src/mtmcp.c)
 *   1. plans and tenants                (lifecycle, SQL)
 *   2. identity: issuers, keys, trust   (src/identity.c, src/jwt.c)
 *   3. tenant tables and RLS            (SQL)
 *   4. tools                            (src/tools.c)
 *   5. dispatch                         (src/dispatch.c)
 *   6. privileges and pg_dump marks
 */

-------------------------------------------------------------------------------
-- 0. Prerequisites and roles
-------------------------------------------------------------------------------

CREATE FUNCTION mtmcp._require_preload()
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_require_preload'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp._require_preload() IS
'Raises an error unless mtmcp is in shared_preload_libraries.';

-- Refuse to install into a server that did not preload the library: without
-- the preload, the tenant setting could be planted by any session.
SELECT mtmcp._require_preload();

-- Roles are cluster-wide: create them once, whichever database is first.
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['mtmcp_gateway', 'mtmcp_tool', 'mtmcp_admin', 'mtmcp_tenant']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', r);
		END IF;
	END LOOP;
	-- A tool role that bypasses RLS would make every policy moot.
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
			   WHERE rolname IN ('mtmcp_tool', 'mtmcp_gateway', 'mtmcp_tenant')
				 AND (rolsuper OR rolbypassrls)) THEN
		RAISE EXCEPTION 'roles mtmcp_tool, mtmcp_gateway and mtmcp_tenant must not be superusers or bypass row-level security'
			USING ERRCODE = 'invalid_role_specification';
	END IF;
END
$roles$;

-------------------------------------------------------------------------------
-- 1. Plans and tenants
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
				CONSTRAINT tenant_id_format CHECK (tenant_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
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
	IF tenant_id !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' THEN
		RAISE EXCEPTION 'invalid tenant id "%"', tenant_id
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A tenant id is 1 to 64 characters: letters, digits, ".", "_" and "-", starting with a letter or digit.';
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

-------------------------------------------------------------------------------
-- 2. Identity: issuers, signing keys, issuer-to-tenant trust
-------------------------------------------------------------------------------

CREATE TABLE mtmcp.issuers (
	issuer		text PRIMARY KEY CONSTRAINT issuer_not_empty CHECK (issuer <> ''),
	audience	text NOT NULL CONSTRAINT audience_not_empty CHECK (audience <> ''),
	tenant_claim text NOT NULL DEFAULT 'tenant_id' CONSTRAINT tenant_claim_not_empty CHECK (tenant_claim <> ''),
	subject_claim text NOT NULL DEFAULT 'sub' CONSTRAINT subject_claim_not_empty CHECK (subject_claim <> ''),
	scope_claim	text NOT NULL DEFAULT 'scope',
	leeway		interval NOT NULL DEFAULT '30 seconds'
				CONSTRAINT leeway_range CHECK (leeway >= '0 seconds' AND leeway <= '1 hour'),
	created_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mtmcp.issuers IS 'Trusted token issuers and how to read their claims.';

CREATE TABLE mtmcp.signing_keys (
	key_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	issuer		text NOT NULL REFERENCES mtmcp.issuers (issuer) ON DELETE CASCADE,
	kid			text CONSTRAINT kid_not_empty CHECK (kid <> ''),
	alg			text NOT NULL CONSTRAINT alg_supported CHECK (alg IN
				('HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
				 'ES256', 'ES384', 'ES512', 'EdDSA')),
	key			bytea NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX signing_keys_issuer_kid_idx ON mtmcp.signing_keys (issuer, coalesce(kid, ''));
COMMENT ON TABLE mtmcp.signing_keys IS
'Verification keys per issuer: HMAC secrets (bytes) or PEM public keys. The algorithm is the key''s, never the token''s.';

-- Issuer-to-tenant trust: a verified token reaches tenant T only when its
-- issuer is trusted for T.  One IdP may serve many tenants (trust it for each);
-- a tenant's own IdP cannot mint tokens for another tenant.
CREATE TABLE mtmcp.tenant_issuers (
	tenant_id	text NOT NULL REFERENCES mtmcp.tenants (tenant_id) ON DELETE CASCADE,
	issuer		text NOT NULL REFERENCES mtmcp.issuers (issuer) ON DELETE CASCADE,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, issuer)
);
CREATE INDEX tenant_issuers_issuer_idx ON mtmcp.tenant_issuers (issuer);
COMMENT ON TABLE mtmcp.tenant_issuers IS
'Which issuers may vouch for which tenant. No row, no access: the tenant claim alone is never enough.';

-- Key and issuer changes invalidate every backend's key and token caches
-- (a relcache invalidation, sent at commit).
CREATE FUNCTION mtmcp._config_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'mtmcp_config_changed'
LANGUAGE C;
COMMENT ON FUNCTION mtmcp._config_changed() IS
'Statement trigger: tells every backend to drop its cached keys and verified tokens.';

CREATE TRIGGER issuers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.issuers
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();
CREATE TRIGGER signing_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.signing_keys
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();

CREATE FUNCTION mtmcp.add_issuer(issuer text, audience text, tenant_claim text DEFAULT 'tenant_id',
								 subject_claim text DEFAULT 'sub', scope_claim text DEFAULT 'scope',
								 leeway interval DEFAULT '30 seconds')
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF issuer = '' OR audience = '' OR tenant_claim = '' OR subject_claim = '' THEN
		RAISE EXCEPTION 'issuer, audience, tenant claim and subject claim must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF leeway < '0 seconds' OR leeway > '1 hour' THEN
		RAISE EXCEPTION 'invalid leeway "%"', leeway
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The leeway for exp, nbf and iat must be between 0 and 1 hour.';
	END IF;
	INSERT INTO mtmcp.issuers AS i (issuer, audience, tenant_claim, subject_claim, scope_claim, leeway)
	VALUES (issuer, audience, tenant_claim, subject_claim, scope_claim, leeway)
	ON CONFLICT ON CONSTRAINT issuers_pkey DO UPDATE
	   SET audience = excluded.audience, tenant_claim = excluded.tenant_claim,
		   subject_claim = excluded.subject_claim, scope_claim = excluded.scope_claim,
		   leeway = excluded.leeway;
END
$$;
COMMENT ON FUNCTION mtmcp.add_issuer(text, text, text, text, text, interval) IS
'Registers (or updates) a token issuer: its audience, and the names of its tenant, subject and scope claims.';

CREATE FUNCTION mtmcp._validate_key(alg text, key bytea)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_validate_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp._validate_key(text, bytea) IS
'Raises an error unless key is usable for alg (an HMAC secret, or a PEM public key of the right type).';

CREATE FUNCTION mtmcp.add_key(issuer text, kid text, alg text, key bytea)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF issuer IS NULL OR alg IS NULL OR key IS NULL THEN
		RAISE EXCEPTION 'issuer, alg and key must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM mtmcp.issuers i WHERE i.issuer = add_key.issuer) THEN
		RAISE EXCEPTION 'issuer "%" does not exist', issuer
			USING ERRCODE = 'undefined_object', HINT = 'Register it first with mtmcp.add_issuer().';
	END IF;
	PERFORM mtmcp._validate_key(alg, key);
	DELETE FROM mtmcp.signing_keys k
	 WHERE k.issuer = add_key.issuer AND coalesce(k.kid, '') = coalesce(add_key.kid, '');
	INSERT INTO mtmcp.signing_keys (issuer, kid, alg, key) VALUES (issuer, kid, alg, key);
END
$$;
COMMENT ON FUNCTION mtmcp.add_key(text, text, text, bytea) IS
'Registers a verification key for an issuer (replacing the one with the same kid): HMAC secret bytes or a PEM public key.';

CREATE FUNCTION mtmcp._jwk_to_pem(jwk jsonb, OUT kid text, OUT alg text, OUT pem text)
RETURNS record
AS 'MODULE_PATHNAME', 'mtmcp_jwk_to_pem'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp._jwk_to_pem(jsonb) IS 'Converts one public JWK to its algorithm, kid and PEM.';

CREATE FUNCTION mtmcp.import_jwks(issuer text, jwks jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k jsonb;
	c record;
	n integer := 0;
BEGIN
	IF jsonb_typeof(jwks -> 'keys') IS DISTINCT FROM 'array' THEN
		RAISE EXCEPTION 'invalid JWKS' USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'A JWK set is an object with a "keys" array.';
	END IF;
	FOR k IN SELECT value FROM jsonb_array_elements(jwks -> 'keys')
	LOOP
		-- Encryption keys share JWK sets with signing keys; they are not ours.
		CONTINUE WHEN k ->> 'use' = 'enc';
		c := mtmcp._jwk_to_pem(k);
		PERFORM mtmcp.add_key(issuer, c.kid, c.alg, convert_to(c.pem, 'UTF8'));
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION mtmcp.import_jwks(text, jsonb) IS
'Imports the RSA, EC and OKP (Ed25519) signing keys of a JWK set for an issuer; returns how many.';

CREATE FUNCTION mtmcp.trust_issuer(tenant_id text, issuer text)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM mtmcp._tenant_must_exist(tenant_id);
	IF NOT EXISTS (SELECT 1 FROM mtmcp.issuers i WHERE i.issuer = trust_issuer.issuer) THEN
		RAISE EXCEPTION 'issuer "%" does not exist', issuer USING ERRCODE = 'undefined_object';
	END IF;
	INSERT INTO mtmcp.tenant_issuers (tenant_id, issuer) VALUES (tenant_id, issuer)
	ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON FUNCTION mtmcp.trust_issuer(text, text) IS 'Lets an issuer vouch for a tenant.';

CREATE FUNCTION mtmcp.untrust_issuer(tenant_id text, issuer text)
RETURNS void
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	DELETE FROM mtmcp.tenant_issuers ti WHERE ti.tenant_id = untrust_issuer.tenant_id AND ti.issuer = untrust_issuer.issuer;
END;
COMMENT ON FUNCTION mtmcp.untrust_issuer(text, text) IS 'Stops an issuer vouching for a tenant, from the next call on.';

CREATE FUNCTION mtmcp.authenticate(token text)
RETURNS text
AS 'MODULE_PATHNAME', 'mtmcp_authenticate'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.authenticate(text) IS
'Verifies a bearer token and sets the verified tenant for the rest of the transaction; returns the tenant id.';

CREATE FUNCTION mtmcp.current_tenant()
RETURNS text
AS 'MODULE_PATHNAME', 'mtmcp_current_tenant'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp.current_tenant() IS
'The verified tenant of this transaction; an error when none is verified (fail closed).';

CREATE FUNCTION mtmcp.current_subject()
RETURNS text
AS 'MODULE_PATHNAME', 'mtmcp_current_subject'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp.current_subject() IS
'The verified caller (token subject) of this transaction; an error when none is verified.';

CREATE FUNCTION mtmcp._identity_cache_stats(OUT verifications bigint, OUT cache_hits bigint, OUT key_loads bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'mtmcp_identity_cache_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mtmcp._identity_cache_stats() IS
'This backend''s counters: full token verifications, verified-token cache hits, key cache loads.';

-------------------------------------------------------------------------------
-- 3. Tenant tables and row-level security
-------------------------------------------------------------------------------

CREATE TABLE mtmcp.tenant_tables (
	tbl			regclass PRIMARY KEY,
	tenant_column name NOT NULL,
	registered_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mtmcp.tenant_tables IS
'Tables holding tenant data: RLS-confined, exported, purged and verified by the lifecycle procedures.';

CREATE FUNCTION mtmcp.register_tenant_table(tbl regclass, tenant_column name DEFAULT 'tenant_id')
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
	INSERT INTO mtmcp.tenant_tables (tbl, tenant_column) VALUES (tbl, tenant_column)
	ON CONFLICT ON CONSTRAINT tenant_tables_pkey DO UPDATE SET tenant_column = excluded.tenant_column;
END
$$;
COMMENT ON FUNCTION mtmcp.register_tenant_table(regclass, name) IS
'Confines a table to the verified tenant with a forced RLS policy and enrols it in export, deletion and purge checks.';

-------------------------------------------------------------------------------
-- 4. Tools
-------------------------------------------------------------------------------

-- JSON Schema (2020-12 subset) validation, src/jsonschema.c
CREATE FUNCTION mtmcp.validate_json(schema jsonb, instance jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'mtmcp_validate_json'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp.validate_json(jsonb, jsonb) IS
'NULL when instance conforms to schema, else the first violation as "<path>: <message>" (path like $.items[2].name).';

CREATE FUNCTION mtmcp.check_json_schema(schema jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_check_json_schema'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp.check_json_schema(jsonb) IS
'Raises an error (SQLSTATE 22023) naming the problem when schema is not a well-formed schema of the supported subset.';

CREATE TABLE mtmcp.tools (
	name		text PRIMARY KEY CONSTRAINT tool_name_format CHECK (name ~ '^[A-Za-z0-9_.-]{1,128}$'),
	description	text NOT NULL,
	input_schema jsonb NOT NULL CONSTRAINT input_schema_is_object CHECK (jsonb_typeof(input_schema) = 'object'),
	handler		regprocedure NOT NULL,
	required_feature text,
	required_scope text,
	destructive	boolean NOT NULL DEFAULT false,
	output_schema jsonb CONSTRAINT output_schema_is_object CHECK (jsonb_typeof(output_schema) = 'object'),
	annotations	jsonb CONSTRAINT annotations_is_object CHECK (jsonb_typeof(annotations) = 'object'),
	redact_paths text[],
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mtmcp.tools IS 'The tool catalog; each tenant sees the subset its plan and the caller''s scopes allow.';

CREATE FUNCTION mtmcp._check_handler(handler regprocedure)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_check_handler'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp._check_handler(regprocedure) IS
'Raises an error unless handler is a (jsonb) RETURNS jsonb function mtmcp_tool may run without escaping RLS.';

CREATE FUNCTION mtmcp._check_reserved_properties(tool text, schema jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_check_reserved_properties'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp._check_reserved_properties(text, jsonb) IS
'Raises an error when an input schema declares a tenant- or session-identifying property anywhere.';

CREATE FUNCTION mtmcp.register_tool(name text, description text, input_schema jsonb, handler regprocedure,
									required_feature text DEFAULT NULL, required_scope text DEFAULT NULL,
									destructive boolean DEFAULT false, output_schema jsonb DEFAULT NULL,
									annotations jsonb DEFAULT NULL, redact_paths text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF name IS NULL OR description IS NULL OR input_schema IS NULL OR handler IS NULL THEN
		RAISE EXCEPTION 'name, description, input_schema and handler must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF name !~ '^[A-Za-z0-9_.-]{1,128}$' THEN
		RAISE EXCEPTION 'invalid tool name "%"', name USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'A tool name is 1 to 128 characters: letters, digits, "_", "-" and ".".';
	END IF;
	IF jsonb_typeof(input_schema) <> 'object' OR input_schema ->> 'type' IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'input schema of tool "%" must be a JSON Schema object with "type": "object"', name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF output_schema IS NOT NULL AND (jsonb_typeof(output_schema) <> 'object' OR output_schema ->> 'type' IS DISTINCT FROM 'object') THEN
		RAISE EXCEPTION 'output schema of tool "%" must be a JSON Schema object with "type": "object"', name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF annotations IS NOT NULL AND jsonb_typeof(annotations) <> 'object' THEN
		RAISE EXCEPTION 'annotations of tool "%" must be a JSON object', name USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (annotations ->> 'readOnlyHint')::boolean AND destructive THEN
		RAISE EXCEPTION 'tool "%" cannot be both read-only and destructive', name USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF annotations ? 'destructiveHint' THEN
		RAISE EXCEPTION 'annotation "destructiveHint" of tool "%" comes from the destructive argument', name
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass destructive => true instead.';
	END IF;
	PERFORM mtmcp.check_json_schema(input_schema);
	PERFORM mtmcp._check_reserved_properties(name, input_schema);
	IF output_schema IS NOT NULL THEN
		PERFORM mtmcp.check_json_schema(output_schema);
	END IF;
	PERFORM mtmcp._check_handler(handler);
	IF array_position(redact_paths, NULL) IS NOT NULL OR EXISTS (SELECT 1 FROM unnest(redact_paths) p WHERE p = '') THEN
		RAISE EXCEPTION 'redaction paths must not be null or empty' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO mtmcp.tools (name, description, input_schema, handler, required_feature, required_scope,
							 destructive, output_schema, annotations, redact_paths)
	VALUES (name, description, input_schema, handler, required_feature, required_scope,
			coalesce(destructive, false), output_schema, annotations, redact_paths)
	ON CONFLICT ON CONSTRAINT tools_pkey DO UPDATE
	   SET description = excluded.description, input_schema = excluded.input_schema, handler = excluded.handler,
		   required_feature = excluded.required_feature, required_scope = excluded.required_scope,
		   destructive = excluded.destructive, output_schema = excluded.output_schema,
		   annotations = excluded.annotations, redact_paths = excluded.redact_paths, updated_at = now();
END
$$;
COMMENT ON FUNCTION mtmcp.register_tool(text, text, jsonb, regprocedure, text, text, boolean, jsonb, jsonb, text[]) IS
'Registers (or replaces) a tool whose handler is a (args jsonb) RETURNS jsonb function run as mtmcp_tool under RLS; redact_paths (dotted) never reach the audit trail.';

-------------------------------------------------------------------------------
-- 4b. Per-tenant configuration of the catalog                 (src/catalog.c)
-------------------------------------------------------------------------------

-- A tenant's own feature switches, over its plan's features.
CREATE TABLE mtmcp.tenant_features (
	tenant_id	text NOT NULL REFERENCES mtmcp.tenants (tenant_id) ON DELETE CASCADE,
	feature		text NOT NULL CONSTRAINT feature_not_empty CHECK (feature <> ''),
	enabled		boolean NOT NULL,
	PRIMARY KEY (tenant_id, feature)
);
COMMENT ON TABLE mtmcp.tenant_features IS
'Per-tenant feature switches: enabled adds a feature the plan lacks, disabled removes one it has.';

-- Per tenant and tool: the admin's switch (destructive tools need one),
-- description override, and argument defaults.
CREATE TABLE mtmcp.tenant_tools (
	tenant_id	text NOT NULL REFERENCES mtmcp.tenants (tenant_id) ON DELETE CASCADE,
	tool		text NOT NULL REFERENCES mtmcp.tools (name) ON DELETE CASCADE ON UPDATE CASCADE,
	enabled		boolean,
	description	text,
	defaults	jsonb CONSTRAINT defaults_is_object CHECK (jsonb_typeof(defaults) = 'object'),
	PRIMARY KEY (tenant_id, tool)
);
COMMENT ON TABLE mtmcp.tenant_tools IS
'Per-tenant tool configuration: on/off switch (NULL: the default), description override, argument defaults.';

-- Ubiquitous language: whole-word replacements in descriptions.
CREATE TABLE mtmcp.tenant_terms (
	tenant_id	text NOT NULL REFERENCES mtmcp.tenants (tenant_id) ON DELETE CASCADE,
	term		text NOT NULL CONSTRAINT term_is_word CHECK (term ~ '^[A-Za-z0-9_]+( [A-Za-z0-9_]+)*$'),
	replacement	text NOT NULL,
	PRIMARY KEY (tenant_id, term)
);
COMMENT ON TABLE mtmcp.tenant_terms IS
'Per-tenant terms: "ticket" -> "issue" in every description the tenant sees (whole words, case kept).';

-- Keys of the HMAC that makes list cursors opaque and caller-bound.
CREATE TABLE mtmcp.cursor_secret (
	singleton	boolean PRIMARY KEY DEFAULT true CONSTRAINT one_row CHECK (singleton),
	secret		bytea NOT NULL
);
INSERT INTO mtmcp.cursor_secret (secret)
SELECT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');
COMMENT ON TABLE mtmcp.cursor_secret IS 'The key that signs pagination cursors (random per database).';

CREATE FUNCTION mtmcp._tool_must_exist(tool text)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM mtmcp.tools t WHERE t.name = tool) THEN
		RAISE EXCEPTION 'tool "%" does not exist', tool USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION mtmcp._tool_must_exist(text) IS 'An error when there is no such tool.';

CREATE FUNCTION mtmcp.set_tenant_feature(tenant_id text, feature text, enabled boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF tenant_id IS NULL OR feature IS NULL OR feature = '' THEN
		RAISE EXCEPTION 'tenant id and feature must not be null or empty' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM mtmcp._tenant_must_exist(tenant_id);
	IF enabled IS NULL THEN
		DELETE FROM mtmcp.tenant_features f WHERE f.tenant_id = set_tenant_feature.tenant_id AND f.feature = set_tenant_feature.feature;
	ELSE
		INSERT INTO mtmcp.tenant_features AS f (tenant_id, feature, enabled) VALUES (tenant_id, feature, enabled)
		ON CONFLICT ON CONSTRAINT tenant_features_pkey DO UPDATE SET enabled = excluded.enabled;
	END IF;
END
$$;
COMMENT ON FUNCTION mtmcp.set_tenant_feature(text, text, boolean) IS
'Turns a feature on or off for one tenant, whatever its plan says (NULL: back to the plan).';

CREATE FUNCTION mtmcp._set_tenant_tool(tenant_id text, tool text, col text, val anyelement)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF tenant_id IS NULL OR tool IS NULL THEN
		RAISE EXCEPTION 'tenant id and tool must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM mtmcp._tenant_must_exist(tenant_id);
	PERFORM mtmcp._tool_must_exist(tool);
	INSERT INTO mtmcp.tenant_tools (tenant_id, tool) VALUES (tenant_id, tool) ON CONFLICT DO NOTHING;
	EXECUTE pg_catalog.format('UPDATE mtmcp.tenant_tools SET %I = $1 WHERE tenant_id = $2 AND tool = $3', col)
		USING val, tenant_id, tool;
	DELETE FROM mtmcp.tenant_tools t
	 WHERE t.tenant_id = _set_tenant_tool.tenant_id AND t.tool = _set_tenant_tool.tool
	   AND t.enabled IS NULL AND t.description IS NULL AND t.defaults IS NULL;
END
$$;
COMMENT ON FUNCTION mtmcp._set_tenant_tool(text, text, text, anyelement) IS
'Sets one column of a tenant''s tool configuration (NULL resets it).';

CREATE FUNCTION mtmcp.set_tool_enabled(tenant_id text, tool text, enabled boolean)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT mtmcp._set_tenant_tool(tenant_id, tool, 'enabled', enabled);
END;
COMMENT ON FUNCTION mtmcp.set_tool_enabled(text, text, boolean) IS
'The tenant admin''s switch for one tool; destructive tools stay off until enabled here (NULL: back to the default).';

CREATE FUNCTION mtmcp.set_tool_description(tenant_id text, tool text, description text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF description = '' THEN
		RAISE EXCEPTION 'a tool description must not be empty' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM mtmcp._set_tenant_tool(tenant_id, tool, 'description', description);
END
$$;
COMMENT ON FUNCTION mtmcp.set_tool_description(text, text, text) IS
'The description one tenant sees for a tool (prose only: the parameter shape never changes; NULL removes it).';

CREATE FUNCTION mtmcp.set_tool_defaults(tenant_id text, tool text, defaults jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	schema jsonb;
	k text;
	err text;
BEGIN
	IF defaults IS NOT NULL THEN
		SELECT t.input_schema INTO schema FROM mtmcp.tools t WHERE t.name = tool;
		IF jsonb_typeof(defaults) <> 'object' THEN
			RAISE EXCEPTION 'tool defaults must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR k IN SELECT jsonb_object_keys(defaults)
		LOOP
			IF schema IS NOT NULL AND NOT (schema -> 'properties') ? k THEN
				RAISE EXCEPTION 'tool "%" has no argument "%"', tool, k
					USING ERRCODE = 'invalid_parameter_value',
						  DETAIL = 'Defaults can only be given for arguments the tool''s input schema declares.';
			END IF;
			IF (schema -> 'required') ? k THEN
				RAISE EXCEPTION 'argument "%" of tool "%" is required', k, tool
					USING ERRCODE = 'invalid_parameter_value', DETAIL = 'Only optional arguments take defaults.';
			END IF;
			err := mtmcp.validate_json(schema -> 'properties' -> k, defaults -> k);
			IF err IS NOT NULL THEN
				RAISE EXCEPTION 'invalid default for argument "%" of tool "%"', k, tool
					USING ERRCODE = 'invalid_parameter_value',
						  DETAIL = regexp_replace(err, '^\$', '$.' || k) || '.';
			END IF;
		END LOOP;
	END IF;
	PERFORM mtmcp._set_tenant_tool(tenant_id, tool, 'defaults', defaults);
END
$$;
COMMENT ON FUNCTION mtmcp.set_tool_defaults(text, text, jsonb) IS
'Defaults for a tool''s optional arguments for one tenant (over the plan''s "tool_defaults"; NULL removes them).';

CREATE FUNCTION mtmcp.set_term(tenant_id text, term text, replacement text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF tenant_id IS NULL OR term IS NULL THEN
		RAISE EXCEPTION 'tenant id and term must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF term !~ '^[A-Za-z0-9_]+( [A-Za-z0-9_]+)*$' THEN
		RAISE EXCEPTION 'invalid term "%"', term
			USING ERRCODE = 'invalid_parameter_value', DETAIL = 'A term is one or more words of letters, digits and "_".';
	END IF;
	PERFORM mtmcp._tenant_must_exist(tenant_id);
	IF replacement IS NULL THEN
		DELETE FROM mtmcp.tenant_terms t WHERE t.tenant_id = set_term.tenant_id AND lower(t.term) = lower(set_term.term);
	ELSE
		DELETE FROM mtmcp.tenant_terms t WHERE t.tenant_id = set_term.tenant_id AND lower(t.term) = lower(set_term.term);
		INSERT INTO mtmcp.tenant_terms (tenant_id, term, replacement) VALUES (tenant_id, lower(term), replacement);
	END IF;
END
$$;
COMMENT ON FUNCTION mtmcp.set_term(text, text, text) IS
'One tenant''s word for a term in descriptions ("ticket" -> "issue"); matched as a whole word, case kept; NULL removes it.';

-- Catalog caches follow every change of these tables.
CREATE TRIGGER plans_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.plans
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();
CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.tenants
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();
CREATE TRIGGER tools_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.tools
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();
CREATE TRIGGER tenant_features_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.tenant_features
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();
CREATE TRIGGER tenant_tools_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.tenant_tools
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();
CREATE TRIGGER tenant_terms_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.tenant_terms
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();

CREATE FUNCTION mtmcp.reserved_argument_names()
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'mtmcp_reserved_argument_names'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 20;
COMMENT ON FUNCTION mtmcp.reserved_argument_names() IS
'Argument names that would carry tenant or session identity (compared ignoring case, "_" and "-"): refused in input schemas and in calls.';

-------------------------------------------------------------------------------
-- 4c. Resources and prompts                     (src/resources.c, src/prompts.c)
-------------------------------------------------------------------------------

-- Resource templates (RFC 6570 level 1).  Every tenant-owned URI names its
-- tenant in a {tenant} variable, and the dispatcher refuses a URI naming
-- another tenant before any reader runs.
CREATE TABLE mtmcp.resource_templates (
	name		text PRIMARY KEY CONSTRAINT resource_name_format CHECK (name ~ '^[A-Za-z0-9_.-]{1,128}$'),
	uri_template text NOT NULL UNIQUE,
	title		text,
	description	text NOT NULL,
	mime_type	text NOT NULL,
	reader		regprocedure NOT NULL,
	lister		regprocedure,
	completer	regprocedure,
	public		boolean NOT NULL DEFAULT false,
	required_feature text,
	required_scope text,
	created_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mtmcp.resource_templates IS
'Resource templates: a URI template with a {tenant} variable (unless public), a reader, optionally a lister and a completer.';

CREATE FUNCTION mtmcp._check_uri_template(uri_template text, public boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_check_uri_template'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp._check_uri_template(text, boolean) IS
'Raises an error unless the template is RFC 6570 level 1 with a {tenant} variable (or public, without one).';

CREATE FUNCTION mtmcp.register_resource_template(name text, uri_template text, description text, mime_type text,
												 reader regprocedure, lister regprocedure DEFAULT NULL,
												 public boolean DEFAULT false, required_feature text DEFAULT NULL,
												 required_scope text DEFAULT NULL, title text DEFAULT NULL,
												 completer regprocedure DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF name IS NULL OR uri_template IS NULL OR description IS NULL OR mime_type IS NULL OR reader IS NULL THEN
		RAISE EXCEPTION 'name, uri_template, description, mime_type and reader must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF name !~ '^[A-Za-z0-9_.-]{1,128}$' THEN
		RAISE EXCEPTION 'invalid resource template name "%"', name USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF mime_type !~ '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(;.*)?$' THEN
		RAISE EXCEPTION 'invalid MIME type "%"', mime_type USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM mtmcp._check_uri_template(uri_template, coalesce(public, false));
	PERFORM mtmcp._check_handler(reader);
	IF lister IS NOT NULL THEN
		PERFORM mtmcp._check_handler(lister);
	END IF;
	IF completer IS NOT NULL THEN
		PERFORM mtmcp._check_handler(completer);
	END IF;
	INSERT INTO mtmcp.resource_templates AS r (name, uri_template, title, description, mime_type, reader, lister,
											   completer, public, required_feature, required_scope)
	VALUES (name, uri_template, title, description, mime_type, reader, lister, completer, coalesce(public, false),
			required_feature, required_scope)
	ON CONFLICT ON CONSTRAINT resource_templates_pkey DO UPDATE
	   SET uri_template = excluded.uri_template, title = excluded.title, description = excluded.description,
		   mime_type = excluded.mime_type, reader = excluded.reader, lister = excluded.lister,
		   completer = excluded.completer, public = excluded.public,
		   required_feature = excluded.required_feature, required_scope = excluded.required_scope;
END
$$;
COMMENT ON FUNCTION mtmcp.register_resource_template(text, text, text, text, regprocedure, regprocedure, boolean, text, text, text, regprocedure) IS
'Registers a resource template. Reader: (vars jsonb) RETURNS jsonb, NULL for "not found"; lister: (params jsonb) RETURNS jsonb, an array of {uri, name, ...}; all run as mtmcp_tool under RLS.';

-- Subscriptions to resource updates, per caller (delivery: the HTTP shim).
CREATE TABLE mtmcp.resource_subscriptions (
	tenant_id	text NOT NULL REFERENCES mtmcp.tenants (tenant_id) ON DELETE CASCADE,
	subject		text NOT NULL,
	session_id	text NOT NULL DEFAULT '',
	uri			text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, subject, session_id, uri)
);
CREATE INDEX resource_subscriptions_uri_idx ON mtmcp.resource_subscriptions (tenant_id, uri);
COMMENT ON TABLE mtmcp.resource_subscriptions IS 'Who wants notifications/resources/updated for which URI.';

-- The level of log notifications each caller asked for (logging/setLevel).
CREATE TABLE mtmcp.log_levels (
	tenant_id	text NOT NULL REFERENCES mtmcp.tenants (tenant_id) ON DELETE CASCADE,
	subject		text NOT NULL,
	session_id	text NOT NULL DEFAULT '',
	level		text NOT NULL CONSTRAINT log_level CHECK (level IN
				('debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency')),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, subject, session_id)
);
COMMENT ON TABLE mtmcp.log_levels IS 'logging/setLevel per caller and session.';

CREATE TABLE mtmcp.prompts (
	name		text PRIMARY KEY CONSTRAINT prompt_name_format CHECK (name ~ '^[A-Za-z0-9_.-]{1,128}$'),
	title		text,
	description	text NOT NULL,
	arguments	jsonb NOT NULL DEFAULT '[]' CONSTRAINT arguments_is_array CHECK (jsonb_typeof(arguments) = 'array'),
	renderer	regprocedure,
	template	jsonb CONSTRAINT template_is_array CHECK (jsonb_typeof(template) = 'array'),
	completer	regprocedure,
	required_feature text,
	required_scope text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT renderer_or_template CHECK ((renderer IS NULL) <> (template IS NULL))
);
COMMENT ON TABLE mtmcp.prompts IS
'Prompts: declared arguments, and either a renderer function or a message template with {{argument}} placeholders.';

CREATE TABLE mtmcp.tenant_prompts (
	tenant_id	text NOT NULL REFERENCES mtmcp.tenants (tenant_id) ON DELETE CASCADE,
	prompt		text NOT NULL REFERENCES mtmcp.prompts (name) ON DELETE CASCADE ON UPDATE CASCADE,
	description	text NOT NULL,
	PRIMARY KEY (tenant_id, prompt)
);
COMMENT ON TABLE mtmcp.tenant_prompts IS 'Per-tenant prompt description overrides.';

CREATE FUNCTION mtmcp.register_prompt(name text, description text, arguments jsonb DEFAULT '[]',
									  renderer regprocedure DEFAULT NULL, template jsonb DEFAULT NULL,
									  required_feature text DEFAULT NULL, required_scope text DEFAULT NULL,
									  title text DEFAULT NULL, completer regprocedure DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a jsonb;
	m jsonb;
	seen text[] := '{}';
BEGIN
	IF name IS NULL OR description IS NULL THEN
		RAISE EXCEPTION 'name and description must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF name !~ '^[A-Za-z0-9_.-]{1,128}$' THEN
		RAISE EXCEPTION 'invalid prompt name "%"', name USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (renderer IS NULL) = (template IS NULL) THEN
		RAISE EXCEPTION 'prompt "%" needs exactly one of a renderer and a template', name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_typeof(coalesce(arguments, '[]')) <> 'array' THEN
		RAISE EXCEPTION 'arguments of prompt "%" must be a JSON array', name USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR a IN SELECT value FROM jsonb_array_elements(coalesce(arguments, '[]'))
	LOOP
		IF jsonb_typeof(a) <> 'object' OR jsonb_typeof(a -> 'name') IS DISTINCT FROM 'string'
		   OR (a ? 'required' AND jsonb_typeof(a -> 'required') <> 'boolean')
		   OR (a ? 'description' AND jsonb_typeof(a -> 'description') <> 'string') THEN
			RAISE EXCEPTION 'invalid argument declaration % of prompt "%"', a, name
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'Each argument is {"name": string, "description"?: string, "required"?: boolean}.';
		END IF;
		IF (a ->> 'name') = ANY (seen) THEN
			RAISE EXCEPTION 'prompt "%" declares argument "%" twice', name, a ->> 'name'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		seen := seen || (a ->> 'name');
	END LOOP;
	IF EXISTS (SELECT 1 FROM unnest(seen) s WHERE EXISTS (SELECT 1 FROM mtmcp.reserved_argument_names() r
			   WHERE r = lower(translate(s, '_-. ', '')))) THEN
		RAISE EXCEPTION 'prompt "%" declares a reserved argument', name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The tenant and the session come from the verified token, never from arguments.';
	END IF;
	IF template IS NOT NULL THEN
		IF jsonb_typeof(template) <> 'array' OR jsonb_array_length(template) = 0 THEN
			RAISE EXCEPTION 'template of prompt "%" must be a non-empty array of messages', name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR m IN SELECT value FROM jsonb_array_elements(template)
		LOOP
			IF m ->> 'role' IS DISTINCT FROM 'user' AND m ->> 'role' IS DISTINCT FROM 'assistant'
			   OR jsonb_typeof(m -> 'content') IS DISTINCT FROM 'object' THEN
				RAISE EXCEPTION 'invalid message % in the template of prompt "%"', m, name
					USING ERRCODE = 'invalid_parameter_value',
						  DETAIL = 'A message is {"role": "user" or "assistant", "content": {...}}.';
			END IF;
		END LOOP;
	END IF;
	IF renderer IS NOT NULL THEN
		PERFORM mtmcp._check_handler(renderer);
	END IF;
	IF completer IS NOT NULL THEN
		PERFORM mtmcp._check_handler(completer);
	END IF;
	INSERT INTO mtmcp.prompts AS p (name, title, description, arguments, renderer, template, completer,
									required_feature, required_scope)
	VALUES (name, title, description, coalesce(arguments, '[]'), renderer, template, completer,
			required_feature, required_scope)
	ON CONFLICT ON CONSTRAINT prompts_pkey DO UPDATE
	   SET title = excluded.title, description = excluded.description, arguments = excluded.arguments,
		   renderer = excluded.renderer, template = excluded.template, completer = excluded.completer,
		   required_feature = excluded.required_feature, required_scope = excluded.required_scope;
END
$$;
COMMENT ON FUNCTION mtmcp.register_prompt(text, text, jsonb, regprocedure, jsonb, text, text, text, regprocedure) IS
'Registers a prompt: declared arguments, and a renderer (args jsonb) RETURNS jsonb (messages) or a template of messages with {{argument}} placeholders.';

CREATE FUNCTION mtmcp.set_prompt_description(tenant_id text, prompt text, description text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF tenant_id IS NULL OR prompt IS NULL THEN
		RAISE EXCEPTION 'tenant id and prompt must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF description = '' THEN
		RAISE EXCEPTION 'a prompt description must not be empty' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM mtmcp._tenant_must_exist(tenant_id);
	IF NOT EXISTS (SELECT 1 FROM mtmcp.prompts p WHERE p.name = prompt) THEN
		RAISE EXCEPTION 'prompt "%" does not exist', prompt USING ERRCODE = 'undefined_object';
	END IF;
	DELETE FROM mtmcp.tenant_prompts t WHERE t.tenant_id = set_prompt_description.tenant_id AND t.prompt = set_prompt_description.prompt;
	IF description IS NOT NULL THEN
		INSERT INTO mtmcp.tenant_prompts (tenant_id, prompt, description) VALUES (tenant_id, prompt, description);
	END IF;
END
$$;
COMMENT ON FUNCTION mtmcp.set_prompt_description(text, text, text) IS
'The description one tenant sees for a prompt (NULL removes the override); the tenant''s terms apply on top.';

-------------------------------------------------------------------------------
-- 5. Dispatch
-------------------------------------------------------------------------------

CREATE FUNCTION mtmcp.mcp_dispatch(token text, request jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_mcp_dispatch'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.mcp_dispatch(text, jsonb) IS
'One MCP JSON-RPC message in, its response out (NULL for a notification): verifies the token first, then routes.';

CREATE FUNCTION mtmcp.mcp_dispatch(token text, request jsonb, session_id text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_mcp_dispatch'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.mcp_dispatch(text, jsonb, text) IS
'mcp_dispatch for a message of a transport session; the session id is recorded on its audit row.';

-------------------------------------------------------------------------------
-- 7. Audit trail                                              (src/audit.c)
-------------------------------------------------------------------------------

-- One row per dispatched message of a verified tenant, in the caller's
-- transaction.  Range-partitioned by day (UTC); the default partition means
-- an insert never fails for lack of a partition, and maintain_partitions()
-- moves rows out of it into their day.
CREATE TABLE mtmcp.audit_log (
	event_id	uuid NOT NULL,
	ts			timestamptz NOT NULL DEFAULT clock_timestamp(),
	tenant_id	text NOT NULL,
	session_id	text,
	subject		text NOT NULL,
	issuer		text,
	method		text NOT NULL,
	target		text,
	result_kind	text NOT NULL CONSTRAINT audit_result_kind CHECK (result_kind IN
				('ok', 'tool_error', 'denied', 'invalid', 'not_found', 'rate_limited', 'error')),
	severity	text NOT NULL CONSTRAINT audit_severity CHECK (severity IN ('info', 'warning', 'security')),
	arguments	jsonb,
	error_code	text,
	request_id	text,
	trace_id	text NOT NULL,
	span_id		text NOT NULL,
	parent_span_id text,
	duration_us	bigint NOT NULL,
	detail		text
) PARTITION BY RANGE (ts);
CREATE TABLE mtmcp.audit_log_default PARTITION OF mtmcp.audit_log DEFAULT;
COMMENT ON TABLE mtmcp.audit_log IS
'The audit trail: one row per message of a verified tenant, tenant_id on every row, arguments redacted.';

-- Refusals before any tenant was verified.  No tenant column: nobody proved
-- whose they are, so no tenant's trail can ever include them.
CREATE TABLE mtmcp.auth_failures (
	event_id	uuid NOT NULL,
	ts			timestamptz NOT NULL DEFAULT clock_timestamp(),
	session_id	text,
	reason		text NOT NULL,
	http_status	integer NOT NULL,
	method		text,
	request_id	text,
	trace_id	text NOT NULL,
	span_id		text NOT NULL,
	detail		text
) PARTITION BY RANGE (ts);
CREATE TABLE mtmcp.auth_failures_default PARTITION OF mtmcp.auth_failures DEFAULT;
COMMENT ON TABLE mtmcp.auth_failures IS
'Messages refused at the auth boundary (admin only): reason, status, trace; deliberately no tenant.';

CREATE TABLE mtmcp.audit_overflow (
	tenant_id	text NOT NULL,
	window_start timestamptz NOT NULL,
	dropped		bigint NOT NULL,
	PRIMARY KEY (tenant_id, window_start)
);
COMMENT ON TABLE mtmcp.audit_overflow IS
'Info-level audit rows a tenant produced beyond its observability budget: counted here instead of written.';

CREATE TABLE mtmcp.auth_failure_overflow (
	window_start timestamptz PRIMARY KEY,
	dropped		bigint NOT NULL
);
COMMENT ON TABLE mtmcp.auth_failure_overflow IS
'Refusals beyond mtmcp.auth_failure_budget per minute: counted here instead of written.';

-- What a tenant reads, after mtmcp.authenticate(token).  The filter is the
-- view's own (security_barrier: no caller function runs before it); with no
-- verified tenant the view raises an error rather than return anything.
CREATE VIEW mtmcp.tenant_audit WITH (security_barrier) AS
	SELECT a.event_id, a.ts, a.session_id, a.subject, a.method, a.target, a.result_kind, a.severity,
		   a.arguments, a.error_code, a.request_id, a.trace_id, a.span_id, a.parent_span_id,
		   a.duration_us, a.detail
	  FROM mtmcp.audit_log a
	 WHERE a.tenant_id = (SELECT mtmcp.current_tenant());
COMMENT ON VIEW mtmcp.tenant_audit IS
'The verified tenant''s own audit trail (COPY (SELECT ...) TO STDOUT is the export path).';

CREATE VIEW mtmcp.tenant_audit_overflow WITH (security_barrier) AS
	SELECT o.window_start, o.dropped
	  FROM mtmcp.audit_overflow o
	 WHERE o.tenant_id = (SELECT mtmcp.current_tenant());
COMMENT ON VIEW mtmcp.tenant_audit_overflow IS
'How many of the verified tenant''s info-level rows were counted instead of written, per window.';

CREATE FUNCTION mtmcp.redact(args jsonb, paths text[] DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_redact_sql'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp.redact(jsonb, text[]) IS
'Arguments as the audit trail stores them: secret-looking keys and the given dotted paths replaced by "[REDACTED]".';

-------------------------------------------------------------------------------
-- 8. Cost ledger                                               (src/cost.c)
-------------------------------------------------------------------------------

CREATE TABLE mtmcp.meters (
	meter		text PRIMARY KEY CONSTRAINT meter_name_format CHECK (meter ~ '^[A-Za-z0-9_.:-]{1,128}$'),
	unit_price_micros bigint NOT NULL CONSTRAINT price_not_negative CHECK (unit_price_micros >= 0),
	mode		text NOT NULL DEFAULT 'per_call' CONSTRAINT meter_mode CHECK (mode IN ('per_call', 'bucketed')),
	unit		text NOT NULL DEFAULT 'unit',
	description	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mtmcp.meters IS
'What costs money: a unit price in integer micro-units, and whether charges are written per call or bucketed per transaction.';

CREATE TABLE mtmcp.cost_ledger (
	entry_id	uuid NOT NULL DEFAULT gen_random_uuid(),
	ts			timestamptz NOT NULL DEFAULT clock_timestamp(),
	tenant_id	text NOT NULL,
	meter		text NOT NULL,
	quantity	numeric NOT NULL CONSTRAINT quantity_not_negative CHECK (quantity >= 0),
	unit_price_micros bigint NOT NULL,
	amount_micros bigint NOT NULL,
	mode		text NOT NULL CONSTRAINT ledger_mode CHECK (mode IN ('per_call', 'bucketed', 'background')),
	subject		text,
	tool		text,
	event_id	uuid,
	reason		text
) PARTITION BY RANGE (ts);
CREATE TABLE mtmcp.cost_ledger_default PARTITION OF mtmcp.cost_ledger DEFAULT;
COMMENT ON TABLE mtmcp.cost_ledger IS
'Every charge, attributed to a tenant: amount = round(quantity * unit price), in micro-units.';

CREATE FUNCTION mtmcp.create_meter(meter text, unit_price_micros bigint, mode text DEFAULT 'per_call',
								   unit text DEFAULT 'unit', description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF meter IS NULL OR unit_price_micros IS NULL OR mode IS NULL THEN
		RAISE EXCEPTION 'meter, unit price and mode must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF meter !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
		RAISE EXCEPTION 'invalid meter name "%"', meter USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF unit_price_micros < 0 THEN
		RAISE EXCEPTION 'invalid unit price %', unit_price_micros
			USING ERRCODE = 'invalid_parameter_value', DETAIL = 'Prices are micro-units of at least zero.';
	END IF;
	IF mode NOT IN ('per_call', 'bucketed') THEN
		RAISE EXCEPTION 'invalid meter mode "%"', mode
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use "per_call" or "bucketed".';
	END IF;
	IF EXISTS (SELECT 1 FROM mtmcp.meters m WHERE m.meter = create_meter.meter) THEN
		RAISE EXCEPTION 'meter "%" already exists', meter
			USING ERRCODE = 'duplicate_object', HINT = 'Use mtmcp.set_meter_price() to change its price.';
	END IF;
	INSERT INTO mtmcp.meters (meter, unit_price_micros, mode, unit, description)
	VALUES (meter, unit_price_micros, mode, coalesce(unit, 'unit'), description);
END
$$;
COMMENT ON FUNCTION mtmcp.create_meter(text, bigint, text, text, text) IS
'Creates a meter: unit price in integer micro-units, mode per_call or bucketed.';

CREATE FUNCTION mtmcp.set_meter_price(meter text, unit_price_micros bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF unit_price_micros < 0 THEN
		RAISE EXCEPTION 'invalid unit price %', unit_price_micros USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE mtmcp.meters m SET unit_price_micros = set_meter_price.unit_price_micros, updated_at = now()
	 WHERE m.meter = set_meter_price.meter;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'meter "%" does not exist', meter USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION mtmcp.set_meter_price(text, bigint) IS
'Changes a meter''s price for charges from now on (ledger rows keep the price they were made at).';

CREATE FUNCTION mtmcp.charge(meter text, quantity numeric)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_charge'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.charge(text, numeric) IS
'Charges the verified tenant for quantity units of meter; billed even if the calling tool then fails.';

CREATE FUNCTION mtmcp.charge_background(tenant_id text, meter text, quantity numeric, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	price bigint;
BEGIN
	IF tenant_id IS NULL OR meter IS NULL OR quantity IS NULL THEN
		RAISE EXCEPTION 'tenant id, meter and quantity must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'a background charge needs a reason' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Say what the cost was for, e.g. "re-indexing documents".';
	END IF;
	IF quantity < 0 OR quantity = 'NaN' OR quantity = 'Infinity' THEN
		RAISE EXCEPTION 'invalid charge quantity' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM mtmcp._tenant_must_exist(tenant_id);
	SELECT m.unit_price_micros INTO price FROM mtmcp.meters m WHERE m.meter = charge_background.meter;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'meter "%" does not exist', meter USING ERRCODE = 'undefined_object';
	END IF;
	INSERT INTO mtmcp.cost_ledger (tenant_id, meter, quantity, unit_price_micros, amount_micros, mode, reason)
	VALUES (tenant_id, meter, quantity, price, round(quantity * price)::bigint, 'background', reason);
END
$$;
COMMENT ON FUNCTION mtmcp.charge_background(text, text, numeric, text) IS
'Charges a tenant for a cost no call triggered (re-indexing, ingestion): attributed to the tenant whose data it is.';

CREATE VIEW mtmcp.tenant_costs WITH (security_barrier) AS
	SELECT c.entry_id, c.ts, c.meter, c.quantity, c.unit_price_micros, c.amount_micros, c.mode,
		   c.subject, c.tool, c.event_id, c.reason
	  FROM mtmcp.cost_ledger c
	 WHERE c.tenant_id = (SELECT mtmcp.current_tenant());
COMMENT ON VIEW mtmcp.tenant_costs IS 'The verified tenant''s own cost ledger.';

CREATE VIEW mtmcp.cost_by_tenant_day AS
	SELECT c.tenant_id, (c.ts AT TIME ZONE 'UTC')::date AS day, c.meter,
		   sum(c.quantity) AS quantity, sum(c.amount_micros) AS amount_micros, count(*) AS entries
	  FROM mtmcp.cost_ledger c
	 GROUP BY 1, 2, 3;
COMMENT ON VIEW mtmcp.cost_by_tenant_day IS 'Admin view: cost per tenant, per UTC day, per meter.';

-------------------------------------------------------------------------------
-- 9. Partition maintenance
-------------------------------------------------------------------------------

-- The ledgers' parents carry no indexes: every partition gets its own
-- (the planner uses them the same way).  Indexes on the extension-owned
-- parents would be re-created on every partition a restore attaches, and
-- then collide with the partition indexes pg_dump also restores.
CREATE FUNCTION mtmcp._index_partition(parent text, part text)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF parent IN ('audit_log', 'cost_ledger') THEN
		EXECUTE pg_catalog.format('CREATE INDEX IF NOT EXISTS %I ON mtmcp.%I (tenant_id, ts)', part || '_tenant_ts', part);
		EXECUTE pg_catalog.format('CREATE INDEX IF NOT EXISTS %I ON mtmcp.%I (event_id)', part || '_event', part);
	ELSIF parent = 'auth_failures' THEN
		EXECUTE pg_catalog.format('CREATE INDEX IF NOT EXISTS %I ON mtmcp.%I (ts)', part || '_ts', part);
	ELSE
		RAISE EXCEPTION 'unknown ledger "%"', parent USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;
COMMENT ON FUNCTION mtmcp._index_partition(text, text) IS
'Creates the indexes of one ledger partition: (tenant_id, ts) and (event_id), or (ts) for refusals.';

SELECT mtmcp._index_partition(p, p || '_default') FROM unnest(ARRAY['audit_log', 'auth_failures', 'cost_ledger']) p;

CREATE FUNCTION mtmcp._ensure_day_partition(parent text, day date)
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	part text := pg_catalog.format('%s_p%s', parent, to_char(day, 'YYYYMMDD'));
	lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
	hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
	IF to_regclass(pg_catalog.format('mtmcp.%I', part)) IS NOT NULL THEN
		RETURN false;
	END IF;
	-- Rows already in the default partition for that day move with it, so
	-- the attach finds the default partition consistent.
	EXECUTE pg_catalog.format('CREATE TABLE mtmcp.%I (LIKE mtmcp.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
							  part, parent);
	EXECUTE pg_catalog.format('WITH moved AS (DELETE FROM mtmcp.%I WHERE ts >= %L AND ts < %L RETURNING *) '
							  'INSERT INTO mtmcp.%I SELECT * FROM moved', parent || '_default', lo, hi, part);
	EXECUTE pg_catalog.format('ALTER TABLE mtmcp.%I ATTACH PARTITION mtmcp.%I FOR VALUES FROM (%L) TO (%L)',
							  parent, part, lo, hi);
	PERFORM mtmcp._index_partition(parent, part);
	RETURN true;
END
$$;
COMMENT ON FUNCTION mtmcp._ensure_day_partition(text, date) IS
'Creates one day''s partition of an mtmcp ledger (UTC), moving that day''s rows out of the default partition.';

CREATE PROCEDURE mtmcp.maintain_partitions(days_ahead integer DEFAULT 7)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	d date;
	part record;
	cutoff timestamptz;
	today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
	IF days_ahead IS NULL OR days_ahead < 0 OR days_ahead > 366 THEN
		RAISE EXCEPTION 'days_ahead must be between 0 and 366' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR t IN SELECT * FROM (VALUES
			('audit_log', current_setting('mtmcp.audit_retention')::interval),
			('auth_failures', current_setting('mtmcp.audit_retention')::interval),
			('cost_ledger', current_setting('mtmcp.cost_retention')::interval)) AS v(parent, retention)
	LOOP
		cutoff := now() - t.retention;
		-- coming days, and any day that landed in the default partition
		FOR d IN EXECUTE pg_catalog.format(
			'SELECT g::date FROM generate_series($1::timestamp, $1::timestamp + $2 * interval ''1 day'', interval ''1 day'') g '
			'UNION SELECT DISTINCT (ts AT TIME ZONE ''UTC'')::date FROM mtmcp.%I WHERE ts >= $3',
			t.parent || '_default') USING today, days_ahead, cutoff
		LOOP
			PERFORM mtmcp._ensure_day_partition(t.parent, d);
		END LOOP;
		-- whole days past retention: every row of such a partition is older
		-- than the cutoff, so nothing inside retention is ever dropped
		FOR part IN
			SELECT c.relname, to_date(right(c.relname, 8), 'YYYYMMDD') AS day
			  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			 WHERE i.inhparent = pg_catalog.format('mtmcp.%I', t.parent)::regclass
			   AND c.relname ~ ('^' || t.parent || '_p[0-9]{8}$')
		LOOP
			IF ((part.day + 1)::timestamp AT TIME ZONE 'UTC') <= cutoff THEN
				EXECUTE pg_catalog.format('DROP TABLE mtmcp.%I', part.relname);
			END IF;
		END LOOP;
		EXECUTE pg_catalog.format('DELETE FROM mtmcp.%I WHERE ts < %L', t.parent || '_default', cutoff);
	END LOOP;
	DELETE FROM mtmcp.audit_overflow o WHERE o.window_start < now() - current_setting('mtmcp.audit_retention')::interval;
	-- sessions idle past their timeout (kept a day for triage), announced updates older than an hour
	DELETE FROM mtmcp.sessions s
	 WHERE coalesce(s.ended_at, s.last_seen_at + make_interval(secs => current_setting('mtmcp.session_idle_timeout')::integer))
		   < now() - interval '1 day';
	DELETE FROM mtmcp.resource_events e WHERE e.created_at < now() - interval '1 hour';
	DELETE FROM mtmcp.auth_failure_overflow o WHERE o.window_start < now() - current_setting('mtmcp.audit_retention')::interval;
END
$$;
COMMENT ON PROCEDURE mtmcp.maintain_partitions(integer) IS
'Creates the coming days'' partitions of the audit and cost ledgers and drops whole days past retention (mtmcp.audit_retention, mtmcp.cost_retention). Safe to run from pg_cron.';

-------------------------------------------------------------------------------
-- 10. The HTTP shim's contract: sessions, live notifications, updates
--                                        (src/dispatch.c, src/notify.c)
-------------------------------------------------------------------------------

-- MCP sessions live here, so any shim process can serve any session.
CREATE TABLE mtmcp.sessions (
	session_id	text PRIMARY KEY,
	tenant_id	text NOT NULL REFERENCES mtmcp.tenants (tenant_id) ON DELETE CASCADE,
	subject		text NOT NULL,
	protocol_version text NOT NULL,
	client_info	jsonb,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	ended_at	timestamptz
);
CREATE INDEX sessions_tenant_idx ON mtmcp.sessions (tenant_id, subject);
COMMENT ON TABLE mtmcp.sessions IS
'MCP sessions, each bound to the tenant and subject that initialized it; idle ones expire (mtmcp.session_idle_timeout).';

CREATE TABLE mtmcp.resource_events (
	event_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	text NOT NULL REFERENCES mtmcp.tenants (tenant_id) ON DELETE CASCADE,
	uri			text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resource_events_tenant_idx ON mtmcp.resource_events (tenant_id, created_at);
COMMENT ON TABLE mtmcp.resource_events IS
'Resource updates announced by mtmcp.resource_updated(); the shim learns of each by NOTIFY and reads who to tell here.';

CREATE FUNCTION mtmcp.mcp_http(token text, request jsonb, session_id text, notify_key text DEFAULT NULL,
							   OUT http_status integer, OUT session_id text, OUT response jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'mtmcp_mcp_http'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = notice;	-- live notifications are NOTICEs, whatever the session says
COMMENT ON FUNCTION mtmcp.mcp_http(text, jsonb, text, text) IS
'The HTTP shim''s door: one message, its HTTP status, the (new) session id and the response; progress and log notifications arrive meanwhile as NOTICEs carrying notify_key.';

CREATE FUNCTION mtmcp.mcp_http_end(token text, session_id text)
RETURNS integer
AS 'MODULE_PATHNAME', 'mtmcp_mcp_http_end'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.mcp_http_end(text, text) IS 'Ends the caller''s own session (HTTP DELETE): 204, or 400/401/403/404.';

CREATE FUNCTION mtmcp.mcp_http_check(token text, session_id text)
RETURNS integer
AS 'MODULE_PATHNAME', 'mtmcp_mcp_http_check'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.mcp_http_check(text, text) IS
'May this caller open a notification stream on this session (HTTP GET)?  200, or 400/401/403/404.';

CREATE FUNCTION mtmcp.mcp_http_resource_event(event_id bigint, OUT session_id text, OUT message text)
RETURNS SETOF record
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT s.session_id,
		   json_build_object('jsonrpc', '2.0', 'method', 'notifications/resources/updated',
							 'params', json_build_object('uri', e.uri))::text
	  FROM mtmcp.resource_events e
	  JOIN mtmcp.resource_subscriptions r ON r.tenant_id = e.tenant_id AND r.uri = e.uri
	  JOIN mtmcp.sessions s ON s.session_id = r.session_id AND s.tenant_id = r.tenant_id
						   AND s.subject = r.subject AND s.ended_at IS NULL
	 WHERE e.event_id = mcp_http_resource_event.event_id;
END;
COMMENT ON FUNCTION mtmcp.mcp_http_resource_event(bigint) IS
'The sessions of the updating tenant subscribed to an updated resource, with the notification to send each.';

CREATE FUNCTION mtmcp.notify_progress(progress numeric, total numeric DEFAULT NULL, message text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_notify_progress'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.notify_progress(numeric, numeric, text) IS
'From a handler: notifications/progress for the current request, delivered live (no-op when the caller asked for none).';

CREATE FUNCTION mtmcp.log(level text, data jsonb, logger text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_log'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mtmcp.log(text, jsonb, text) IS
'From a handler: notifications/message to the caller, delivered live, at or above the session''s logging/setLevel.';

CREATE FUNCTION mtmcp.resource_updated(uri text)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_resource_updated'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.resource_updated(text) IS
'Announces (at commit) that a resource of the verified tenant changed; its subscribed sessions get notifications/resources/updated.';

-------------------------------------------------------------------------------
-- 11. Tenant lifecycle: soft delete, restore, hard delete with proof, export
-------------------------------------------------------------------------------

-- The tables that hold a tenant's configuration and transient state (its
-- data is in the registered tenant tables).  Audit and cost rows are
-- retained by their own retention settings, not by the tenant's.
CREATE FUNCTION mtmcp._tenant_state_tables()
RETURNS TABLE (tbl regclass, tenant_column name)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT t.tbl::regclass, 'tenant_id'::name FROM (VALUES
		('mtmcp.tenant_features'), ('mtmcp.tenant_tools'), ('mtmcp.tenant_terms'), ('mtmcp.tenant_prompts'),
		('mtmcp.tenant_issuers'), ('mtmcp.sessions'), ('mtmcp.resource_subscriptions'), ('mtmcp.log_levels'),
		('mtmcp.resource_events')) AS t(tbl);
END;
COMMENT ON FUNCTION mtmcp._tenant_state_tables() IS
'mtmcp''s own tables that hold a tenant''s configuration and state; hard delete clears them.';

CREATE TABLE mtmcp.deletion_certificates (
	tenant_id	text PRIMARY KEY,
	soft_deleted_at timestamptz NOT NULL,
	purged_at	timestamptz NOT NULL DEFAULT now(),
	purged_by	name NOT NULL DEFAULT session_user,
	rows_deleted jsonb NOT NULL,
	residual	jsonb NOT NULL,
	retained	jsonb NOT NULL,
	digest		text NOT NULL
);
COMMENT ON TABLE mtmcp.deletion_certificates IS
'Proof of each hard delete: rows deleted per table, residual rows found afterwards (all zero), audit and cost rows retained, and a SHA-256 digest of it all.';

CREATE FUNCTION mtmcp.verify_tenant_purged(tenant_id text)
RETURNS TABLE (table_name regclass, residual_rows bigint)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
BEGIN
	FOR t IN SELECT tt.tbl, tt.tenant_column FROM mtmcp.tenant_tables tt
			 UNION ALL SELECT s.tbl, s.tenant_column FROM mtmcp._tenant_state_tables() s
			 ORDER BY 1
	LOOP
		table_name := t.tbl;
		EXECUTE pg_catalog.format('SELECT count(*) FROM %s WHERE %I = $1', t.tbl, t.tenant_column)
			INTO residual_rows USING tenant_id;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION mtmcp.verify_tenant_purged(text) IS
'Rows of the tenant left in every registered tenant table and in mtmcp''s own tenant tables (all zero after a hard delete).';

CREATE PROCEDURE mtmcp.soft_delete_tenant(tenant_id text, retention interval DEFAULT '30 days')
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st text := mtmcp._tenant_must_exist(tenant_id);
BEGIN
	IF st IN ('deleted', 'purged') THEN
		RAISE EXCEPTION 'tenant "%" is already %', tenant_id, st USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF retention IS NULL OR retention < '0 seconds' OR retention > '10 years' THEN
		RAISE EXCEPTION 'invalid retention "%"', retention
			USING ERRCODE = 'invalid_parameter_value', DETAIL = 'The retention window is between 0 and 10 years.';
	END IF;
	UPDATE mtmcp.tenants t
	   SET status = 'deleted', status_before_delete = st, status_changed_at = now(),
		   deleted_at = now(), purge_after = now() + retention
	 WHERE t.tenant_id = soft_delete_tenant.tenant_id;
	-- nothing the tenant had open survives: its sessions end now
	UPDATE mtmcp.sessions s SET ended_at = now() WHERE s.tenant_id = soft_delete_tenant.tenant_id AND s.ended_at IS NULL;
	DELETE FROM mtmcp.resource_subscriptions r WHERE r.tenant_id = soft_delete_tenant.tenant_id;
END
$$;
COMMENT ON PROCEDURE mtmcp.soft_delete_tenant(text, interval) IS
'Deletes a tenant softly: refused at the auth boundary from now on, sessions ended, data kept until the retention window ends (mtmcp.restore_tenant undoes it).';

CREATE PROCEDURE mtmcp.restore_tenant(tenant_id text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st text := mtmcp._tenant_must_exist(tenant_id);
BEGIN
	IF st = 'purged' THEN
		RAISE EXCEPTION 'tenant "%" was purged; nothing is left to restore', tenant_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	ELSIF st <> 'deleted' THEN
		RAISE EXCEPTION 'tenant "%" is not deleted', tenant_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE mtmcp.tenants t
	   SET status = coalesce(t.status_before_delete, 'active'), status_before_delete = NULL,
		   status_changed_at = now(), deleted_at = NULL, purge_after = NULL
	 WHERE t.tenant_id = restore_tenant.tenant_id;
END
$$;
COMMENT ON PROCEDURE mtmcp.restore_tenant(text) IS 'Undoes a soft delete within the retention window.';

CREATE PROCEDURE mtmcp.hard_delete_tenant(tenant_id text, force boolean DEFAULT false)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tn record;
	st text := mtmcp._tenant_must_exist(tenant_id);
	deleted_at timestamptz;
	purge_after timestamptz;
	n bigint;
	deleted jsonb := '{}';
	residual jsonb;
	retained jsonb;
	digest text;
BEGIN
	IF st <> 'deleted' THEN
		RAISE EXCEPTION 'tenant "%" is %, not soft-deleted', tenant_id, st
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Soft-delete it first with CALL mtmcp.soft_delete_tenant(...).';
	END IF;
	SELECT t.deleted_at, t.purge_after INTO deleted_at, purge_after FROM mtmcp.tenants t
	 WHERE t.tenant_id = hard_delete_tenant.tenant_id;
	IF purge_after > now() AND NOT coalesce(force, false) THEN
		RAISE EXCEPTION 'the retention window of tenant "%" has not ended', tenant_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('It ends at %s.', purge_after),
				  HINT = 'Wait until then, or pass force => true.';
	END IF;
	-- the tenant's data, in every registered table (partitions through their parent)
	FOR tn IN SELECT tt.tbl, tt.tenant_column FROM mtmcp.tenant_tables tt
			  UNION ALL SELECT s.tbl, s.tenant_column FROM mtmcp._tenant_state_tables() s
	LOOP
		EXECUTE pg_catalog.format('DELETE FROM %s WHERE %I = $1', tn.tbl, tn.tenant_column) USING tenant_id;
		GET DIAGNOSTICS n = ROW_COUNT;
		deleted := deleted || jsonb_build_object(tn.tbl::text, n);
	END LOOP;
	-- a tombstone keeps the id from ever naming a new customer
	UPDATE mtmcp.tenants t
	   SET status = 'purged', display_name = NULL, settings = '{}', status_reason = NULL, status_changed_at = now()
	 WHERE t.tenant_id = hard_delete_tenant.tenant_id;
	SELECT jsonb_object_agg(v.table_name::text, v.residual_rows) INTO residual FROM mtmcp.verify_tenant_purged(tenant_id) v;
	IF EXISTS (SELECT 1 FROM jsonb_each_text(residual) e WHERE e.value::bigint <> 0) THEN
		RAISE EXCEPTION 'tenant "%" still has rows after the hard delete', tenant_id
			USING ERRCODE = 'internal_error', DETAIL = residual::text;
	END IF;
	SELECT jsonb_build_object(
		'mtmcp.audit_log', (SELECT count(*) FROM mtmcp.audit_log a WHERE a.tenant_id = hard_delete_tenant.tenant_id),
		'mtmcp.cost_ledger', (SELECT count(*) FROM mtmcp.cost_ledger c WHERE c.tenant_id = hard_delete_tenant.tenant_id)) INTO retained;
	digest := encode(sha256(convert_to(jsonb_build_object('tenant_id', tenant_id, 'soft_deleted_at', deleted_at,
		'rows_deleted', deleted, 'residual', residual, 'retained', retained)::text, 'UTF8')), 'hex');
	INSERT INTO mtmcp.deletion_certificates (tenant_id, soft_deleted_at, rows_deleted, residual, retained, digest)
	VALUES (tenant_id, deleted_at, deleted, residual, retained, digest);
END
$$;
COMMENT ON PROCEDURE mtmcp.hard_delete_tenant(text, boolean) IS
'Purges a soft-deleted tenant after its retention window: its rows in every registered table and its configuration; verifies nothing is left and records a deletion certificate. Audit and cost rows follow their own retention.';

CREATE FUNCTION mtmcp.export_tenant_rows(tenant_id text)
RETURNS TABLE (section text, table_name text, data jsonb)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tn record;
BEGIN
	PERFORM 1 FROM mtmcp.tenants t WHERE t.tenant_id = export_tenant_rows.tenant_id AND t.status <> 'purged';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'tenant "%" does not exist', tenant_id USING ERRCODE = 'undefined_object';
	END IF;
	RETURN QUERY SELECT 'tenant', 'mtmcp.tenants',
		to_jsonb(t) - 'status_before_delete' FROM mtmcp.tenants t WHERE t.tenant_id = export_tenant_rows.tenant_id;
	FOR tn IN SELECT s.tbl, s.tenant_column FROM mtmcp._tenant_state_tables() s
			  WHERE s.tbl NOT IN ('mtmcp.sessions'::regclass, 'mtmcp.resource_events'::regclass)
	LOOP
		RETURN QUERY EXECUTE pg_catalog.format('SELECT %L, %L, to_jsonb(x) FROM %s x WHERE %I = $1',
			'configuration', tn.tbl::text, tn.tbl, tn.tenant_column) USING tenant_id;
	END LOOP;
	FOR tn IN SELECT tt.tbl, tt.tenant_column FROM mtmcp.tenant_tables tt ORDER BY tt.tbl::text
	LOOP
		RETURN QUERY EXECUTE pg_catalog.format('SELECT %L, %L, to_jsonb(x) FROM %s x WHERE %I = $1',
			'data', tn.tbl::text, tn.tbl, tn.tenant_column) USING tenant_id;
	END LOOP;
	RETURN QUERY SELECT 'audit', 'mtmcp.audit_log', to_jsonb(a) - 'tenant_id'
		FROM mtmcp.audit_log a WHERE a.tenant_id = export_tenant_rows.tenant_id ORDER BY a.ts;
	RETURN QUERY SELECT 'costs', 'mtmcp.cost_ledger', to_jsonb(c) - 'tenant_id'
		FROM mtmcp.cost_ledger c WHERE c.tenant_id = export_tenant_rows.tenant_id ORDER BY c.ts;
END
$$;
COMMENT ON FUNCTION mtmcp.export_tenant_rows(text) IS
'Everything a tenant owns, one row per record (tenant, configuration, data of every registered table, audit, costs): COPY (SELECT ...) TO STDOUT for large tenants.';

CREATE FUNCTION mtmcp.export_tenant(tenant_id text)
RETURNS jsonb
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT jsonb_build_object('format', 'mtmcp-export/1', 'tenant_id', tenant_id, 'exported_at', now(),
		'sections', coalesce(jsonb_object_agg(s.section, s.tables), '{}'))
	  FROM (SELECT r.section, jsonb_object_agg(r.table_name, r.rows) AS tables
			  FROM (SELECT e.section, e.table_name, jsonb_agg(e.data) AS rows
					  FROM mtmcp.export_tenant_rows(tenant_id) e GROUP BY 1, 2) r
			 GROUP BY 1) s;
END;
COMMENT ON FUNCTION mtmcp.export_tenant(text) IS
'Everything a tenant owns as one JSON archive: tenant, configuration, data of every registered table, audit trail and costs.';

-------------------------------------------------------------------------------
-- 12. The blast-radius drill (checklist item 9)
-------------------------------------------------------------------------------

CREATE FUNCTION mtmcp._hs256_token(claims jsonb, secret bytea)
RETURNS text
AS 'MODULE_PATHNAME', 'mtmcp_hs256_token'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp._hs256_token(jsonb, bytea) IS
'An HS256 token for the drill''s throwaway issuers (administrators only).';

-- What the audit trail shows for the drill step recorded under label.
CREATE FUNCTION mtmcp._drill_evidence(label text, OUT logged text, OUT alerted text)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE WHEN count(*) = 0 THEN 'no' ELSE 'yes (' || string_agg(DISTINCT k, ', ') || ')' END,
		   CASE WHEN bool_or(sec) THEN 'yes' ELSE 'no' END
	  FROM (SELECT a.result_kind AS k, a.severity = 'security' AS sec FROM mtmcp.audit_log a WHERE a.session_id = label
			UNION ALL
			SELECT 'auth_failed:' || f.reason, true FROM mtmcp.auth_failures f WHERE f.session_id = label) e;
END;

CREATE FUNCTION mtmcp._drill_verdict(a text, s text, sc text, rl text)
RETURNS text
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT CASE n WHEN 0 THEN 'HAZARD' WHEN 1 THEN 'refused' ELSE 'defense in depth' END
	  FROM (SELECT (a LIKE 'yes%')::int + (s LIKE 'yes%')::int + (sc LIKE 'yes%')::int + (rl LIKE 'yes%')::int AS n) x;
END;

CREATE FUNCTION mtmcp.blast_radius_drill(tenant_id text)
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
'Attacks the other tenant with the most data from this tenant, through the real code paths (tokens, tools, resources, sessions, cursors, RLS, rate limits, views), and reports per operation which layers refused, what was logged and alerted, and a verdict. Leaves nothing behind.';

-------------------------------------------------------------------------------
-- 6. Privileges and pg_dump
-------------------------------------------------------------------------------

REVOKE ALL ON ALL ROUTINES IN SCHEMA mtmcp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA mtmcp FROM PUBLIC;
GRANT USAGE ON SCHEMA mtmcp TO mtmcp_gateway, mtmcp_tool, mtmcp_admin, mtmcp_tenant;

-- Policies call these as whoever runs the query.
GRANT EXECUTE ON FUNCTION mtmcp.current_tenant(), mtmcp.current_subject() TO PUBLIC;
GRANT EXECUTE ON FUNCTION mtmcp.validate_json(jsonb, jsonb), mtmcp.check_json_schema(jsonb) TO PUBLIC;
-- The shim's only door.
GRANT EXECUTE ON FUNCTION mtmcp.mcp_dispatch(text, jsonb), mtmcp.mcp_dispatch(text, jsonb, text),
	mtmcp.mcp_http(text, jsonb, text, text), mtmcp.mcp_http_end(text, text), mtmcp.mcp_http_check(text, text),
	mtmcp.mcp_http_resource_event(bigint) TO mtmcp_gateway;
-- Handlers report progress, log, and announce updates of their tenant's resources.
GRANT EXECUTE ON FUNCTION mtmcp.notify_progress(numeric, numeric, text), mtmcp.log(text, jsonb, text),
	mtmcp.resource_updated(text) TO mtmcp_tool;
GRANT SELECT ON mtmcp.sessions, mtmcp.resource_events TO mtmcp_admin;
GRANT SELECT ON mtmcp.deletion_certificates TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.blast_radius_drill(text), mtmcp._hs256_token(jsonb, bytea),
	mtmcp._drill_evidence(text), mtmcp._drill_verdict(text, text, text, text) TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.verify_tenant_purged(text), mtmcp.export_tenant_rows(text), mtmcp.export_tenant(text),
	mtmcp._tenant_state_tables() TO mtmcp_admin;
GRANT EXECUTE ON PROCEDURE mtmcp.soft_delete_tenant(text, interval), mtmcp.restore_tenant(text),
	mtmcp.hard_delete_tenant(text, boolean) TO mtmcp_admin;
-- Tenants prove who they are before reading their views.
GRANT EXECUTE ON FUNCTION mtmcp.authenticate(text) TO mtmcp_tenant, mtmcp_admin;

-- Administration.
GRANT SELECT, INSERT, UPDATE, DELETE ON mtmcp.plans, mtmcp.tenants, mtmcp.issuers, mtmcp.signing_keys,
	mtmcp.tenant_issuers, mtmcp.tenant_tables, mtmcp.tools TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION
	mtmcp.create_plan(text, text[], jsonb), mtmcp.update_plan(text, text[], jsonb),
	mtmcp._tenant_must_exist(text),
	mtmcp.add_issuer(text, text, text, text, text, interval), mtmcp._validate_key(text, bytea),
	mtmcp.add_key(text, text, text, bytea), mtmcp._jwk_to_pem(jsonb), mtmcp.import_jwks(text, jsonb),
	mtmcp.trust_issuer(text, text), mtmcp.untrust_issuer(text, text), mtmcp._identity_cache_stats(),
	mtmcp.register_tenant_table(regclass, name), mtmcp._check_handler(regprocedure),
	mtmcp._check_reserved_properties(text, jsonb),
	mtmcp.register_tool(text, text, jsonb, regprocedure, text, text, boolean, jsonb, jsonb, text[]),
	mtmcp.set_tenant_setting(text, text, jsonb),
	mtmcp._tool_must_exist(text), mtmcp.set_tenant_feature(text, text, boolean),
	mtmcp._set_tenant_tool(text, text, text, anyelement), mtmcp.set_tool_enabled(text, text, boolean),
	mtmcp.set_tool_description(text, text, text), mtmcp.set_tool_defaults(text, text, jsonb),
	mtmcp.set_term(text, text, text)
	TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.reserved_argument_names() TO PUBLIC;
GRANT EXECUTE ON FUNCTION mtmcp._check_uri_template(text, boolean),
	mtmcp.register_resource_template(text, text, text, text, regprocedure, regprocedure, boolean, text, text, text, regprocedure),
	mtmcp.register_prompt(text, text, jsonb, regprocedure, jsonb, text, text, text, regprocedure),
	mtmcp.set_prompt_description(text, text, text) TO mtmcp_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON mtmcp.resource_templates, mtmcp.prompts, mtmcp.tenant_prompts TO mtmcp_admin;
GRANT SELECT ON mtmcp.resource_subscriptions, mtmcp.log_levels TO mtmcp_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON mtmcp.tenant_features, mtmcp.tenant_tools, mtmcp.tenant_terms TO mtmcp_admin;
GRANT EXECUTE ON PROCEDURE
	mtmcp.create_tenant(text, text, text, text[], boolean), mtmcp.activate_tenant(text),
	mtmcp.suspend_tenant(text, text), mtmcp.resume_tenant(text)
	TO mtmcp_admin;

-- Tenants read their own records; tools may charge.
GRANT SELECT ON mtmcp.tenant_audit, mtmcp.tenant_audit_overflow, mtmcp.tenant_costs TO mtmcp_tenant, mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.charge(text, numeric) TO mtmcp_tool;
GRANT SELECT ON mtmcp.audit_log, mtmcp.auth_failures, mtmcp.audit_overflow, mtmcp.auth_failure_overflow,
	mtmcp.cost_ledger, mtmcp.cost_by_tenant_day TO mtmcp_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON mtmcp.meters TO mtmcp_admin;
GRANT INSERT ON mtmcp.cost_ledger TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.create_meter(text, bigint, text, text, text), mtmcp.set_meter_price(text, bigint),
	mtmcp.charge_background(text, text, numeric, text), mtmcp.redact(jsonb, text[]),
	mtmcp._ensure_day_partition(text, date), mtmcp._index_partition(text, text) TO mtmcp_admin;
GRANT EXECUTE ON PROCEDURE mtmcp.maintain_partitions(integer) TO mtmcp_admin;

-- A DBA's pg_dump must carry every tenant, key, tool, audit row and charge.
SELECT pg_catalog.pg_extension_config_dump('mtmcp.plans', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenants', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.issuers', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.signing_keys', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_issuers', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_tables', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tools', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.meters', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_features', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_tools', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_terms', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.resource_templates', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.prompts', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_prompts', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.resource_subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.log_levels', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.resource_events', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.deletion_certificates', '');
-- identity sequences too, or the first insert after a restore collides
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('mtmcp.signing_keys', 'key_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('mtmcp.resource_events', 'event_id'), '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.audit_log_default', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.auth_failures_default', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.cost_ledger_default', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.audit_overflow', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.auth_failure_overflow', '');
