#!/usr/bin/env bash
# make run: build and install mtmcp, start the scratch cluster, (re)create the
# demo database mtmcp_demo from demo/demo.sql, mint demo tokens, and show
# mcp_dispatch answering for two tenants and refusing a suspended one.
#
# Re-runnable: the demo database is dropped and recreated every time (open
# sessions to it are terminated).  The demo issuer's HS256 secret is kept in
# .scratch/demo-secret.hex and reused, so tokens printed by an earlier run keep
# working until they expire.  Tokens and the connection string are also saved
# in .scratch/demo-env.sh (source it in a new shell).
# Stop the cluster with `make stop`.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

DB=mtmcp_demo
TTL=$((12 * 3600))	# demo tokens are valid for 12 hours

# ---------------------------------------------------------------------------
# Build and install (the Makefile picks the default pg_config), then start.
# ---------------------------------------------------------------------------
unset PG_CONFIG
eval "$(scripts/cluster.sh env)"
LIB=$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir 2>/dev/null || pg_config --pkglibdir)/mtmcp.so
lib_before=$(sha256sum "$LIB" 2>/dev/null | cut -d' ' -f1 || true)
was_running=false
psql -X -Atq -d postgres -c 'SELECT 1' >/dev/null 2>&1 && was_running=true

make -s
make -s install
make -s shim
scripts/cluster.sh start

# mtmcp is preloaded into the postmaster, so a cluster that was already running
# keeps the build it started with: new SQL objects would not find their C
# functions ("could not find function ... in file mtmcp.so").  Say so plainly
# instead of failing halfway through the demo.
lib_after=$(sha256sum "$LIB" | cut -d' ' -f1)
if $was_running && [ "$lib_before" != "$lib_after" ]; then
	echo "run: a new build of mtmcp.so was installed; restarting the demo cluster to load it"
	scripts/cluster.sh stop
	scripts/cluster.sh start
fi

# ---------------------------------------------------------------------------
# The demo secret: generated once, reused afterwards.
# ---------------------------------------------------------------------------
SECRET_FILE=$REPO/.scratch/demo-secret.hex
if [ ! -s "$SECRET_FILE" ]; then
	(umask 077 && openssl rand -hex 32 >"$SECRET_FILE")
fi
SECRET_HEX=$(tr -d ' \n' <"$SECRET_FILE")
[[ $SECRET_HEX =~ ^([0-9a-fA-F]{2})+$ ]] || {
	echo "run: $SECRET_FILE does not hold a hex secret; delete it and run again" >&2
	exit 1
}

# ---------------------------------------------------------------------------
# The demo database, from scratch.
# ---------------------------------------------------------------------------
psql -X -q -v ON_ERROR_STOP=1 -d postgres \
	-c "SET client_min_messages = warning" \
	-c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
	-c "CREATE DATABASE $DB"
if ! psql -X -q -v ON_ERROR_STOP=1 -v secret_hex="$SECRET_HEX" -d "$DB" -f demo/demo.sql; then
	echo "run: loading demo/demo.sql failed.  If it could not find a function in mtmcp.so," >&2
	echo "     the cluster has an older build loaded: make stop && make run" >&2
	exit 1
fi

# ---------------------------------------------------------------------------
# Tokens and the connection the HTTP shim uses.
# ---------------------------------------------------------------------------
mint() { MTMCP_SECRET_HEX=$SECRET_HEX scripts/mint-token.sh -t "$1" -s "$2" -S documents -l "$TTL"; }
export MTMCP_DEMO="host=$PGHOST port=$PGPORT dbname=$DB user=mtmcp_shim"
export ACME_TOKEN GLOBEX_TOKEN INITECH_TOKEN
ACME_TOKEN=$(mint acme alice@acme)
GLOBEX_TOKEN=$(mint globex bob@globex)
INITECH_TOKEN=$(mint initech peter@initech)

ENV_FILE=$REPO/.scratch/demo-env.sh
(
	umask 077
	cat >"$ENV_FILE" <<EOF
# mtmcp demo: connection and tokens (valid until $(date -d "@$(($(date +%s) + TTL))" '+%Y-%m-%d %H:%M %Z'))
export MTMCP_DEMO="$MTMCP_DEMO"
export ACME_TOKEN='$ACME_TOKEN'
export GLOBEX_TOKEN='$GLOBEX_TOKEN'
export INITECH_TOKEN='$INITECH_TOKEN'
EOF
)

cat <<EOF

================================================================================
 mtmcp demo is ready: database $DB on the scratch cluster (port $PGPORT)
================================================================================
Tenants: acme (plan pro), globex (plan free), initech (suspended).
Each has its own document 1; row-level security keeps every call inside the
tenant its token names.  The calls below connect as mtmcp_shim, the login the
HTTP shim will use: it can read no table and run no tool itself; its way in is
mtmcp.mcp_dispatch(), which checks the token first.

Paste this first (also saved in .scratch/demo-env.sh; tokens valid 12 hours):

$(cat "$ENV_FILE")

Then any of the commands below.  Each was just run; its output follows it.
EOF

# Print a command exactly as written, then run it.
run_shown() {
	local title=$1 cmd
	cmd=$(cat)
	printf '\n# %s\n$ %s\n' "$title" "$cmd"
	eval "$cmd"
}

run_shown "acme lists its tools" <<'CMD'
psql "$MTMCP_DEMO" -XAt -c "SELECT jsonb_pretty(mtmcp.mcp_dispatch('$ACME_TOKEN', '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}'))"
CMD

run_shown "acme searches its documents for \"plan\"" <<'CMD'
psql "$MTMCP_DEMO" -XAt -c "SELECT mtmcp.mcp_dispatch('$ACME_TOKEN', '{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"search_documents\",\"arguments\":{\"query\":\"plan\"}}}')"
CMD

