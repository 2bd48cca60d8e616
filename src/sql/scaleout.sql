-------------------------------------------------------------------------------
-- Scale-out: shards, the tenant directory, placement, import, online moves, progress (src/router.c, src/progress.c)
-------------------------------------------------------------------------------

-- A router is an mtmcp database with mtmcp.router = on; shards are ordinary
-- mtmcp databases.  Everything here works without PL/Proxy except what talks
-- to other databases (routing, moves, admin_all, config_drift, shard_tenants),
-- and that needs mtmcp.enable_router() first, which creates the PL/Proxy
-- functions in a schema of their own (mtmcp_router) outside the extension, so
-- that mtmcp itself never requires plproxy.
--
-- Citus-compatible by construction: every table that holds a tenant's rows
-- has tenant_id (the distribution column); no foreign key crosses tenants;
-- the tables without tenant_id are configuration (reference tables).

-- Progress of long operations, written to shared memory so that another
-- session sees it while the operation's transaction is still open.
CREATE FUNCTION mtmcp._progress(operation text, tenant_id text, phase text,
								table_name text DEFAULT NULL, rows_done bigint DEFAULT NULL,
								rows_total bigint DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_progress'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mtmcp._progress(text, text, text, text, bigint, bigint) IS
'Reports the progress of this backend''s operation (operation NULL: done); not transactional.';

CREATE FUNCTION mtmcp._progress_rows(OUT pid integer, OUT operation text, OUT tenant_id text, OUT phase text,
									 OUT table_name text, OUT rows_done bigint, OUT rows_total bigint,
									 OUT started_at timestamptz, OUT updated_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'mtmcp_progress_rows'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mtmcp._progress_rows() IS 'Every backend''s reported progress.';

CREATE VIEW mtmcp.operation_progress AS
	SELECT p.pid, p.operation, p.tenant_id, p.phase, p.table_name, p.rows_done, p.rows_total,
		   CASE WHEN p.rows_total > 0 THEN round(100.0 * p.rows_done / p.rows_total, 1) END AS percent,
		   p.started_at, p.updated_at
	  FROM mtmcp._progress_rows() p;
COMMENT ON VIEW mtmcp.operation_progress IS
'Moves, imports, exports and hard deletes running now, from any session: phase, table, rows done of rows total.';

-- The shards a router routes to.  shard_no is PL/Proxy's partition number.
CREATE TABLE mtmcp.shards (
	shard		text PRIMARY KEY CONSTRAINT shard_name_format CHECK (shard ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
	shard_no	integer NOT NULL UNIQUE CONSTRAINT shard_no_range CHECK (shard_no BETWEEN 0 AND 1023),
	conninfo	text NOT NULL,
	accepting	boolean NOT NULL DEFAULT true,
	created_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mtmcp.shards IS
'Shards of a router: libpq connection string (used by PL/Proxy and by a move''s subscription), and whether new tenants may be placed there.';

-- Where each tenant lives.  'moving': a move is cutting over; calls are answered retryable.
CREATE TABLE mtmcp.tenant_directory (
	tenant_id	text PRIMARY KEY
				CONSTRAINT directory_tenant_id_format CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
	shard		text NOT NULL REFERENCES mtmcp.shards (shard),
	state		text NOT NULL DEFAULT 'active' CONSTRAINT directory_state CHECK (state IN ('active', 'moving')),
	placed_at	timestamptz NOT NULL DEFAULT now(),
	moved_at	timestamptz
);
CREATE INDEX tenant_directory_shard_idx ON mtmcp.tenant_directory (shard);
-- The router's per-backend directory cache follows every change (src/router.c, src/cache.c).
CREATE TRIGGER shards_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.shards
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();
CREATE TRIGGER tenant_directory_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.tenant_directory
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();
COMMENT ON TABLE mtmcp.tenant_directory IS
'The router''s directory: the shard serving each tenant. The router keeps no tenant data.';

-- Every move, its phase and outcome (on the router).
CREATE TABLE mtmcp.tenant_moves (
	move_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	text NOT NULL,
	source		text NOT NULL,
	target		text NOT NULL,
	phase		text NOT NULL,
	started_at	timestamptz NOT NULL DEFAULT now(),
	finished_at	timestamptz,
	outcome		text CONSTRAINT move_outcome CHECK (outcome IN ('moved', 'failed')),
	error		text,
	verification jsonb,
	certificate	jsonb
);
CREATE INDEX tenant_moves_tenant_idx ON mtmcp.tenant_moves (tenant_id, started_at);
COMMENT ON TABLE mtmcp.tenant_moves IS
'Online moves (router): phase reached, outcome, why a failed one failed, per-table verification and the source''s purge certificate.';

-- Proof that a moved tenant's source copy was purged (on the source shard).
CREATE TABLE mtmcp.move_certificates (
	move_id		bigint NOT NULL,
	tenant_id	text NOT NULL,
	target		text NOT NULL,
	purged_at	timestamptz NOT NULL DEFAULT now(),
	purged_by	name NOT NULL DEFAULT session_user,
	rows_deleted jsonb NOT NULL,
	residual	jsonb NOT NULL,
	digest		text NOT NULL,
	PRIMARY KEY (tenant_id, move_id)
);
COMMENT ON TABLE mtmcp.move_certificates IS
'Proof of each moved-away tenant''s purge on this shard: rows deleted per table (audit and costs included: they moved), residual rows (all zero), SHA-256 digest.';

-- The tables that hold a tenant's rows: every registered tenant table, and
-- every table of mtmcp's own with a tenant_id column except the scale-out
-- bookkeeping.  copied: taken along by a move (resource_events are transient
-- announcements, purged only); append_only: rows are only ever inserted
-- (moved with inserts only, so they need no replica identity).
CREATE FUNCTION mtmcp._tenant_row_tables(OUT tbl regclass, OUT tenant_column name, OUT copied boolean, OUT append_only boolean)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT tt.tbl, tt.tenant_column, true, false FROM mtmcp.tenant_tables tt
	UNION ALL
	SELECT c.oid::regclass, 'tenant_id'::name, c.oid <> 'mtmcp.resource_events'::regclass,
		   c.oid IN ('mtmcp.audit_log'::regclass, 'mtmcp.cost_ledger'::regclass)
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'mtmcp' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
	   AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
					  AND NOT a.attisdropped AND a.attnum > 0)
	   AND c.oid NOT IN ('mtmcp.tenant_directory'::regclass, 'mtmcp.tenant_moves'::regclass,
						 'mtmcp.move_certificates'::regclass, 'mtmcp.deletion_certificates'::regclass)
	 ORDER BY 1;
END;
COMMENT ON FUNCTION mtmcp._tenant_row_tables() IS
'Every table holding a tenant''s rows (registered tables and mtmcp''s own), with what a move does with it.';

-- Per table: the tenant's row count and an order-independent hash of its rows.
CREATE FUNCTION mtmcp.tenant_table_hashes(tenant_id text)
RETURNS TABLE (table_name text, row_count bigint, content_hash text)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
BEGIN
	FOR t IN SELECT r.tbl, r.tenant_column FROM mtmcp._tenant_row_tables() r WHERE r.copied ORDER BY r.tbl::text
	LOOP
		table_name := t.tbl::text;
		EXECUTE pg_catalog.format(
			'SELECT count(*), md5(coalesce(string_agg(h, '''' ORDER BY h), '''')) '
			'  FROM (SELECT md5(to_jsonb(x)::text) AS h FROM %s x WHERE %I = $1) s', t.tbl, t.tenant_column)
			INTO row_count, content_hash USING tenant_id;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION mtmcp.tenant_table_hashes(text) IS
'The tenant''s row count and content hash (MD5 over the sorted row hashes) in every table a move copies: equal on source and target, or the move fails.';

-- Rows and call rates per tenant on this database (a shard).
CREATE FUNCTION mtmcp.tenant_load()
RETURNS TABLE (tenant_id text, row_count bigint, calls_last_hour bigint, calls_per_minute numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	q text := '';
BEGIN
	FOR t IN SELECT r.tbl, r.tenant_column FROM mtmcp._tenant_row_tables() r
	LOOP
		q := q || CASE WHEN q = '' THEN '' ELSE ' UNION ALL ' END
			|| pg_catalog.format('SELECT %I::text AS tid, count(*) AS n FROM %s GROUP BY 1', t.tenant_column, t.tbl);
	END LOOP;
	RETURN QUERY EXECUTE
		'SELECT t.tenant_id, coalesce(r.n, 0)::bigint, coalesce(a.h, 0)::bigint, round(coalesce(a.m, 0) / 5.0, 2)'
		'  FROM mtmcp.tenants t'
		'  LEFT JOIN (SELECT tid, sum(n) AS n FROM (' || q || ') u GROUP BY tid) r ON r.tid = t.tenant_id'
		'  LEFT JOIN (SELECT l.tenant_id, count(*) AS h, count(*) FILTER (WHERE l.ts > now() - interval ''5 minutes'') AS m'
		'               FROM mtmcp.audit_log l WHERE l.ts > now() - interval ''1 hour'' GROUP BY 1) a ON a.tenant_id = t.tenant_id'
		' WHERE t.status <> ''purged'' ORDER BY 1';
END
$$;
COMMENT ON FUNCTION mtmcp.tenant_load() IS
'Per tenant here: rows in every tenant table (mtmcp''s own included), audited calls in the last hour and per minute over the last five.';

-- Configuration that must be the same on the router and every shard, hashed per table.
-- Tenant rows (status, plan) and issuer trust are compared for the tenants listed only.
CREATE FUNCTION mtmcp.config_hashes(tenants text[] DEFAULT '{}')
RETURNS TABLE (table_name text, row_count bigint, content_hash text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
BEGIN
	-- columns that differ by construction (when, local ids) are left out
	FOR t IN SELECT * FROM (VALUES
		('mtmcp.issuers', 'true'), ('mtmcp.signing_keys', 'true'), ('mtmcp.plans', 'true'),
		('mtmcp.tools', 'true'), ('mtmcp.meters', 'true'), ('mtmcp.resource_templates', 'true'),
		('mtmcp.prompts', 'true'), ('mtmcp.cursor_secret', 'true'), ('mtmcp.request_state_secret', 'true'),
		('mtmcp.tenants', 'x.tenant_id = ANY ($1)'), ('mtmcp.tenant_issuers', 'x.tenant_id = ANY ($1)')) v(tbl, filter)
	LOOP
		table_name := t.tbl;
		EXECUTE pg_catalog.format(
			'SELECT count(*), md5(coalesce(string_agg(h, '''' ORDER BY h), '''')) FROM '
			'(SELECT md5((to_jsonb(x) - ''created_at'' - ''updated_at'' - ''key_id'' - ''status_changed_at'' - ''registered_at'')::text) AS h'
			'   FROM %s x WHERE %s) s', t.tbl, t.filter)
			INTO row_count, content_hash USING coalesce(tenants, '{}');
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION mtmcp.config_hashes(text[]) IS
'Row count and content hash per configuration table (issuers, keys, plans, tools, meters, resources, prompts, cursor and requestState secrets; tenants and their issuer trust for the tenants given): compared across shards by mtmcp.config_drift().';

-- What the router runs on a shard through PL/Proxy: a statement, or a query
-- whose rows come back as a JSON array.  Runs as the caller (no privilege added).
CREATE FUNCTION mtmcp.shard_run(sql text, query boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	res jsonb;
BEGIN
	IF query THEN
		EXECUTE 'SELECT coalesce(jsonb_agg(to_jsonb(q)), ''[]'') FROM (' || sql || ') q' INTO res;
		RETURN res;
	END IF;
	EXECUTE sql;
	RETURN 'null';
END
$$;
COMMENT ON FUNCTION mtmcp.shard_run(text, boolean) IS
'Runs one statement (or query, rows as a JSON array) here for the router''s admin_all, config_drift and move_tenant.';

-------------------------------------------------------------------------------
-- Import: the inverse of export_tenant
-------------------------------------------------------------------------------

CREATE FUNCTION mtmcp.import_tenant(archive jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tid text := archive ->> 'tenant_id';
	trow jsonb;
	sec text;
	tn text;
	rows jsonb;
	tbl regclass;
	col name;
	total bigint := 0;
	done bigint := 0;
	bad text;
	st text;
	n bigint;
BEGIN
	IF archive ->> 'format' IS DISTINCT FROM 'mtmcp-export/1' OR tid IS NULL OR jsonb_typeof(archive -> 'sections') <> 'object' THEN
		RAISE EXCEPTION 'not an mtmcp export archive' USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'Expected {"format": "mtmcp-export/1", "tenant_id": ..., "sections": {...}} as mtmcp.export_tenant() writes it.';
	END IF;
	IF EXISTS (SELECT 1 FROM mtmcp.tenants t WHERE t.tenant_id = tid) THEN
		RAISE EXCEPTION 'tenant "%" already exists here', tid USING ERRCODE = 'duplicate_object',
			HINT = 'A purged tenant''s id is never reused; import under another installation or remove the existing tenant first.';
	END IF;
	trow := archive #> '{sections,tenant,mtmcp.tenants,0}';
	IF trow IS NULL OR trow ->> 'tenant_id' IS DISTINCT FROM tid THEN
		RAISE EXCEPTION 'the archive has no tenant row for "%"', tid USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- every section and table must be one this installation knows, and every
	-- row must be the archive's tenant's: nothing is imported otherwise
	SELECT s.key INTO bad FROM jsonb_each(archive -> 'sections') s
	 WHERE s.key NOT IN ('tenant', 'configuration', 'data', 'audit', 'costs') LIMIT 1;
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'unknown archive section "%"', bad USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT c.key INTO bad FROM jsonb_each(coalesce(archive #> '{sections,data}', '{}')) c
	 WHERE NOT EXISTS (SELECT 1 FROM mtmcp.tenant_tables tt WHERE tt.tbl::text = c.key) LIMIT 1;
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'table "%" of the archive is not a registered tenant table here', bad
			USING ERRCODE = 'undefined_table', HINT = 'Create it and register it with mtmcp.register_tenant_table() first.';
	END IF;
	SELECT c.key INTO bad FROM jsonb_each(coalesce(archive #> '{sections,configuration}', '{}')) c
	 WHERE NOT EXISTS (SELECT 1 FROM mtmcp._tenant_state_tables() s WHERE s.tbl::text = c.key) LIMIT 1;
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'configuration table "%" of the archive is not one of mtmcp''s', bad USING ERRCODE = 'undefined_table';
	END IF;
	SELECT c.key || ': ' || (r ->> 'tenant_id') INTO bad
	  FROM jsonb_each(coalesce(archive #> '{sections,configuration}', '{}') || coalesce(archive #> '{sections,data}', '{}')) c,
		   jsonb_array_elements(c.value) r
	 WHERE r ->> coalesce((SELECT tt.tenant_column FROM mtmcp.tenant_tables tt WHERE tt.tbl::text = c.key), 'tenant_id') IS DISTINCT FROM tid
	 LIMIT 1;
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'the archive holds a row of another tenant (%)', bad USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM mtmcp.plans p WHERE p.plan = trow ->> 'plan') THEN
		RAISE EXCEPTION 'plan "%" does not exist here', trow ->> 'plan' USING ERRCODE = 'undefined_object';
	END IF;
	SELECT coalesce(sum(jsonb_array_length(t.value)), 0) INTO total
	  FROM jsonb_each(archive -> 'sections') s, jsonb_each(s.value) t;

	-- the tenant row first, as provisioning until everything is in
	st := trow ->> 'status';
	PERFORM mtmcp._progress('import', tid, 'tenant', 'mtmcp.tenants', 0, total);
	INSERT INTO mtmcp.tenants SELECT * FROM jsonb_populate_record(NULL::mtmcp.tenants, trow || '{"status": "provisioning"}');
	done := 1;
	FOREACH sec IN ARRAY ARRAY['configuration', 'data', 'audit', 'costs']
	LOOP
		FOR tn, rows IN SELECT t.key, t.value FROM jsonb_each(coalesce(archive -> 'sections' -> sec, '{}')) t ORDER BY t.key
		LOOP
			PERFORM mtmcp._progress('import', tid, sec, tn, done, total);
			IF sec = 'audit' AND tn = 'mtmcp.audit_log' OR sec = 'costs' AND tn = 'mtmcp.cost_ledger' THEN
				tbl := tn::regclass;	-- exported without tenant_id
				SELECT jsonb_agg(r || jsonb_build_object('tenant_id', tid)) INTO rows FROM jsonb_array_elements(rows) r;
			ELSIF sec IN ('configuration', 'data') THEN
				tbl := tn::regclass;
			ELSE
				RAISE EXCEPTION 'unknown table "%" in archive section "%"', tn, sec USING ERRCODE = 'undefined_table';
			END IF;
			EXECUTE pg_catalog.format('INSERT INTO %s OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_recordset(NULL::%s, $1)', tbl, tbl)
				USING rows;
			GET DIAGNOSTICS n = ROW_COUNT;
			done := done + n;
		END LOOP;
	END LOOP;
	UPDATE mtmcp.tenants t SET status = coalesce(st, 'active') WHERE t.tenant_id = tid;
	PERFORM mtmcp._progress(NULL, NULL, NULL);
	RETURN tid;
END
$$;
COMMENT ON FUNCTION mtmcp.import_tenant(jsonb) IS
'Loads an archive written by mtmcp.export_tenant (offline move, restore of one tenant, migration): refuses an existing tenant id, unregistered tables, unknown sections and rows of any other tenant; all or nothing.';

-------------------------------------------------------------------------------
-- Placement (router)
-------------------------------------------------------------------------------

-- Is this database a router with PL/Proxy functions?  (mtmcp.enable_router())
CREATE FUNCTION mtmcp._router_enabled()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
					WHERE n.nspname = 'mtmcp_router' AND p.proname = 'run');
END;

CREATE FUNCTION mtmcp._require_router()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT mtmcp._router_enabled() THEN
		RAISE EXCEPTION 'this database is not a router' USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'CREATE EXTENSION plproxy; SELECT mtmcp.enable_router(); then add shards with mtmcp.add_shard().';
	END IF;
END
$$;

-- Runs sql on one shard through PL/Proxy; query: rows back as a JSON array.
CREATE FUNCTION mtmcp._on_shard(shard text, sql text, query boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	no integer;
	res jsonb;
BEGIN
	PERFORM mtmcp._require_router();
	SELECT s.shard_no INTO no FROM mtmcp.shards s WHERE s.shard = _on_shard.shard;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'shard "%" does not exist', shard USING ERRCODE = 'undefined_object';
	END IF;
	EXECUTE 'SELECT mtmcp_router.run($1, $2, $3)' INTO res USING no, sql, query;
	RETURN res;
END
$$;

CREATE FUNCTION mtmcp.place_tenant(tenant text, shard text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	chosen text := shard;
BEGIN
	IF tenant IS NULL OR tenant !~ '^[a-z0-9][a-z0-9-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid tenant id "%"', tenant USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM mtmcp.tenant_directory d WHERE d.tenant_id = tenant) THEN
		RAISE EXCEPTION 'tenant "%" is already placed on shard "%"', tenant,
			(SELECT d.shard FROM mtmcp.tenant_directory d WHERE d.tenant_id = tenant)
			USING ERRCODE = 'duplicate_object', HINT = 'Move it with CALL mtmcp.move_tenant(tenant, target).';
	END IF;
	IF chosen IS NULL THEN
		-- the least loaded shard that accepts tenants: fewest rows of its
		-- tenants when the shards can be asked, else fewest tenants
		SELECT s.shard INTO chosen
		  FROM mtmcp.shards s
		  LEFT JOIN (SELECT l.shard, sum(l.row_count) AS row_count FROM mtmcp._shard_loads() l GROUP BY 1) r ON r.shard = s.shard
		  LEFT JOIN (SELECT d.shard, count(*) AS n FROM mtmcp.tenant_directory d GROUP BY 1) c ON c.shard = s.shard
		 WHERE s.accepting
		 ORDER BY coalesce(r.row_count, 0), coalesce(c.n, 0), s.shard_no
		 LIMIT 1;
		IF chosen IS NULL THEN
			RAISE EXCEPTION 'no shard accepts new tenants' USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'Add one with mtmcp.add_shard(name, conninfo).';
		END IF;
	ELSIF NOT EXISTS (SELECT 1 FROM mtmcp.shards s WHERE s.shard = chosen) THEN
		RAISE EXCEPTION 'shard "%" does not exist', chosen USING ERRCODE = 'undefined_object';
	END IF;
	INSERT INTO mtmcp.tenant_directory (tenant_id, shard) VALUES (tenant, chosen);
	RETURN chosen;
END
$$;
COMMENT ON FUNCTION mtmcp.place_tenant(text, text) IS
'Router: records which shard serves a new tenant (NULL: the least loaded shard that accepts tenants) and returns it. Then create the tenant with mtmcp.admin_tenant().';

-- Each reachable shard's tenant_load() (nothing when this is not a router or a shard is down).
-- SECURITY DEFINER: it runs one fixed query, so that mtmcp_admin sees loads and places by them.
CREATE FUNCTION mtmcp._shard_loads()
RETURNS TABLE (shard text, tenant_id text, row_count bigint, calls_last_hour bigint, calls_per_minute numeric)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record;
	res jsonb;
BEGIN
	IF NOT mtmcp._router_enabled() THEN
		RETURN;
	END IF;
	FOR s IN SELECT x.shard FROM mtmcp.shards x ORDER BY x.shard_no
	LOOP
		BEGIN
			res := mtmcp._on_shard(s.shard, 'SELECT * FROM mtmcp.tenant_load()', true);
		EXCEPTION WHEN OTHERS THEN
			CONTINUE;
		END;
		RETURN QUERY SELECT s.shard, r.tenant_id, r.row_count, r.calls_last_hour, r.calls_per_minute
			FROM jsonb_to_recordset(res) r(tenant_id text, row_count bigint, calls_last_hour bigint, calls_per_minute numeric);
	END LOOP;
END
$$;

CREATE VIEW mtmcp.shard_tenants AS
	SELECT d.shard, d.tenant_id, d.state, l.row_count, l.calls_last_hour, l.calls_per_minute, d.placed_at, d.moved_at
	  FROM mtmcp.tenant_directory d
	  LEFT JOIN mtmcp._shard_loads() l ON l.shard = d.shard AND l.tenant_id = d.tenant_id;
COMMENT ON VIEW mtmcp.shard_tenants IS
'Router: every tenant, its shard and state, with its row count and call rates as its shard reports them (NULL when the shard is unreachable).';

-------------------------------------------------------------------------------
-- The router's PL/Proxy objects, shards, admin operations everywhere, drift
-------------------------------------------------------------------------------

CREATE FUNCTION mtmcp.enable_router(remote_user text DEFAULT 'postgres')
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'plproxy') THEN
		RAISE EXCEPTION 'PL/Proxy is not installed in this database' USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'apt-get install postgresql-15-plproxy, then CREATE EXTENSION plproxy.';
	END IF;
	EXECUTE 'CREATE SCHEMA IF NOT EXISTS mtmcp_router';
	EXECUTE 'REVOKE ALL ON SCHEMA mtmcp_router FROM PUBLIC';
	-- the forwarded calls: the shard's own entry points, run on the shard's partition
	EXECUTE $f$CREATE OR REPLACE FUNCTION mtmcp_router.mcp_http(p_shard integer, p_token text, p_request jsonb,
			p_session text, p_key text, p_headers jsonb, OUT http_status integer, OUT session_id text, OUT response jsonb)
		LANGUAGE plproxy AS $p$ CLUSTER 'mtmcp_shards'; RUN ON p_shard;
			SELECT http_status, session_id, response FROM mtmcp.mcp_http(p_token, p_request, p_session, p_key, p_headers); $p$ $f$;
	EXECUTE $f$CREATE OR REPLACE FUNCTION mtmcp_router.mcp_dispatch(p_shard integer, p_token text, p_request jsonb, p_session text)
		RETURNS jsonb LANGUAGE plproxy AS $p$ CLUSTER 'mtmcp_shards'; RUN ON p_shard;
			SELECT mtmcp.mcp_dispatch(p_token, p_request, p_session); $p$ $f$;
	EXECUTE $f$CREATE OR REPLACE FUNCTION mtmcp_router.mcp_http_end(p_shard integer, p_token text, p_session text)
		RETURNS integer LANGUAGE plproxy AS $p$ CLUSTER 'mtmcp_shards'; RUN ON p_shard;
			SELECT mtmcp.mcp_http_end(p_token, p_session); $p$ $f$;
	EXECUTE $f$CREATE OR REPLACE FUNCTION mtmcp_router.mcp_http_check(p_shard integer, p_token text, p_session text)
		RETURNS integer LANGUAGE plproxy AS $p$ CLUSTER 'mtmcp_shards'; RUN ON p_shard;
			SELECT mtmcp.mcp_http_check(p_token, p_session); $p$ $f$;
	-- admin work on one shard
	EXECUTE $f$CREATE OR REPLACE FUNCTION mtmcp_router.run(p_shard integer, p_sql text, p_query boolean)
		RETURNS jsonb LANGUAGE plproxy AS $p$ CLUSTER 'mtmcp_shards'; RUN ON p_shard;
			SELECT mtmcp.shard_run(p_sql, p_query); $p$ $f$;
	EXECUTE 'REVOKE ALL ON ALL ROUTINES IN SCHEMA mtmcp_router FROM PUBLIC';
	PERFORM mtmcp._router_sync(remote_user);
	EXECUTE pg_catalog.format('ALTER DATABASE %I SET mtmcp.router = on', current_database());
END
$$;
COMMENT ON FUNCTION mtmcp.enable_router(text) IS
'Makes this database a router: PL/Proxy functions in schema mtmcp_router, the PL/Proxy cluster mtmcp_shards (SQL/MED, one partition per shard, connecting as remote_user), mtmcp.router = on for new sessions.';

-- (Re)builds the PL/Proxy cluster from mtmcp.shards: partitions p0..pN-1 (a
-- power of two; the unused ones repeat p0, which the directory never names).
CREATE FUNCTION mtmcp._router_sync(remote_user text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer := 1;
	maxno integer;
	opts text := 'connection_lifetime ''1800''';
	i integer;
	ru text := remote_user;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'plproxy') THEN
		RETURN;
	END IF;
	IF ru IS NULL THEN
		SELECT o.option_value INTO ru
		  FROM pg_user_mappings m, pg_options_to_table(m.umoptions) o
		 WHERE m.srvname = 'mtmcp_shards' AND m.usename = 'public' AND o.option_name = 'user';
	END IF;
	SELECT max(s.shard_no) INTO maxno FROM mtmcp.shards s;
	WHILE n <= coalesce(maxno, 0) LOOP
		n := n * 2;
	END LOOP;
	FOR i IN 0 .. n - 1 LOOP
		opts := opts || pg_catalog.format(', p%s %L', i, coalesce(
			(SELECT s.conninfo FROM mtmcp.shards s WHERE s.shard_no = i),
			(SELECT s.conninfo FROM mtmcp.shards s ORDER BY s.shard_no LIMIT 1), 'dbname=none'));
	END LOOP;
	EXECUTE 'DROP SERVER IF EXISTS mtmcp_shards CASCADE';
	EXECUTE 'CREATE SERVER mtmcp_shards FOREIGN DATA WRAPPER plproxy OPTIONS (' || opts || ')';
	EXECUTE pg_catalog.format('CREATE USER MAPPING FOR PUBLIC SERVER mtmcp_shards OPTIONS (user %L)', coalesce(ru, 'postgres'));
END
$$;

CREATE FUNCTION mtmcp.add_shard(shard text, conninfo text, accepting boolean DEFAULT true)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	no integer;
BEGIN
	SELECT coalesce(max(s.shard_no) + 1, 0) INTO no FROM mtmcp.shards s;
	INSERT INTO mtmcp.shards (shard, shard_no, conninfo, accepting) VALUES (shard, no, conninfo, accepting);
	PERFORM mtmcp._router_sync();
	IF mtmcp._router_enabled() THEN
		-- pagination cursors and sealed requestStates must verify wherever the tenant is served
		PERFORM mtmcp._on_shard(shard, pg_catalog.format('UPDATE mtmcp.cursor_secret SET secret = %L::bytea',
			(SELECT c.secret FROM mtmcp.cursor_secret c)));
		PERFORM mtmcp._on_shard(shard, pg_catalog.format('UPDATE mtmcp.request_state_secret SET secret = %L::bytea',
			(SELECT c.secret FROM mtmcp.request_state_secret c)));
	END IF;
	RETURN no;
END
$$;
COMMENT ON FUNCTION mtmcp.add_shard(text, text, boolean) IS
'Router: adds a shard (an mtmcp database reachable with conninfo) as the next PL/Proxy partition, and gives it the router''s cursor and requestState secrets. Apply the shared configuration to it with mtmcp.admin_all() (or check it with mtmcp.config_drift()).';

CREATE FUNCTION mtmcp.admin_all(sql text)
RETURNS TABLE (shard text, ok boolean, error text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record;
BEGIN
	PERFORM mtmcp._require_router();
	-- here first: a statement that fails on the router is not sent anywhere
	EXECUTE sql;
	shard := '(router)'; ok := true; error := NULL;
	RETURN NEXT;
	FOR s IN SELECT x.shard FROM mtmcp.shards x ORDER BY x.shard_no
	LOOP
		shard := s.shard;
		BEGIN
			PERFORM mtmcp._on_shard(s.shard, sql);
			ok := true; error := NULL;
		EXCEPTION WHEN OTHERS THEN
			ok := false; error := SQLERRM;
		END;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION mtmcp.admin_all(text) IS
'Router: runs an admin statement (issuers, keys, plans, tools, meters, ...) here and then on every shard; one row per database with the outcome. There is no two-phase commit: mtmcp.config_drift() shows what did not apply.';

CREATE FUNCTION mtmcp.admin_tenant(tenant text, sql text)
RETURNS TABLE (shard text, ok boolean, error text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	sh text;
BEGIN
	PERFORM mtmcp._require_router();
	SELECT d.shard INTO sh FROM mtmcp.tenant_directory d WHERE d.tenant_id = tenant;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'tenant "%" is not placed', tenant USING ERRCODE = 'undefined_object',
			HINT = 'SELECT mtmcp.place_tenant(tenant) first.';
	END IF;
	EXECUTE sql;
	shard := '(router)'; ok := true; error := NULL;
	RETURN NEXT;
	shard := sh;
	BEGIN
		PERFORM mtmcp._on_shard(sh, sql);
		ok := true; error := NULL;
	EXCEPTION WHEN OTHERS THEN
		ok := false; error := SQLERRM;
	END;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION mtmcp.admin_tenant(text, text) IS
'Router: runs a tenant lifecycle statement (create_tenant, suspend_tenant, trust_issuer, ...) here (the router verifies tokens with it) and on the tenant''s shard.';

CREATE FUNCTION mtmcp.config_drift()
RETURNS TABLE (shard text, table_name text, router_rows bigint, shard_rows bigint, router_hash text, shard_hash text, drift boolean)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record;
	res jsonb;
	tenants text[];
BEGIN
	PERFORM mtmcp._require_router();
	FOR s IN SELECT x.shard FROM mtmcp.shards x ORDER BY x.shard_no
	LOOP
		SELECT coalesce(array_agg(d.tenant_id ORDER BY d.tenant_id), '{}') INTO tenants
		  FROM mtmcp.tenant_directory d WHERE d.shard = s.shard;
		BEGIN
			res := mtmcp._on_shard(s.shard, pg_catalog.format('SELECT * FROM mtmcp.config_hashes(%L)', tenants), true);
		EXCEPTION WHEN OTHERS THEN
			shard := s.shard; table_name := '(unreachable: ' || SQLERRM || ')';
			router_rows := NULL; shard_rows := NULL; router_hash := NULL; shard_hash := NULL; drift := true;
			RETURN NEXT;
			CONTINUE;
		END;
		RETURN QUERY
			SELECT s.shard, h.table_name, h.row_count, r.row_count, h.content_hash, r.content_hash,
				   h.content_hash IS DISTINCT FROM r.content_hash
			  FROM mtmcp.config_hashes(tenants) h
			  FULL JOIN jsonb_to_recordset(res) r(table_name text, row_count bigint, content_hash text) USING (table_name);
	END LOOP;
END
$$;
COMMENT ON FUNCTION mtmcp.config_drift() IS
'Router: per shard and configuration table, the router''s and the shard''s row count and content hash; drift is true where they differ (or the shard is unreachable).';

-------------------------------------------------------------------------------
-- Online move: the shard-side steps (called by the router's move_tenant)
-------------------------------------------------------------------------------

-- Source: publications with row filters on the tenant.  Tables whose replica
-- identity does not cover the tenant column get REPLICA IDENTITY FULL for the
-- move's duration (a row filter on updates needs it); append-only tables are
-- published for inserts only.  Returns the identities to restore.
CREATE FUNCTION mtmcp._move_source_prepare(tenant text, name text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	rel regclass;
	changed jsonb := '{}';
	full_list text := '';
	ins_list text := '';
BEGIN
	FOR t IN SELECT r.tbl, r.tenant_column, r.append_only FROM mtmcp._tenant_row_tables() r WHERE r.copied
	LOOP
		IF t.append_only THEN
			ins_list := ins_list || CASE WHEN ins_list = '' THEN '' ELSE ', ' END
				|| pg_catalog.format('TABLE %s WHERE (%I = %L)', t.tbl, t.tenant_column, tenant);
			CONTINUE;
		END IF;
		full_list := full_list || CASE WHEN full_list = '' THEN '' ELSE ', ' END
			|| pg_catalog.format('TABLE %s WHERE (%I = %L)', t.tbl, t.tenant_column, tenant);
		-- the table itself, or each leaf partition (pg_partition_tree is empty for a plain table)
		FOR rel IN SELECT t.tbl WHERE (SELECT c.relkind FROM pg_class c WHERE c.oid = t.tbl) = 'r'
				   UNION ALL SELECT p.relid FROM pg_partition_tree(t.tbl) p WHERE p.isleaf
		LOOP
			IF NOT EXISTS (
				SELECT 1 FROM pg_class c
				  JOIN pg_index i ON i.indrelid = c.oid
				   AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))
				  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = t.tenant_column AND a.attnum = ANY (i.indkey)
				 WHERE c.oid = rel)
			   AND (SELECT c.relreplident FROM pg_class c WHERE c.oid = rel) <> 'f' THEN
				changed := changed || jsonb_build_object(rel::text, (SELECT c.relreplident FROM pg_class c WHERE c.oid = rel));
				EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY FULL', rel);
			END IF;
		END LOOP;
	END LOOP;
	EXECUTE pg_catalog.format('CREATE PUBLICATION %I FOR %s WITH (publish = ''insert, update, delete'', publish_via_partition_root = true)',
		name || '_rows', full_list);
	EXECUTE pg_catalog.format('CREATE PUBLICATION %I FOR %s WITH (publish = ''insert'', publish_via_partition_root = true)',
		name || '_log', ins_list);
	RETURN changed;
END
$$;

-- Source: the slot (its own transaction, which must not have written).
CREATE FUNCTION mtmcp._move_source_slot(name text)
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT (pg_create_logical_replication_slot(name, 'pgoutput')).lsn::text;
END;

-- Source: the WAL position now and how far the move's slot has been confirmed.
CREATE FUNCTION mtmcp._move_source_lsn(name text, OUT current_lsn pg_lsn, OUT confirmed_lsn pg_lsn)
RETURNS record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_current_wal_lsn(), (SELECT s.confirmed_flush_lsn FROM pg_replication_slots s WHERE s.slot_name = name);
END;

-- Source: drop the move's publications and slot, restore replica identities.
CREATE FUNCTION mtmcp._move_source_cleanup(name text, identities jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e record;
	i integer;
BEGIN
	EXECUTE pg_catalog.format('DROP PUBLICATION IF EXISTS %I, %I', name || '_rows', name || '_log');
	-- the subscriber lets go of the slot when its subscription is dropped
	FOR i IN 1 .. 100 LOOP
		EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.slot_name = name AND s.active);
		PERFORM pg_sleep(0.1);
	END LOOP;
	PERFORM pg_drop_replication_slot(s.slot_name) FROM pg_replication_slots s WHERE s.slot_name = name;
	-- another move still publishing keeps the identities it needs
	IF NOT EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname LIKE 'mtmcp_move_%') THEN
		FOR e IN SELECT * FROM jsonb_each_text(coalesce(identities, '{}'))
		LOOP
			EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY %s', e.key,
				CASE e.value WHEN 'n' THEN 'NOTHING' WHEN 'f' THEN 'FULL' ELSE 'DEFAULT' END);
		END LOOP;
	END IF;
END
$$;

-- Target: nothing of the tenant may be here yet.
CREATE FUNCTION mtmcp._tenant_rows_here(tenant text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	n bigint;
	total bigint := 0;
BEGIN
	FOR t IN SELECT r.tbl, r.tenant_column FROM mtmcp._tenant_row_tables() r
	LOOP
		EXECUTE pg_catalog.format('SELECT count(*) FROM %s WHERE %I = $1', t.tbl, t.tenant_column) INTO n USING tenant;
		total := total + n;
	END LOOP;
	RETURN total;
END
$$;

-- Target: subscribe to the source's publications over the move's slot, copying existing rows.
CREATE FUNCTION mtmcp._move_target_subscribe(name text, source_conninfo text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	EXECUTE pg_catalog.format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I, %I '
		'WITH (create_slot = false, slot_name = %L, copy_data = true, enabled = true)',
		name, source_conninfo, name || '_rows', name || '_log', name);
END
$$;

-- Target: tables not yet synchronized ('r' ready) by the move's subscription.
CREATE FUNCTION mtmcp._move_target_pending(name text)
RETURNS TABLE (table_name text, state text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT r.srrelid::regclass::text, r.srsubstate::text
	  FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
	 WHERE s.subname = name AND r.srsubstate <> 'r';
END;

-- Target: drop the subscription without touching the source's slot (the
-- source drops it), so that this works inside a transaction.
CREATE FUNCTION mtmcp._move_target_drop(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_subscription s WHERE s.subname = name AND s.subdbid =
			   (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())) THEN
		EXECUTE pg_catalog.format('ALTER SUBSCRIPTION %I DISABLE', name);
		EXECUTE pg_catalog.format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', name);
		EXECUTE pg_catalog.format('DROP SUBSCRIPTION %I', name);
	END IF;
END
$$;

-- Delete every row of the tenant here (registered tables, mtmcp's own, the
-- tenant row), verify none is left, and return what was deleted.
CREATE FUNCTION mtmcp._purge_tenant_rows(tenant text, operation text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	n bigint;
	deleted jsonb := '{}';
	total bigint := 0;
	done bigint := 0;
BEGIN
	SELECT coalesce(sum(h.row_count), 0) INTO total FROM mtmcp.tenant_table_hashes(tenant) h;
	-- dependents first, the tenant row last
	FOR t IN SELECT r.tbl, r.tenant_column FROM mtmcp._tenant_row_tables() r
			 ORDER BY r.tbl = 'mtmcp.tenants'::regclass, r.tbl::text
	LOOP
		PERFORM mtmcp._progress(operation, tenant, 'purge', t.tbl::text, done, total);
		EXECUTE pg_catalog.format('DELETE FROM %s WHERE %I = $1', t.tbl, t.tenant_column) USING tenant;
		GET DIAGNOSTICS n = ROW_COUNT;
		done := done + n;
		deleted := deleted || jsonb_build_object(t.tbl::text, n);
	END LOOP;
	IF mtmcp._tenant_rows_here(tenant) <> 0 THEN
		RAISE EXCEPTION 'tenant "%" still has rows after the purge', tenant USING ERRCODE = 'internal_error';
	END IF;
	RETURN deleted;
END
$$;

-- Source, after the flip: purge the moved tenant and certify it.
CREATE FUNCTION mtmcp._move_purge_source(tenant text, move_id bigint, target text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	deleted jsonb;
	residual jsonb;
	cert jsonb;
	digest text;
BEGIN
	deleted := mtmcp._purge_tenant_rows(tenant, 'move');
	SELECT jsonb_object_agg(r.tbl::text, 0) INTO residual FROM mtmcp._tenant_row_tables() r;
	cert := jsonb_build_object('move_id', move_id, 'tenant_id', tenant, 'target', target,
							   'rows_deleted', deleted, 'residual', residual);
	digest := encode(sha256(convert_to(cert::text, 'UTF8')), 'hex');
	INSERT INTO mtmcp.move_certificates (move_id, tenant_id, target, rows_deleted, residual, digest)
	VALUES (move_id, tenant, target, deleted, residual, digest);
	RETURN cert || jsonb_build_object('digest', digest);
END
$$;

-------------------------------------------------------------------------------
-- Online move: the router's procedure
-------------------------------------------------------------------------------

-- One phase of a move (the procedure commits between phases).
CREATE FUNCTION mtmcp._move_phase(move_id bigint, phase text, timeout interval)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m mtmcp.tenant_moves;
	name text := 'mtmcp_move_' || move_id;
	src_conn text;
	deadline timestamptz := clock_timestamp() + timeout;
	res jsonb;
	lsn pg_lsn;
	pending jsonb;
	a jsonb;
	b jsonb;
	diff jsonb;
	i integer;
	t record;
BEGIN
	SELECT * INTO m FROM mtmcp.tenant_moves x WHERE x.move_id = _move_phase.move_id;
	UPDATE mtmcp.tenant_moves x SET phase = _move_phase.phase WHERE x.move_id = _move_phase.move_id;
	PERFORM mtmcp._progress('move', m.tenant_id, phase);
	CASE phase
	WHEN 'prepare' THEN
		res := mtmcp._on_shard(m.target, pg_catalog.format('SELECT mtmcp._tenant_rows_here(%L) AS n', m.tenant_id), true);
		IF (res -> 0 ->> 'n')::bigint <> 0 THEN
			RAISE EXCEPTION 'shard "%" already holds % rows of tenant "%"', m.target, res -> 0 ->> 'n', m.tenant_id;
		END IF;
		res := mtmcp._on_shard(m.source, pg_catalog.format('SELECT mtmcp._move_source_prepare(%L, %L) AS ids', m.tenant_id, name), true);
		UPDATE mtmcp.tenant_moves x SET verification = jsonb_build_object('replica_identities', res -> 0 -> 'ids')
		 WHERE x.move_id = _move_phase.move_id;
	WHEN 'slot' THEN
		PERFORM mtmcp._on_shard(m.source, pg_catalog.format('SELECT mtmcp._move_source_slot(%L)', name), true);
	WHEN 'subscribe' THEN
		SELECT s.conninfo INTO src_conn FROM mtmcp.shards s WHERE s.shard = m.source;
		PERFORM mtmcp._on_shard(m.target, pg_catalog.format('SELECT mtmcp._move_target_subscribe(%L, %L)', name, src_conn));
	WHEN 'copy' THEN
		-- the initial copy: every table synchronized; progress is rows on the target of rows on the source
		a := mtmcp._on_shard(m.source, pg_catalog.format('SELECT * FROM mtmcp.tenant_table_hashes(%L)', m.tenant_id), true);
		LOOP
			pending := mtmcp._on_shard(m.target, pg_catalog.format('SELECT * FROM mtmcp._move_target_pending(%L)', name), true);
			b := mtmcp._on_shard(m.target, pg_catalog.format('SELECT table_name, row_count FROM mtmcp.tenant_table_hashes(%L)', m.tenant_id), true);
			PERFORM mtmcp._progress('move', m.tenant_id, 'copy',
				(SELECT string_agg(p ->> 'table_name', ', ') FROM jsonb_array_elements(pending) p),
				(SELECT sum((x ->> 'row_count')::bigint) FROM jsonb_array_elements(b) x)::bigint,
				(SELECT sum((x ->> 'row_count')::bigint) FROM jsonb_array_elements(a) x)::bigint);
			EXIT WHEN jsonb_array_length(pending) = 0;
			IF clock_timestamp() > deadline THEN
				RAISE EXCEPTION 'the initial copy did not finish within %', timeout;
			END IF;
			PERFORM pg_sleep(0.2);
		END LOOP;
	WHEN 'catch_up', 'final_sync' THEN
		-- the slot confirmed up to the source's WAL position of now
		res := mtmcp._on_shard(m.source, pg_catalog.format('SELECT * FROM mtmcp._move_source_lsn(%L)', name), true);
		lsn := (res -> 0 ->> 'current_lsn')::pg_lsn;
		LOOP
			res := mtmcp._on_shard(m.source, pg_catalog.format('SELECT * FROM mtmcp._move_source_lsn(%L)', name), true);
			EXIT WHEN (res -> 0 ->> 'confirmed_lsn')::pg_lsn >= lsn;
			IF clock_timestamp() > deadline THEN
				RAISE EXCEPTION 'the target did not catch up within % (at %, source at %)', timeout, res -> 0 ->> 'confirmed_lsn', lsn;
			END IF;
			PERFORM pg_sleep(0.05);
		END LOOP;
	WHEN 'cutover' THEN
		-- from the commit of this phase, the router answers the tenant's calls as retryable
		UPDATE mtmcp.tenant_directory d SET state = 'moving' WHERE d.tenant_id = m.tenant_id;
	WHEN 'drain' THEN
		-- every call forwarded before the cutover holds the tenant's move lock (shared) until it is answered
		PERFORM pg_advisory_xact_lock(x'6d746d76'::integer, hashtext(m.tenant_id));
	WHEN 'verify' THEN
		-- counts and content hashes per table; a short wait covers apply lag
		FOR i IN 1 .. 50 LOOP
			a := mtmcp._on_shard(m.source, pg_catalog.format('SELECT * FROM mtmcp.tenant_table_hashes(%L)', m.tenant_id), true);
			b := mtmcp._on_shard(m.target, pg_catalog.format('SELECT * FROM mtmcp.tenant_table_hashes(%L)', m.tenant_id), true);
			SELECT coalesce(jsonb_agg(jsonb_build_object('table', x ->> 'table_name', 'source', x, 'target', y)), '[]') INTO diff
			  FROM jsonb_array_elements(a) x
			  FULL JOIN jsonb_array_elements(b) y ON x ->> 'table_name' = y ->> 'table_name'
			 WHERE x IS DISTINCT FROM y;
			EXIT WHEN jsonb_array_length(diff) = 0;
			PERFORM pg_sleep(0.1);
		END LOOP;
		UPDATE mtmcp.tenant_moves x SET verification = coalesce(x.verification, '{}') || jsonb_build_object('tables', a, 'mismatches', diff)
		 WHERE x.move_id = _move_phase.move_id;
		IF jsonb_array_length(diff) <> 0 THEN
			RAISE EXCEPTION 'the copy on "%" differs from the source: %', m.target, diff;
		END IF;
	WHEN 'flip' THEN
		PERFORM mtmcp._on_shard(m.target, pg_catalog.format('SELECT mtmcp._move_target_drop(%L)', name));
		-- replicated rows fired no trigger there: the target's backends drop what they cached
		PERFORM mtmcp._on_shard(m.target, pg_catalog.format(
			'UPDATE mtmcp.tenants SET status = status WHERE tenant_id = %L', m.tenant_id));
		UPDATE mtmcp.tenant_directory d SET shard = m.target, state = 'active', moved_at = now() WHERE d.tenant_id = m.tenant_id;
	WHEN 'purge' THEN
		PERFORM mtmcp._on_shard(m.source, pg_catalog.format('SELECT mtmcp._move_source_cleanup(%L, %L)', name,
			coalesce(m.verification -> 'replica_identities', '{}')));
		res := mtmcp._on_shard(m.source, pg_catalog.format('SELECT mtmcp._move_purge_source(%L, %s, %L) AS c',
			m.tenant_id, move_id, m.target), true);
		UPDATE mtmcp.tenant_moves x SET certificate = res -> 0 -> 'c' WHERE x.move_id = _move_phase.move_id;
	END CASE;
END
$$;

-- Undo a move that failed before its flip: the tenant stays on the source.
CREATE FUNCTION mtmcp._move_abort(move_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m mtmcp.tenant_moves;
	name text := 'mtmcp_move_' || move_id;
BEGIN
	SELECT * INTO m FROM mtmcp.tenant_moves x WHERE x.move_id = _move_abort.move_id;
	UPDATE mtmcp.tenant_directory d SET state = 'active' WHERE d.tenant_id = m.tenant_id AND d.shard = m.source;
	BEGIN
		PERFORM mtmcp._on_shard(m.target, pg_catalog.format('SELECT mtmcp._move_target_drop(%L)', name));
	EXCEPTION WHEN OTHERS THEN
		RAISE WARNING 'move %: could not drop the subscription on "%": %', move_id, m.target, SQLERRM;
	END;
	BEGIN
		PERFORM mtmcp._on_shard(m.source, pg_catalog.format('SELECT mtmcp._move_source_cleanup(%L, %L)', name,
			coalesce(m.verification -> 'replica_identities', '{}')));
	EXCEPTION WHEN OTHERS THEN
		RAISE WARNING 'move %: could not clean up on "%": %', move_id, m.source, SQLERRM;
	END;
	-- the partial copy on the target goes (it never served a call)
	IF m.phase NOT IN ('prepare') THEN
		BEGIN
			PERFORM mtmcp._on_shard(m.target, pg_catalog.format('SELECT mtmcp._purge_tenant_rows(%L, %L)', m.tenant_id, 'move'));
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'move %: could not remove the partial copy on "%": %', move_id, m.target, SQLERRM;
		END;
	END IF;
END
$$;

-- (no SET clause: a procedure with one cannot COMMIT between phases; every
-- name below is qualified, and the phases run with their own search_path)
CREATE PROCEDURE mtmcp.move_tenant(tenant text, target text, timeout interval DEFAULT '5 minutes')
LANGUAGE plpgsql
AS $$
DECLARE
	src text;
	st text;
	mid bigint;
	ph text;
	err text;
	phases text[] := ARRAY['prepare', 'slot', 'subscribe', 'copy', 'catch_up', 'cutover', 'drain', 'final_sync', 'verify', 'flip', 'purge'];
BEGIN
	PERFORM mtmcp._require_router();
	-- one move per tenant at a time: the directory row is locked while this one is recorded
	SELECT d.shard, d.state INTO src, st FROM mtmcp.tenant_directory d WHERE d.tenant_id = tenant FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'tenant "%" is not placed', tenant USING ERRCODE = 'undefined_object';
	ELSIF st <> 'active' OR EXISTS (SELECT 1 FROM mtmcp.tenant_moves x WHERE x.tenant_id = tenant AND x.outcome IS NULL) THEN
		RAISE EXCEPTION 'tenant "%" is already moving', tenant USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'See mtmcp.tenant_moves; a move whose session died stays unfinished until its row is marked failed and its objects dropped.';
	ELSIF NOT EXISTS (SELECT 1 FROM mtmcp.shards s WHERE s.shard = target) THEN
		RAISE EXCEPTION 'shard "%" does not exist', target USING ERRCODE = 'undefined_object';
	ELSIF src = target THEN
		RAISE EXCEPTION 'tenant "%" is already on shard "%"', tenant, target USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	INSERT INTO mtmcp.tenant_moves (tenant_id, source, target, phase) VALUES (tenant, src, target, 'start')
	RETURNING move_id INTO mid;
	COMMIT;
	FOREACH ph IN ARRAY phases
	LOOP
		BEGIN
			PERFORM mtmcp._move_phase(mid, ph, timeout);
		EXCEPTION WHEN OTHERS THEN
			err := SQLERRM;
		END;
		EXIT WHEN err IS NOT NULL;
		COMMIT;
	END LOOP;
	IF err IS NULL THEN
		UPDATE mtmcp.tenant_moves x SET outcome = 'moved', finished_at = now(), phase = 'done' WHERE x.move_id = mid;
		PERFORM mtmcp._progress(NULL, NULL, NULL);
		COMMIT;
		RETURN;
	END IF;
	UPDATE mtmcp.tenant_moves x SET phase = ph, outcome = 'failed', finished_at = now(), error = err WHERE x.move_id = mid;
	IF ph = 'purge' THEN
		-- after the flip the tenant is served from the target; the source keeps a copy to purge
		COMMIT;
		RAISE EXCEPTION 'tenant "%" moved to "%", but purging the source "%" failed: %', tenant, target, src, err
			USING HINT = pg_catalog.format('Purge it with SELECT mtmcp._on_shard(%L, %L).', src,
				pg_catalog.format('SELECT mtmcp._move_purge_source(%L, %s, %L)', tenant, mid, target));
	END IF;
	PERFORM mtmcp._move_abort(mid);
	PERFORM mtmcp._progress(NULL, NULL, NULL);
	COMMIT;
	RAISE EXCEPTION 'moving tenant "%" to "%" failed in phase %: %', tenant, target, ph, err
		USING DETAIL = pg_catalog.format('The tenant is served from "%s" as before (move %s).', src, mid);
END
$$;
COMMENT ON PROCEDURE mtmcp.move_tenant(text, text, interval) IS
'Router: moves a tenant online to another shard with logical replication (row filters on tenant_id), a short cutover in which its calls are answered retryable, verification of counts and content hashes per table, a directory flip, and a certified purge of the source. On failure before the flip the tenant stays where it was and the error says why (mtmcp.tenant_moves).';

-- Privileges and pg_dump marks of this section
GRANT SELECT ON mtmcp.operation_progress, mtmcp.shard_tenants TO mtmcp_admin;
GRANT SELECT ON mtmcp.shards, mtmcp.tenant_moves, mtmcp.move_certificates TO mtmcp_admin;
GRANT SELECT, INSERT ON mtmcp.tenant_directory TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION
	mtmcp._progress_rows(),
	mtmcp.tenant_table_hashes(text),
	mtmcp.tenant_load(),
	mtmcp.config_hashes(text[]),
	mtmcp.shard_run(text, boolean),
	mtmcp.import_tenant(jsonb),
	mtmcp.place_tenant(text, text),
	mtmcp._shard_loads(),
	mtmcp._router_enabled()
	TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.shards', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_directory', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.tenant_moves', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('mtmcp.tenant_moves', 'move_id'), '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.move_certificates', '');
