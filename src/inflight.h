/*
 * inflight.h -- calls in flight: fair sharing, time limits, cancellation
 * (inflight.c)
 *
 * Every request of a verified tenant holds one of its "max_in_flight"
 * places while it runs (counted across backends, released at the end of the
 * call, on error, at transaction end and at backend exit); a request over
 * the limit is refused at once.  Every handler runs under a time limit and
 * a lock timeout; notifications/cancelled interrupts the named call of the
 * same caller.  A call ended by a time limit or a cancel is answered and
 * audited ("timeout", "cancelled") like any other.
 */
#ifndef MTMCP_INFLIGHT_H
#define MTMCP_INFLIGHT_H

#include "utils/elog.h"
#include "utils/jsonb.h"

#include "audit.h"
#include "identity.h"

/* How a handler call was interrupted, if it was. */
typedef enum MtmcpInterrupt
{
	MTMCP_INTERRUPT_NONE,
	MTMCP_INTERRUPT_TIMEOUT,	/* its time limit */
	MTMCP_INTERRUPT_LOCK_TIMEOUT,	/* its lock timeout */
	MTMCP_INTERRUPT_CANCELLED,	/* notifications/cancelled */
	MTMCP_INTERRUPT_CLIENT_CANCEL	/* a query cancel from outside (PQcancel) */
} MtmcpInterrupt;

extern void InflightInit(void);

/* dispatch: the in-flight place of one request, and its outcome */
extern int	mtmcp_inflight_enter(const MtmcpIdentity *id, const char *session_id, JsonbValue *request_id,
								 int *limit);
extern void mtmcp_inflight_leave(MtmcpAuditEvent *ev, int *rpc_code, const char **rpc_msg, char **rpc_data);
extern void mtmcp_cancel_request(const MtmcpIdentity *id, const char *session_id, JsonbContainer *params,
								 MtmcpAuditEvent *ev);

/* tools.c: the limits of the next handler, and the handler's run */
extern void mtmcp_call_limits(int timeout_ms, int lock_timeout_ms);
extern int	mtmcp_call_timeout_ms(void);
extern int	mtmcp_call_lock_timeout_ms(void);
extern void mtmcp_handler_begin(void);
extern void mtmcp_handler_end(void);
extern MtmcpInterrupt mtmcp_handler_interrupted(ErrorData *edata);

#endif							/* MTMCP_INFLIGHT_H */
