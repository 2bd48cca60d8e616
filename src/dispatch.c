/*
 * dispatch.c -- mcp_dispatch: one JSON-RPC message in, its response out
 *
 * Order of work for every message, with no exceptions:
 *
 *   1. authenticate (src/identity.c): token verified, tenant resolved and
 *      active.  A refusal is answered with MCP_AUTH_ERROR (-32001) and
 *      data {"reason", "status"}; a shim maps status to HTTP 401/403.
 *   2. check the JSON-RPC 2.0 envelope (-32600 malformed or batch).
 *   3. install the verified identity for this message only (restored when
 *      the message is done, so nothing outlives it in the session).
 *   4. route the method (-32601 unknown, -32602 bad params).
 *
 * Notifications (no "id") and client responses get NULL.  Error messages
 * never carry internal detail; server-side detail goes to the server log.
 */
#include "postgres.h"

#include <time.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/numeric.h"
#include "funcapi.h"
#include "utils/memutils.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "audit.h"
#include "completion.h"
#include "cost.h"
#include "counters.h"
#include "dispatch.h"
#include "identity.h"
#include "jsonutil.h"
#include "mtmcp.h"
#include "notify.h"
#include "prompts.h"
#include "resources.h"
#include "tools.h"

#ifndef MTMCP_VERSION
#error "MTMCP_VERSION must come from the build (Makefile)"
#endif

int			mtmcp_session_idle_timeout = 1800;

void
DispatchInit(void)
{
	DefineCustomIntVariable("mtmcp.session_idle_timeout",
							gettext_noop("Seconds after which an idle MCP session expires."),
							NULL,
							&mtmcp_session_idle_timeout,
							1800, 10, 7 * 24 * 3600,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}

/* Protocol revisions we speak, newest first. */
static const char *const supported_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", NULL
};

typedef struct HttpOutcome HttpOutcome;
static int	handle_set_level(const MtmcpIdentity *id, JsonbContainer *params, const char *session_id,
							 StringInfo result, const char **rpc_msg);

static void
begin_response(StringInfo out, JsonbValue *id)
{
	appendStringInfoString(out, "{\"jsonrpc\":\"2.0\",\"id\":");
	if (id != NULL)
		json_append_value(out, id);
	else
		appendStringInfoString(out, "null");
}

/* A complete error response; data is JSON text or NULL. */
static void
write_error(StringInfo out, JsonbValue *id, int code, const char *message, const char *data)
{
	begin_response(out, id);
	appendStringInfo(out, ",\"error\":{\"code\":%d,\"message\":", code);
	json_append_string(out, message);
	if (data != NULL)
		appendStringInfo(out, ",\"data\":%s", data);
	appendStringInfoString(out, "}}");
}

static Jsonb *
finish(StringInfo out)
{
	return json_text_to_jsonb(out->data);
}

/* initialize: version negotiation, capabilities, server info */
static void
handle_initialize(StringInfo result, JsonbContainer *params, const char **rpc_msg, const char **chosen)
{
	char	   *requested = jsonb_value_cstring(jsonb_object_get(params, "protocolVersion"));
	const char *version = supported_versions[0];
	int			i;

	if (requested == NULL)
	{
		*rpc_msg = "Invalid params: protocolVersion must be a string";
		return;
	}
	for (i = 0; supported_versions[i] != NULL; i++)
		if (strcmp(requested, supported_versions[i]) == 0)
			version = supported_versions[i];
	*chosen = version;

	appendStringInfoString(result, "{\"protocolVersion\":");
	json_append_string(result, version);
	appendStringInfoString(result,
						   ",\"capabilities\":{\"tools\":{\"listChanged\":false},"
						   "\"resources\":{\"subscribe\":true,\"listChanged\":false},"
						   "\"prompts\":{\"listChanged\":false},"
						   "\"completions\":{},\"logging\":{}}"
						   ",\"serverInfo\":{\"name\":\"mtmcp\",\"title\":\"mtmcp multi-tenant MCP server\","
						   "\"version\":\"" MTMCP_VERSION "\"}}");
}

/* The JSON-RPC id as text for the audit row. */
static char *
id_text(JsonbValue *idv)
{
	StringInfoData b;

	if (idv == NULL)
		return NULL;
	if (idv->type == jbvString)
		return jsonb_value_cstring(idv);
	initStringInfo(&b);
	json_append_value(&b, idv);
	return b.data;
}

