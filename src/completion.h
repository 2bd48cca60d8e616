/*
 * completion.h -- completion/complete (completion.c)
 *
 * mtmcp_complete routes a completion request to the prompt module or the
 * resource module, which check the reference and run the completer;
 * mtmcp_append_completion renders a completer's result (an array of
 * strings, or {"values", "total"?, "hasMore"?}, at most 100 values) for
 * both.
 */
#ifndef MTMCP_COMPLETION_H
#define MTMCP_COMPLETION_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "audit.h"
#include "identity.h"

extern int	mtmcp_complete(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
						   const char **rpc_msg, MtmcpAuditEvent *ev);
extern void mtmcp_append_completion(StringInfo result, Jsonb *res, const char *prefix_only);

#endif							/* MTMCP_COMPLETION_H */
