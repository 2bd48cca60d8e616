#!/usr/bin/env bash
# bench/catalog.sh -- does tools/list stay cheap as tools and tenants grow?
#
# A benchmark, not a test.  Two databases side by side in the scratch cluster:
#   small  10 tools, 1 tenant
#   large  200 tools, 1,000 tenants (each with a description override and a
#          term on some tools, a tool switch, a feature switch), where the
#          caller's plan sees the same 10 tools as in "small" (the other 190
#          need features it lacks) -- so both answers have the same size
# and pgbench measures tools/list through mcp_dispatch, alternating short
# rounds, reporting median TPS and the ratio large/small (target: about 1).
# Variant "large-any" rotates the caller over 1,000 tenants' tokens, which
# exercises the per-tenant configuration cache (and the token cache, whose
# default size is 256 per backend, so many of those calls verify HS256 anew).
#
#   bench/catalog.sh            BENCH_ROUNDS (5) BENCH_SECONDS (6) BENCH_CLIENTS (2)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
ROUNDS=${BENCH_ROUNDS:-5}
SECS=${BENCH_SECONDS:-6}
CLIENTS=${BENCH_CLIENTS:-2}

scripts/cluster.sh start
eval "$(scripts/cluster.sh env)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

setup() {	# db ntools ntenants
	local db=$1 ntools=$2 ntenants=$3
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pgcrypto;
CREATE EXTENSION mtmcp;
SELECT mtmcp.create_plan('basic', ARRAY['core']);
SELECT mtmcp.add_issuer('https://idp.bench', 'bench');
SELECT mtmcp.add_key('https://idp.bench', NULL, 'HS256', '\x0102030405060708'::bytea);
CREATE SCHEMA bench;
CREATE FUNCTION bench.noop(args jsonb) RETURNS jsonb LANGUAGE sql AS \$\$ SELECT '{}'::jsonb \$\$;
GRANT USAGE ON SCHEMA bench TO mtmcp_tool;
GRANT EXECUTE ON FUNCTION bench.noop(jsonb) TO mtmcp_tool;
-- 10 tools every tenant sees, the rest behind features nobody has
SELECT count(*) FROM (SELECT mtmcp.register_tool(format('tool_%s', lpad(g::text, 3, '0')),
	format('Tool number %s: it does one small thing with a ticket and returns nothing at all.', g),
	'{"type":"object","properties":{"q":{"type":"string"},"limit":{"type":"integer","minimum":1}}}',
	'bench.noop(jsonb)', required_feature => CASE WHEN g <= 10 THEN 'core' ELSE 'feature_' || g END)
  FROM generate_series(1, $ntools) g) r;
DO \$\$
BEGIN
	FOR i IN 1..$ntenants LOOP
		CALL mtmcp.create_tenant(format('t%s', i), 'basic', NULL, ARRAY['https://idp.bench']);
	END LOOP;
END \$\$;
-- per-tenant configuration, so the caches have something to hold
SELECT count(*) FROM (SELECT mtmcp.set_tool_description(format('t%s', i), 'tool_002', format('Tenant %s words for tool 2.', i)),
	   mtmcp.set_term(format('t%s', i), 'ticket', 'issue'),
	   mtmcp.set_tool_enabled(format('t%s', i), 'tool_010', false),
	   mtmcp.set_tenant_feature(format('t%s', i), 'feature_' || (11 + i % 5), false)
  FROM generate_series(1, $ntenants) i) r;
CREATE TABLE bench.tokens (n integer PRIMARY KEY, token text NOT NULL);
INSERT INTO bench.tokens
SELECT i, (WITH s AS (SELECT translate(encode(convert_to('{"alg":"HS256","typ":"JWT"}', 'utf8'), 'base64'), E'+/=\n', '-_') || '.' ||
		translate(encode(convert_to(json_build_object('iss', 'https://idp.bench', 'aud', 'bench', 'sub', 'u' || i,
			'tenant_id', 't' || i, 'exp', extract(epoch FROM now())::bigint + 86400)::text, 'utf8'), 'base64'), E'+/=\n', '-_') AS d)
	SELECT d || '.' || translate(encode(hmac(convert_to(d, 'utf8'), '\x0102030405060708'::bytea, 'sha256'), 'base64'), E'+/=\n', '-_') FROM s)
  FROM generate_series(1, $ntenants) i;
SQL
}

setup bench_catalog_small 10 1
setup bench_catalog_large 200 1000

tok_small=$(psql -X -At -d bench_catalog_small -c "SELECT token FROM bench.tokens WHERE n = 1")
tok_large=$(psql -X -At -d bench_catalog_large -c "SELECT token FROM bench.tokens WHERE n = 500")
for db in bench_catalog_small bench_catalog_large; do
	t=$([ $db = bench_catalog_small ] && echo "$tok_small" || echo "$tok_large")
	n=$(psql -X -At -d $db -c "SELECT jsonb_array_length(mtmcp.mcp_dispatch('$t', '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}') -> 'result' -> 'tools')")
	echo "$db: caller sees $n tools"
done

# Every transaction checks its answer: a benchmark of refusals is worthless.
cat > "$work/list.sql" <<'SQL'
SELECT (jsonb_array_length(r -> 'result' -> 'tools') > 0)::int AS ok
  FROM mtmcp.mcp_dispatch(:tok, '{"jsonrpc":"2.0","id":1,"method":"tools/list"}') r \gset
\if :ok = 1
\else
SELECT 'tools/list was refused'::int;
\endif
SQL
cat > "$work/any.sql" <<'SQL'
\set n random(1, 1000)
SELECT (jsonb_array_length(r -> 'result' -> 'tools') > 0)::int AS ok
  FROM mtmcp.mcp_dispatch((SELECT token FROM bench.tokens WHERE n = :n), '{"jsonrpc":"2.0","id":1,"method":"tools/list"}') r \gset
\if :ok = 1
\else
SELECT 'tools/list was refused'::int;
\endif
SQL

declare -A results
run() {	# label db script [token]
	local out
	if [ -n "${4:-}" ]; then
		out=$(pgbench -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" -f "$3" -D "tok=$4" "$2" 2>&1) \
			|| { echo "bench: pgbench failed for $1:" >&2; echo "$out" >&2; exit 1; }
	else
		out=$(pgbench -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" -f "$3" "$2" 2>&1) \
			|| { echo "bench: pgbench failed for $1:" >&2; echo "$out" >&2; exit 1; }
	fi
	results[$1]+="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out") "
}
for r in $(seq "$ROUNDS"); do
	run small bench_catalog_small "$work/list.sql" "$tok_small"
	run large bench_catalog_large "$work/list.sql" "$tok_large"
	run large-any bench_catalog_large "$work/any.sql"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
printf '%-10s %10s   %s\n' variant "median tps" "rounds"
for v in small large large-any; do
	printf '%-10s %10.0f   %s\n' "$v" "$(median <<<"${results[$v]}")" "${results[$v]}"
done
s=$(median <<<"${results[small]}"); l=$(median <<<"${results[large]}"); a=$(median <<<"${results[large-any]}")
echo
echo "ratio large/small     = $(awk -v a="$l" -v b="$s" 'BEGIN {printf "%.2f", a/b}')   (200 tools, 1000 tenants vs 10 tools, 1 tenant; same answer size)"
echo "ratio large-any/small = $(awk -v a="$a" -v b="$s" 'BEGIN {printf "%.2f", a/b}')   (a different tenant every call)"