static void
set_outcome(MtmcpAuditEvent *ev, const char *kind, const char *severity, int code)
{
	ev->result_kind = kind;
	ev->severity = severity;
	if (code != 0)
		ev->error_code = psprintf("%d", code);
}

/* What mcp_http answers besides the body. */
struct HttpOutcome
{
	int			status;
	char	   *session_id;
};

static Jsonb *
http_reply(HttpOutcome *http, int status, StringInfo out)
{
	if (http != NULL)
		http->status = status;
	return finish(out);
}

static Jsonb *
http_none(HttpOutcome *http, int status)
{
	if (http != NULL)
		http->status = status;
	return NULL;
}

#define SESSION_ID_BYTES 24

/*
 * Open a session for a caller that just initialized: an unguessable id
 * (192 random bits), bound to the verified tenant and subject.
 */
static char *
session_open(const MtmcpIdentity *id, const char *version, JsonbContainer *params)
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

/*
 * 200 when session_id is a live session of this caller (and touch it), 400
 * when there is none, 404 when it is unknown, ended, idle too long, or
 * another tenant's or subject's -- the last recorded as a security event.
 * Also returns the session's log level.
 */
static int
session_check(const MtmcpIdentity *id, const char *session_id, char **log_level, MtmcpAuditEvent *ev)
{
	Datum		args[2];
	Oid			types[2] = {TEXTOID, INT4OID};
	int			status;

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
	if (SPI_execute_with_args("SELECT s.tenant_id, s.subject,"
							  "       s.ended_at IS NULL AND s.last_seen_at > now() - make_interval(secs => $2),"
							  "       (SELECT l.level FROM mtmcp.log_levels l WHERE l.tenant_id = s.tenant_id"
							  "           AND l.subject = s.subject AND l.session_id = s.session_id)"
							  "  FROM mtmcp.sessions s WHERE s.session_id = $1 FOR UPDATE",
							  2, types, args, NULL, false, 1) != SPI_OK_SELECT)
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

			*log_level = lvl ? MemoryContextStrdup(TopTransactionContext, lvl) : NULL;
			if (SPI_execute_with_args("UPDATE mtmcp.sessions SET last_seen_at = now() WHERE session_id = $1",
									  1, types, args, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not touch the session");
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

/*
 * The tenant's request budget: settings "rate_limit": {"requests": N,
 * "window_seconds": S} from its plan, overridden by its own settings.
 * Counted per tenant across all backends (src/counters.c).  Returns 0, or
 * the seconds until the window ends when the budget is spent.
 */
static int
rate_limited(const MtmcpIdentity *id)
{
	JsonbValue *rl;
	JsonbValue *v;
	int64		limit,
				window = 60,
				start,
				now = (int64) time(NULL);

	if (id->settings == NULL)
		return 0;
	rl = jsonb_object_get(&id->settings->root, "rate_limit");
	if (!jsonb_value_is_object(rl))
		return 0;
	v = jsonb_object_get(rl->val.binary.data, "requests");
	if (v == NULL || v->type != jbvNumeric)
		return 0;
	limit = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
	v = jsonb_object_get(rl->val.binary.data, "window_seconds");
	if (v != NULL && v->type == jbvNumeric)
		window = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
	if (window <= 0)
		window = 60;
	if (mtmcp_counter_take(MTMCP_COUNTER_RATE, id->tenant, now, window, limit, &start) != MTMCP_COUNTER_OVER)
		return 0;
	return (int) Max(1, start + window - now);
}

/*
 * One message: authenticate, check the envelope, route, audit.  Every path
 * that passed authentication writes exactly one audit row; every path that
 * did not writes one refusal row.
 */
static Jsonb *
dispatch(char *token, Jsonb *req, char *session_id, const char *notify_key, HttpOutcome *http)
{
	JsonbContainer *root = NULL;
	JsonbValue *idv = NULL;
	JsonbValue *v;
	JsonbContainer *params = NULL;
	char	   *method = NULL;
	MtmcpIdentity ident;
	MtmcpAuthError err;
	MtmcpAuditEvent ev;
	StringInfoData out;
	StringInfoData result;
	const char *rpc_msg = NULL;
	char	   *rpc_data = NULL;
	int			rpc_code = 0;
	int			nestlevel;
	const char *version = NULL;
	char	   *log_level = NULL;
	char	   *new_session = NULL;

	initStringInfo(&out);

	if (req != NULL && JB_ROOT_IS_OBJECT(req))
	{
		root = &req->root;
		idv = jsonb_object_get(root, "id");
		if (idv != NULL && idv->type != jbvString && idv->type != jbvNumeric)
			idv = NULL;
		v = jsonb_object_get(root, "params");
		if (jsonb_value_is_object(v))
			params = v->val.binary.data;
		method = jsonb_value_cstring(jsonb_object_get(root, "method"));
	}
	mtmcp_audit_begin(&ev, params);
	ev.session_id = session_id;
	ev.request_id = id_text(idv);
	ev.method = method;

	/* 1. authentication, before anything else about the message */
	if (!mtmcp_verify_request(token, &ident, &err))
	{
		char	   *data = psprintf("{\"reason\":\"%s\",\"status\":%d}", err.reason, err.http_status);

		mtmcp_audit_auth_failure(&ev, &err);
		write_error(&out, idv, MCP_AUTH_ERROR,
					err.http_status == 401 ? "Unauthorized" : "Forbidden", data);
		return http_reply(http, err.http_status, &out);
	}

	/* 2. the envelope */
	if (root == NULL)
	{
		bool		batch = req != NULL && JB_ROOT_IS_ARRAY(req) && !JB_ROOT_IS_SCALAR(req);

		write_error(&out, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request",
					batch ? "{\"detail\":\"batch requests are not supported\"}" : NULL);
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_REQUEST);
		mtmcp_audit_write(&ident, &ev);
		return http_reply(http, 400, &out);
	}
	v = jsonb_object_get(root, "jsonrpc");
	if (v == NULL || v->type != jbvString || v->val.string.len != 3 ||
		memcmp(v->val.string.val, "2.0", 3) != 0)
	{
		write_error(&out, idv, JSONRPC_INVALID_REQUEST, "Invalid Request",
					"{\"detail\":\"jsonrpc must be \\\"2.0\\\"\"}");
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_REQUEST);
		mtmcp_audit_write(&ident, &ev);
		return http_reply(http, 400, &out);
	}
	v = jsonb_object_get(root, "id");
	if (v != NULL && idv == NULL)
	{
		write_error(&out, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request",
					"{\"detail\":\"id must be a string or a number\"}");
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_REQUEST);
		mtmcp_audit_write(&ident, &ev);
		return http_reply(http, 400, &out);
	}
	v = jsonb_object_get(root, "method");
	if (v == NULL)
	{
		/* a client's response to a server request: nothing to answer */
		if (jsonb_object_get(root, "result") != NULL || jsonb_object_get(root, "error") != NULL)
		{
			ev.method = "(response)";
			set_outcome(&ev, "ok", "info", 0);
			mtmcp_audit_write(&ident, &ev);
			return http_none(http, 202);
		}
		write_error(&out, idv, JSONRPC_INVALID_REQUEST, "Invalid Request",
					"{\"detail\":\"method is required\"}");
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_REQUEST);
		mtmcp_audit_write(&ident, &ev);
		return http_reply(http, 400, &out);
	}
	if (method == NULL)
	{
		write_error(&out, idv, JSONRPC_INVALID_REQUEST, "Invalid Request",
					"{\"detail\":\"method must be a string\"}");
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_REQUEST);
		mtmcp_audit_write(&ident, &ev);
		return http_reply(http, 400, &out);
	}
	v = jsonb_object_get(root, "params");
	if (v != NULL && !jsonb_value_is_object(v))
	{
		write_error(&out, idv, JSONRPC_INVALID_PARAMS, "Invalid params",
					"{\"detail\":\"params must be an object\"}");
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_PARAMS);
		mtmcp_audit_write(&ident, &ev);
		return http_reply(http, 400, &out);
	}

	/*
	 * Over HTTP every message but initialize belongs to a session, and the
	 * session to this caller.  A foreign session answers exactly like an
	 * unknown one.
	 */
	if (http != NULL && strcmp(method, "initialize") != 0)
	{
		int			st = session_check(&ident, session_id, &log_level, &ev);

		if (st != 200)
		{
			write_error(&out, idv, st == 400 ? JSONRPC_INVALID_REQUEST : MCP_SESSION_NOT_FOUND,
						st == 400 ? "Bad Request: Mcp-Session-Id header is required" : "Session not found",
						NULL);
			mtmcp_audit_write(&ident, &ev);
			return http_reply(http, st, &out);
		}
	}

	/* a request over the tenant's rate limit is refused before any work */
	if (idv != NULL)
	{
		int			retry = rate_limited(&ident);

		if (retry > 0)
		{
			write_error(&out, idv, MCP_RATE_LIMITED, "Rate limit exceeded",
						psprintf("{\"retryAfter\":%d}", retry));
			set_outcome(&ev, "rate_limited", "warning", MCP_RATE_LIMITED);
			mtmcp_audit_write(&ident, &ev);
			return http_reply(http, 429, &out);
		}
	}

	/* a notification: nothing we act on yet, and never an answer */
	if (idv == NULL)
	{
		set_outcome(&ev, "ok", "info", 0);
		mtmcp_audit_write(&ident, &ev);
		return http_none(http, 202);
	}

	/* 3. the verified identity, for this message only */
	nestlevel = mtmcp_enter_identity(&ident);
	mtmcp_call_begin(notify_key, params, log_level);

	/* 4. route */
	initStringInfo(&result);
	set_outcome(&ev, "ok", "info", 0);
	if (strcmp(method, "initialize") == 0)
	{
		handle_initialize(&result, params, &rpc_msg, &version);
		if (rpc_msg)
			rpc_code = JSONRPC_INVALID_PARAMS;
		else if (http != NULL)
		{
			/* a successful initialize over HTTP opens a session bound to this caller */
			new_session = session_open(&ident, version, params);
			ev.session_id = new_session;
		}
	}
	else if (strcmp(method, "ping") == 0)
		appendStringInfoString(&result, "{}");
	else if (strcmp(method, "tools/list") == 0)
		rpc_code = mtmcp_tools_list(&ident, params, &result, &rpc_msg);
	else if (strcmp(method, "tools/call") == 0)
	{
		char	   *name = jsonb_value_cstring(jsonb_object_get(params, "name"));
		JsonbValue *argv = jsonb_object_get(params, "arguments");

		ev.target = name;
		if (name == NULL)
		{
			rpc_code = JSONRPC_INVALID_PARAMS;
			rpc_msg = "Invalid params: name must be a string";
		}
		else if (argv != NULL && argv->type != jbvNull && !jsonb_value_is_object(argv))
		{
			rpc_code = JSONRPC_INVALID_PARAMS;
			rpc_msg = "Invalid params: arguments must be an object";
		}
		else
		{
			Jsonb	   *args = (argv != NULL && argv->type != jbvNull)
				? jsonb_value_to_jsonb(argv) : json_text_to_jsonb("{}");

			ev.arguments = args;
			rpc_code = mtmcp_tools_call(&ident, name, args, &result, &rpc_msg, &ev);
		}
	}
	else if (strcmp(method, "resources/read") == 0)
		rpc_code = mtmcp_resources_read(&ident, params, &result, &rpc_msg, &rpc_data, &ev);
	else if (strcmp(method, "resources/list") == 0)
		rpc_code = mtmcp_resources_list(&ident, params, &result, &rpc_msg, &ev);
	else if (strcmp(method, "resources/templates/list") == 0)
		rpc_code = mtmcp_resource_templates_list(&ident, params, &result, &rpc_msg);
	else if (strcmp(method, "resources/subscribe") == 0 || strcmp(method, "resources/unsubscribe") == 0)
		rpc_code = mtmcp_resources_subscribe(&ident, params, strcmp(method, "resources/subscribe") == 0,
											 session_id, &result, &rpc_msg, &rpc_data, &ev);
	else if (strcmp(method, "prompts/list") == 0)
		rpc_code = mtmcp_prompts_list(&ident, params, &result, &rpc_msg);
	else if (strcmp(method, "prompts/get") == 0)
		rpc_code = mtmcp_prompts_get(&ident, params, &result, &rpc_msg, &ev);
	else if (strcmp(method, "completion/complete") == 0)
		rpc_code = mtmcp_complete(&ident, params, &result, &rpc_msg, &ev);
	else if (strcmp(method, "logging/setLevel") == 0)
		rpc_code = handle_set_level(&ident, params, session_id, &result, &rpc_msg);
	else
	{
		rpc_code = JSONRPC_METHOD_NOT_FOUND;
		rpc_msg = "Method not found";
		set_outcome(&ev, "not_found", "warning", 0);
	}

	mtmcp_call_end();
	mtmcp_leave_identity(nestlevel);

	if (rpc_code != 0)
	{
		write_error(&out, idv, rpc_code, rpc_msg, rpc_data);
		if (strcmp(ev.result_kind, "ok") == 0)
			set_outcome(&ev, "invalid", "warning", 0);
		ev.error_code = psprintf("%d", rpc_code);
	}
	else
	{
		begin_response(&out, idv);
		appendStringInfoString(&out, ",\"result\":");
		appendBinaryStringInfo(&out, result.data, result.len);
		appendStringInfoChar(&out, '}');
	}

	/* 5. the records, in this transaction: charges first (paid is paid), then the audit row */
	mtmcp_cost_flush_calls(ev.event_id, ev.target);
	mtmcp_audit_write(&ident, &ev);

	if (http != NULL)
		http->session_id = new_session ? new_session : session_id;
	return http_reply(http, 200, &out);
}

