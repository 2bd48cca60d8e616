--
-- maintenance: maintain_partitions() with live sessions, rows in the
-- default partitions, inside and outside a transaction block; reaping
--
\i test/fixtures/base.sql
SET client_min_messages = warning;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never
-- a fresh install: nothing but the default partitions
SELECT count(*) AS partitions FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE c.relnamespace = 'mtmcp'::regnamespace AND c.relname ~ '_p[0-9]{8}$';

CREATE FUNCTION day_part(parent text, offs integer) RETURNS regclass LANGUAGE sql VOLATILE AS $$
	SELECT to_regclass(format('mtmcp.%s_p%s', parent, to_char((now() AT TIME ZONE 'UTC')::date + offs, 'YYYYMMDD')))
$$;

-- the settings of the background worker
SELECT name, context, boot_val, unit FROM pg_settings WHERE name LIKE 'mtmcp.worker%' ORDER BY name;

-- Sessions of every kind, with the idle timeout as a unit-bearing setting
-- (it reads back as "30min": the bug that kept maintenance from ever running).
SET mtmcp.session_idle_timeout = '30min';
SHOW mtmcp.session_idle_timeout;
INSERT INTO mtmcp.sessions (session_id, tenant_id, subject, protocol_version, created_at, last_seen_at, ended_at) VALUES
	('mt-live', 'acme', 'alice', '2025-06-18', now() - interval '2 hours', now() - interval '5 minutes', NULL),
	('mt-idle', 'acme', 'alice', '2025-06-18', now() - interval '2 hours', now() - interval '31 minutes', NULL),
	('mt-ended', 'globex', 'gina', '2025-06-18', now() - interval '2 hours', now() - interval '1 minute', now());
INSERT INTO mtmcp.resource_subscriptions (tenant_id, subject, session_id, uri) VALUES
	('acme', 'alice', 'mt-live', 'docs://1'), ('acme', 'alice', 'mt-idle', 'docs://1'), ('acme', 'alice', '', 'docs://mt');
INSERT INTO mtmcp.log_levels (tenant_id, subject, session_id, level) VALUES
	('acme', 'alice', 'mt-idle', 'debug'), ('acme', 'alice', 'mt-live', 'info');

-- A day inside retention whose rows landed in the default partition.
INSERT INTO mtmcp.cost_ledger (ts, tenant_id, meter, quantity, unit_price_micros, amount_micros, mode, reason)
VALUES (now() - interval '5 days', 'acme', 'mt-meter', 1, 1, 1, 'background', 'maintenance test');
SELECT tableoid::regclass AS landed_in FROM mtmcp.cost_ledger WHERE reason = 'maintenance test';

-- Today's rows in a default partition, as on a fresh install before any
-- maintenance ran.
INSERT INTO mtmcp.auth_failures (event_id, ts, reason, http_status, trace_id, span_id)
SELECT gen_random_uuid(), greatest(now() - interval '1 second' * g, date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'),
	   'maintenance_test', 401, 't', 's'
  FROM generate_series(1, 5) g;
SELECT count(*) AS refusals_in_default FROM mtmcp.auth_failures_default;

CALL mtmcp.maintain_partitions(2);

-- today and the coming days exist for every ledger
SELECT p, bool_and(day_part(p, d) IS NOT NULL) AS today_and_2_ahead
  FROM unnest(ARRAY['audit_log', 'auth_failures', 'cost_ledger']) p, generate_series(0, 2) d GROUP BY p ORDER BY p;
-- the misplaced rows moved to their days; nothing is left in the defaults
SELECT tableoid::regclass = day_part('cost_ledger', -5) AS in_its_day FROM mtmcp.cost_ledger WHERE reason = 'maintenance test';
-- (today was being written: its partition starts when maintenance ran, and
-- the rows from before went to the day's head partition in a later step)
SELECT count(*) AS refusals_today, bool_and(tableoid::regclass::text = day_part('auth_failures', 0) || '_head') AS in_todays_head
  FROM mtmcp.auth_failures WHERE ts >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']*)''\)'))[1]::timestamptz
		> date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day_starts_at_the_split,
	   (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = 'mtmcp.auth_failures'::regclass
		   AND i.inhrelid::regclass::text ~ ('^' || day_part('auth_failures', 0)::text || '(_head)?$')) AS todays_partitions
  FROM pg_class c WHERE c.oid = day_part('auth_failures', 0);
