-------------------------------------------------------------------------------
-- Tenant lifecycle: soft delete, restore, hard delete with proof, export
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
		('mtmcp.resource_events'), ('mtmcp.injection_patterns')) AS t(tbl);
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
	total bigint := 0;
	done bigint := 0;
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
	-- the tenant's data, in every registered table (partitions through their parent);
	-- progress (mtmcp.operation_progress) in rows, from a count first
	SELECT coalesce(sum(v.residual_rows), 0) INTO total FROM mtmcp.verify_tenant_purged(tenant_id) v;
	FOR tn IN SELECT tt.tbl, tt.tenant_column FROM mtmcp.tenant_tables tt
			  UNION ALL SELECT s.tbl, s.tenant_column FROM mtmcp._tenant_state_tables() s
	LOOP
		PERFORM mtmcp._progress('hard_delete', tenant_id, 'delete', tn.tbl::text, done, total);
		EXECUTE pg_catalog.format('DELETE FROM %s WHERE %I = $1', tn.tbl, tn.tenant_column) USING tenant_id;
		GET DIAGNOSTICS n = ROW_COUNT;
		done := done + n;
		deleted := deleted || jsonb_build_object(tn.tbl::text, n);
	END LOOP;
	-- audit rows are retained, the results they kept are the tenant's data:
	-- cleared (their length and SHA-256 stay as the proof)
	UPDATE mtmcp.audit_log a SET result = NULL
	 WHERE a.tenant_id = hard_delete_tenant.tenant_id AND a.result IS NOT NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	deleted := deleted || jsonb_build_object('mtmcp.audit_log.result', n);
	PERFORM mtmcp._progress('hard_delete', tenant_id, 'verify', NULL, done, total);
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
	PERFORM mtmcp._progress(NULL, NULL, NULL);
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
	n bigint;
	done bigint := 1;
	total bigint;
BEGIN
	PERFORM 1 FROM mtmcp.tenants t WHERE t.tenant_id = export_tenant_rows.tenant_id AND t.status <> 'purged';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'tenant "%" does not exist', tenant_id USING ERRCODE = 'undefined_object';
	END IF;
	-- progress (mtmcp.operation_progress) in rows, from a count first
	SELECT 1 + coalesce(sum(v.residual_rows), 0)
		   + (SELECT count(*) FROM mtmcp.audit_log a WHERE a.tenant_id = export_tenant_rows.tenant_id)
		   + (SELECT count(*) FROM mtmcp.cost_ledger c WHERE c.tenant_id = export_tenant_rows.tenant_id)
	  INTO total FROM mtmcp.verify_tenant_purged(tenant_id) v;
	RETURN QUERY SELECT 'tenant', 'mtmcp.tenants',
		to_jsonb(t) - 'status_before_delete' FROM mtmcp.tenants t WHERE t.tenant_id = export_tenant_rows.tenant_id;
	FOR tn IN SELECT s.tbl, s.tenant_column FROM mtmcp._tenant_state_tables() s
			  WHERE s.tbl NOT IN ('mtmcp.sessions'::regclass, 'mtmcp.resource_events'::regclass)
	LOOP
		PERFORM mtmcp._progress('export', tenant_id, 'configuration', tn.tbl::text, done, total);
		RETURN QUERY EXECUTE pg_catalog.format('SELECT %L, %L, to_jsonb(x) FROM %s x WHERE %I = $1',
			'configuration', tn.tbl::text, tn.tbl, tn.tenant_column) USING tenant_id;
		GET DIAGNOSTICS n = ROW_COUNT;
		done := done + n;
	END LOOP;
	FOR tn IN SELECT tt.tbl, tt.tenant_column FROM mtmcp.tenant_tables tt ORDER BY tt.tbl::text
	LOOP
		PERFORM mtmcp._progress('export', tenant_id, 'data', tn.tbl::text, done, total);
		RETURN QUERY EXECUTE pg_catalog.format('SELECT %L, %L, to_jsonb(x) FROM %s x WHERE %I = $1',
			'data', tn.tbl::text, tn.tbl, tn.tenant_column) USING tenant_id;
		GET DIAGNOSTICS n = ROW_COUNT;
		done := done + n;
	END LOOP;
	PERFORM mtmcp._progress('export', tenant_id, 'audit', 'mtmcp.audit_log', done, total);
	RETURN QUERY SELECT 'audit', 'mtmcp.audit_log', to_jsonb(a) - 'tenant_id'
		FROM mtmcp.audit_log a WHERE a.tenant_id = export_tenant_rows.tenant_id ORDER BY a.ts;
	GET DIAGNOSTICS n = ROW_COUNT;
	done := done + n;
	PERFORM mtmcp._progress('export', tenant_id, 'costs', 'mtmcp.cost_ledger', done, total);
	RETURN QUERY SELECT 'costs', 'mtmcp.cost_ledger', to_jsonb(c) - 'tenant_id'
		FROM mtmcp.cost_ledger c WHERE c.tenant_id = export_tenant_rows.tenant_id ORDER BY c.ts;
	PERFORM mtmcp._progress(NULL, NULL, NULL);
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

-- Privileges and pg_dump marks of this section
GRANT SELECT ON mtmcp.deletion_certificates TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION
	mtmcp.verify_tenant_purged(text),
	mtmcp.export_tenant_rows(text),
	mtmcp.export_tenant(text),
	mtmcp._tenant_state_tables()
	TO mtmcp_admin;
GRANT EXECUTE ON PROCEDURE
	mtmcp.soft_delete_tenant(text, interval),
	mtmcp.restore_tenant(text),
	mtmcp.hard_delete_tenant(text, boolean)
	TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.deletion_certificates', '');
