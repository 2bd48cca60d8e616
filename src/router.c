/*
 * router.c -- scale-out: forward a verified call to the tenant's shard
 *
 * Called by dispatch.c and sessions.c right after the token was verified,
 * when mtmcp.router is on.  For every call:
 *
 *   1. take the tenant's move lock in shared mode (a transaction-scoped
 *      advisory lock); move_tenant takes it exclusively after marking the
 *      tenant 'moving', so it waits for every call already forwarded, and
 *      every call after that sees 'moving';
 *   2. read the directory (a fresh snapshot, after the lock): not placed
 *      -> 403 unknown_tenant; moving -> 503, retryable (retryAfter);
 *   3. forward the raw message through PL/Proxy (mtmcp_router.mcp_http or
 *      mcp_dispatch, RUN ON the shard's number) in a subtransaction: a
 *      shard that cannot be reached is a 503, retryable; the shard's answer
 *      is returned as it is, and its live notifications reach the shim
 *      while it runs (relay_notifications).
 *
 * The router writes no audit row for a forwarded call: the shard that runs
 * it does, in the transaction of the work.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "cache.h"
#include "jsonutil.h"
#include "mtmcp.h"
#include "router.h"

bool		mtmcp_router_mode = false;

/* seconds a client is told to wait: a move's cutover, an unreachable shard */
static int	router_retry_moving = 1;
static int	router_retry_down = 5;

/* the advisory lock class of tenant moves ("mtmv") */
#define MOVE_LOCK_CLASS 0x6d746d76

void
RouterInit(void)
{
	DefineCustomBoolVariable("mtmcp.router",
							 gettext_noop("This database is a scale-out router: verified calls are forwarded to the tenant's shard."),
							 gettext_noop("Needs mtmcp.enable_router() (PL/Proxy) and mtmcp.shards / mtmcp.tenant_directory."),
							 &mtmcp_router_mode,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
	/* the directory cache follows every committed change of these (cache.c) */
	mtmcp_track_config_relation("tenant_directory");
	mtmcp_track_config_relation("shards");
}

typedef struct Placement
{
	bool		found;
	bool		moving;
	int			shard_no;
	char	   *shard;
} Placement;

static SPIPlanPtr lookup_plan = NULL;

/*
 * The directory as this backend last read it, per tenant: dropped whenever
 * the configuration generation moves (a committed change of
 * mtmcp.tenant_directory or mtmcp.shards, among others).
 */
#define DIR_NAME 64
#define DIR_CACHE_MAX 10000

typedef struct DirEntry
{
	char		tenant[DIR_NAME];	/* key */
	bool		moving;
	int			shard_no;
	char		shard[DIR_NAME];
} DirEntry;

static HTAB *dir_cache = NULL;
static uint64 dir_generation = 0;

static DirEntry *
dir_cache_find(const char *tenant)
{
	uint64		gen = mtmcp_config_generation();

	if (strlen(tenant) >= DIR_NAME)
		return NULL;
	if (dir_cache != NULL && (gen != dir_generation || hash_get_num_entries(dir_cache) >= DIR_CACHE_MAX))
	{
		hash_destroy(dir_cache);
		dir_cache = NULL;
	}
	if (dir_cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = DIR_NAME;
		ctl.entrysize = sizeof(DirEntry);
		dir_cache = hash_create("mtmcp tenant directory", 256, &ctl, HASH_ELEM | HASH_STRINGS);
		dir_generation = gen;
	}
	return hash_search(dir_cache, tenant, HASH_FIND, NULL);
}

/*
 * Steps 1 and 2: the move lock, then the directory.  Inside SPI.
 *
 * Why the cache is safe: invalidations are read after the lock is held, so
 * a call that gets the lock after a move's drain sees the committed
 * 'moving' (or the flip); a call that got it before may use what it read
 * earlier, and the drain waits for it.
 */
static Placement
lookup(const char *tenant)
{
	Placement	p = {false, false, 0, NULL};
	Datum		arg[1];
	Oid			types[1] = {TEXTOID};
	DirEntry   *e;

	arg[0] = CStringGetTextDatum(tenant);
	/* pg_advisory_xact_lock_shared(class, hashtext(tenant)), as move_tenant's drain takes it */
	DirectFunctionCall2(pg_advisory_xact_lock_shared_int4, Int32GetDatum(MOVE_LOCK_CLASS),
						DirectFunctionCall1Coll(hashtext, C_COLLATION_OID, arg[0]));
	AcceptInvalidationMessages();
	e = dir_cache_find(tenant);
	if (e != NULL)
	{
		p.found = true;
		p.moving = e->moving;
		p.shard_no = e->shard_no;
		p.shard = pstrdup(e->shard);
		return p;
	}
	if (lookup_plan == NULL)
		lookup_plan = mtmcp_keep_plan("SELECT d.state = 'moving', s.shard_no, s.shard"
									  "  FROM mtmcp.tenant_directory d JOIN mtmcp.shards s ON s.shard = d.shard"
									  " WHERE d.tenant_id = $1", 1, types);
	/* its snapshot is taken now, after the lock */
	if (SPI_execute_plan(lookup_plan, arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the tenant directory");
	if (SPI_processed == 1)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		p.found = true;
		p.moving = DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull));
		p.shard_no = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		p.shard = SPI_getvalue(tup, desc, 3);
		if (dir_cache != NULL && strlen(tenant) < DIR_NAME && strlen(p.shard) < DIR_NAME)
		{
			bool		found;

			e = hash_search(dir_cache, tenant, HASH_ENTER, &found);
			e->moving = p.moving;
			e->shard_no = p.shard_no;
			strlcpy(e->shard, p.shard, DIR_NAME);
		}
	}
	return p;
}

