/*
 * sessions.h -- MCP sessions over HTTP (sessions.c)
 *
 * Sessions are opened by a successful initialize over mcp_http, bound to
 * the verified tenant and subject, touched by every message that names
 * them, and ended by mcp_http_end or by idling past
 * mtmcp.session_idle_timeout.  A session that is not the caller's own
 * answers exactly like one that does not exist.
 */
#ifndef MTMCP_SESSIONS_H
#define MTMCP_SESSIONS_H

#include "fmgr.h"
#include "utils/jsonb.h"

#include "audit.h"
#include "identity.h"

extern int	mtmcp_session_idle_timeout;
extern void SessionsInit(void);
extern char *mtmcp_session_open(const MtmcpIdentity *id, const char *version, JsonbContainer *params);
extern int	mtmcp_session_check(const MtmcpIdentity *id, const char *session_id, Jsonb **caps,
								MtmcpAuditEvent *ev);
extern char *mtmcp_session_log_level(const char *tenant, const char *subject, const char *session_id);
extern char *mtmcp_session_arg(FunctionCallInfo fcinfo, int n);

#endif							/* MTMCP_SESSIONS_H */
