#!/usr/bin/env bash
# bench/injection.sh -- what the prompt-injection scan adds to mcp_dispatch
#
# A benchmark, not a test.  One backend, no concurrency: blocks of N calls
# with mtmcp.injection_detection off and on, alternating (the order flips
# every round), for two calls -- tools/call noop (empty arguments, a tiny
# result) and a typical call (a short query in, ~1 KB of a document out,
# bench/setup.sql's `document`), each call its own transaction.  Reports,
# per call, the median over rounds
# of the on/off ratio of adjacent blocks (pairing cancels most of a shared
# machine's drift) and the median microseconds per call.  The target is at
# most 5% added (ratio <= 1.05).
#
# Needs the database bench/dispatch.sh leaves behind (mtmcp_bench): run that
# first, e.g. BENCH_VARIANTS="B N Y Z" BENCH_ROUNDS=1 BENCH_SECONDS=1 bench/dispatch.sh
#
#   INJ_ROUNDS (30)  INJ_CALLS (300 per block)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
ROUNDS=${INJ_ROUNDS:-30}
CALLS=${INJ_CALLS:-300}
eval "$(scripts/cluster.sh env)"
export PGHOST PGPORT PGUSER
psql -X -q -v ON_ERROR_STOP=1 -d mtmcp_bench -v rounds="$ROUNDS" -v calls="$CALLS" <<'SQL'
SET client_min_messages = warning;
SELECT token AS tok FROM bench.tokens WHERE alg = 'HS256' ORDER BY n LIMIT 1 \gset
CREATE TEMP TABLE runs (round int, call text, mode text, us float8, cpu_ticks bigint);
-- this backend's CPU time in nanoseconds (/proc/self/schedstat: time on a CPU), where the
-- clock ticks of /proc/self/stat (10 ms) were too coarse for blocks of a tenth of a second:
-- load elsewhere does not count
CREATE FUNCTION pg_temp.cpu_ticks() RETURNS bigint LANGUAGE sql AS $$
	SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint $$;
CREATE PROCEDURE pg_temp.measure(tok text, rounds int, calls int)
LANGUAGE plpgsql AS $$
DECLARE
	noop jsonb := '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "noop", "arguments": {}}}';
	typical jsonb := '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "document", "arguments": {"query": "quarterly report for the east region", "limit": 1}}}';
	i int;
	j int;
	m text;
	c text;
	req jsonb;
	t0 timestamptz;
	c0 bigint;
BEGIN
	FOR i IN 0..rounds LOOP		-- round 0 warms up and is dropped
		FOREACH c IN ARRAY ARRAY['noop', 'typical'] LOOP
			req := CASE c WHEN 'noop' THEN noop ELSE typical END;
			FOREACH m IN ARRAY CASE WHEN i % 2 = 0 THEN ARRAY['off', 'on'] ELSE ARRAY['on', 'off'] END LOOP
				PERFORM set_config('mtmcp.injection_detection', m, false);
				c0 := pg_temp.cpu_ticks();
				t0 := clock_timestamp();
				FOR j IN 1..calls LOOP
					IF mtmcp.mcp_dispatch(tok, req) -> 'result' ->> 'isError' <> 'false' THEN
						RAISE EXCEPTION 'not a successful tool result';
					END IF;
					COMMIT;		-- one transaction per call, as the shim makes them
				END LOOP;
				INSERT INTO runs VALUES (i, c, m, extract(epoch FROM clock_timestamp() - t0) * 1e6 / calls,
										 pg_temp.cpu_ticks() - c0);
				COMMIT;
			END LOOP;
		END LOOP;
	END LOOP;
END $$;
CALL pg_temp.measure(:'tok', :rounds, :calls);
\echo
\echo prompt-injection scan on vs off, one backend, alternating blocks
\echo '  cpu on/off: the backend''s CPU time over all rounds, on vs off (what a busy server pays)'
\echo '  wall on/off: the median over rounds of the paired wall-clock ratios (commits included)'
SELECT c.call, round(sum(c.on_cpu)::numeric / nullif(sum(c.off_cpu), 0), 3) AS "cpu on/off",
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.on_us / c.off_us)::numeric, 3) AS "wall on/off",
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.off_us)::numeric) AS "us/call off",
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.on_us)::numeric) AS "us/call on",
	   count(*) AS rounds,
	   CASE WHEN sum(c.on_cpu)::numeric / nullif(sum(c.off_cpu), 0) <= 1.05
			THEN 'meets the target (<= 1.05)' ELSE 'ABOVE the target of 1.05' END AS "verdict (cpu)"
  FROM (SELECT round, call, max(us) FILTER (WHERE mode = 'on') AS on_us, max(us) FILTER (WHERE mode = 'off') AS off_us,
			   max(cpu_ticks) FILTER (WHERE mode = 'on') AS on_cpu, max(cpu_ticks) FILTER (WHERE mode = 'off') AS off_cpu
		  FROM runs WHERE round > 0 GROUP BY 1, 2) c
 GROUP BY 1 ORDER BY 1;
SQL