/* An error response to the message's id, as a shard would write it. */
static Jsonb *
error_response(Jsonb *req, int code, const char *message, const char *data)
{
	StringInfoData out;
	JsonbValue *idv = NULL;

	if (req != NULL && JB_ROOT_IS_OBJECT(req) && !JB_ROOT_IS_SCALAR(req))
		idv = jsonb_object_get(&req->root, "id");
	initStringInfo(&out);
	appendStringInfoString(&out, "{\"jsonrpc\":\"2.0\",\"id\":");
	if (idv != NULL && (idv->type == jbvString || idv->type == jbvNumeric))
		json_append_value(&out, idv);
	else
		appendStringInfoString(&out, "null");
	appendStringInfo(&out, ",\"error\":{\"code\":%d,\"message\":", code);
	json_append_string(&out, message);
	if (data != NULL)
		appendStringInfo(&out, ",\"data\":%s", data);
	appendStringInfoString(&out, "}}");
	return json_text_to_jsonb(out.data);
}

/* Does this error mean "the shard cannot be reached now" (retryable)? */
static bool
shard_unreachable(ErrorData *e)
{
	int			cls = ERRCODE_TO_CATEGORY(e->sqlerrcode);

	if (cls == ERRCODE_CONNECTION_EXCEPTION || cls == ERRCODE_OPERATOR_INTERVENTION ||
		e->sqlerrcode == ERRCODE_CANNOT_CONNECT_NOW || e->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
		return true;
	/* PL/Proxy reports failed connections and lost ones without a class-08 code */
	return e->message != NULL &&
		(strstr(e->message, "connect") != NULL || strstr(e->message, "connection") != NULL ||
		 strstr(e->message, "timeout") != NULL || strstr(e->message, "server closed") != NULL);
}

typedef struct Forwarded
{
	bool		ok;
	bool		unreachable;
	int			status;
	char	   *session;
	Jsonb	   *response;
} Forwarded;

/*
 * Live notifications (progress, log) from the shard: the shard raises them as
 * NOTICEs "mtmcp notification" with the payload as detail (notify.c); PL/Proxy
 * relays remote notices as "func(n): [db] REMOTE NOTICE: <message>" with
 * "Remote detail: <detail>".  While a call is forwarded, this hook gives them
 * back their own message and detail, so that the shim recognizes them as if
 * it were connected to the shard.
 */
static emit_log_hook_type prev_emit_log_hook = NULL;
static int	saved_log_min_messages;

#define REMOTE_NOTIFICATION "] REMOTE NOTICE: mtmcp notification"
#define REMOTE_DETAIL "Remote detail: "

static void
relay_notifications(ErrorData *edata)
{
	if (edata->elevel == NOTICE && edata->message != NULL && edata->detail != NULL)
	{
		size_t		ml = strlen(edata->message);
		size_t		sl = strlen(REMOTE_NOTIFICATION);

		if (ml > sl && strcmp(edata->message + ml - sl, REMOTE_NOTIFICATION) == 0 &&
			strncmp(edata->detail, REMOTE_DETAIL, strlen(REMOTE_DETAIL)) == 0)
		{
			char	   *old_message = edata->message;
			char	   *old_detail = edata->detail;

			edata->message = MemoryContextStrdup(ErrorContext, "mtmcp notification");
			edata->detail = MemoryContextStrdup(ErrorContext, old_detail + strlen(REMOTE_DETAIL));
			pfree(old_message);
			pfree(old_detail);
			edata->hide_stmt = true;
			edata->hide_ctx = true;
		}
	}
	/* what the real log_min_messages would not log stays out of the log */
	if (edata->elevel < saved_log_min_messages && edata->elevel != LOG && edata->elevel != LOG_SERVER_ONLY)
		edata->output_to_server = false;
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * emit_log_hook runs only for messages that go to the server log, so while
 * a call is forwarded log_min_messages is lowered to NOTICE, and the hook
 * keeps every message the real setting would not log out of the log.
 */
static void
relay_begin(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = relay_notifications;
	saved_log_min_messages = log_min_messages;
	if (log_min_messages > NOTICE)
		log_min_messages = NOTICE;
}

static void
relay_end(void)
{
	emit_log_hook = prev_emit_log_hook;
	log_min_messages = saved_log_min_messages;
}

static SPIPlanPtr http_plan = NULL;
static SPIPlanPtr dispatch_plan = NULL;
static SPIPlanPtr end_plan = NULL;
static SPIPlanPtr check_plan = NULL;

/*
 * Step 3: run one prepared PL/Proxy call in a subtransaction; its first
 * row's columns as status/session/response depending on kind, copied into
 * the caller's memory context (outside SPI's).  Inside SPI.
 */
static Forwarded
forward(SPIPlanPtr plan, Datum *args, const char *nulls, int kind, const char *shard,
		MemoryContext caller)
{
	Forwarded	f = {false, false, 500, NULL, NULL};
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	relay_begin();
	PG_TRY();
	{
		if (SPI_execute_plan(plan, args, nulls, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "the shard returned no answer");
		else
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		d;
			MemoryContext up = MemoryContextSwitchTo(caller);

			if (kind == 0)		/* mcp_http: status, session, response */
			{
				d = SPI_getbinval(tup, desc, 1, &isnull);
				f.status = isnull ? 500 : DatumGetInt32(d);
				f.session = SPI_getvalue(tup, desc, 2);
				if (f.session != NULL)
					f.session = pstrdup(f.session);
				d = SPI_getbinval(tup, desc, 3, &isnull);
				f.response = isnull ? NULL : DatumGetJsonbPCopy(d);
			}
			else if (kind == 1) /* mcp_dispatch: response */
			{
				d = SPI_getbinval(tup, desc, 1, &isnull);
				f.response = isnull ? NULL : DatumGetJsonbPCopy(d);
				f.status = 200;
			}
			else				/* mcp_http_end / check: status */
			{
				d = SPI_getbinval(tup, desc, 1, &isnull);
				f.status = isnull ? 500 : DatumGetInt32(d);
			}
			MemoryContextSwitchTo(up);
			f.ok = true;
		}
		relay_end();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		relay_end();
		MemoryContextSwitchTo(oldcxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		f.unreachable = shard_unreachable(e);
		ereport(WARNING,
				(errmsg("mtmcp router: the call to shard \"%s\" failed: %s", shard, e->message)));
		FreeErrorData(e);
	}
	PG_END_TRY();
	return f;
}

static SPIPlanPtr
plan_for(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
		*plan = mtmcp_keep_plan(sql, nargs, types);
	return *plan;
}

Jsonb *
mtmcp_router_forward(const MtmcpIdentity *id, const char *token, Jsonb *req,
					 const char *session_id, const char *notify_key, Jsonb *headers,
					 bool http, int *status, char **out_session)
{
	Placement	p;
	Forwarded	f;
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	Oid			types[6] = {INT4OID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, JSONBOID};
	Jsonb	   *res;
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	p = lookup(id->tenant);
	if (!p.found)
	{
		SPI_finish();
		*status = 403;
		return error_response(req, MCP_AUTH_ERROR, "Forbidden",
							  "{\"reason\":\"unknown_tenant\",\"status\":403}");
	}
	if (p.moving)
	{
		SPI_finish();
		*status = 503;
		return error_response(req, MCP_TEMPORARILY_UNAVAILABLE, "Tenant is moving; retry shortly",
							  psprintf("{\"reason\":\"tenant_moving\",\"retryAfter\":%d}", router_retry_moving));
	}
	args[0] = Int32GetDatum(p.shard_no);
	args[1] = CStringGetTextDatum(token);
	if (req != NULL)
		args[2] = JsonbPGetDatum(req);
	else
		nulls[2] = 'n';
	if (session_id != NULL)
		args[3] = CStringGetTextDatum(session_id);
	else
		nulls[3] = 'n';
	if (notify_key != NULL)
		args[4] = CStringGetTextDatum(notify_key);
	else
		nulls[4] = 'n';
	if (headers != NULL)
		args[5] = JsonbPGetDatum(headers);
	else
		nulls[5] = 'n';
	if (http)
		f = forward(plan_for(&http_plan, "SELECT http_status, session_id, response"
							 "  FROM mtmcp_router.mcp_http($1, $2, $3, $4, $5, $6)", 6, types),
					args, nulls, 0, p.shard, caller);
	else
		f = forward(plan_for(&dispatch_plan, "SELECT mtmcp_router.mcp_dispatch($1, $2, $3, $4)", 4, types),
					args, nulls, 1, p.shard, caller);
	SPI_finish();
	if (!f.ok)
	{
		*status = f.unreachable ? 503 : 500;
		if (f.unreachable)
			return error_response(req, MCP_TEMPORARILY_UNAVAILABLE, "Tenant's shard is unavailable; retry later",
								  psprintf("{\"reason\":\"shard_unavailable\",\"retryAfter\":%d}", router_retry_down));
		return error_response(req, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
	}
	*status = f.status;
	*out_session = f.session;
	res = f.response;
	return res;
}

int
mtmcp_router_forward_session(const MtmcpIdentity *id, const char *token, const char *session_id, bool end)
{
	Placement	p;
	Forwarded	f;
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	Oid			types[3] = {INT4OID, TEXTOID, TEXTOID};
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	p = lookup(id->tenant);
	if (!p.found || p.moving)
	{
		SPI_finish();
		return p.found ? 503 : 403;
	}
	args[0] = Int32GetDatum(p.shard_no);
	args[1] = CStringGetTextDatum(token);
	if (session_id != NULL)
		args[2] = CStringGetTextDatum(session_id);
	else
		nulls[2] = 'n';
	if (end)
		f = forward(plan_for(&end_plan, "SELECT mtmcp_router.mcp_http_end($1, $2, $3)", 3, types),
					args, nulls, 2, p.shard, caller);
	else
		f = forward(plan_for(&check_plan, "SELECT mtmcp_router.mcp_http_check($1, $2, $3)", 3, types),
					args, nulls, 2, p.shard, caller);
	SPI_finish();
	if (!f.ok)
		return f.unreachable ? 503 : 500;
	return f.status;
}
