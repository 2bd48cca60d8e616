/*
 * notify.c -- progress and log notifications, delivered live
 *
 * A handler running inside mcp_http can report progress
 * (mtmcp.notify_progress) and log (mtmcp.log).  These must reach the client
 * while the call runs, before its result, so they cannot wait for a commit
 * the way NOTIFY does.  They travel as NOTICE messages on the caller's own
 * connection (the server flushes each NOTICE as it is raised): primary
 * message "mtmcp notification", detail {"key": K, "message": <JSON-RPC
 * notification>}.  K is the random key the shim passed for this call, as a
 * query parameter the handler cannot see; the shim forwards only notices
 * carrying it, so a handler's own RAISE NOTICE cannot inject messages.
 *
 * Outside a call with a key (plain SQL, tests) both functions do nothing.
 * Log messages below the level the session asked for (logging/setLevel;
 * "info" by default) are dropped.  The call state is cleared at the end of
 * every dispatch and, failing that, at transaction end.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "identity.h"
#include "jsonutil.h"
#include "mtmcp.h"
#include "notify.h"
#include "sessions.h"

static const char *const log_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency", NULL
};

typedef struct CallState
{
	bool		active;
	char	   *key;			/* NULL: nobody listens */
	char	   *progress_token; /* JSON text, NULL when the request had none */
	int			min_level;		/* index into log_levels */
	Numeric		last_progress;
	/* not NULL: min_level is this session's stored level, not read yet */
	char	   *level_tenant;
	char	   *level_subject;
	char	   *level_session;
} CallState;

static CallState call = {false, NULL, NULL, 1, NULL, NULL, NULL, NULL};

static void
clear_call(void)
{
	/* the strings live in TopTransactionContext */
	call.active = false;
	call.key = NULL;
	call.progress_token = NULL;
	call.min_level = 1;
	call.last_progress = NULL;
	call.level_tenant = call.level_subject = call.level_session = NULL;
}

static void
notify_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		clear_call();
}

void
NotifyInit(void)
{
	RegisterXactCallback(notify_xact_callback, NULL);
}

int
mtmcp_log_level_rank(const char *level)
{
	int			i;

	for (i = 0; level != NULL && log_levels[i] != NULL; i++)
		if (strcmp(level, log_levels[i]) == 0)
			return i;
	return -1;
}

/* The call's least level: a level's rank; "off" (2026-07-28 without a logLevel): none; else unchanged */
static void
set_min_level(const char *level)
{
	int			rank = mtmcp_log_level_rank(level);

	if (rank >= 0)
		call.min_level = rank;
	else if (strcmp(level, "off") == 0)
		call.min_level = lengthof(log_levels);
}

/*
 * Start a call: who listens (key), its progress token, and its log level:
 * log_level when given (2026-07-28's _meta), else the one id's session_id
 * stored with logging/setLevel -- read when the call first logs, as most
 * calls never do (an index scan on every call was 3% of one).
 */
void
mtmcp_call_begin(const char *key, JsonbContainer *params, const char *log_level,
				 const MtmcpIdentity *id, const char *session_id)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	JsonbValue *meta = jsonb_object_get(params, "_meta");

	clear_call();
	call.active = true;
	call.key = key ? pstrdup(key) : NULL;
	if (jsonb_value_is_object(meta))
	{
		JsonbValue *pt = jsonb_object_get(meta->val.binary.data, "progressToken");

		if (pt != NULL && (pt->type == jbvString || pt->type == jbvNumeric))
		{
			StringInfoData b;

			initStringInfo(&b);
			json_append_value(&b, pt);
			call.progress_token = b.data;
		}
	}
	if (log_level != NULL)
		set_min_level(log_level);
	else if (session_id != NULL && call.key != NULL)
	{
		call.level_tenant = pstrdup(id->tenant);
		call.level_subject = pstrdup(id->subject);
		call.level_session = pstrdup(session_id);
	}
	MemoryContextSwitchTo(old);
}

/* The session's stored level, on a call's first log message (see mtmcp_call_begin). */
static void
resolve_session_level(void)
{
	char	   *level = mtmcp_session_log_level(call.level_tenant, call.level_subject, call.level_session);

	call.level_tenant = call.level_subject = call.level_session = NULL;
	if (level != NULL)
		set_min_level(level);
}

void
mtmcp_call_end(void)
{
	clear_call();
}

