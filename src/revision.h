/*
 * revision.h -- the 2026-07-28 protocol revision beside the session
 * revisions (revision.c)
 *
 * A message is stateless (2026-07-28) when it comes without a session and
 * its params._meta carries io.modelcontextprotocol/ keys (or it is
 * server/discover).  For such a message the dispatcher checks the
 * per-request _meta (required keys, supported version), routes only the
 * methods the revision kept, answers server/discover, and decorates every
 * result with resultType and, where the revision lets results be cached,
 * ttlMs and cacheScope.  Authentication, tenant scoping and audit are the
 * dispatcher's, exactly as for sessions.
 */
#ifndef MTMCP_REVISION_H
#define MTMCP_REVISION_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "identity.h"

#define MTMCP_STATELESS_VERSION "2026-07-28"

extern void RevisionInit(void);
extern bool mtmcp_revision_stateless(const char *session_id, const char *method, JsonbContainer *params,
									 Jsonb *headers);
/*
 * tools/call with the shim's headers: every argument of a parameter marked
 * "x-mcp-header": N must have come in the Mcp-Param-N header with the same
 * value.  0, or -32020 with *rpc_msg.
 */
extern int	mtmcp_revision_check_param_headers(const MtmcpIdentity *id, Jsonb *headers, JsonbContainer *params,
											   const char **rpc_msg);

/*
 * Check a stateless request's _meta: 0, or a JSON-RPC error code with
 * message, data (JSON text) and HTTP status.  On success, *caps holds the
 * client's capabilities and *log_level the level it asked for ("off" when
 * none: no log notifications).
 */
extern int	mtmcp_revision_check_meta(JsonbContainer *params, Jsonb **caps, char **log_level,
									  const char **rpc_msg, char **rpc_data, int *http_status);
/* a method 2026-07-28 removed or never had (answered -32601, HTTP 404) */
extern bool mtmcp_revision_method_unknown(const char *method);
extern void mtmcp_revision_discover(StringInfo result);
/* resultType, and ttlMs/cacheScope on cacheable results */
extern void mtmcp_revision_decorate(const char *method, StringInfo result);

#endif							/* MTMCP_REVISION_H */
