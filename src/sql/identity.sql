-------------------------------------------------------------------------------
-- Identity: issuers, signing keys, issuer-to-tenant trust (src/identity.c, src/jwt*.c)
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
-- Backends cache which tenants trust which issuers (with the tenant's row).
CREATE TRIGGER tenant_issuers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.tenant_issuers
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

-- Privileges and pg_dump marks of this section
GRANT EXECUTE ON FUNCTION mtmcp.authenticate(text) TO mtmcp_tenant, mtmcp_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON
	mtmcp.issuers,
	mtmcp.signing_keys,
	mtmcp.tenant_issuers
	TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION
	mtmcp.add_issuer(text, text, text, text, text, interval),
	mtmcp._validate_key(text, bytea),
	mtmcp.add_key(text, text, text, bytea),
	mtmcp._jwk_to_pem(jsonb),
	mtmcp.import_jwks(text, jsonb),
	mtmcp.trust_issuer(text, text),
	mtmcp.untrust_issuer(text, text),
	mtmcp._identity_cache_stats()
	TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.issuers', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.signing_keys', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_issuers', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('mtmcp.signing_keys', 'key_id'), '');