run_shown "globex runs the same search: its own documents only" <<'CMD'
psql "$MTMCP_DEMO" -XAt -c "SELECT mtmcp.mcp_dispatch('$GLOBEX_TOKEN', '{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"search_documents\",\"arguments\":{\"query\":\"plan\"}}}')"
CMD

run_shown "acme fetches document 1" <<'CMD'
psql "$MTMCP_DEMO" -XAt -c "SELECT mtmcp.mcp_dispatch('$ACME_TOKEN', '{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"get_document\",\"arguments\":{\"doc_id\":1}}}')"
CMD

run_shown "globex fetches document 1: a different document" <<'CMD'
psql "$MTMCP_DEMO" -XAt -c "SELECT mtmcp.mcp_dispatch('$GLOBEX_TOKEN', '{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"get_document\",\"arguments\":{\"doc_id\":1}}}')"
CMD

run_shown "acme reads its document 1 as a resource; asking for globex's is \"not found\", exactly like a missing one" <<'CMD'
psql "$MTMCP_DEMO" -XAt -c "SELECT mtmcp.mcp_dispatch('$ACME_TOKEN', '{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/read\",\"params\":{\"uri\":\"kb://tenants/acme/documents/1\"}}')" -c "SELECT mtmcp.mcp_dispatch('$ACME_TOKEN', '{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/read\",\"params\":{\"uri\":\"kb://tenants/globex/documents/1\"}}')"
CMD

run_shown "initech is suspended: refused before any tool runs" <<'CMD'
psql "$MTMCP_DEMO" -XAt -c "SELECT mtmcp.mcp_dispatch('$INITECH_TOKEN', '{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\"}')"
CMD

# ---------------------------------------------------------------------------
# The HTTP shim, on 127.0.0.1 (restarted on every run).
# ---------------------------------------------------------------------------
HTTP_PORT=${MTMCP_HTTP_PORT:-8080}
SHIM_PID=$REPO/.scratch/shim.pid
if [ -s "$SHIM_PID" ] && kill -0 "$(cat "$SHIM_PID")" 2>/dev/null; then
	kill -TERM "$(cat "$SHIM_PID")"
	for _ in $(seq 50); do kill -0 "$(cat "$SHIM_PID")" 2>/dev/null || break; sleep 0.2; done
fi
# The protected resource metadata names the demo issuer as the authorization
# server (MCP 2025-11-25 requires at least one); the required scope comes from
# the database (mtmcp.access_scope, set by demo/demo.sql), which enforces it.
nohup build/mtmcp-http --db "$MTMCP_DEMO" --listen "127.0.0.1:$HTTP_PORT" \
	--authorization-servers https://idp.demo.mtmcp.local --scopes documents,documents.write \
	>"$REPO/.scratch/shim.log" 2>&1 &
echo $! >"$SHIM_PID"
for _ in $(seq 50); do
	curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
	sleep 0.2
done
curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null || {
	echo "run: the HTTP shim did not come up; see .scratch/shim.log" >&2
	tail -20 "$REPO/.scratch/shim.log" >&2
	exit 1
}
echo "export MTMCP_URL=http://127.0.0.1:$HTTP_PORT/mcp" >>"$ENV_FILE"
export MTMCP_URL=http://127.0.0.1:$HTTP_PORT/mcp
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
export INIT

cat <<EOF

================================================================================
 The same over MCP Streamable HTTP: mtmcp-http on $MTMCP_URL
================================================================================
EOF

run_shown "acme opens an MCP session (the Mcp-Session-Id header comes back)" <<'CMD'
curl -sS -D - -o /dev/null "$MTMCP_URL" -H "Authorization: Bearer $ACME_TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$INIT" | grep -i -e '^HTTP' -e '^mcp-session-id'
CMD

run_shown "with a session, acme calls get_document (the answer streams as SSE)" <<'CMD'
SID=$(curl -sS -D - -o /dev/null "$MTMCP_URL" -H "Authorization: Bearer $ACME_TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$INIT" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p'); curl -sS "$MTMCP_URL" -H "Authorization: Bearer $ACME_TOKEN" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_document","arguments":{"doc_id":1}}}'
CMD

run_shown "the same call as MCP 2026-07-28: no session, _meta and the standard headers on the request" <<'CMD'
curl -sS "$MTMCP_URL" -H "Authorization: Bearer $ACME_TOKEN" -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: get_document' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_document","arguments":{"doc_id":1},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
CMD

run_shown "the protected resource metadata: the demo issuer and the scope the database requires" <<'CMD'
curl -sS "${MTMCP_URL%/mcp}/.well-known/oauth-protected-resource/mcp"; echo
CMD

run_shown "initech's token is refused over HTTP too (403)" <<'CMD'
curl -sS -w '\nHTTP %{http_code}\n' "$MTMCP_URL" -H "Authorization: Bearer $INITECH_TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$INIT"
CMD

cat <<EOF

Any MCP client can connect to $MTMCP_URL with an "Authorization: Bearer <token>"
header, for example the MCP Inspector's CLI (needs Node.js 22):
  npx @modelcontextprotocol/inspector --cli "$MTMCP_URL" --transport http \\
      --header "Authorization: Bearer \$ACME_TOKEN" --method tools/list

More:
  scripts/mint-token.sh -t globex -s carol -l 600     another token (demo secret, issuer and audience by default)
  psql "host=$PGHOST port=$PGPORT dbname=$DB user=postgres"     as the DBA (superuser)
  make stop                                           stop the HTTP shim and the scratch cluster
  .scratch/shim.log                                   the shim's request log
EOF
