/*
 * mtmcp.h -- declarations shared by the backend modules of mtmcp
 *
 * Module map (one home per concern):
 *   mtmcp.c     _PG_init, the preload requirement
 *   identity.c  token -> verified tenant; the mtmcp.tenant_id setting
 *   cache.c     invalidation of per-backend caches when configuration changes
 *   dispatch.c  the JSON-RPC envelope and method routing (mcp_dispatch)
 *   tools.c     tools/list, tools/call, handler safety
 *   jsonutil.c  small helpers for reading jsonb and writing JSON text
 *   jwt.c       pure C: JWS parsing and verification (no PostgreSQL headers)
 */
#ifndef MTMCP_H
#define MTMCP_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#define MTMCP_VERSION			"1.0.0"
#define MTMCP_TOOL_ROLE			"mtmcp_tool"
#define MTMCP_MAX_TENANT_LEN	64
#define MTMCP_MAX_SUBJECT_LEN	512

/* mtmcp.c */
extern bool mtmcp_preloaded;
extern void mtmcp_require_preloaded(void);

/* cache.c */
extern void CacheInit(void);
extern uint64 mtmcp_config_generation(void);
extern void mtmcp_track_config_relation(const char *relname);

/*
 * identity.c
 *
 * An authentication outcome.  On failure, reason is a stable machine-readable
 * string, http_status 401 (who are you?) or 403 (known, but refused).
 */
typedef struct MtmcpIdentity
{
	char	   *tenant;
	char	   *subject;
	char	   *scopes;			/* space-separated, "" for none */
	char	   *issuer;
	char	   *plan;
	char	  **features;		/* the plan's features */
	int			nfeatures;
} MtmcpIdentity;

typedef struct MtmcpAuthError
{
	const char *reason;
	int			http_status;
	char	   *detail;			/* for logs and authenticate()'s errdetail; never sent to clients */
} MtmcpAuthError;

extern void IdentityInit(void);
extern bool mtmcp_verify_request(const char *token, MtmcpIdentity *id, MtmcpAuthError *err);
extern int	mtmcp_enter_identity(const MtmcpIdentity *id);
extern void mtmcp_leave_identity(int nestlevel);
extern bool mtmcp_has_scope(const MtmcpIdentity *id, const char *scope);
extern bool mtmcp_has_feature(const MtmcpIdentity *id, const char *feature);

/* tools.c */
extern void mtmcp_tools_list(const MtmcpIdentity *id, StringInfo result);
extern int	mtmcp_tools_call(const MtmcpIdentity *id, const char *name, Jsonb *args,
							 StringInfo result, const char **rpc_msg);

/* dispatch.c: JSON-RPC error codes */
#define JSONRPC_PARSE_ERROR			(-32700)
#define JSONRPC_INVALID_REQUEST		(-32600)
#define JSONRPC_METHOD_NOT_FOUND	(-32601)
#define JSONRPC_INVALID_PARAMS		(-32602)
#define JSONRPC_INTERNAL_ERROR		(-32603)
#define MCP_AUTH_ERROR				(-32001)

#endif							/* MTMCP_H */
