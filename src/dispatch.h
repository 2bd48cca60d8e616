/*
 * dispatch.h -- mcp_dispatch and mcp_http: one JSON-RPC message in, its
 * response out (dispatch.c)
 *
 * The dispatcher authenticates every message before reading it, checks the
 * JSON-RPC 2.0 envelope, checks the caller's session and rate limit,
 * installs the verified identity for that message only, routes the method
 * to its module, and writes exactly one audit row.  Its SQL entry points
 * are its interface; nothing else calls into it.
 */
#ifndef MTMCP_DISPATCH_H
#define MTMCP_DISPATCH_H

extern int	mtmcp_session_idle_timeout;
extern void DispatchInit(void);

#endif							/* MTMCP_DISPATCH_H */
