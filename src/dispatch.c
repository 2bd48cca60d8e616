/*
 * dispatch.c -- mcp_dispatch: one JSON-RPC message in, its response out
 *
 * Order of work for every message, with no exceptions:
 *
 *   1. authenticate (src/identity.c): token verified, tenant resolved and
 *      active.  A refusal is answered with MCP_AUTH_ERROR (-32001) and
 *      data {"reason", "status"}; a shim maps status to HTTP 401/403.
 *   2. check the JSON-RPC 2.0 envelope (-32600 malformed or batch); over
 *      HTTP, the caller's own live session (sessions.c); for a request,
 *      the tenant's rate limit (ratelimit.c).
 *   3. install the verified identity for this message only (restored when
 *      the message is done, so nothing outlives it in the session).
 *   4. route the method (-32601 unknown, -32602 bad params); write the
 *      per-call charges.
 *   5. write the message's audit row -- the one place it is written.
 *
 * Steps 2-4 run in a subtransaction (the guard): whatever they raise --
 * the ledger, the output check, building the response -- is rolled back
 * and answered with -32603, and step 5 still writes the row, as "error"
 * with the SQLSTATE.  Live notifications a handler already sent cannot be
 * taken back.  Only class 57 (cancel, shutdown) aborts the message whole,
 * and then nothing of it commits.
 *
 * Notifications (no "id") and client responses get NULL.  Error messages
 * never carry internal detail; server-side detail goes to the server log.
 * Every refusal of an authenticated caller takes one path (refuse): the
 * error response, the outcome for its audit row, the HTTP status.
 *
 * This module has no C interface (so no header): its SQL entry points,
 * mcp_dispatch and mcp_http, are the way in.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"

#include "audit.h"
#include "completion.h"
#include "cost.h"
#include "identity.h"
#include "inflight.h"
#include "inspect.h"
#include "jsonutil.h"
#include "listen.h"
#include "mrtr.h"
#include "mtmcp.h"
#include "notify.h"
#include "prompts.h"
#include "ratelimit.h"
#include "resources.h"
#include "revision.h"
#include "router.h"
#include "sessions.h"
#include "tools.h"

#ifndef MTMCP_VERSION
#error "MTMCP_VERSION must come from the build (Makefile)"
#endif

/* Protocol revisions we speak, newest first. */
static const char *const supported_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", NULL
};

typedef struct HttpOutcome HttpOutcome;

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

/*
 * The response as the caller takes it: jsonb (mcp_dispatch, mcp_http), or
 * the JSON text as written (mcp_http_text, for the shim, which sends text:
 * parsing it into jsonb only to print it again cost about 7% of a call).
 */
