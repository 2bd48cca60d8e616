#!/usr/bin/env bash
# A private copy of the PostgreSQL 15 server installation with this checkout's
# build of mtmcp installed into it, so that several checkouts (or engineers)
# can run their own clusters without sharing the system's extension files.
#
#   eval "$(scripts/private-pg.sh /tmp/pg-NAME)"   # prints MTMCP_PGBIN=...
#
# PostgreSQL finds its share and lib directories relative to its binaries, so
# a copy of /usr/lib/postgresql/15 and /usr/share/postgresql/15 under one root
# is a complete installation.  Re-running it refreshes mtmcp in the copy.
set -euo pipefail
ROOT=${1:?usage: private-pg.sh DIR}
REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x "$ROOT/usr/lib/postgresql/15/bin/postgres" ]; then
	mkdir -p "$ROOT/usr/lib/postgresql" "$ROOT/usr/share/postgresql"
	cp -a /usr/lib/postgresql/15 "$ROOT/usr/lib/postgresql/"
	cp -a /usr/share/postgresql/15 "$ROOT/usr/share/postgresql/"
	chmod 755 "$ROOT"
fi
# MTMCP_BUILD_FLAGS: extra make arguments (bench/sandbox.sh builds a variant)
make -C "$REPO" -s ${MTMCP_BUILD_FLAGS:-} >/dev/null
make -C "$REPO" -s install DESTDIR="$ROOT" >/dev/null
echo "export MTMCP_PGBIN=$ROOT/usr/lib/postgresql/15/bin"
