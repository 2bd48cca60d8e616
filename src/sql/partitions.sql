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

-- Partition maintenance runs in short steps, each its own transaction when
-- maintain_partitions() is CALLed on its own (or run by the background
-- worker), so that no step holds a strong lock for longer than it needs:
--   - a coming day's partition is created long before any row can fall in
--     its range (today + days_ahead), so attaching it only locks the
--     default partition, which writers do not touch, for milliseconds;
--   - a day whose rows may be arriving right now (today, tomorrow) is only
--     attached under a brief ACCESS EXCLUSIVE lock on the parent as well:
--     a writer that planned its insert before the attach would otherwise
--     route a row of that day to the default partition and fail its check
--     there once the attach commits;
--   - when rows of such a day already sit in the default partition (a fresh
--     install, a stopped worker), they are not moved under that lock: the
--     day's partition starts at the moment the lock is held (no row can be
--     there yet), and the rows before it go, in a later step, to the day's
--     "_head" partition under a lock on the default partition alone;
--   - every strong lock is asked for with a short lock_timeout and retried,
--     so the queue of writers behind a waiting maintainer never grows for
--     more than a few milliseconds; a step that cannot get its locks gives
--     up with a warning and the next run tries again.

-- Takes the given relations' ACCESS EXCLUSIVE locks, waiting at most 10ms
-- (55P03 otherwise); the timeout stays for the rest of the caller's
-- retried subtransaction, so the steps after the lock cannot wait either.
CREATE FUNCTION mtmcp._lock_briefly(rels text)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pg_catalog.set_config('lock_timeout', '10ms', true);
	EXECUTE 'LOCK TABLE ' || rels || ' IN ACCESS EXCLUSIVE MODE';
END
$$;
COMMENT ON FUNCTION mtmcp._lock_briefly(text) IS
'Locks the listed relations ACCESS EXCLUSIVE with lock_timeout 10ms for the rest of the calling (sub)transaction.';

-- Attaches part for [lo, hi), moving the rows of that range out of the
-- default partition; lo NULL means "from the moment the locks are held"
-- (nothing to move then).  The rows move before the strong locks are taken
-- (readers keep seeing them until commit), and only stragglers under them,
-- so the locks last as long as the attach.  Locks the parent too when
-- writers may be routing rows of the range.  False when the locks could not
-- be had: then nothing has moved.
CREATE FUNCTION mtmcp._attach_range(parent text, part text, lo timestamptz, hi timestamptz, lock_parent boolean)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	dflt text := parent || '_default';
	old_timeout text := current_setting('lock_timeout');
	attempt integer := 0;
	from_ts timestamptz;
	move text := pg_catalog.format('WITH moved AS (DELETE FROM mtmcp.%I WHERE ts >= %L AND ts < %L RETURNING *) '
								   'INSERT INTO mtmcp.%I SELECT * FROM moved', dflt, lo, hi, part);
BEGIN
	-- built and indexed aside, so the locks below are held only for the
	-- attach
	EXECUTE pg_catalog.format('CREATE TABLE mtmcp.%I (LIKE mtmcp.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
							  part, parent);
	PERFORM mtmcp._index_partition(parent, part);
	BEGIN
		IF lo IS NOT NULL THEN
			EXECUTE move;
		END IF;
		LOOP
			attempt := attempt + 1;
			BEGIN
				IF lock_parent THEN
					PERFORM mtmcp._lock_briefly(pg_catalog.format('ONLY mtmcp.%I, ONLY mtmcp.%I', parent, dflt));
				ELSE
					PERFORM mtmcp._lock_briefly(pg_catalog.format('ONLY mtmcp.%I', dflt));
				END IF;
				IF lo IS NULL THEN
					-- every row in the default partition is older: writers
					-- hold the parent's lock from before they take the time
					from_ts := clock_timestamp();
				ELSE
					from_ts := lo;
					EXECUTE move;	-- rows that arrived meanwhile
				END IF;
				EXECUTE pg_catalog.format('ALTER TABLE mtmcp.%I ATTACH PARTITION mtmcp.%I FOR VALUES FROM (%L) TO (%L)',
										  parent, part, from_ts, hi);
				PERFORM pg_catalog.set_config('lock_timeout', old_timeout, true);
				RETURN true;
			EXCEPTION WHEN lock_not_available THEN
				IF attempt >= 50 THEN
					RAISE;		-- undoes the move too
				END IF;
			END;
			PERFORM pg_sleep(0.005 + random() * 0.045);
		END LOOP;
	EXCEPTION WHEN lock_not_available THEN
		NULL;
	END;
	EXECUTE pg_catalog.format('DROP TABLE mtmcp.%I', part);
	RAISE WARNING 'could not lock "%" briefly enough to attach partition "%"', parent, part
		USING ERRCODE = 'lock_not_available', HINT = 'The next maintenance run tries again.';
	RETURN false;
