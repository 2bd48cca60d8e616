/*
 * listen.h -- subscriptions/listen (2026-07-28) and list-change
 * announcements (listen.c)
 *
 * mtmcp_listen answers a stateless subscriptions/listen: the complete
 * acknowledgement notification in out, the tenant's listen key (the shim's
 * name for the tenant's listeners) in *listen_key.  List changes are
 * announced with NOTIFY mtmcp_list_changed '<listen key> <kind>'.
 */
#ifndef MTMCP_LISTEN_H
#define MTMCP_LISTEN_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "identity.h"

extern char *mtmcp_listen_key(const char *tenant);
extern int	mtmcp_listen(const MtmcpIdentity *id, JsonbValue *idv, JsonbContainer *params, StringInfo out,
						 char **listen_key, const char **rpc_msg);

#endif							/* MTMCP_LISTEN_H */