static Datum
finish(StringInfo out, bool as_text)
{
	if (as_text)
		return PointerGetDatum(cstring_to_text_with_len(out->data, out->len));
	return JsonbPGetDatum(json_text_to_jsonb(out->data));
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

/* What every exit of one message needs: the response, the caller, its audit row. */
typedef struct Exchange
{
	StringInfo	out;			/* the response being written */
	const MtmcpIdentity *ident; /* the verified caller */
	MtmcpAuditEvent *ev;		/* this message's audit row */
	HttpOutcome *http;			/* NULL for mcp_dispatch */
	bool		answer;			/* false: the message gets no response */
	char	   *session_id;		/* the session to report (HttpOutcome) */
} Exchange;

/*
 * The one refusal path for an authenticated caller: the error response (to
 * id, NULL when the message's id is unusable), the outcome recorded as kind
 * (NULL when the caller already recorded it); returns the HTTP status.  The
 * audit row is written by dispatch, once, for every path.
 */
static int
refuse(Exchange *x, int status, JsonbValue *id, int code, const char *message,
	   const char *data, const char *kind)
{
	write_error(x->out, id, code, message, data);
	if (kind != NULL)
		set_outcome(x->ev, kind, "warning", code);
	return status;
}

/* A message that gets no answer (a notification, a client's response): audited as ok, 202. */
static int
no_answer(Exchange *x)
{
	set_outcome(x->ev, "ok", "info", 0);
	x->answer = false;
	return 202;
}

/*
 * Everything about one message of a verified caller, short of its audit
 * row: check the envelope, route, write the per-call charges.  Returns the
 * HTTP status, the response in x->out (unless !x->answer), the outcome in
 * x->ev.  Runs inside dispatch's guard, so whatever it raises is rolled back
 * and answered there.
 */
static int
serve(Exchange *x, JsonbContainer *root, JsonbValue *idv, JsonbContainer *params, char *method,
	  Jsonb *req, char *session_id, const char *notify_key, Jsonb *headers)
{
	MtmcpAuditEvent *ev = x->ev;
	const MtmcpIdentity *ident = x->ident;
	HttpOutcome *http = x->http;
	StringInfoData result;
	JsonbValue *v;
	const char *rpc_msg = NULL;
	char	   *rpc_data = NULL;
	int			rpc_code = 0;
	int			nestlevel;
	const char *version = NULL;
	char	   *log_level = NULL;
	const char *level_session = NULL;	/* whose stored log level applies */
	bool		stateless = false;	/* 2026-07-28 (revision.c) */
	Jsonb	   *caps = NULL;
	bool		mrtr = false;
	char	   *listen_key = NULL;	/* a subscriptions/listen answered (listen.c) */

	/* 2. the envelope */
	if (root == NULL)
	{
		bool		batch = req != NULL && JB_ROOT_IS_ARRAY(req) && !JB_ROOT_IS_SCALAR(req);

		return refuse(x, 400, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request",
					  batch ? "{\"detail\":\"batch requests are not supported\"}" : NULL, "invalid");
	}
	v = jsonb_object_get(root, "jsonrpc");
	if (v == NULL || v->type != jbvString || v->val.string.len != 3 ||
		memcmp(v->val.string.val, "2.0", 3) != 0)
		return refuse(x, 400, idv, JSONRPC_INVALID_REQUEST, "Invalid Request",
					  "{\"detail\":\"jsonrpc must be \\\"2.0\\\"\"}", "invalid");
	v = jsonb_object_get(root, "id");
	if (v != NULL && idv == NULL)
		return refuse(x, 400, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request",
					  "{\"detail\":\"id must be a string or a number\"}", "invalid");
	v = jsonb_object_get(root, "method");
	if (v == NULL)
	{
		/* a client's response to a server request: nothing to answer */
		if (jsonb_object_get(root, "result") != NULL || jsonb_object_get(root, "error") != NULL)
		{
			ev->method = "(response)";
			return no_answer(x);
		}
		return refuse(x, 400, idv, JSONRPC_INVALID_REQUEST, "Invalid Request",
					  "{\"detail\":\"method is required\"}", "invalid");
	}
	if (method == NULL)
		return refuse(x, 400, idv, JSONRPC_INVALID_REQUEST, "Invalid Request",
					  "{\"detail\":\"method must be a string\"}", "invalid");
	v = jsonb_object_get(root, "params");
	if (v != NULL && !jsonb_value_is_object(v))
		return refuse(x, 400, idv, JSONRPC_INVALID_PARAMS, "Invalid params",
					  "{\"detail\":\"params must be an object\"}", "invalid");

	/*
	 * A 2026-07-28 request is stateless: its _meta, not a session, says what
	 * the client speaks and can do (revision.c).  Notifications need no _meta.
	 */
	stateless = mtmcp_revision_stateless(session_id, method, params, headers);
	if (stateless && idv != NULL)
	{
		int			st;

		rpc_code = mtmcp_revision_check_meta(params, &caps, &log_level, &rpc_msg, &rpc_data, &st);
		if (rpc_code != 0)
			return refuse(x, st, idv, rpc_code, rpc_msg, rpc_data, "invalid");
	}

	/*
	 * Over HTTP every other message but initialize belongs to a session, and
	 * the session to this caller.  A foreign session answers exactly like an
	 * unknown one.
	 */
	else if (!stateless && http != NULL && strcmp(method, "initialize") != 0)
	{
		int			st = mtmcp_session_check(ident, session_id, &caps, ev);

		if (st != 200)
		{
			/* the session check recorded the outcome */
			return refuse(x, st, idv, st == 400 ? JSONRPC_INVALID_REQUEST : MCP_SESSION_NOT_FOUND,
						  st == 400 ? "Bad Request: Mcp-Session-Id header is required" : "Session not found",
						  NULL, NULL);
		}
		level_session = session_id;
	}

	/* a request over the tenant's rate limit is refused before any work */
	if (idv != NULL)
	{
		int			retry = mtmcp_rate_limited(ident);

		if (retry > 0)
			return refuse(x, 429, idv, MCP_RATE_LIMITED, "Rate limit exceeded",
						  psprintf("{\"retryAfter\":%d}", retry), "rate_limited");
	}

	/* a notification: never an answer; a cancel interrupts the named request */
	if (idv == NULL)
	{
		if (strcmp(method, "notifications/cancelled") == 0)
			mtmcp_cancel_request(ident, session_id, params, ev);
		return no_answer(x);
	}

	/* a method the stateless revision does not have: 404 */
	if (stateless && mtmcp_revision_method_unknown(method))
		return refuse(x, 404, idv, JSONRPC_METHOD_NOT_FOUND, "Method not found", NULL, "not_found");
	/* x-mcp-header parameters must match their Mcp-Param-* headers (the shim passes them) */
	if (stateless && headers != NULL && strcmp(method, "tools/call") == 0 &&
		(rpc_code = mtmcp_revision_check_param_headers(ident, headers, params, &rpc_msg)) != 0)
		return refuse(x, 400, idv, rpc_code, rpc_msg, NULL, "invalid");

	/*
	 * The methods that may ask the client for input: the requestState and
	 * inputResponses are checked before any handler runs (mrtr.c).
	 */
	mrtr = strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ||
		strcmp(method, "resources/read") == 0;
	if (mrtr)
	{
		rpc_code = mtmcp_mrtr_begin(ident, method, params, caps, session_id, &rpc_msg, ev);
		if (rpc_code != 0)
			return refuse(x, 400, idv, rpc_code, rpc_msg, NULL, NULL);
	}

	/*
	 * A request beyond the tenant's calls in flight is refused, not queued.
	 * Last of the refusals: from here on the place is given back by
	 * mtmcp_inflight_leave (or by the abort of dispatch's guard).
	 */
	{
		int			limit;

		if (mtmcp_inflight_enter(ident, session_id, idv, &limit) > 0)
		{
			ev->detail = "max_in_flight";
			return refuse(x, 429, idv, MCP_RATE_LIMITED, "Too many requests in flight",
						  psprintf("{\"retryAfter\":1,\"maxInFlight\":%d}", limit), "rate_limited");
		}
	}

	/* 3. the verified identity, for this message only */
	x->session_id = session_id;
	nestlevel = mtmcp_enter_identity(ident);
	/* a session's stored level is read only if the call logs (notify.c) */
	mtmcp_call_begin(notify_key, params, log_level, ident, level_session);

	/* 4. route */
	initStringInfo(&result);
	set_outcome(ev, "ok", "info", 0);
	if (stateless && strcmp(method, "server/discover") == 0)
		mtmcp_revision_discover(&result);
	else if (stateless && strcmp(method, "subscriptions/listen") == 0)
		rpc_code = mtmcp_listen(ident, idv, params, &result, &listen_key, &rpc_msg);
	else if (strcmp(method, "initialize") == 0)
	{
		handle_initialize(&result, params, &rpc_msg, &version);
		if (rpc_msg)
			rpc_code = JSONRPC_INVALID_PARAMS;
		else if (http != NULL)
		{
			/* a successful initialize over HTTP opens a session bound to this caller */
			x->session_id = mtmcp_session_open(ident, version, params);
			ev->session_id = x->session_id;
			mtmcp_mrtr_session_opened(x->session_id, params);
		}
	}
	else if (strcmp(method, "ping") == 0)
		appendStringInfoString(&result, "{}");
	else if (strcmp(method, "tools/list") == 0)
		rpc_code = mtmcp_tools_list(ident, params, &result, &rpc_msg);
	else if (strcmp(method, "tools/call") == 0)
	{
		char	   *name = jsonb_value_cstring(jsonb_object_get(params, "name"));
		JsonbValue *argv = jsonb_object_get(params, "arguments");

		ev->target = name;
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

			ev->arguments = args;
			rpc_code = mtmcp_tools_call(ident, name, args, &result, &rpc_msg, ev);
		}
	}
	else if (strcmp(method, "resources/read") == 0)
		rpc_code = mtmcp_resources_read(ident, params, &result, &rpc_msg, &rpc_data, ev);
	else if (strcmp(method, "resources/list") == 0)
		rpc_code = mtmcp_resources_list(ident, params, &result, &rpc_msg, ev);
	else if (strcmp(method, "resources/templates/list") == 0)
		rpc_code = mtmcp_resource_templates_list(ident, params, &result, &rpc_msg);
	else if (strcmp(method, "resources/subscribe") == 0 || strcmp(method, "resources/unsubscribe") == 0)
		rpc_code = mtmcp_resources_subscribe(ident, params, strcmp(method, "resources/subscribe") == 0,
											 session_id, &result, &rpc_msg, &rpc_data, ev);
	else if (strcmp(method, "prompts/list") == 0)
		rpc_code = mtmcp_prompts_list(ident, params, &result, &rpc_msg);
	else if (strcmp(method, "prompts/get") == 0)
		rpc_code = mtmcp_prompts_get(ident, params, &result, &rpc_msg, ev);
	else if (strcmp(method, "completion/complete") == 0)
		rpc_code = mtmcp_complete(ident, params, &result, &rpc_msg, ev);
	else if (strcmp(method, "logging/setLevel") == 0)
		rpc_code = mtmcp_logging_set_level(ident, params, session_id, &result, &rpc_msg);
	else
	{
		rpc_code = JSONRPC_METHOD_NOT_FOUND;
		rpc_msg = "Method not found";
		set_outcome(ev, "not_found", "warning", 0);
	}

	mtmcp_call_end();
	mtmcp_inflight_leave(ev, &rpc_code, &rpc_msg, &rpc_data);
	mtmcp_leave_identity(nestlevel);

	/* a handler that stopped to ask the client: input_required, or -32021 */
	if (mrtr)
		rpc_code = mtmcp_mrtr_finish(rpc_code, &result, &rpc_msg, &rpc_data, ev);
	/* what reaches the agent is kept for the audit row and inspected, perhaps withheld (inspect.c) */
	if (rpc_code == 0)
		rpc_code = mtmcp_inspect_result(ident, method, &result, &rpc_msg, &rpc_data, ev);
	if (stateless && rpc_code == MCP_RESOURCE_NOT_FOUND)
		rpc_code = JSONRPC_INVALID_PARAMS;	/* SEP-2164: -32602 with data.uri */

	if (rpc_code != 0)
	{
		write_error(x->out, idv, rpc_code, rpc_msg, rpc_data);
		if (strcmp(ev->result_kind, "ok") == 0)
			set_outcome(ev, "invalid", "warning", 0);
		ev->error_code = psprintf("%d", rpc_code);
	}
	else if (listen_key != NULL)
	{
		/* the acknowledgement is the answer; the shim keeps the stream open */
		appendBinaryStringInfo(x->out, result.data, result.len);
		x->session_id = listen_key;
	}
	else
	{
		if (stateless)
			mtmcp_revision_decorate(method, &result);
		begin_response(x->out, idv);
		appendStringInfoString(x->out, ",\"result\":");
		appendBinaryStringInfo(x->out, result.data, result.len);
		appendStringInfoChar(x->out, '}');
	}

	/* 5. the charges, in this transaction, before the audit row (paid is paid) */
	mtmcp_cost_flush_calls(ev->event_id, ev->target);
	return stateless && rpc_code == MCP_MISSING_CAPABILITY ? 400 : 200;
}

