/*
 * audit.h -- the audit trail: one row per dispatched message (audit.c)
 *
 * The dispatcher fills one MtmcpAuditEvent per message and writes it once:
 * to mtmcp.audit_log when the caller was authenticated (with the verified
 * tenant, arguments redacted by mtmcp_audit_prepare inside the dispatcher's
 * guard, subject to the tenant's observability budget), to
 * mtmcp.auth_failures when it was not (budgeted per source and reason; an
 * attack on a real tenant never).  Security events are also sent on the
 * mtmcp_security channel at commit, naming the row's event_id and table.
 */
#ifndef MTMCP_AUDIT_H
#define MTMCP_AUDIT_H

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "identity.h"

typedef struct MtmcpAuditEvent
{
	TimestampTz start;
	char		event_id[37];
	char		trace_id[33];
	char		span_id[17];
	char		parent_span_id[17];	/* "" when the caller sent none */
	char	   *session_id;
	char	   *request_id;		/* the JSON-RPC id as text */
	char	   *method;
	char	   *target;			/* tool, resource or prompt name */
	const char *result_kind;	/* ok, tool_error, denied, invalid, not_found, ... */
	const char *severity;		/* info, warning, security */
	char	   *error_code;		/* JSON-RPC code or SQLSTATE */
	char	   *detail;			/* security event kind, for alerting */
	Jsonb	   *arguments;		/* redacted when written */
	bool		redacted;		/* arguments already redacted (mtmcp_audit_prepare) */
	char	  **redact_paths;
	int			nredact;
	/* prompt-injection findings and the kept result (inspect.c) */
	char	   *findings;		/* JSON array text; NULL for none */
	const char *min_severity;	/* the findings' floor for severity, or NULL */
	const char *min_detail;		/* detail when the floor raises it to security */
	char	   *result_text;	/* redacted, cut at the tenant's bound; NULL: no result */
	/*
	 * tools.c: the handler's result (an object or array) when the result
	 * text is its canonical wrapping, {"content": [{"text": <its text>, ...}]
	 * ...}, already in jsonb's text form: inspect.c then needs neither to
	 * parse the result nor to read the text inside it.  NULL otherwise.
	 */
	Jsonb	   *tool_result;
	int64		result_bytes;
	char		result_sha256[65];
	bool		result_truncated;
} MtmcpAuditEvent;

extern void AuditInit(void);
extern void mtmcp_audit_begin(MtmcpAuditEvent *ev, JsonbContainer *params);
extern void mtmcp_audit_prepare(MtmcpAuditEvent *ev);
extern bool mtmcp_audit_write(const MtmcpIdentity *id, MtmcpAuditEvent *ev);
extern void mtmcp_audit_auth_failure(MtmcpAuditEvent *ev, const MtmcpAuthError *err);
extern void mtmcp_random_hex(char *out, int nbytes);
extern Jsonb *mtmcp_redact(Jsonb *args, char **paths, int npaths);

/*
 * Would mtmcp_redact change doc?  And would it change the JSON document in
 * text (*is_json: whether text is one)?  Read-only checks, far cheaper than
 * the rebuild, for the many documents with nothing to redact.
 */
extern bool mtmcp_redaction_needed(JsonbContainer *doc, char **paths, int npaths);
extern bool mtmcp_redaction_needed_text(const char *text, int len, char **paths, int npaths,
										bool *is_json);

#endif							/* MTMCP_AUDIT_H */
