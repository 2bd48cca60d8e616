/*
 * completion.c -- completion/complete: routing and the shared answer format
 *
 * A completion request names a prompt argument or a resource template
 * variable; the prompt or template module checks the reference against the
 * caller's catalog and runs its completer (as mtmcp_tool, like any
 * handler).  This module routes the request to the right one and renders a
 * completer's result the same way for both.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "completion.h"
#include "jsonutil.h"
#include "mtmcp.h"
#include "prompts.h"
#include "resources.h"

/* completion/complete: route to the prompt or the resource template */
int
mtmcp_complete(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
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

/*
 * Append {"completion": {...}} from a completer's result: an array of
 * strings, or {"values": [...], "total"?: n, "hasMore"?: b}.  At most 100
 * values are returned.
 */
void
mtmcp_append_completion(StringInfo result, Jsonb *res, const char *prefix_only)
{
	JsonbValue *values = NULL;
	JsonbValue *total = NULL;
	JsonbValue *has_more = NULL;
	JsonbValue	wrapped;
	int			count = 0,
				seen = 0;

	if (res != NULL && JB_ROOT_IS_OBJECT(res))
	{
		values = jsonb_object_get(&res->root, "values");
		total = jsonb_object_get(&res->root, "total");
		has_more = jsonb_object_get(&res->root, "hasMore");
	}
	else if (res != NULL && JB_ROOT_IS_ARRAY(res) && !JB_ROOT_IS_SCALAR(res))
	{
		wrapped.type = jbvBinary;
		wrapped.val.binary.data = &res->root;
		wrapped.val.binary.len = VARSIZE(res) - VARHDRSZ;
		values = &wrapped;
	}
	appendStringInfoString(result, "{\"completion\":{\"values\":[");
	if (jsonb_value_is_array(values))
	{
		JsonbIterator *it = JsonbIteratorInit(values->val.binary.data);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM || v.type != jbvString)
				continue;
			seen++;
			if (count == 100)
				continue;
			if (count > 0)
				appendStringInfoChar(result, ',');
			json_append_value(result, &v);
			count++;
		}
	}
	appendStringInfoString(result, "],\"total\":");
	if (total != NULL && total->type == jbvNumeric)
		json_append_value(result, total);
	else
		appendStringInfo(result, "%d", seen);
	appendStringInfoString(result, ",\"hasMore\":");
	if (has_more != NULL && has_more->type == jbvBool)
		appendStringInfoString(result, has_more->val.boolean || seen > count ? "true" : "false");
	else
		appendStringInfoString(result, seen > count ? "true" : "false");
	appendStringInfoString(result, "}}");
}
