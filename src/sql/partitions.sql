-------------------------------------------------------------------------------
-- Partition maintenance
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

-- Privileges and pg_dump marks of this section
GRANT EXECUTE ON FUNCTION
	mtmcp._ensure_day_partition(text, date),
	mtmcp._index_partition(text, text)
	TO mtmcp_admin;
GRANT EXECUTE ON PROCEDURE mtmcp.maintain_partitions(integer) TO mtmcp_admin;