/* logging/setLevel: the level of log notifications this caller's session wants */
static int
handle_set_level(const MtmcpIdentity *id, JsonbContainer *params, const char *session_id,
				 StringInfo result, const char **rpc_msg)
{
	static const char *const levels[] = {
		"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency", NULL
	};
	char	   *level = jsonb_value_cstring(jsonb_object_get(params, "level"));
	Datum		args[4];
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	int			i;

	for (i = 0; level != NULL && levels[i] != NULL; i++)
		if (strcmp(level, levels[i]) == 0)
			break;
	if (level == NULL || levels[i] == NULL)
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

static char *
session_arg(FunctionCallInfo fcinfo, int n)
{
	char	   *session = PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));

	if (session != NULL && (strlen(session) == 0 || strlen(session) > 256))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid session id"),
				 errdetail("A session id is 1 to 256 characters.")));
	return session;
}

PG_FUNCTION_INFO_V1(mtmcp_mcp_dispatch);

/*
 * SQL: mtmcp.mcp_dispatch(token text, request jsonb [, session_id text])
 * RETURNS jsonb -- both signatures.
 */
Datum
mtmcp_mcp_dispatch(PG_FUNCTION_ARGS)
{
	Jsonb	   *res;

	mtmcp_require_preloaded();
	res = dispatch(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
				   PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
				   PG_NARGS() > 2 ? session_arg(fcinfo, 2) : NULL, NULL, NULL);
	if (res == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(res);
}

PG_FUNCTION_INFO_V1(mtmcp_mcp_http);

/*
 * SQL: mtmcp.mcp_http(token, request, session_id, notify_key)
 *   RETURNS TABLE (http_status int, session_id text, response jsonb)
 * The HTTP shim's door: dispatch plus sessions, with the HTTP status to answer.
 */
Datum
mtmcp_mcp_http(PG_FUNCTION_ARGS)
{
	HttpOutcome http = {500, NULL};
	Jsonb	   *res;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	mtmcp_require_preloaded();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	res = dispatch(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
				   PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
				   session_arg(fcinfo, 2),
				   PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
				   &http);
	values[0] = Int32GetDatum(http.status);
	if (http.session_id != NULL)
		values[1] = CStringGetTextDatum(http.session_id);
	else
		nulls[1] = true;
	if (res != NULL)
		values[2] = JsonbPGetDatum(res);
	else
		nulls[2] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * Shared by mcp_http_end and mcp_http_check: authenticate, then find the
 * caller's own live session.  Returns the HTTP status.
 */
static int
session_request(FunctionCallInfo fcinfo, bool end)
{
	char	   *token = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *session = session_arg(fcinfo, 1);
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
	st = session_check(&ident, session, &log_level, &ev);
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
