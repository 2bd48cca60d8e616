-------------------------------------------------------------------------------
-- Prerequisites and roles (src/mtmcp.c)
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