END
$$;
COMMENT ON FUNCTION mtmcp._attach_range(text, text, timestamptz, timestamptz, boolean) IS
'Creates and attaches one ledger partition, moving its rows out of the default partition, under locks held for milliseconds.';

CREATE FUNCTION mtmcp._ensure_day_partition(parent text, day date)
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	part text := pg_catalog.format('%s_p%s', parent, to_char(day, 'YYYYMMDD'));
	head text := part || '_head';
	dflt text := parent || '_default';
	lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
	hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
	-- rows of the day may be on their way now (a minute either side)
	live boolean := clock_timestamp() >= lo - interval '1 minute' AND clock_timestamp() < hi + interval '1 minute';
	parked boolean;
	split timestamptz;
BEGIN
	IF parent NOT IN ('audit_log', 'auth_failures', 'cost_ledger') THEN
		RAISE EXCEPTION 'unknown ledger "%"', parent USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- one maintainer at a time (the worker, pg_cron and a DBA may overlap)
	PERFORM pg_advisory_xact_lock(1836346723, 1);
	IF to_regclass(pg_catalog.format('mtmcp.%I', part)) IS NULL THEN
		EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM mtmcp.%I WHERE ts >= %L AND ts < %L)', dflt, lo, hi)
		   INTO parked;
		IF live AND parked AND clock_timestamp() < hi - interval '10 seconds' THEN
			-- the day from now on; the rows already here go to its head next
			RETURN mtmcp._attach_range(parent, part, NULL, hi, true);
		END IF;
		RETURN mtmcp._attach_range(parent, part, lo, hi, live);
	END IF;
	-- a day split while its rows arrived: its head, once nobody writes there
	IF to_regclass(pg_catalog.format('mtmcp.%I', head)) IS NULL THEN
		SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']*)''\)'))[1]::timestamptz INTO split
		  FROM pg_class c WHERE c.oid = pg_catalog.format('mtmcp.%I', part)::regclass AND c.relispartition;
		IF split > lo THEN
			RETURN mtmcp._attach_range(parent, head, lo, split, false);
		END IF;
	END IF;
	RETURN false;
END
$$;
COMMENT ON FUNCTION mtmcp._ensure_day_partition(text, date) IS
'Creates one day''s partition of an mtmcp ledger (UTC), moving that day''s rows out of the default partition, under locks held for milliseconds (false: nothing to do, or the locks could not be had).';

