/*
 * prompts.h -- prompts/list, prompts/get and completion of prompt arguments
 * (prompts.c)
 *
 * Prompts are filtered like tools (the tenant's features, the token's
 * scopes).  prompts/get checks the arguments against the declaration and
 * renders the messages with the prompt's renderer (run as mtmcp_tool) or
 * its {{argument}} template, then checks them before they are returned.
 */
#ifndef MTMCP_PROMPTS_H
#define MTMCP_PROMPTS_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "audit.h"
#include "identity.h"

extern int	mtmcp_prompts_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
							   const char **rpc_msg);
extern int	mtmcp_prompts_get(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
							  const char **rpc_msg, MtmcpAuditEvent *ev);
extern int	mtmcp_complete_prompt(const MtmcpIdentity *id, const char *prompt, const char *arg,
								  const char *value, Jsonb *request, StringInfo result, const char **rpc_msg,
								  MtmcpAuditEvent *ev);

#endif							/* MTMCP_PROMPTS_H */
