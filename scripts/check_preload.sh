#!/usr/bin/env bash
# CREATE EXTENSION mtmcp on a server that did not preload the library must
# fail with a clear error, not install a degraded extension.
set -euo pipefail
BINDIR=$(/usr/lib/postgresql/15/bin/pg_config --bindir 2>/dev/null || pg_config --bindir)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi }
dir=$(mktemp -d /tmp/mtmcp-nopreload.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
cleanup() { as_pg "$BINDIR/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
as_pg "$BINDIR/initdb" -D "$dir/data" -U postgres --auth=trust >/dev/null
as_pg "$BINDIR/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p 55499 -k $dir -c listen_addresses=''" start >/dev/null
out=$(psql -X -h "$dir" -p 55499 -U postgres -d postgres -v ON_ERROR_STOP=1 -c "CREATE EXTENSION mtmcp" 2>&1) && {
	echo "CREATE EXTENSION succeeded without shared_preload_libraries"; exit 1; }
echo "$out"
echo "$out" | grep -q 'mtmcp must be loaded via "shared_preload_libraries"' || { echo "unexpected error"; exit 1; }
n=$(psql -X -At -h "$dir" -p 55499 -U postgres -d postgres -c "SELECT count(*) FROM pg_extension WHERE extname = 'mtmcp'")
[ "$n" = 0 ] || { echo "extension half-installed"; exit 1; }
echo "refused as expected"
