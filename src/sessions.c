/*
 * sessions.c -- MCP sessions over HTTP: open, check, end
 *
 * A successful initialize over mcp_http opens a session: an unguessable id
 * (192 random bits) bound to the verified tenant and subject.  Every later
 * message over HTTP names it, and it must be a live session of the same
 * caller; a session that is unknown, ended, idle longer than
 * mtmcp.session_idle_timeout or another tenant's or subject's answers 404
 * alike (the foreign case recorded as a security event).  mcp_http_end and
 * mcp_http_check are the shim's DELETE and GET.
 *
 * Requests of one session run in parallel: the check reads the session row
 * without locking it, and last_seen_at is moved only when it is older than a
 * tenth of the idle timeout (at most a minute), by whichever request finds
 * the row unlocked (SKIP LOCKED).  Everything else about a session (its log
 * level, its subscriptions) lives in rows of its own.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "audit.h"
#include "identity.h"
#include "jsonutil.h"
#include "mtmcp.h"
#include "router.h"
#include "sessions.h"

int			mtmcp_session_idle_timeout = 1800;

void
SessionsInit(void)
{
	DefineCustomIntVariable("mtmcp.session_idle_timeout",
							gettext_noop("Seconds after which an idle MCP session expires."),
							NULL,
							&mtmcp_session_idle_timeout,
							1800, 10, 7 * 24 * 3600,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}

#define SESSION_ID_BYTES 24

/*
 * Open a session for a caller that just initialized: an unguessable id
 * (192 random bits), bound to the verified tenant and subject.
 */
char *
mtmcp_session_open(const MtmcpIdentity *id, const char *version, JsonbContainer *params)
{
	char	   *sid = palloc(SESSION_ID_BYTES * 2 + 1);
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID};
	JsonbValue *ci = jsonb_object_get(params, "clientInfo");

	mtmcp_random_hex(sid, SESSION_ID_BYTES);

	args[0] = CStringGetTextDatum(sid);
	args[1] = CStringGetTextDatum(id->tenant);
	args[2] = CStringGetTextDatum(id->subject);
	args[3] = CStringGetTextDatum(version);
	if (jsonb_value_is_object(ci))
		args[4] = JsonbPGetDatum(jsonb_value_to_jsonb(ci));
	else
		nulls[4] = 'n';
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("INSERT INTO mtmcp.sessions (session_id, tenant_id, subject, protocol_version, client_info)"
							  " VALUES ($1, $2, $3, $4, $5)", 5, types, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not open a session");
	SPI_finish();
	return sid;
}

/* per-call statements, prepared once per backend */
static SPIPlanPtr check_plan = NULL;
static SPIPlanPtr touch_plan = NULL;

/*
 * 200 when session_id is a live session of this caller (and touch it), 400
 * when there is none, 404 when it is unknown, ended, idle too long, or
 * another tenant's or subject's -- the last recorded as a security event.
 * Also returns the session's log level and, when caps is not NULL, its
 * client capabilities ({} when none; allocated in the caller's context).
 */