/*
 * Write the per-call charges of a message whose work was rolled back: the
 * calls were still made, so they stay paid.  When even that fails they are
 * dropped (with a WARNING naming each) and the audit row says so: the row
 * must not be lost to them.
 */
static void
salvage_charges(MtmcpAuditEvent *ev)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		mtmcp_cost_flush_calls(ev->event_id, ev->target);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION)
			ReThrowError(edata);
		if (mtmcp_cost_discard_calls() > 0)
			ev->detail = "charges_not_recorded";
	}
	PG_END_TRY();
}

/*
 * One message: authenticate, then serve it inside a guard, then write its
 * audit row.  Every path that passed authentication writes exactly one
 * audit row, here, whatever failed after the handler (the ledger, the
 * output check, building the response): the failed part is rolled back and
 * answered with -32603, and the row says "error" with the SQLSTATE.  Every
 * path that did not pass writes one refusal row (or counts it, audit.c).
 * Only cancellation and shutdown (class 57) abort the message as a whole --
 * and then nothing of it commits, work and row alike.
 */
static Datum
dispatch(char *token, Jsonb *req, char *session_id, const char *notify_key, Jsonb *headers,
		 HttpOutcome *http, bool as_text, bool *isnull)
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
	Exchange	x = {&out, &ident, &ev, http, true, NULL};
	volatile int status = 500;
	volatile Datum response = (Datum) 0;
	volatile bool answered = false;
	MemoryContext oldcxt;
	ResourceOwner oldowner;

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
		if (http != NULL)
			http->status = err.http_status;
		*isnull = false;
		return finish(&out, as_text);
	}

	/* a scale-out router forwards the verified call to the tenant's shard (router.c) */
	if (mtmcp_router_mode)
	{
		int			st = 200;
		char	   *sid = NULL;
		Jsonb	   *res = mtmcp_router_forward(&ident, token, req, session_id, notify_key, headers,
											   http != NULL, &st, &sid);

		if (http != NULL)
		{
			http->status = st;
			http->session_id = sid;
		}
		*isnull = res == NULL;
		if (res == NULL)
			return (Datum) 0;
		return as_text ? CStringGetTextDatum(JsonbToCString(NULL, &res->root, VARSIZE(res))) : JsonbPGetDatum(res);
	}

	/* 2-5, guarded: a failure is rolled back and answered, never unaudited */
	oldcxt = CurrentMemoryContext;
	oldowner = CurrentResourceOwner;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		status = serve(&x, root, idv, params, method, req, session_id, notify_key, headers);
		mtmcp_audit_prepare(&ev);
		if (x.answer)
		{
			response = finish(&out, as_text);
			answered = true;
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION)
			ReThrowError(edata);
		mtmcp_call_end();
		ereport(LOG,
				(errmsg("message %s of tenant \"%s\" failed after it was accepted: %s",
						ev.event_id, ident.tenant, edata->message ? edata->message : "?"),
				 errdetail("SQLSTATE %s; its work was rolled back and the caller was answered with an internal error.",
						   unpack_sql_state(edata->sqlerrcode)),
				 errhidestmt(true)));

		/* the session an initialize opened was rolled back with the rest */
		x.session_id = session_id;
		ev.session_id = session_id;
		if (!ev.redacted)
		{
			ev.arguments = NULL;	/* unredacted arguments never reach a row */
			ev.redacted = true;
		}
		set_outcome(&ev, "error", "warning", 0);
		ev.error_code = pstrdup(unpack_sql_state(edata->sqlerrcode));
		salvage_charges(&ev);

		resetStringInfo(&out);
		write_error(&out, idv, JSONRPC_INTERNAL_ERROR, "Internal error",
					psprintf("{\"eventId\":\"%s\"}", ev.event_id));
		status = 200;
		answered = idv != NULL;
		if (answered)
			response = finish(&out, as_text);
		else
			status = 202;
	}
	PG_END_TRY();

	/* 6. the audit row, in the caller's transaction, exactly once */
	mtmcp_audit_write(&ident, &ev);

	if (http != NULL)
	{
		http->status = status;
		http->session_id = x.session_id;
	}
	*isnull = !answered;
	return response;
}

