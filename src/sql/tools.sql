-------------------------------------------------------------------------------
-- Tools and JSON Schema validation (src/tools.c, src/jsonschema.c)
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
	updated_at	timestamptz NOT NULL DEFAULT now(),
	timeout_ms	integer CONSTRAINT timeout_ms_positive CHECK (timeout_ms > 0),
	lock_timeout_ms integer CONSTRAINT lock_timeout_ms_positive CHECK (lock_timeout_ms > 0)
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

CREATE FUNCTION mtmcp.set_tool_timeout(tool text, timeout_ms integer, lock_timeout_ms integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF timeout_ms <= 0 OR lock_timeout_ms <= 0 THEN
		RAISE EXCEPTION 'time limits must be positive (milliseconds), or null for the default'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE mtmcp.tools t
	   SET timeout_ms = set_tool_timeout.timeout_ms, lock_timeout_ms = set_tool_timeout.lock_timeout_ms,
		   updated_at = now()
	 WHERE t.name = set_tool_timeout.tool;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'tool "%" does not exist', tool USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION mtmcp.set_tool_timeout(text, integer, integer) IS
'The tool''s own time limit and lock timeout per call, in milliseconds (NULL: the tenant''s "tool_timeout_ms"/"lock_timeout_ms", else mtmcp.tool_timeout/mtmcp.lock_timeout).';

-- Privileges and pg_dump marks of this section
GRANT SELECT, INSERT, UPDATE, DELETE ON mtmcp.tools TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION
	mtmcp._check_handler(regprocedure),
	mtmcp._check_reserved_properties(text, jsonb),
	mtmcp.register_tool(text, text, jsonb, regprocedure, text, text, boolean, jsonb, jsonb, text[]),
	mtmcp.set_tool_timeout(text, integer, integer)
	TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tools', '');
