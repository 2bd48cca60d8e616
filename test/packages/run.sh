#!/usr/bin/env bash
# test/packages/run.sh -- make test-packages: the Debian packages, installed
# for real on this machine.
#
#   test/packages/run.sh [DEB_DIR]     (default build/deb, made by `make deb`)
#
# As root on Debian 12:
#   1. installs postgresql-15-mtmcp and mtmcp-http with apt-get install ./...deb
#      and checks what they put where (every SQL script, the library and its
#      linked libraries, the man page matching --help, the mtmcp-http system
#      user, the env file as a conffile, the hardened systemd unit);
#   2. starts a cluster of its own (the postgres OS user, data under /tmp,
#      port 55440 on a socket only: no TCP) with shared_preload_libraries =
#      'mtmcp', proves the postmaster mapped the packaged mtmcp.so, and follows
#      the README's production steps: CREATE EXTENSION, the "mtmcp-http" login
#      role (peer authentication), demo tenants from demo/demo.sql;
#   3. edits /etc/mtmcp/mtmcp-http.env as an administrator would and runs the
#      packaged binary the way the unit does: its ExecStart, its environment
#      file in an otherwise empty environment, as its User and Group with no
#      new privileges and no capabilities (there is no systemd here);
#   4. makes authenticated MCP calls over HTTP (initialize, then tools/call)
#      and checks the call was audited, an unauthenticated one refused;
#   5. stops the shim with SIGTERM (exit 0 after a graceful drain), stops the
#      cluster, and purges both packages: no file of theirs is left.
#
# Cleanup runs on any exit: the shim and the cluster are stopped, the data
# directory removed, the packages purged, and the mtmcp-http system user
# (which Debian packages leave behind on purge) deleted if this run created it.
#
# Shared extension directory: installing the package overwrites
# /usr/lib/postgresql/15/lib/mtmcp.so and /usr/share/postgresql/15/extension/
# mtmcp*, and purging deletes them.  So the last step puts an extension back:
# `make install` from this checkout when the checkout has a build (mtmcp.so),
# so a later suite in the same CI run still finds it; otherwise the files that
# were there before this run, saved at the start.
#
# Ends with "test-packages: N passed, N failed" after the cleanup; exits
# non-zero on any failure.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
DEB_DIR=${1:-$REPO/build/deb}
PGVER=15
PORT=${MTMCP_PKGTEST_PGPORT:-55440}
BINDIR=/usr/lib/postgresql/$PGVER/bin
LIBDIR=/usr/lib/postgresql/$PGVER/lib
EXTDIR=/usr/share/postgresql/$PGVER/extension
EXT_PKG=postgresql-$PGVER-mtmcp
SHIM_PKG=mtmcp-http
UNIT=/lib/systemd/system/mtmcp-http.service
DB=mtmcp

die() { echo "test-packages: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it installs packages)"
. /etc/os-release
[ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ] || die "needs Debian 12 (this is ${PRETTY_NAME:-unknown})"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
# check NAME COMMAND...: a test that does not stop the run when it fails
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
# must NAME COMMAND...: a step the rest depends on
must() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; exit 1; fi
}
step() { echo; echo "--- $*"; }

