/*
 * tools.h -- tools/list, tools/call and the safety of handlers (tools.c)
 *
 * Every handler this server runs -- tool, resource reader or lister,
 * prompt renderer, completer -- goes through mtmcp_run_as_tool: as the role
 * mtmcp_tool under RLS with the verified tenant set, security-restricted,
 * in a subtransaction, its setting changes discarded.  The two tools
 * methods check arguments against the tool's schema and the caller's
 * catalog before the handler runs, and its result after.
 */
#ifndef MTMCP_TOOLS_H
#define MTMCP_TOOLS_H

#include "lib/stringinfo.h"
#include "utils/elog.h"
#include "utils/jsonb.h"

#include "audit.h"
#include "identity.h"

#define MTMCP_TOOL_ROLE			"mtmcp_tool"

extern bool mtmcp_run_as_tool(Oid fn, Jsonb *args, Jsonb *output_schema, Jsonb **result,
							  ErrorData **error, char **output_error);
extern char *mtmcp_tool_error_text(const char *tool, ErrorData *edata);
extern int	mtmcp_tools_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
							 const char **rpc_msg);
extern int	mtmcp_tools_call(const MtmcpIdentity *id, const char *name, Jsonb *args,
							 StringInfo result, const char **rpc_msg, MtmcpAuditEvent *ev);

#endif							/* MTMCP_TOOLS_H */
