/*
 * resources.h -- tenant-scoped resources (resources.c)
 *
 * The resources methods over RFC 6570 level-1 URI templates: every
 * template that is not public carries a {tenant} variable, and a URI naming
 * another tenant is refused before any reader runs with exactly the answer
 * a URI that matches nothing gets.  Also subscriptions and
 * mtmcp.resource_updated, and completion of template variables.
 */
#ifndef MTMCP_RESOURCES_H
#define MTMCP_RESOURCES_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "audit.h"
#include "identity.h"

extern int	mtmcp_resources_read(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
								 const char **rpc_msg, char **rpc_data, MtmcpAuditEvent *ev);
extern int	mtmcp_resources_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
								 const char **rpc_msg, MtmcpAuditEvent *ev);
extern int	mtmcp_resource_templates_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
										  const char **rpc_msg);
extern int	mtmcp_resources_subscribe(const MtmcpIdentity *id, JsonbContainer *params, bool subscribe,
									  const char *session_id, StringInfo result, const char **rpc_msg,
									  char **rpc_data, MtmcpAuditEvent *ev);
extern int	mtmcp_complete_resource(const MtmcpIdentity *id, const char *uri_template, const char *arg,
									const char *value, Jsonb *request, StringInfo result, const char **rpc_msg);

#endif							/* MTMCP_RESOURCES_H */