shopt -s nullglob
ext_debs=("$DEB_DIR/${EXT_PKG}_"*.deb)
shim_debs=("$DEB_DIR/${SHIM_PKG}_"*.deb)
shopt -u nullglob
[ ${#ext_debs[@]} = 1 ] && [ ${#shim_debs[@]} = 1 ] ||
	die "expected one ${EXT_PKG}_*.deb and one ${SHIM_PKG}_*.deb in $DEB_DIR (run make deb)"
EXT_DEB=$(readlink -f "${ext_debs[0]}")
SHIM_DEB=$(readlink -f "${shim_debs[0]}")

for p in "$EXT_PKG" "$SHIM_PKG"; do
	if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ]; then
		die "$p is already installed; this test installs and purges it, so remove it first"
	fi
done

# ---------------------------------------------------------------------------
# State to restore, and cleanup on any exit.
# ---------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/mtmcp-pkgtest.XXXXXX)
chmod 755 "$WORK"
SAVED=$WORK/saved.tar
user_existed=false
getent passwd mtmcp-http >/dev/null && user_existed=true
PGBASE=$WORK/pg		# the cluster's: data, socket, log; owned by postgres
DATA=$PGBASE/data
SOCK=$PGBASE/run
SHIM_PID=
installed=false

as_pg() { (cd / && runuser -u postgres -- "$@"); }
# A SQL file with its \ir includes inlined: psql reads it from stdin as the
# postgres user, who may not be able to walk into the checkout.
inline_includes() {
	awk -v dir="$(dirname "$1")" '/^\\ir / { f = dir "/" $2; while ((getline l < f) > 0) print l; close(f); next } { print }' "$1"
}
psql_pg() { as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" "$@"; }
pkg_status() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true; }
is_installed() { [ "$(pkg_status "$1")" = installed ]; }
is_gone() { local s; s=$(pkg_status "$1"); [ -z "$s" ] || [ "$s" = not-installed ]; }
owns() { dpkg -L "$1" | grep -qx -- "$2"; }
# the package owning a file (dpkg's database predates merged /usr for some)
owner_of() {
	local f=$1 r
	r=$(readlink -f "$f")
	for c in "$f" "$r" "${r#/usr}" "/usr${f#/usr}"; do
		dpkg -S "$c" 2>/dev/null | head -1 | cut -d: -f1 && return 0
	done
	return 1
}
# needed_from_depends BINARY DEPENDS: every library BINARY links (its
# DT_NEEDED entries) comes from a package named in DEPENDS
needed_from_depends() {
	local lib path owner bad=0
	for lib in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		path=$(ldd "$1" | awk -v l="$lib" '$1 == l { print $3; exit }')
		owner=$(owner_of "$path") || owner=
		echo "   $(basename "$1") needs $lib -> ${path:-?} (${owner:-no package})"
		if [ -z "$owner" ] || ! grep -qw -- "$owner" <<<"$2"; then bad=1; fi
	done
	[ "$bad" = 0 ]
}
has_group() { getent group "$1" >/dev/null; }
no_missing_libs() { ! ldd "$1" | grep -q 'not found'; }
system_user() {
	getent passwd "$1" | awk -F: '$3 < 1000 && $7 ~ /(nologin|false)$/ { f = 1 } END { exit !f }'
}

cleanup() {
	local rc=$?
	set +e
	echo
	echo "--- cleanup"
	if [ "$rc" != 0 ]; then
		for log in "$PGBASE/postgres.log" "$WORK/shim.log"; do
			[ -s "$log" ] && { echo "--- the end of $(basename "$log"):"; tail -20 "$log"; }
		done
	fi
	if [ -n "$SHIM_PID" ] && kill -0 "$SHIM_PID" 2>/dev/null; then
		kill -KILL "$SHIM_PID" 2>/dev/null
		wait "$SHIM_PID" 2>/dev/null
	fi
	if [ -f "$DATA/postmaster.pid" ]; then
		as_pg "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1
	fi
	if $installed; then
		for p in "$EXT_PKG" "$SHIM_PKG"; do
			if ! is_gone "$p"; then
				DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=300 "$p" >/dev/null 2>&1 ||
					echo "cleanup: could not purge $p" >&2
			fi
		done
	fi
	if ! $user_existed && getent passwd mtmcp-http >/dev/null; then
		deluser --system --quiet mtmcp-http >/dev/null 2>&1
		getent group mtmcp-http >/dev/null && delgroup --system --quiet mtmcp-http >/dev/null 2>&1
	fi
	# An extension back in the shared directory (see the header).
	if [ -f "$REPO/mtmcp.so" ]; then
		echo "cleanup: make install from $REPO (the checkout's build)"
		make -s -C "$REPO" install >/dev/null || echo "cleanup: make install failed" >&2
	elif [ -f "$SAVED" ]; then
		echo "cleanup: restoring the extension files that were installed before this run"
		tar -C / -xpf "$SAVED"
	fi
	rm -rf "$WORK"
	# the closing line, after everything this run started is gone
	echo
	echo "test-packages: $passed passed, $failed failed"
	[ "$rc" != 0 ] || [ "$failed" = 0 ] || rc=1
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The unpackaged extension files there before us (someone's make install).
saved_files=()
for f in "$LIBDIR/mtmcp.so" "$LIBDIR/bitcode/mtmcp.index.bc" "$LIBDIR/bitcode/mtmcp" "$EXTDIR"/mtmcp.control "$EXTDIR"/mtmcp--*.sql; do
	if [ -e "$f" ]; then saved_files+=("${f#/}"); fi
done
[ ${#saved_files[@]} = 0 ] || tar -C / -cf "$SAVED" "${saved_files[@]}"

# ---------------------------------------------------------------------------
step "versions: META.json, mtmcp.control and debian/changelog agree"
check "META.json valid, versions agree" /usr/bin/python3 "$REPO/scripts/check-meta.py" "$REPO/META.json"
DEFAULT_VERSION=$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$REPO/mtmcp.control")
DEB_VERSION=$(dpkg-deb -f "$EXT_DEB" Version)
want=$DEFAULT_VERSION
while [ "$(tr -cd . <<<"$want" | wc -c)" -lt 2 ]; do want=$want.0; done
check "packages $DEB_VERSION are of mtmcp.control's default_version $DEFAULT_VERSION ($want)" \
	test "${DEB_VERSION%-*}" = "$want" -a "$(dpkg-deb -f "$SHIM_DEB" Version)" = "$DEB_VERSION"

# ---------------------------------------------------------------------------
step "install: apt-get install ./$(basename "$EXT_DEB") ./$(basename "$SHIM_DEB")"
installed=true
must "apt-get install" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "$EXT_DEB" "$SHIM_DEB"
for p in "$EXT_PKG" "$SHIM_PKG"; do
	check "$p is installed" is_installed "$p"
	check "$p: every file as packaged (dpkg --verify)" test -z "$(dpkg --verify "$p")"
done

# the extension package
for f in "$REPO"/mtmcp.control "$REPO"/mtmcp--*.sql; do
	b=$(basename "$f")
	check "$EXT_PKG ships $b, identical to the checkout's" cmp -s "$f" "$EXTDIR/$b"
done
check "$EXT_PKG ships the default version's script mtmcp--$DEFAULT_VERSION.sql" \
	owns "$EXT_PKG" "$EXTDIR/mtmcp--$DEFAULT_VERSION.sql"
check "$EXT_PKG ships $LIBDIR/mtmcp.so" owns "$EXT_PKG" "$LIBDIR/mtmcp.so"
check "mtmcp.so: every linked library resolves" no_missing_libs "$LIBDIR/mtmcp.so"
depends=$(dpkg-query -W -f='${Depends}' "$EXT_PKG")
echo "   $EXT_PKG Depends: $depends"
check "every library mtmcp.so links is from a package in its Depends" \
	needed_from_depends "$LIBDIR/mtmcp.so" "$depends"
check "$EXT_PKG depends on postgresql-$PGVER" grep -qw "postgresql-$PGVER" <<<"$depends"

# the shim package
check "mtmcp-http --version" /usr/bin/mtmcp-http --version
depends=$(dpkg-query -W -f='${Depends}' "$SHIM_PKG")
echo "   $SHIM_PKG Depends: $depends"
check "mtmcp-http: every linked library resolves" no_missing_libs /usr/bin/mtmcp-http
check "every library mtmcp-http links is from a package in its Depends" \
	needed_from_depends /usr/bin/mtmcp-http "$depends"
MAN=$(dpkg -L "$SHIM_PKG" | grep '/man1/mtmcp-http\.1\.gz$' || true)
check "man page mtmcp-http(1) installed" test -n "$MAN"
man_text=$(zcat "$MAN" 2>/dev/null | sed 's/\\-/-/g')
missing_flags=""
for flag in $(/usr/bin/mtmcp-http --help | grep -o -- '^  --[a-z-]*'); do
	grep -q -- "$flag" <<<"$man_text" || missing_flags+=" $flag"
done
for var in $(/usr/bin/mtmcp-http --help | grep -o 'MTMCP_[A-Z_]*'); do
	grep -q -- "$var" <<<"$man_text" || missing_flags+=" $var"
done
check "man page has every option and variable of --help${missing_flags:+ (missing:$missing_flags)}" test -z "$missing_flags"
check "system user mtmcp-http, no login shell" system_user mtmcp-http
check "group mtmcp-http" has_group mtmcp-http
ENV_FILE=/etc/mtmcp/mtmcp-http.env
check "$ENV_FILE is a conffile" grep -q "^ $ENV_FILE " <<<"$(dpkg-query -W -f='${Conffiles}' "$SHIM_PKG")"

# the unit, as installed
check "systemd unit $UNIT" test -f "$UNIT"
for d in User=mtmcp-http Group=mtmcp-http EnvironmentFile=$ENV_FILE ExecStart=/usr/bin/mtmcp-http \
	NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet= \
	Restart=on-failure KillSignal=SIGTERM; do
	check "unit: $d" grep -qx -- "$d" "$UNIT"
done
check "unit: not enabled before it is configured" \
	test ! -e /etc/systemd/system/multi-user.target.wants/mtmcp-http.service
if command -v systemd-analyze >/dev/null; then
	# no systemd runs here: keep what concerns the unit file itself
	verify=$(systemd-analyze verify "$UNIT" 2>&1 | grep -v "Command 'man " || true)
	[ -z "$verify" ] || echo "$verify" | sed 's/^/   /'
	check "systemd-analyze verify: no complaint about the unit" test -z "$verify"
	exposure=$(systemd-analyze security --offline=true "$UNIT" 2>/dev/null | grep -o 'Overall exposure level.*' || true)
	echo "   systemd-analyze security: ${exposure:-n/a}"
fi

# ---------------------------------------------------------------------------
step "cluster: initdb as postgres, port $PORT (socket only), shared_preload_libraries = 'mtmcp'"
mkdir -p "$DATA" "$SOCK"
chown -R postgres:postgres "$PGBASE"
chmod 755 "$PGBASE" "$SOCK"
must "initdb" as_pg "$BINDIR/initdb" -D "$DATA" -U postgres --auth-local=peer --auth-host=reject \
	--encoding=UTF8 --locale=C.UTF-8 >/dev/null
as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<CONF
# --- mtmcp package test ---
port = $PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
fsync = off
CONF
# the README's step 3, on this cluster's file
check "pg_conftool ... set shared_preload_libraries mtmcp" \
	as_pg pg_conftool "$DATA/postgresql.conf" set shared_preload_libraries mtmcp
must "pg_ctl start" as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$PGBASE/postgres.log" -w -t 60 start >/dev/null
pm_pid=$(head -1 "$DATA/postmaster.pid")
so_inode=$(stat -c %i "$LIBDIR/mtmcp.so")
check "the postmaster mapped the packaged $LIBDIR/mtmcp.so (inode $so_inode)" \
	awk -v f="$LIBDIR/mtmcp.so" -v i="$so_inode" '$6 == f && $5 == i { found = 1 } END { exit !found }' \
	"/proc/$pm_pid/maps"

# The README's "Install from packages" step 4, its SQL taken from the README.
readme_sql=$(sed -n "/^su - postgres -c 'psql -v ON_ERROR_STOP=1' <<'SQL'\$/,/^SQL\$/p" "$REPO/README.md" | sed '1d;$d')
check "README: step 4's SQL found" grep -q '^CREATE EXTENSION mtmcp;$' <<<"$readme_sql"
echo "$readme_sql" | sed 's/^/   | /'
must "README step 4: database $DB, CREATE EXTENSION mtmcp, login role \"mtmcp-http\"" \
	psql_pg -d postgres <<<"$readme_sql"
SECRET=$(openssl rand -hex 32)
check "extension version $DEFAULT_VERSION" \
	test "$(psql_pg -d "$DB" -Atc "SELECT extversion FROM pg_extension WHERE extname = 'mtmcp'")" = "$DEFAULT_VERSION"
must "tenants, issuer and tools from demo/demo.sql" \
	psql_pg -d "$DB" -v secret_hex="$SECRET" -f - < <(inline_includes "$REPO/demo/demo.sql") >/dev/null

# ---------------------------------------------------------------------------
step "mtmcp-http: $ENV_FILE configured, started as the unit starts it"
sed -i \
	-e "s|^MTMCP_DATABASE_URL=.*|MTMCP_DATABASE_URL=\"host=$SOCK port=$PORT dbname=$DB user=mtmcp-http\"|" \
	-e "s|^MTMCP_LISTEN=.*|MTMCP_LISTEN=127.0.0.1:0|" \
	"$ENV_FILE"
check "env file configured" grep -q "^MTMCP_DATABASE_URL=\"host=$SOCK " "$ENV_FILE"
unit_get() { sed -n "s/^$1=//p" "$UNIT" | tail -1; }
EXEC=$(unit_get ExecStart)
RUN_USER=$(unit_get User)
RUN_GROUP=$(unit_get Group)
UNIT_ENV=$(unit_get EnvironmentFile)
UNIT_ENV=${UNIT_ENV#-}
STOP_TIMEOUT=$(unit_get TimeoutStopSec)
# systemd: cwd /, an empty environment plus the EnvironmentFile, the unit's
# user and group, NoNewPrivileges, an empty capability bounding set, UMask.
(
	cd /
	umask 0077
	exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		bash -c 'set -a; . "$1"; set +a; shift; exec "$@"' _ "$UNIT_ENV" \
		setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --init-groups --no-new-privs \
		--inh-caps=-all --bounding-set=-all $EXEC
) >"$WORK/shim.log" 2>&1 &
SHIM_PID=$!
HTTP_PORT=
for _ in $(seq 100); do
	HTTP_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$WORK/shim.log" | head -1)
	[ -n "$HTTP_PORT" ] && break
	kill -0 "$SHIM_PID" 2>/dev/null || break
	sleep 0.1
done
[ -n "$HTTP_PORT" ] || { sed 's/^/   /' "$WORK/shim.log"; }
must "mtmcp-http listening (127.0.0.1:${HTTP_PORT:-?})" test -n "$HTTP_PORT"
check "runs as $RUN_USER" test "$(stat -c %U "/proc/$SHIM_PID")" = "$RUN_USER"
check "no new privileges" grep -qx 'NoNewPrivs:[[:space:]]*1' "/proc/$SHIM_PID/status"
check "no capabilities" grep -qx 'CapBnd:[[:space:]]*0000000000000000' "/proc/$SHIM_PID/status"
URL=http://127.0.0.1:$HTTP_PORT/mcp
check "GET /healthz" curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/healthz"

# ---------------------------------------------------------------------------
step "an authenticated MCP call over HTTP"
TOKEN=$("$REPO/scripts/mint-token.sh" -k "$SECRET" -t acme -s alice@acme -S documents -l 600)
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test-packages","version":"1"}}}'
CALL='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_documents","arguments":{"query":"plan"}}}'
mcp() {	# mcp OUTFILE [curl args...]: status code on stdout
	local out=$1
	shift
	curl -sS -o "$out" -D "$out.headers" -w '%{http_code}' "$URL" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' "$@"
}
code=$(mcp "$WORK/anon" -d "$INIT")
check "no token: 401 with a Bearer challenge (got $code)" \
	sh -c "[ '$code' = 401 ] && grep -qi '^WWW-Authenticate: Bearer' '$WORK/anon.headers'"
code=$(mcp "$WORK/init" -H "Authorization: Bearer $TOKEN" -d "$INIT")
SID=$(tr -d '\r' <"$WORK/init.headers" | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
check "initialize as acme: 200 and a session (got $code)" sh -c "[ '$code' = 200 ] && [ -n '$SID' ]"
check "initialize: the server's protocol version" grep -Eq '"protocolVersion": ?"2025-11-25"' "$WORK/init"
code=$(mcp "$WORK/call" -H "Authorization: Bearer $TOKEN" -H "Mcp-Session-Id: $SID" \
	-H 'MCP-Protocol-Version: 2025-11-25' -d "$CALL")
echo "   tools/call answer: $(tr -d '\r' <"$WORK/call" | grep '^data:' | head -1 | cut -c1-200)"
check "tools/call search_documents: 200 with acme's document (got $code)" \
	sh -c "[ '$code' = 200 ] && grep -q 'Anvil launch plan' '$WORK/call'"
check "tools/call: nothing of another tenant" sh -c "! grep -q 'East coast expansion plan' '$WORK/call'"
audited=$(psql_pg -d "$DB" -Atc "SELECT count(*) FROM mtmcp.audit_log WHERE tenant_id = 'acme'
	AND subject = 'alice@acme' AND method = 'tools/call' AND target = 'search_documents' AND result_kind = 'ok'" || true)
check "the call is in acme's audit trail" test "$audited" = 1

# ---------------------------------------------------------------------------
step "graceful stop: SIGTERM"
kill -TERM "$SHIM_PID"
shim_rc=timeout
for _ in $(seq $((${STOP_TIMEOUT:-30} * 10))); do
	if ! kill -0 "$SHIM_PID" 2>/dev/null; then
		shim_rc=0
		wait "$SHIM_PID" || shim_rc=$?
		break
	fi
	sleep 0.1
done
SHIM_PID=
check "mtmcp-http exits 0 within TimeoutStopSec=${STOP_TIMEOUT:-30} (got $shim_rc)" test "$shim_rc" = 0
check "shim log: SIGTERM drain, then stopped" \
	sh -c "grep -q 'SIGTERM: shutting down' '$WORK/shim.log' && grep -q 'stopped' '$WORK/shim.log'"
must "pg_ctl stop" as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null

# ---------------------------------------------------------------------------
step "remove: apt-get purge $EXT_PKG $SHIM_PKG"
ext_files=$(dpkg -L "$EXT_PKG" | while read -r f; do [ -f "$f" ] && echo "$f"; done)
shim_files=$(dpkg -L "$SHIM_PKG" | while read -r f; do [ -f "$f" ] && echo "$f"; done)
must "apt-get purge" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=300 "$EXT_PKG" "$SHIM_PKG"
for p in "$EXT_PKG" "$SHIM_PKG"; do
	check "$p is gone from dpkg's database" is_gone "$p"
done
left=""
for f in $ext_files $shim_files $ENV_FILE; do [ -e "$f" ] && left+=" $f"; done
check "no file of the packages left${left:+:$left}" test -z "$left"
check "/etc/mtmcp removed" test ! -e /etc/mtmcp
# Anything of mtmcp still in PostgreSQL's directories must be a file that was
# there before this run and not in the package (someone's make install of a
# build with more objects, say): dpkg leaves files it does not own.
only_foreign_extension_files() {
	local f bad=0
	while IFS= read -r f; do
		if ! tar -tf "$SAVED" 2>/dev/null | grep -qx -- "${f#/}"; then
			echo "   left behind: $f"
			bad=1
		fi
	done < <(find "$EXTDIR" "$LIBDIR" -maxdepth 1 -name 'mtmcp*' -type f
		find "$LIBDIR/bitcode" -path "$LIBDIR/bitcode/mtmcp*" -type f 2>/dev/null)
	[ "$bad" = 0 ]
}
check "no mtmcp file left in PostgreSQL's directories but some that were there before" \
	only_foreign_extension_files

# cleanup (the EXIT trap) removes what is left, restores the extension files
# and prints the count; it fails the run when any check failed
