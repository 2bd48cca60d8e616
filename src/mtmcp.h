/*
 * mtmcp.h -- the entry module (mtmcp.c) and the constants every module shares
 *
 * mtmcp.c holds _PG_init, which calls each module's XxxInit() once at
 * preload, the preload requirement every SQL entry point checks first, and
 * two small SPI helpers.  This header also holds the JSON-RPC and MCP error
 * codes, which the dispatcher and every method handler answer with.  Each
 * module has its own header beside its .c file, opening with its purpose;
 * this one declares nothing of theirs.  The modules:
 *
 *   dispatch.c     mcp_dispatch / mcp_http: envelope, routing (no header)
 *   revision.c     MCP 2026-07-28 (stateless) beside the session revisions
 *   mrtr.c         multi round-trip requests: handlers ask the client; sealed requestState
 *   listen.c       subscriptions/listen: the acknowledgement, listen keys, list-change NOTIFY
 *   sessions.c     MCP sessions over HTTP
 *   worker.c       maintain_partitions and its background worker
 *   ratelimit.c    the tenant's request budget
 *   inflight.c     calls in flight per tenant, time limits, cancellation
 *   identity.c     token -> verified tenant; the mtmcp.tenant_id setting
 *   codec.c        base64url and digests for backend code (JWT glue)
 *   tools.c        tools/list, tools/call, handler safety
 *   catalog.c      registered tools and what each caller may see
 *   resources.c    tenant-scoped resources
 *   prompts.c      prompts
 *   completion.c   completion/complete
 *   cursor.c       caller-bound pagination cursors
 *   notify.c       live progress and log notifications
 *   audit.c        the audit trail
 *   rowinsert.c    one row into a partitioned table without the executor (the audit row)
 *   cost.c         charges
 *   counters.c     shared-memory windowed counters
 *   cache.c        invalidation of per-backend caches
 *   sandbox.c      the fence around handlers and tenant sessions (hooks)
 *   router.c       scale-out: forwarding verified calls to the tenant's shard
 *   progress.c     progress of long tenant operations (shared memory)
 *   inspect.c      prompt-injection policy, findings, the audit row's kept result
 *   jsonschema*.c  JSON Schema validation (jsonschema_int.h inside)
 *   jsonutil.c     reading jsonb, writing JSON text
 *   jwt*.c         pure C: JWS parsing and verification (jwt.h; jwt_int.h
 *                  inside; no PostgreSQL headers)
 *   detect*.c      pure C: the prompt-injection detector (detect.h;
 *                  detect_int.h inside; no PostgreSQL headers)
 */
#ifndef MTMCP_H
#define MTMCP_H

#include "utils/array.h"

/* JSON-RPC 2.0 error codes */
#define JSONRPC_PARSE_ERROR			(-32700)
#define JSONRPC_INVALID_REQUEST		(-32600)
#define JSONRPC_METHOD_NOT_FOUND	(-32601)
#define JSONRPC_INVALID_PARAMS		(-32602)
#define JSONRPC_INTERNAL_ERROR		(-32603)

/* MCP's server-defined error codes */
#define MCP_SESSION_NOT_FOUND		(-32000)
#define MCP_AUTH_ERROR				(-32001)
#define MCP_RESOURCE_NOT_FOUND		(-32002)
#define MCP_RATE_LIMITED			(-32029)
#define MCP_REQUEST_CANCELLED		(-32800)	/* as LSP's RequestCancelled */

extern bool mtmcp_preloaded;
extern void mtmcp_require_preloaded(void);
extern int	mtmcp_text_array(ArrayType *arr, char ***out);
extern struct _SPI_plan *mtmcp_keep_plan(const char *sql, int nargs, Oid *types);
/* the OID of the extension's table mtmcp.name; InvalidOid when there is none (yet) */

#endif							/* MTMCP_H */
