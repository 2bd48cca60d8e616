-------------------------------------------------------------------------------
-- Per-tenant configuration of the catalog (src/catalog.c, src/cursor.c)
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

-- Privileges and pg_dump marks of this section
GRANT EXECUTE ON FUNCTION
	mtmcp._tool_must_exist(text),
	mtmcp.set_tenant_feature(text, text, boolean),
	mtmcp._set_tenant_tool(text, text, text, anyelement),
	mtmcp.set_tool_enabled(text, text, boolean),
	mtmcp.set_tool_description(text, text, text),
	mtmcp.set_tool_defaults(text, text, jsonb),
	mtmcp.set_term(text, text, text)
	TO mtmcp_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON
	mtmcp.tenant_features,
	mtmcp.tenant_tools,
	mtmcp.tenant_terms
	TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_features', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_tools', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_terms', '');
