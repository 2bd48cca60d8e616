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

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "jsonutil.h"
#include "mtmcp.h"

/* Protocol revisions we speak, newest first. */
static const char *const supported_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", NULL
};

static int	handle_complete(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
							const char **rpc_msg, MtmcpAuditEvent *ev);
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

static Datum
finish(StringInfo out)
{
	PG_RETURN_JSONB_P(json_text_to_jsonb(out->data));
}

/* initialize: version negotiation, capabilities, server info */
static void
handle_initialize(StringInfo result, JsonbContainer *params, const char **rpc_msg)
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

/*
 * One message: authenticate, check the envelope, route, audit.  Every path
 * that passed authentication writes exactly one audit row; every path that
 * did not writes one refusal row.
 */
static Datum
dispatch(FunctionCallInfo fcinfo, char *token, Jsonb *req, char *session_id)
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
		return finish(&out);
	}

	/* 2. the envelope */
	if (root == NULL)
	{
		bool		batch = req != NULL && JB_ROOT_IS_ARRAY(req) && !JB_ROOT_IS_SCALAR(req);

		write_error(&out, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request",
					batch ? "{\"detail\":\"batch requests are not supported\"}" : NULL);
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_REQUEST);
		mtmcp_audit_write(&ident, &ev);
		return finish(&out);
	}
	v = jsonb_object_get(root, "jsonrpc");
	if (v == NULL || v->type != jbvString || v->val.string.len != 3 ||
		memcmp(v->val.string.val, "2.0", 3) != 0)
	{
		write_error(&out, idv, JSONRPC_INVALID_REQUEST, "Invalid Request",
					"{\"detail\":\"jsonrpc must be \\\"2.0\\\"\"}");
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_REQUEST);
		mtmcp_audit_write(&ident, &ev);
		return finish(&out);
	}
	v = jsonb_object_get(root, "id");
	if (v != NULL && idv == NULL)
	{
		write_error(&out, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request",
					"{\"detail\":\"id must be a string or a number\"}");
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_REQUEST);
		mtmcp_audit_write(&ident, &ev);
		return finish(&out);
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
			PG_RETURN_NULL();
		}
		write_error(&out, idv, JSONRPC_INVALID_REQUEST, "Invalid Request",
					"{\"detail\":\"method is required\"}");
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_REQUEST);
		mtmcp_audit_write(&ident, &ev);
		return finish(&out);
	}
	if (method == NULL)
	{
		write_error(&out, idv, JSONRPC_INVALID_REQUEST, "Invalid Request",
					"{\"detail\":\"method must be a string\"}");
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_REQUEST);
		mtmcp_audit_write(&ident, &ev);
		return finish(&out);
	}
	v = jsonb_object_get(root, "params");
	if (v != NULL && !jsonb_value_is_object(v))
	{
		write_error(&out, idv, JSONRPC_INVALID_PARAMS, "Invalid params",
					"{\"detail\":\"params must be an object\"}");
		set_outcome(&ev, "invalid", "warning", JSONRPC_INVALID_PARAMS);
		mtmcp_audit_write(&ident, &ev);
		return finish(&out);
	}

	/* a notification: nothing we act on yet, and never an answer */
	if (idv == NULL)
	{
		set_outcome(&ev, "ok", "info", 0);
		mtmcp_audit_write(&ident, &ev);
		PG_RETURN_NULL();
	}

	/* 3. the verified identity, for this message only */
	nestlevel = mtmcp_enter_identity(&ident);

	/* 4. route */
	initStringInfo(&result);
	set_outcome(&ev, "ok", "info", 0);
	if (strcmp(method, "initialize") == 0)
	{
		handle_initialize(&result, params, &rpc_msg);
		if (rpc_msg)
			rpc_code = JSONRPC_INVALID_PARAMS;
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
		rpc_code = handle_complete(&ident, params, &result, &rpc_msg, &ev);
	else if (strcmp(method, "logging/setLevel") == 0)
		rpc_code = handle_set_level(&ident, params, session_id, &result, &rpc_msg);
	else
	{
		rpc_code = JSONRPC_METHOD_NOT_FOUND;
		rpc_msg = "Method not found";
		set_outcome(&ev, "not_found", "warning", 0);
	}

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

	return finish(&out);
}

/* completion/complete: route to the prompt or the resource template */
static int
handle_complete(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
				const char **rpc_msg, MtmcpAuditEvent *ev)
{
	JsonbValue *ref = jsonb_object_get(params, "ref");
	JsonbValue *arg = jsonb_object_get(params, "argument");
	char	   *type;
	char	   *name;
	char	   *value;
	Jsonb	   *request;
	StringInfoData text;

	if (!jsonb_value_is_object(ref) || !jsonb_value_is_object(arg))
	{
		*rpc_msg = "Invalid params: ref and argument must be objects";
		return JSONRPC_INVALID_PARAMS;
	}
	type = jsonb_value_cstring(jsonb_object_get(ref->val.binary.data, "type"));
	name = jsonb_value_cstring(jsonb_object_get(arg->val.binary.data, "name"));
	value = jsonb_value_cstring(jsonb_object_get(arg->val.binary.data, "value"));
	if (type == NULL || name == NULL || value == NULL)
	{
		*rpc_msg = "Invalid params: ref.type, argument.name and argument.value must be strings";
		return JSONRPC_INVALID_PARAMS;
	}
	/* the completer gets the whole request: ref, argument and context */
	initStringInfo(&text);
	(void) JsonbToCString(&text, params, -1);
	request = json_text_to_jsonb(text.data);
	if (strcmp(type, "ref/prompt") == 0)
	{
		char	   *prompt = jsonb_value_cstring(jsonb_object_get(ref->val.binary.data, "name"));

		if (prompt == NULL)
		{
			*rpc_msg = "Invalid params: ref.name must be a string";
			return JSONRPC_INVALID_PARAMS;
		}
		ev->target = prompt;
		return mtmcp_complete_prompt(id, prompt, name, value, request, result, rpc_msg, ev);
	}
	if (strcmp(type, "ref/resource") == 0)
	{
		char	   *uri = jsonb_value_cstring(jsonb_object_get(ref->val.binary.data, "uri"));

		if (uri == NULL)
		{
			*rpc_msg = "Invalid params: ref.uri must be a string";
			return JSONRPC_INVALID_PARAMS;
		}
		ev->target = uri;
		return mtmcp_complete_resource(id, uri, name, value, request, result, rpc_msg);
	}
	*rpc_msg = "Invalid params: ref.type must be \"ref/prompt\" or \"ref/resource\"";
	return JSONRPC_INVALID_PARAMS;
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

PG_FUNCTION_INFO_V1(mtmcp_mcp_dispatch);

/* SQL: mtmcp.mcp_dispatch(token text, request jsonb) RETURNS jsonb */
Datum
mtmcp_mcp_dispatch(PG_FUNCTION_ARGS)
{
	mtmcp_require_preloaded();
	return dispatch(fcinfo,
					PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
					PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
					NULL);
}

PG_FUNCTION_INFO_V1(mtmcp_mcp_dispatch_session);

/* SQL: mtmcp.mcp_dispatch(token text, request jsonb, session_id text) */
Datum
mtmcp_mcp_dispatch_session(PG_FUNCTION_ARGS)
{
	char	   *session = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));

	mtmcp_require_preloaded();
	if (session != NULL && (strlen(session) == 0 || strlen(session) > 256))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid session id"),
				 errdetail("A session id is 1 to 256 characters.")));
	return dispatch(fcinfo,
					PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
					PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
					session);
}
