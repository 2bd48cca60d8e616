/*
 * notify.h -- progress and log notifications, delivered live (notify.c)
 *
 * A handler running inside mcp_http reports progress and log messages
 * while it runs; they travel as NOTICEs tagged with the random key the shim
 * passed for this call, so only they are forwarded.  The dispatcher opens
 * and closes the call state around every handler (mtmcp_call_begin/end).
 * logging/setLevel records the level a caller's session wants.
 */
#ifndef MTMCP_NOTIFY_H
#define MTMCP_NOTIFY_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "identity.h"

extern void NotifyInit(void);
extern void mtmcp_call_begin(const char *key, JsonbContainer *params, const char *log_level,
							 const MtmcpIdentity *id, const char *session_id);
extern void mtmcp_call_end(void);
extern int	mtmcp_log_level_rank(const char *level);
extern int	mtmcp_logging_set_level(const MtmcpIdentity *id, JsonbContainer *params, const char *session_id,
									StringInfo result, const char **rpc_msg);

#endif							/* MTMCP_NOTIFY_H */
