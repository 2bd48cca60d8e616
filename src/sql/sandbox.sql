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
