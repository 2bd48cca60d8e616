/*
 * inspect.h -- prompt-injection policy and the kept result (inspect.c)
 *
 * The backend's side of the pure-C detector (detect.h): patterns from
 * mtmcp.injection_patterns compiled once per backend (global rows, plus
 * each tenant's own rows), the set of known tenant ids from mtmcp.tenants,
 * both rebuilt when the configuration generation moves (cache.c); the
 * tenant's policy from its settings ("injection_policy"); the findings on
 * the audit row; counters for /metrics.  Two scan points: a tool's
 * arguments before its handler runs (tools.c), and the result of
 * tools/call, resources/read and prompts/get before it is answered
 * (dispatch.c), which also keeps the result for the audit row.
 */
#ifndef MTMCP_INSPECT_H
#define MTMCP_INSPECT_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "audit.h"
#include "identity.h"

/* a resources/read or prompts/get whose content was withheld (server-defined) */
#define MTMCP_CONTENT_WITHHELD		(-32003)

extern void InspectInit(void);

/*
 * A tool's arguments, before its handler runs.  True when the tenant's
 * policy blocks the call: the outcome is recorded in ev and the caller
 * answers with mtmcp_inspect_refusal(ev) as a tool error.
 */
extern bool mtmcp_inspect_arguments(const MtmcpIdentity *id, const char *tool, Jsonb *args,
									MtmcpAuditEvent *ev);
extern char *mtmcp_inspect_refusal(const MtmcpAuditEvent *ev);

/*
 * The result of tools/call, resources/read or prompts/get (result holds its
 * JSON text; other methods are left alone): kept for the audit row
 * (redacted, bounded, hashed) and scanned.  Returns 0, or a JSON-RPC error
 * code with *rpc_msg and *rpc_data set when the content is withheld from a
 * resources/read or prompts/get; a withheld tool result is replaced in
 * result by a tool error.
 */
extern int	mtmcp_inspect_result(const MtmcpIdentity *id, const char *method, StringInfo result,
								 const char **rpc_msg, char **rpc_data, MtmcpAuditEvent *ev);

#endif							/* MTMCP_INSPECT_H */
