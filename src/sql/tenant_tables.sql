-------------------------------------------------------------------------------
-- Tenant tables and row-level security
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
	-- What RLS cannot guard is refused here and re-checked on every call.
	FOREACH part IN ARRAY rels
	LOOP
		other := mtmcp._sandbox_table_check(part, tenant_column);
		IF other IS NOT NULL THEN
			RAISE EXCEPTION 'table % cannot be guarded by row-level security alone', part
				USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = other || '.';
		END IF;
	END LOOP;
	INSERT INTO mtmcp.tenant_tables (tbl, tenant_column) VALUES (tbl, tenant_column)
	ON CONFLICT ON CONSTRAINT tenant_tables_pkey DO UPDATE SET tenant_column = excluded.tenant_column;
END
$$;
COMMENT ON FUNCTION mtmcp.register_tenant_table(regclass, name) IS
'Confines a table to the verified tenant with a forced RLS policy and enrols it in export, deletion and purge checks.';

-- Privileges and pg_dump marks of this section
GRANT SELECT, INSERT, UPDATE, DELETE ON mtmcp.tenant_tables TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.register_tenant_table(regclass, name) TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_tables', '');