static void
emit(const char *message_json)
{
	StringInfoData d;

	initStringInfo(&d);
	appendStringInfoString(&d, "{\"key\":");
	json_append_string(&d, call.key);
	appendStringInfo(&d, ",\"message\":%s}", message_json);
	ereport(NOTICE,
			(errmsg_internal("mtmcp notification"),
			 errdetail_internal("%s", d.data),
			 errhidestmt(true),
			 errhidecontext(true)));
}

PG_FUNCTION_INFO_V1(mtmcp_notify_progress);

/*
 * SQL: mtmcp.notify_progress(progress numeric, total numeric, message text).
 * A notifications/progress for the current request, if it asked for
 * progress (params._meta.progressToken).  Progress must increase.
 */
Datum
mtmcp_notify_progress(PG_FUNCTION_ARGS)
{
	Numeric		progress;
	StringInfoData m;

	mtmcp_require_preloaded();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("progress must not be null")));
	progress = PG_GETARG_NUMERIC(0);
	if (numeric_is_nan(progress) || numeric_is_inf(progress))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("progress must be a finite number")));
	if (call.last_progress != NULL &&
		DatumGetBool(DirectFunctionCall2(numeric_le, NumericGetDatum(progress),
										 NumericGetDatum(call.last_progress))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("progress must increase with each notification"),
				 errdetail("The last progress reported was %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(call.last_progress))))));
	if (!call.active || call.key == NULL || call.progress_token == NULL)
		PG_RETURN_VOID();
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		call.last_progress = DatumGetNumeric(DirectFunctionCall1(numeric_uplus, NumericGetDatum(progress)));
		MemoryContextSwitchTo(old);
	}

	initStringInfo(&m);
	appendStringInfo(&m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":%s,\"progress\":%s",
					 call.progress_token,
					 DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(progress))));
	if (!PG_ARGISNULL(1))
		appendStringInfo(&m, ",\"total\":%s",
						 DatumGetCString(DirectFunctionCall1(numeric_out, PG_GETARG_DATUM(1))));
	if (!PG_ARGISNULL(2))
	{
		appendStringInfoString(&m, ",\"message\":");
		json_append_string(&m, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	}
	appendStringInfoString(&m, "}}");
	emit(m.data);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(mtmcp_log);

/*
 * SQL: mtmcp.log(level text, data jsonb, logger text).  A
 * notifications/message to the caller, at or above its session's level.
 */
Datum
mtmcp_log(PG_FUNCTION_ARGS)
{
	char	   *level;
	int			rank;
	StringInfoData m;

	mtmcp_require_preloaded();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("log level and data must not be null")));
	level = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rank = mtmcp_log_level_rank(level);
	if (rank < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid log level \"%s\"", level),
				 errhint("Use debug, info, notice, warning, error, critical, alert or emergency.")));
	if (!call.active || call.key == NULL)
		PG_RETURN_VOID();
	if (call.level_session != NULL)
		resolve_session_level();
	if (rank < call.min_level)
		PG_RETURN_VOID();

	initStringInfo(&m);
	appendStringInfoString(&m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":");
	json_append_string(&m, level);
	if (!PG_ARGISNULL(2))
	{
		appendStringInfoString(&m, ",\"logger\":");
		json_append_string(&m, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	}
	appendStringInfoString(&m, ",\"data\":");
	json_append_jsonb(&m, PG_GETARG_JSONB_P(1));
	appendStringInfoString(&m, "}}");
	emit(m.data);
	PG_RETURN_VOID();
}

/* logging/setLevel: the level of log notifications this caller's session wants */
int
mtmcp_logging_set_level(const MtmcpIdentity *id, JsonbContainer *params, const char *session_id,
						StringInfo result, const char **rpc_msg)
{
	char	   *level = jsonb_value_cstring(jsonb_object_get(params, "level"));
	Datum		args[4];
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};

	if (mtmcp_log_level_rank(level) < 0)
	{
		*rpc_msg = "Invalid params: level must be one of debug, info, notice, warning, error, critical, alert, emergency";
		return JSONRPC_INVALID_PARAMS;
	}
	args[0] = CStringGetTextDatum(id->tenant);
	args[1] = CStringGetTextDatum(id->subject);
	args[2] = CStringGetTextDatum(session_id ? session_id : "");
	args[3] = CStringGetTextDatum(level);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("INSERT INTO mtmcp.log_levels AS l (tenant_id, subject, session_id, level)"
							  " VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, subject, session_id)"
							  " DO UPDATE SET level = excluded.level, updated_at = now()",
							  4, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the log level");
	SPI_finish();
	appendStringInfoString(result, "{}");
	return 0;
}
