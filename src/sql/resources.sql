-------------------------------------------------------------------------------
-- Resources and prompts (src/resources.c, src/prompts.c)
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

-- Privileges and pg_dump marks of this section
GRANT EXECUTE ON FUNCTION
	mtmcp._check_uri_template(text, boolean),
	mtmcp.register_resource_template(text, text, text, text, regprocedure, regprocedure, boolean, text, text, text, regprocedure),
	mtmcp.register_prompt(text, text, jsonb, regprocedure, jsonb, text, text, text, regprocedure),
	mtmcp.set_prompt_description(text, text, text)
	TO mtmcp_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON
	mtmcp.resource_templates,
	mtmcp.prompts,
	mtmcp.tenant_prompts
	TO mtmcp_admin;
GRANT SELECT ON mtmcp.resource_subscriptions, mtmcp.log_levels TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.resource_templates', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.prompts', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_prompts', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.resource_subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.log_levels', '');