SELECT (SELECT count(*) FROM mtmcp.audit_log_default) + (SELECT count(*) FROM mtmcp.auth_failures_default)
	   + (SELECT count(*) FROM mtmcp.cost_ledger_default) AS left_in_defaults;
-- each partition has its indexes
SELECT count(*) AS indexes_of_todays_refusals FROM pg_index WHERE indrelid = day_part('auth_failures', 0);

-- idle and ended sessions are reaped, with their subscriptions and log
-- levels; the live one and session-less state stay
SELECT session_id FROM mtmcp.sessions WHERE session_id LIKE 'mt-%' ORDER BY 1;
SELECT session_id, uri FROM mtmcp.resource_subscriptions WHERE uri LIKE 'docs://%' AND subject = 'alice' ORDER BY 1, 2;
SELECT session_id, level FROM mtmcp.log_levels WHERE session_id LIKE 'mt-%' ORDER BY 1;

-- reap_sessions() alone, with the timeout in another unit
UPDATE mtmcp.sessions SET last_seen_at = now() - interval '61 seconds' WHERE session_id = 'mt-live';
SET mtmcp.session_idle_timeout = 60;
SHOW mtmcp.session_idle_timeout;
SELECT mtmcp.reap_sessions() AS reaped;
SELECT count(*) AS left FROM mtmcp.sessions WHERE session_id LIKE 'mt-%';
RESET mtmcp.session_idle_timeout;

-- Inside a transaction block it cannot commit between steps: one transaction.
INSERT INTO mtmcp.cost_ledger (ts, tenant_id, meter, quantity, unit_price_micros, amount_micros, mode, reason)
VALUES (now() - interval '6 days', 'acme', 'mt-meter', 1, 1, 1, 'background', 'maintenance test 2');
BEGIN;
CALL mtmcp.maintain_partitions(3);
SELECT day_part('cost_ledger', 3) IS NOT NULL AS ahead, day_part('cost_ledger', -6) IS NOT NULL AS misplaced_day;
COMMIT;
-- a second run has nothing to do
SELECT count(*) AS steps FROM mtmcp._maintenance_plan(3);

-- The administrator role may run it (the steps are SECURITY DEFINER).
SET ROLE mtmcp_admin;
CALL mtmcp.maintain_partitions(4);
SELECT mtmcp.reap_sessions() >= 0 AS admin_reaps;
RESET ROLE;
SELECT day_part('audit_log', 4) IS NOT NULL AS ahead_by_admin;

-- Expired days go; nobody else may run the steps.
SELECT mtmcp._ensure_day_partition('cost_ledger', (now() AT TIME ZONE 'UTC')::date - 500);
SELECT s ~ '_drop_day_partition' AS drops_expired FROM mtmcp._maintenance_plan(0) s WHERE s ~ 'cost_ledger';
CALL mtmcp.maintain_partitions(0);
SELECT day_part('cost_ledger', -500) IS NULL AS expired_dropped;
SELECT mtmcp._drop_day_partition('cost_ledger', 'sessions');
CREATE ROLE mt_nobody;
SET ROLE mt_nobody;
CALL mtmcp.maintain_partitions();
SELECT mtmcp.reap_sessions();
RESET ROLE;
DROP ROLE mt_nobody;

-- bad arguments
CALL mtmcp.maintain_partitions(NULL);
CALL mtmcp.maintain_partitions(367);

DELETE FROM mtmcp.cost_ledger WHERE reason IN ('maintenance test', 'maintenance test 2');
DELETE FROM mtmcp.resource_subscriptions WHERE uri = 'docs://mt';
DROP FUNCTION day_part(text, integer);
DROP EXTENSION mtmcp CASCADE;
