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
 * without locking it (straight through the primary keys of the session and
 * log level tables, no query: it runs on every message), and last_seen_at
 * is moved only when it is older than a tenth of the idle timeout (at most a
 * minute), by whichever request finds the row unlocked (SKIP LOCKED).  Everything else about a session (its log
 * level, its subscriptions) lives in rows of its own.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "cache.h"
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
static SPIPlanPtr touch_plan = NULL;

/*
 * Reading a session: the hot path of every message, so no query -- an index
 * scan on the primary key, under the statement's snapshot, as the query it
 * replaces did (a tenth of the database's time per call went to running it).
 */
typedef struct SessionRow
{
	char	   *tenant;
	char	   *subject;
	TimestampTz last_seen_at;
	bool		ended;
	Jsonb	   *caps;			/* client_capabilities (NULL: none, or not asked for) */
} SessionRow;

/*
 * A column's number, by name (the table's shape is the extension's), from the
 * relation's descriptor: a syscache lookup per column was a fifth of the
 * session check.
 */
static AttrNumber
column(Relation rel, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	elog(ERROR, "column %s.%s does not exist", RelationGetRelationName(rel), name);
	return InvalidAttrNumber;	/* keep the compiler quiet */
}

/* rel's row whose primary key is keys[0..nkeys-1] (text columns): a copy, or NULL if none. */
static HeapTuple
read_by_pkey(Relation rel, const char *const *keys, int nkeys)
{
	Oid			pkey = RelationGetPrimaryKeyIndex(rel);
	Relation	idx;
	ScanKeyData sk[3];
	SysScanDesc scan;
	HeapTuple	tup;
	Snapshot	snap;
	int			i;

	if (!OidIsValid(pkey))
		elog(ERROR, "%s has no primary key", RelationGetRelationName(rel));
	Assert(nkeys <= 3);
	idx = index_open(pkey, AccessShareLock);
	for (i = 0; i < nkeys; i++)
		ScanKeyEntryInitialize(&sk[i], 0, idx->rd_index->indkey.values[i], BTEqualStrategyNumber,
							   InvalidOid, idx->rd_indcollation[i], F_TEXTEQ,
							   CStringGetTextDatum(keys[i]));
	snap = RegisterSnapshot(GetTransactionSnapshot());
	scan = systable_beginscan(rel, pkey, true, snap, nkeys, sk);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		tup = heap_copytuple(tup);
	systable_endscan(scan);
	UnregisterSnapshot(snap);
	index_close(idx, AccessShareLock);
	return tup;
}

static Relation
open_mtmcp_table(const char *name)
{
	Oid			relid = mtmcp_relid(name);

	if (!OidIsValid(relid))
		elog(ERROR, "mtmcp.%s does not exist", name);
	return table_open(relid, AccessShareLock);
}

/* The session row (false: there is none). */
static bool
read_session(const char *session_id, SessionRow *row, bool want_caps)
{
	Relation	rel = open_mtmcp_table("sessions");
	const char *key[1] = {session_id};
	HeapTuple	tup = read_by_pkey(rel, key, 1);
	TupleDesc	desc = RelationGetDescr(rel);
	bool		isnull;
	Datum		d;

	memset(row, 0, sizeof(*row));
	if (tup != NULL)
	{
		row->tenant = TextDatumGetCString(heap_getattr(tup, column(rel, "tenant_id"), desc, &isnull));
		row->subject = TextDatumGetCString(heap_getattr(tup, column(rel, "subject"), desc, &isnull));
		row->last_seen_at = DatumGetTimestampTz(heap_getattr(tup, column(rel, "last_seen_at"), desc, &isnull));
		(void) heap_getattr(tup, column(rel, "ended_at"), desc, &isnull);
		row->ended = !isnull;
		if (want_caps)
		{
			d = heap_getattr(tup, column(rel, "client_capabilities"), desc, &isnull);
			row->caps = isnull ? NULL : DatumGetJsonbPCopy(d);
		}
	}
	table_close(rel, AccessShareLock);
	return tup != NULL;
}

/*
 * The session's log level (logging/setLevel), in TopTransactionContext; NULL:
 * none set.  Read only when a call first logs (notify.c): most calls never do.
 */
char *
mtmcp_session_log_level(const char *tenant, const char *subject, const char *session_id)
{
	Relation	rel = open_mtmcp_table("log_levels");
	const char *key[3] = {tenant, subject, session_id};
	HeapTuple	tup = read_by_pkey(rel, key, 3);
	char	   *level = NULL;
	bool		isnull;

	if (tup != NULL)
	{
		Datum		d = heap_getattr(tup, column(rel, "level"), RelationGetDescr(rel), &isnull);

		if (!isnull)
			level = MemoryContextStrdup(TopTransactionContext, TextDatumGetCString(d));
	}
	table_close(rel, AccessShareLock);
	return level;
}

/*
 * 200 when session_id is a live session of this caller (and touch it), 400
 * when there is none, 404 when it is unknown, ended, idle too long, or
 * another tenant's or subject's -- the last recorded as a security event.
 * Also returns, when caps is not NULL, its client capabilities ({} when
 * none; allocated in the caller's context).
 */
int
mtmcp_session_check(const MtmcpIdentity *id, const char *session_id, Jsonb **caps,
					MtmcpAuditEvent *ev)
{
	int			status;
	SessionRow	row;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (session_id == NULL)
	{
		ev->result_kind = "invalid";
		ev->severity = "warning";
		ev->error_code = "no_session";
		return 400;
	}
	if (!read_session(session_id, &row, caps != NULL))
		status = 404;
	else if (strcmp(row.tenant, id->tenant) != 0 || strcmp(row.subject, id->subject) != 0)
	{
		ev->result_kind = "denied";
		ev->severity = "security";
		ev->detail = "foreign_session";
		status = 404;
	}
	else if (row.ended || row.last_seen_at <= now - (int64) mtmcp_session_idle_timeout * USECS_PER_SEC)
		status = 404;
	else
	{
		int64		touch_after = Min((int64) 60 * USECS_PER_SEC,
									  (int64) mtmcp_session_idle_timeout * USECS_PER_SEC / 10);

		if (caps != NULL)
			*caps = row.caps ? row.caps : json_text_to_jsonb("{}");

		/*
		 * Touch it only when last_seen_at is stale, and never wait: a
		 * session's requests run in parallel, so none may hold or wait for a
		 * lock on its row for the length of a call.  (The UPDATE checks
		 * staleness again, under the row lock it takes.)
		 */
		if (row.last_seen_at < now - touch_after)
		{
			Datum		args[2];
			Oid			types[2] = {TEXTOID, INT4OID};

			args[0] = CStringGetTextDatum(session_id);
			args[1] = Int32GetDatum(mtmcp_session_idle_timeout);
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			if (touch_plan == NULL)
				touch_plan = mtmcp_keep_plan("UPDATE mtmcp.sessions s SET last_seen_at = now()"
											 " WHERE s.session_id = (SELECT l.session_id FROM mtmcp.sessions l"
											 "   WHERE l.session_id = $1"
											 "     AND l.last_seen_at < now() - make_interval(secs => least(60, $2 / 10.0))"
											 "   FOR NO KEY UPDATE SKIP LOCKED)",
											 2, types);
			if (SPI_execute_plan(touch_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not touch the session");
			SPI_finish();
		}
		status = 200;
	}
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
	st = mtmcp_session_check(&ident, session, NULL, &ev);
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
