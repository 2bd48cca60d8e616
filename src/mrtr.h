/*
 * mrtr.h -- multi round-trip requests: handlers ask the client for input
 * (mrtr.c)
 *
 * A tool handler, prompt renderer or resource reader calls mtmcp.elicit,
 * mtmcp.elicit_url, mtmcp.sample or mtmcp.list_roots.  Each returns the
 * client's answer when the request carries it (this round's inputResponses,
 * or an earlier round's answers inside the sealed requestState); otherwise it
 * records an input request and aborts the handler, and the request is
 * answered with resultType "input_required", the inputRequests and a new
 * requestState.  The state is sealed (HMAC under mtmcp.request_state_secret)
 * and bound to the tenant, subject, method, target, a hash of the arguments
 * and an expiry; it is verified before any handler runs.  Nothing is kept in
 * the database between rounds.
 *
 * The dispatcher brackets each tools/call, prompts/get and resources/read
 * with mtmcp_mrtr_begin / mtmcp_mrtr_finish; mtmcp_run_as_tool calls
 * mtmcp_mrtr_check_pending after a handler returns; the method modules skip
 * their own error result when mtmcp_mrtr_interrupted() says the handler
 * stopped to ask.
 */
#ifndef MTMCP_MRTR_H
#define MTMCP_MRTR_H

#include "lib/stringinfo.h"
#include "utils/elog.h"
#include "utils/jsonb.h"

#include "audit.h"
#include "identity.h"

/* the handler stopped to ask the client (never seen by clients) */
#define ERRCODE_MTMCP_INPUT_REQUIRED	MAKE_SQLSTATE('M','T','I','R','Q')
/* the handler asked for a capability the client did not declare */
#define ERRCODE_MTMCP_MISSING_CAPABILITY	MAKE_SQLSTATE('M','T','C','A','P')
/* the client answered an input request with an error */
#define ERRCODE_MTMCP_INPUT_REFUSED	MAKE_SQLSTATE('M','T','I','R','F')

/* MCP 2026-07-28 error codes */
#define MCP_HEADER_MISMATCH			(-32020)
#define MCP_MISSING_CAPABILITY		(-32021)
#define MCP_UNSUPPORTED_VERSION		(-32022)

extern void MrtrInit(void);

/*
 * Before the method runs.  caps: the client's capabilities (JSON object) or
 * NULL to load them from the session.  Returns 0, or -32602 with *rpc_msg
 * and the refusal recorded in ev (a requestState or inputResponses that is
 * not acceptable).
 */
extern int	mtmcp_mrtr_begin(const MtmcpIdentity *id, const char *method, JsonbContainer *params,
							 Jsonb *caps, const char *session_id, const char **rpc_msg,
							 MtmcpAuditEvent *ev);

/*
 * After the method ran.  When the handler stopped to ask, replaces result
 * with the input_required result (returns 0), or returns -32021 with
 * *rpc_data; otherwise returns rc unchanged.  Always ends the call.
 */
extern int	mtmcp_mrtr_finish(int rc, StringInfo result, const char **rpc_msg, char **rpc_data,
							  MtmcpAuditEvent *ev);
extern void mtmcp_mrtr_reset(void);

/* true when the handler that just failed stopped to ask (or lacked a capability) */
extern bool mtmcp_mrtr_interrupted(void);
/* called by mtmcp_run_as_tool when a handler returned: raises when it asked something */
extern void mtmcp_mrtr_check_pending(void);

/* the session's capabilities, recorded at initialize */
extern void mtmcp_mrtr_session_opened(const char *session_id, JsonbContainer *params);

#endif							/* MTMCP_MRTR_H */