PG_FUNCTION_INFO_V1(mtmcp_mcp_dispatch);

/*
 * SQL: mtmcp.mcp_dispatch(token text, request jsonb [, session_id text])
 * RETURNS jsonb -- both signatures.
 */
Datum
mtmcp_mcp_dispatch(PG_FUNCTION_ARGS)
{
	Datum		res;
	bool		isnull;

	mtmcp_require_preloaded();
	res = dispatch(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
				   PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
				   PG_NARGS() > 2 ? mtmcp_session_arg(fcinfo, 2) : NULL, NULL, NULL, NULL, false, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(res);
}

PG_FUNCTION_INFO_V1(mtmcp_mcp_http);

/*
 * SQL: mtmcp.mcp_http(token, request, session_id, notify_key [, headers])
 *   RETURNS TABLE (http_status int, session_id text, response jsonb)
 * SQL: mtmcp.mcp_http_text(token, request, session_id, notify_key, headers)
 *   RETURNS TABLE (http_status int, session_id text, response text)
 * The HTTP shim's door: dispatch plus sessions, with the HTTP status to
 * answer.  The response's type is the one the function is declared with.
 */
Datum
mtmcp_mcp_http(PG_FUNCTION_ARGS)
{
	HttpOutcome http = {500, NULL};
	Datum		res;
	bool		isnull;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	mtmcp_require_preloaded();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE || tupdesc->natts != 3)
		elog(ERROR, "return type must be a row type of three columns");
	res = dispatch(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
				   PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
				   mtmcp_session_arg(fcinfo, 2),
				   PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
				   PG_NARGS() > 4 && !PG_ARGISNULL(4) ? PG_GETARG_JSONB_P(4) : NULL,
				   &http, TupleDescAttr(tupdesc, 2)->atttypid == TEXTOID, &isnull);
	values[0] = Int32GetDatum(http.status);
	if (http.session_id != NULL)
		values[1] = CStringGetTextDatum(http.session_id);
	else
		nulls[1] = true;
	values[2] = res;
	nulls[2] = isnull;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

PG_FUNCTION_INFO_V1(mtmcp_mcp_http_unparsable);

/*
 * SQL: mtmcp.mcp_http_unparsable(token, session_id, problem, body_bytes)
 *   RETURNS integer
 * A body the shim could not parse as JSON still leaves a trace: with a
 * token that verifies, one audit row of the tenant ("(unparsable)", invalid,
 * -32700, the parser's complaint and the size -- never the body); without
 * one, the usual refusal row.  Returns the HTTP status to answer: 400, or
 * the authentication failure's 401/403.
 */
Datum
mtmcp_mcp_http_unparsable(PG_FUNCTION_ARGS)
{
	char	   *token = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *problem = PG_ARGISNULL(2) ? "unknown" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	int			bytes = PG_ARGISNULL(3) ? -1 : PG_GETARG_INT32(3);
	MtmcpIdentity ident;
	MtmcpAuthError err;
	MtmcpAuditEvent ev;

	mtmcp_require_preloaded();
	mtmcp_audit_begin(&ev, NULL);
	ev.session_id = mtmcp_session_arg(fcinfo, 1);
	ev.method = "(unparsable)";
	if (!mtmcp_verify_request(token, &ident, &err))
	{
		mtmcp_audit_auth_failure(&ev, &err);
		PG_RETURN_INT32(err.http_status);
	}
	set_outcome(&ev, "invalid", "warning", JSONRPC_PARSE_ERROR);
	/* the shim's complaint is bounded text from its JSON parser, not the body */
	ev.detail = psprintf("body of %d bytes is not JSON: %.120s", bytes, problem);
	mtmcp_audit_prepare(&ev);
	mtmcp_audit_write(&ident, &ev);
	PG_RETURN_INT32(400);
}
