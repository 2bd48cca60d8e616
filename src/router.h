/*
 * router.h -- scale-out: the router's forwarding of verified calls to shards (router.c)
 *
 * With mtmcp.router = on, a database is a router: mcp_dispatch, mcp_http,
 * mcp_http_end and mcp_http_check verify the token as everywhere (identity.c),
 * then, instead of serving the call, look the tenant's shard up in
 * mtmcp.tenant_directory and forward the raw call through PL/Proxy
 * (mtmcp_router.*, created by mtmcp.enable_router()) to that shard's own
 * mtmcp, which verifies the token again and does the work, the audit row
 * and the session.  Tenants that are not placed, or moving, and shards that
 * cannot be reached, are answered here.
 */
#ifndef MTMCP_ROUTER_H
#define MTMCP_ROUTER_H

#include "utils/jsonb.h"

#include "identity.h"

/* answered while a tenant moves or its shard is unreachable (HTTP 503) */
#define MCP_TEMPORARILY_UNAVAILABLE	(-32030)

extern bool mtmcp_router_mode;

extern void RouterInit(void);
extern Jsonb *mtmcp_router_forward(const MtmcpIdentity *id, const char *token, Jsonb *req,
								   const char *session_id, const char *notify_key, Jsonb *headers,
								   bool http, int *status, char **out_session);
extern int	mtmcp_router_forward_session(const MtmcpIdentity *id, const char *token,
										 const char *session_id, bool end);

#endif							/* MTMCP_ROUTER_H */