int
mtmcp_session_check(const MtmcpIdentity *id, const char *session_id, char **log_level,
					Jsonb **caps, MtmcpAuditEvent *ev)
{
	Datum		args[2];
	Oid			types[2] = {TEXTOID, INT4OID};
	int			status;
	MemoryContext outer = CurrentMemoryContext;

	if (session_id == NULL)
	{
		ev->result_kind = "invalid";
		ev->severity = "warning";
		ev->error_code = "no_session";
		return 400;
	}
	args[0] = CStringGetTextDatum(session_id);
	args[1] = Int32GetDatum(mtmcp_session_idle_timeout);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (check_plan == NULL)
		check_plan = mtmcp_keep_plan("SELECT s.tenant_id, s.subject,"
									 "       s.ended_at IS NULL AND s.last_seen_at > now() - make_interval(secs => $2),"
									 "       (SELECT l.level FROM mtmcp.log_levels l WHERE l.tenant_id = s.tenant_id"
									 "           AND l.subject = s.subject AND l.session_id = s.session_id),"
									 "       s.last_seen_at < now() - make_interval(secs => least(60, $2 / 10.0)),"
									 "       s.client_capabilities"
									 "  FROM mtmcp.sessions s WHERE s.session_id = $1",
									 2, types);
	if (SPI_execute_plan(check_plan, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up the session");
	if (SPI_processed == 0)
		status = 404;
	else
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *tenant = SPI_getvalue(tup, desc, 1);
		char	   *subject = SPI_getvalue(tup, desc, 2);
		bool		live = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));

		if (strcmp(tenant, id->tenant) != 0 || strcmp(subject, id->subject) != 0)
		{
			ev->result_kind = "denied";
			ev->severity = "security";
			ev->detail = "foreign_session";
			status = 404;
		}
		else if (!live)
			status = 404;
		else
		{
			char	   *lvl = SPI_getvalue(tup, desc, 4);
			bool		stale_null;
			bool		stale = DatumGetBool(SPI_getbinval(tup, desc, 5, &stale_null));

			*log_level = lvl ? MemoryContextStrdup(TopTransactionContext, lvl) : NULL;
			if (caps != NULL)
			{
				Datum		c = SPI_getbinval(tup, desc, 6, &isnull);
				MemoryContext spi = MemoryContextSwitchTo(outer);

				*caps = isnull ? json_text_to_jsonb("{}") : DatumGetJsonbPCopy(c);
				MemoryContextSwitchTo(spi);
			}
			/*
			 * Touch it only when last_seen_at is stale, and never wait: a
			 * session's requests run in parallel, so none may hold or wait
			 * for a lock on its row for the length of a call.  (The UPDATE
			 * checks staleness again, under the row lock it takes.)
			 */
			if (!stale_null && stale)
			{
				if (touch_plan == NULL)
					touch_plan = mtmcp_keep_plan("UPDATE mtmcp.sessions s SET last_seen_at = now()"
												 " WHERE s.session_id = (SELECT l.session_id FROM mtmcp.sessions l"
												 "   WHERE l.session_id = $1"
												 "     AND l.last_seen_at < now() - make_interval(secs => least(60, $2 / 10.0))"
												 "   FOR NO KEY UPDATE SKIP LOCKED)",
												 2, types);
				if (SPI_execute_plan(touch_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
					elog(ERROR, "could not touch the session");
			}
			status = 200;
		}
	}
	SPI_finish();
	if (status == 404 && ev->result_kind == NULL)
	{
		ev->result_kind = "not_found";
		ev->severity = "warning";
		ev->error_code = "session_not_found";
	}
	return status;
}

/* The optional session id argument n of an SQL entry point, checked. */
char *
mtmcp_session_arg(FunctionCallInfo fcinfo, int n)
{
	char	   *session = PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));

	if (session != NULL && (strlen(session) == 0 || strlen(session) > 256))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid session id"),
				 errdetail("A session id is 1 to 256 characters.")));
	return session;
}

/*
 * Shared by mcp_http_end and mcp_http_check: authenticate, then find the
 * caller's own live session.  Returns the HTTP status.
 */
static int
session_request(FunctionCallInfo fcinfo, bool end)
{
	char	   *token = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *session = mtmcp_session_arg(fcinfo, 1);
	MtmcpIdentity ident;
	MtmcpAuthError err;
	MtmcpAuditEvent ev;
	char	   *log_level = NULL;
	int			st;

	mtmcp_require_preloaded();
	mtmcp_audit_begin(&ev, NULL);
	ev.session_id = session;
	ev.method = end ? "session/end" : "session/stream";
	if (!mtmcp_verify_request(token, &ident, &err))
	{
		mtmcp_audit_auth_failure(&ev, &err);
		return err.http_status;
	}
	if (mtmcp_router_mode)		/* a scale-out router: the tenant's shard answers (router.c) */
		return mtmcp_router_forward_session(&ident, token, session, end);
	st = mtmcp_session_check(&ident, session, &log_level, NULL, &ev);
	if (st == 200 && end)
	{
		Datum		args[1];
		Oid			types[1] = {TEXTOID};

		args[0] = CStringGetTextDatum(session);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args("UPDATE mtmcp.sessions SET ended_at = now() WHERE session_id = $1",
								  1, types, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not end the session");
		SPI_finish();
		st = 204;
	}
	if (ev.result_kind == NULL)
	{
		ev.result_kind = "ok";
		ev.severity = "info";
	}
	mtmcp_audit_write(&ident, &ev);
	return st;
}

PG_FUNCTION_INFO_V1(mtmcp_mcp_http_end);

/* SQL: mtmcp.mcp_http_end(token, session_id) -> 204, 400, 401, 403 or 404 */
Datum
mtmcp_mcp_http_end(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(session_request(fcinfo, true));
}

PG_FUNCTION_INFO_V1(mtmcp_mcp_http_check);

/* SQL: mtmcp.mcp_http_check(token, session_id) -> 200, 400, 401, 403 or 404 */
Datum
mtmcp_mcp_http_check(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(session_request(fcinfo, false));
}