CREATE FUNCTION mtmcp._drop_day_partition(parent text, part text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	old_timeout text := current_setting('lock_timeout');
	attempt integer := 0;
BEGIN
	IF parent NOT IN ('audit_log', 'auth_failures', 'cost_ledger') OR part !~ ('^' || parent || '_p[0-9]{8}(_head)?$') THEN
		RAISE EXCEPTION 'invalid partition "%" of ledger "%"', part, parent USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pg_advisory_xact_lock(1836346723, 1);
	IF NOT EXISTS (SELECT 1 FROM pg_inherits i
					WHERE i.inhparent = pg_catalog.format('mtmcp.%I', parent)::regclass
					  AND i.inhrelid = to_regclass(pg_catalog.format('mtmcp.%I', part))) THEN
		RETURN false;
	END IF;
	LOOP
		attempt := attempt + 1;
		BEGIN
			-- dropping a partition locks its parent: briefly, or not at all
			PERFORM mtmcp._lock_briefly(pg_catalog.format('ONLY mtmcp.%I, ONLY mtmcp.%I, ONLY mtmcp.%I',
														  parent, parent || '_default', part));
			EXECUTE pg_catalog.format('DROP TABLE mtmcp.%I', part);
			PERFORM pg_catalog.set_config('lock_timeout', old_timeout, true);
			RETURN true;
		EXCEPTION WHEN lock_not_available THEN
			IF attempt >= 50 THEN
				EXIT;
			END IF;
		END;
		PERFORM pg_sleep(0.005 + random() * 0.045);
	END LOOP;
	RAISE WARNING 'could not lock "%" briefly enough to drop partition "%"', parent, part
		USING ERRCODE = 'lock_not_available', HINT = 'The next maintenance run tries again.';
	RETURN false;
END
$$;
COMMENT ON FUNCTION mtmcp._drop_day_partition(text, text) IS
'Drops one day partition of an mtmcp ledger under a parent lock held for milliseconds (false: gone already, or the lock could not be had).';

-- Rows and counters past retention outside the day partitions.
CREATE FUNCTION mtmcp._purge_expired()
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	audit_cutoff timestamptz := now() - current_setting('mtmcp.audit_retention')::interval;
	cost_cutoff timestamptz := now() - current_setting('mtmcp.cost_retention')::interval;
BEGIN
	DELETE FROM mtmcp.audit_log_default d WHERE d.ts < audit_cutoff;
	DELETE FROM mtmcp.auth_failures_default d WHERE d.ts < audit_cutoff;
	DELETE FROM mtmcp.cost_ledger_default d WHERE d.ts < cost_cutoff;
	DELETE FROM mtmcp.audit_overflow o WHERE o.window_start < audit_cutoff;
	DELETE FROM mtmcp.auth_failure_overflow o WHERE o.window_start < audit_cutoff;
	-- announced updates older than an hour
	DELETE FROM mtmcp.resource_events e WHERE e.created_at < now() - interval '1 hour';
END
$$;
COMMENT ON FUNCTION mtmcp._purge_expired() IS
'Deletes default-partition rows, overflow counts and resource update announcements past their retention.';

-- What one maintenance run does, as statements each run in a transaction
-- of its own: coming and misplaced days, expired days, the rest.
CREATE FUNCTION mtmcp._maintenance_plan(days_ahead integer)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	d date;
	part record;
	cutoff timestamptz;
	in_default date[];
	parked boolean;
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
		-- today first, then the coming days, then days that landed in the
		-- default partition
		EXECUTE pg_catalog.format('SELECT coalesce(array_agg(DISTINCT (ts AT TIME ZONE ''UTC'')::date), ''{}'') FROM mtmcp.%I WHERE ts >= $1',
								  t.parent || '_default') INTO in_default USING cutoff;
		FOR d IN SELECT s.d FROM (SELECT g::date FROM generate_series(today::timestamp, today::timestamp + days_ahead * interval '1 day', interval '1 day') g
								  UNION SELECT unnest(in_default)) s(d)
				  ORDER BY s.d < today, s.d
		LOOP
			parked := d = ANY (in_default);
			IF parked OR to_regclass(pg_catalog.format('mtmcp.%I', pg_catalog.format('%s_p%s', t.parent, to_char(d, 'YYYYMMDD')))) IS NULL THEN
				RETURN NEXT pg_catalog.format('SELECT mtmcp._ensure_day_partition(%L, %L)', t.parent, d);
				-- a day still being written splits first: its head is a second step
				IF parked AND d BETWEEN today - 1 AND today + 1 THEN
					RETURN NEXT pg_catalog.format('SELECT mtmcp._ensure_day_partition(%L, %L)', t.parent, d);
				END IF;
			END IF;
		END LOOP;
		-- whole days past retention: every row of such a partition is older
		-- than the cutoff, so nothing inside retention is ever dropped
		FOR part IN
			SELECT c.relname, to_date(substring(c.relname FROM '_p([0-9]{8})(_head)?$'), 'YYYYMMDD') AS day
			  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			 WHERE i.inhparent = pg_catalog.format('mtmcp.%I', t.parent)::regclass
			   AND c.relname ~ ('^' || t.parent || '_p[0-9]{8}(_head)?$')
			 ORDER BY 2
		LOOP
			IF ((part.day + 1)::timestamp AT TIME ZONE 'UTC') <= cutoff THEN
				RETURN NEXT pg_catalog.format('SELECT mtmcp._drop_day_partition(%L, %L)', t.parent, part.relname);
			END IF;
		END LOOP;
	END LOOP;
	RETURN NEXT 'SELECT mtmcp._purge_expired()';
	RETURN NEXT 'SELECT mtmcp.reap_sessions()';
END
$$;
COMMENT ON FUNCTION mtmcp._maintenance_plan(integer) IS
'The statements of one maintenance run (partitions to create and drop, expired rows, idle sessions), each meant for a transaction of its own.';

-- Not SECURITY DEFINER and no SET clause: either would forbid the COMMIT
-- between steps.  Everything it runs is a SECURITY DEFINER step.
CREATE PROCEDURE mtmcp.maintain_partitions(days_ahead integer DEFAULT 7)
AS 'MODULE_PATHNAME', 'mtmcp_maintain_partitions'
LANGUAGE C;
COMMENT ON PROCEDURE mtmcp.maintain_partitions(integer) IS
'Creates the partitions of the audit and cost ledgers for today and the coming days, moves rows out of the default partitions, drops whole days past retention (mtmcp.audit_retention, mtmcp.cost_retention), purges expired counters and reaps idle sessions; each step commits on its own when CALLed outside a transaction block. The background worker runs it; safe to run from pg_cron.';

-- Privileges and pg_dump marks of this section
GRANT EXECUTE ON FUNCTION
	mtmcp._ensure_day_partition(text, date),
	mtmcp._drop_day_partition(text, text),
	mtmcp._index_partition(text, text),
	mtmcp._purge_expired(),
	mtmcp._maintenance_plan(integer)
	TO mtmcp_admin;
GRANT EXECUTE ON PROCEDURE mtmcp.maintain_partitions(integer) TO mtmcp_admin;
