/*
 * prompts.c -- prompts, and completion of prompt arguments
 *
 * prompts/list is filtered like tools (the tenant's features, the token's
 * scopes); descriptions carry the tenant's override and terms.
 * prompts/get checks the arguments against the declaration -- every value a
 * string, every required one present, nothing undeclared, nothing that
 * would carry tenant or session identity -- and renders the messages either
 * with the prompt's renderer (run as mtmcp_tool under RLS) or by filling the
 * {{argument}} placeholders of its template.  Rendered messages are checked
 * before they are returned (role user/assistant; content text, image,
 * audio, resource or resource_link).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "audit.h"
#include "catalog.h"
#include "completion.h"
#include "cursor.h"
#include "identity.h"
#include "jsonutil.h"
#include "mrtr.h"
#include "mtmcp.h"
#include "prompts.h"
#include "tools.h"

typedef struct Prompt
{
	char	   *name;
	char	   *title;
	char	   *description;	/* with the tenant's override and terms */
	Jsonb	   *arguments;
	Oid			renderer;
	Jsonb	   *template;
	Oid			completer;
	char	   *feature;
	char	   *scope;
} Prompt;

static SPIPlanPtr prompts_plan = NULL;

/* All prompts as this tenant sees them, in name order. */
static Prompt *
load_prompts(const MtmcpIdentity *id, int *n)
{
	MemoryContext outer = CurrentMemoryContext;
	Prompt	   *ps;
	uint64		r;
	Datum		args[1];
	Oid			types[1] = {TEXTOID};

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (prompts_plan == NULL)
		prompts_plan = mtmcp_keep_plan("SELECT p.name, p.title, coalesce(tp.description, p.description), p.arguments,"
								   "       p.renderer::oid, p.template, p.completer::oid, p.required_feature,"
								   "       p.required_scope"
								   "  FROM mtmcp.prompts p LEFT JOIN mtmcp.tenant_prompts tp"
								   "       ON tp.prompt = p.name AND tp.tenant_id = $1"
								   " ORDER BY p.name COLLATE \"C\"", 1, types);
	args[0] = CStringGetTextDatum(id->tenant);
	if (SPI_execute_plan(prompts_plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read prompts");
	ps = MemoryContextAllocZero(outer, sizeof(Prompt) * Max(SPI_processed, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Prompt	   *p = &ps[r];
		bool		isnull;
		Datum		d;
		MemoryContext spi = MemoryContextSwitchTo(outer);

		p->name = SPI_getvalue(tup, desc, 1);
		p->title = SPI_getvalue(tup, desc, 2);
		p->description = SPI_getvalue(tup, desc, 3);
		p->arguments = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 4, &isnull));
		d = SPI_getbinval(tup, desc, 5, &isnull);
		p->renderer = isnull ? InvalidOid : DatumGetObjectId(d);
		d = SPI_getbinval(tup, desc, 6, &isnull);
		p->template = isnull ? NULL : DatumGetJsonbPCopy(d);
		d = SPI_getbinval(tup, desc, 7, &isnull);
		p->completer = isnull ? InvalidOid : DatumGetObjectId(d);
		p->feature = SPI_getvalue(tup, desc, 8);
		p->scope = SPI_getvalue(tup, desc, 9);
		MemoryContextSwitchTo(spi);
	}
	*n = SPI_processed;
	SPI_finish();
	return ps;
}

static bool
prompt_visible(const MtmcpIdentity *id, const Prompt *p)
{
	if (p->feature != NULL && !mtmcp_tenant_has_feature(id, p->feature))
		return false;
	if (p->scope != NULL && !mtmcp_has_scope(id, p->scope))
		return false;
	return true;
}

/* The visible prompt by name, or NULL (recording a hidden one in ev). */
static Prompt *
find_prompt(const MtmcpIdentity *id, const char *name, MtmcpAuditEvent *ev)
{
	int			n,
				i;
	Prompt	   *ps = load_prompts(id, &n);

	for (i = 0; i < n; i++)
		if (strcmp(ps[i].name, name) == 0)
		{
			if (prompt_visible(id, &ps[i]))
				return &ps[i];
			if (ev)
			{
				ev->result_kind = "denied";
				ev->severity = "security";
				ev->detail = "prompt_not_in_catalog";
			}
			return NULL;
		}
	if (ev)
	{
		ev->result_kind = "not_found";
		ev->severity = "warning";
	}
	return NULL;
}

int
mtmcp_prompts_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
				   const char **rpc_msg)
{
	int			n,
				i,
				rc;
	Prompt	   *ps;
	MtmcpPager	pg;

	if ((rc = mtmcp_pager_begin(&pg, "prompts/list", id, params, result, "prompts", rpc_msg)) != 0)
		return rc;
	ps = load_prompts(id, &n);
	for (i = 0; i < n; i++)
	{
		Prompt	   *p = &ps[i];

		if (mtmcp_pager_skip(&pg, p->name) || !prompt_visible(id, p))
			continue;
		if (!mtmcp_pager_next(&pg, p->name))
			break;
		appendStringInfoString(result, "{\"name\":");
		json_append_string(result, p->name);
		if (p->title)
		{
			appendStringInfoString(result, ",\"title\":");
			json_append_string(result, p->title);
		}
		appendStringInfoString(result, ",\"description\":");
		json_append_string(result, mtmcp_apply_tenant_terms(id, p->description));
		appendStringInfoString(result, ",\"arguments\":");
		json_append_jsonb(result, p->arguments);
		appendStringInfoChar(result, '}');
	}
	mtmcp_pager_end(&pg);
	return 0;
}

/* Is name a declared argument of p?  *required tells whether it must be given. */
static bool
declared_argument(const Prompt *p, const char *name, int len, bool *required)
{
	JsonbIterator *it = JsonbIteratorInit(&p->arguments->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue *nv;
		JsonbValue *rv;

		if (tok != WJB_ELEM || !jsonb_value_is_object(&v))
			continue;
		nv = jsonb_object_get(v.val.binary.data, "name");
		if (nv == NULL || nv->type != jbvString || nv->val.string.len != len ||
			memcmp(nv->val.string.val, name, len) != 0)
			continue;
		rv = jsonb_object_get(v.val.binary.data, "required");
		*required = rv != NULL && rv->type == jbvBool && rv->val.boolean;
		return true;
	}
	return false;
}

/*
 * Templates.  {{name}} is replaced by the argument's value, or by the
 * "default" its declaration names.  An argument that is neither given nor
 * defaulted (an optional one) leaves no empty substitution behind:
 *
 *   - {{#name}}...{{/name}} is an optional section, kept (its placeholders
 *     filled) only when name has a value;
 *   - a line with a placeholder of a missing argument is dropped, when the
 *     text has other lines to keep;
 *   - otherwise the placeholder is removed with the space before it, so
 *     "in {{style}} style." reads "in style." and "as {{style}}." reads "as.".
 */

/* The value of name (given, else the declared default), or NULL. */
static char *
arg_value(JsonbContainer *vals, const char *name)
{
	return vals ? jsonb_value_cstring(jsonb_object_get(vals, name)) : NULL;
}

/* Fill the placeholders of one line; *missing tells whether one had no value. */
static void
fill_line(StringInfo out, const char *p, const char *end, JsonbContainer *vals, bool *missing)
{
	while (p < end)
	{
		const char *open = strstr(p, "{{");
		const char *close;
		char	   *name;
		char	   *val;

		if (open == NULL || open >= end || (close = strstr(open + 2, "}}")) == NULL || close + 2 > end)
		{
			appendBinaryStringInfo(out, p, end - p);
			return;
		}
		appendBinaryStringInfo(out, p, open - p);
		name = pnstrdup(open + 2, close - open - 2);
		val = arg_value(vals, name);
		if (val != NULL)
			appendStringInfoString(out, val);
		else
		{
			*missing = true;
			/* the space before it goes too */
			if (out->len > 0 && out->data[out->len - 1] == ' ')
				out->data[--out->len] = '\0';
		}
		p = close + 2;
	}
}

/* Drop or keep the optional sections {{#name}}...{{/name}}. */
static char *
apply_sections(const char *s, JsonbContainer *vals)
{
	StringInfoData out;
	const char *p = s;

	initStringInfo(&out);
	while (*p)
	{
		const char *open = strstr(p, "{{#");
		const char *close;
		char	   *name;
		char	   *end_tag;
		const char *end;

		if (open == NULL || (close = strstr(open + 3, "}}")) == NULL)
		{
			appendStringInfoString(&out, p);
			break;
		}
		name = pnstrdup(open + 3, close - open - 3);
		end_tag = psprintf("{{/%s}}", name);
		end = strstr(close + 2, end_tag);
		if (end == NULL)
		{
			/* not a section: left as it is */
			appendBinaryStringInfo(&out, p, close + 2 - p);
			p = close + 2;
			continue;
		}
		appendBinaryStringInfo(&out, p, open - p);
		if (arg_value(vals, name) != NULL)
			appendBinaryStringInfo(&out, close + 2, end - (close + 2));
		p = end + strlen(end_tag);
	}
	return out.data;
}

static char *
fill_placeholders(const char *template, JsonbContainer *vals)
{
	char	   *s = apply_sections(template, vals);
	StringInfoData kept;
	StringInfoData all;
	const char *p = s;
	int			nkept = 0;

	initStringInfo(&kept);
	initStringInfo(&all);
	for (;;)
	{
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		StringInfoData line;
		bool		missing = false;

		initStringInfo(&line);
		fill_line(&line, p, end, vals, &missing);
		if (all.len > 0 || p != s)
			appendStringInfoChar(&all, '\n');
		appendBinaryStringInfo(&all, line.data, line.len);
		if (!missing)
		{
			if (nkept > 0)
				appendStringInfoChar(&kept, '\n');
			appendBinaryStringInfo(&kept, line.data, line.len);
			if (strspn(line.data, " \t") != (size_t) line.len)
				nkept++;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	/* lines with a missing value go when something is left; else only the placeholders went */
	return nkept > 0 ? kept.data : all.data;
}

/* The values a template sees: the declared defaults, overlaid with the given arguments. */
static JsonbContainer *
template_values(const Prompt *p, Jsonb *args)
{
	JsonbIterator *it = JsonbIteratorInit(&p->arguments->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	StringInfoData d;
	bool		any = false;
	Jsonb	   *merged;

	initStringInfo(&d);
	appendStringInfoChar(&d, '{');
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name;
		char	   *def;

		if (tok != WJB_ELEM || !jsonb_value_is_object(&v))
			continue;
		name = jsonb_value_cstring(jsonb_object_get(v.val.binary.data, "name"));
		def = jsonb_value_cstring(jsonb_object_get(v.val.binary.data, "default"));
		if (name == NULL || def == NULL)
			continue;
		if (any)
			appendStringInfoChar(&d, ',');
		json_append_string(&d, name);
		appendStringInfoChar(&d, ':');
		json_append_string(&d, def);
		any = true;
	}
	appendStringInfoChar(&d, '}');
	if (!any)
		return args ? &args->root : NULL;
	if (args == NULL)
		return &json_text_to_jsonb(d.data)->root;
	merged = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(json_text_to_jsonb(d.data)),
												 JsonbPGetDatum(args)));
	return &merged->root;
}

/* Rebuild a template value with every string filled in. */
static void
render_template_value(StringInfo out, JsonbValue *v, JsonbContainer *args)
{
	if (v->type == jbvString)
		json_append_string(out, fill_placeholders(jsonb_value_cstring(v), args));
	else if (v->type == jbvBinary)
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	x;
		JsonbIteratorToken tok;
		bool		first = true;
		bool		is_object = JsonContainerIsObject(v->val.binary.data);

		appendStringInfoChar(out, is_object ? '{' : '[');
		while ((tok = JsonbIteratorNext(&it, &x, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				if (!first)
					appendStringInfoChar(out, ',');
				json_append_value(out, &x);
				appendStringInfoChar(out, ':');
				first = false;
			}
			else if (tok == WJB_VALUE)
				render_template_value(out, &x, args);
			else if (tok == WJB_ELEM)
			{
				if (!first)
					appendStringInfoChar(out, ',');
				render_template_value(out, &x, args);
				first = false;
			}
		}
		appendStringInfoChar(out, is_object ? '}' : ']');
	}
	else
		json_append_value(out, v);
}

/* Is m a well-formed PromptMessage? */
static bool
valid_message(JsonbContainer *m)
{
	char	   *role = jsonb_value_cstring(jsonb_object_get(m, "role"));
	JsonbValue *c = jsonb_object_get(m, "content");
	char	   *type;
	JsonbContainer *cc;

	if (role == NULL || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0))
		return false;
	if (!jsonb_value_is_object(c))
		return false;
	cc = c->val.binary.data;
	type = jsonb_value_cstring(jsonb_object_get(cc, "type"));
	if (type == NULL)
		return false;
	if (strcmp(type, "text") == 0)
		return jsonb_value_cstring(jsonb_object_get(cc, "text")) != NULL;
	if (strcmp(type, "image") == 0 || strcmp(type, "audio") == 0)
		return jsonb_value_cstring(jsonb_object_get(cc, "data")) != NULL &&
			jsonb_value_cstring(jsonb_object_get(cc, "mimeType")) != NULL;
	if (strcmp(type, "resource") == 0)
	{
		JsonbValue *r = jsonb_object_get(cc, "resource");

		return jsonb_value_is_object(r) &&
			jsonb_value_cstring(jsonb_object_get(r->val.binary.data, "uri")) != NULL &&
			((jsonb_value_cstring(jsonb_object_get(r->val.binary.data, "text")) != NULL) !=
			 (jsonb_value_cstring(jsonb_object_get(r->val.binary.data, "blob")) != NULL));
	}
	if (strcmp(type, "resource_link") == 0)
		return jsonb_value_cstring(jsonb_object_get(cc, "uri")) != NULL &&
			jsonb_value_cstring(jsonb_object_get(cc, "name")) != NULL;
	return false;
}

int
mtmcp_prompts_get(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
				  const char **rpc_msg, MtmcpAuditEvent *ev)
{
	char	   *name = jsonb_value_cstring(jsonb_object_get(params, "name"));
	JsonbValue *av = jsonb_object_get(params, "arguments");
	JsonbContainer *args = NULL;
	Prompt	   *p;
	char	   *bad;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	Jsonb	   *messages;

	if (name == NULL)
	{
		*rpc_msg = "Invalid params: name must be a string";
		return JSONRPC_INVALID_PARAMS;
	}
	ev->target = name;
	if (av != NULL && av->type != jbvNull)
	{
		if (!jsonb_value_is_object(av))
		{
			*rpc_msg = "Invalid params: arguments must be an object";
			return JSONRPC_INVALID_PARAMS;
		}
		args = av->val.binary.data;
		ev->arguments = jsonb_value_to_jsonb(av);
	}
	p = find_prompt(id, name, ev);
	if (p == NULL)
	{
		*rpc_msg = psprintf("Invalid params: unknown prompt \"%s\"", name);
		return JSONRPC_INVALID_PARAMS;
	}
	bad = mtmcp_reserved_argument(args);
	if (bad != NULL)
	{
		ev->result_kind = "denied";
		ev->severity = "security";
		ev->detail = "reserved_argument";
		*rpc_msg = psprintf("Invalid params: argument \"%s\" is not accepted; the tenant and the session come from the verified token", bad);
		return JSONRPC_INVALID_PARAMS;
	}
	/* every given argument declared and a string */
	if (args != NULL)
	{
		it = JsonbIteratorInit(args);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			bool		required;

			if (tok == WJB_KEY && !declared_argument(p, v.val.string.val, v.val.string.len, &required))
			{
				ev->result_kind = "invalid";
				ev->severity = "warning";
				*rpc_msg = psprintf("Invalid params: prompt \"%s\" has no argument \"%s\"", name,
									pnstrdup(v.val.string.val, v.val.string.len));
				return JSONRPC_INVALID_PARAMS;
			}
			if (tok == WJB_VALUE && v.type != jbvString)
			{
				ev->result_kind = "invalid";
				ev->severity = "warning";
				*rpc_msg = "Invalid params: prompt argument values must be strings";
				return JSONRPC_INVALID_PARAMS;
			}
		}
	}
	/* every required argument given */
	it = JsonbIteratorInit(&p->arguments->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *an;
		JsonbValue *rv;

		if (tok != WJB_ELEM || !jsonb_value_is_object(&v))
			continue;
		an = jsonb_value_cstring(jsonb_object_get(v.val.binary.data, "name"));
		rv = jsonb_object_get(v.val.binary.data, "required");
		if (an && rv && rv->type == jbvBool && rv->val.boolean &&
			(args == NULL || jsonb_object_get(args, an) == NULL))
		{
			ev->result_kind = "invalid";
			ev->severity = "warning";
			*rpc_msg = psprintf("Invalid params: missing required argument \"%s\"", an);
			return JSONRPC_INVALID_PARAMS;
		}
	}

	if (OidIsValid(p->renderer))
	{
		ErrorData  *edata;
		char	   *oerr;
		Jsonb	   *res;

		if (!mtmcp_run_as_tool(p->renderer, args ? JsonbValueToJsonb(av) : json_text_to_jsonb("{}"),
							   NULL, &res, &edata, &oerr))
		{
			if (mtmcp_mrtr_interrupted())
				return 0;		/* it stopped to ask the client: the dispatcher answers */
			ereport(LOG, (errmsg("renderer of prompt \"%s\" failed for tenant \"%s\": %s", name, id->tenant,
								 edata->message ? edata->message : "?")));
			ev->result_kind = "tool_error";
			ev->severity = "warning";
			ev->error_code = pstrdup(unpack_sql_state(edata->sqlerrcode));
			*rpc_msg = "Internal error";
			return JSONRPC_INTERNAL_ERROR;
		}
		/* an array of messages, or {"messages": [...]} */
		if (res != NULL && JB_ROOT_IS_OBJECT(res))
		{
			JsonbValue *mv = jsonb_object_get(&res->root, "messages");

			res = jsonb_value_is_array(mv) ? jsonb_value_to_jsonb(mv) : NULL;
		}
		messages = res;
	}
	else
	{
		StringInfoData b;
		JsonbValue	root;

		initStringInfo(&b);
		root.type = jbvBinary;
		root.val.binary.data = &p->template->root;
		root.val.binary.len = VARSIZE(p->template) - VARHDRSZ;
		render_template_value(&b, &root, template_values(p, args ? JsonbValueToJsonb(av) : NULL));
		messages = json_text_to_jsonb(b.data);
	}

	if (messages == NULL || !JB_ROOT_IS_ARRAY(messages) || JB_ROOT_IS_SCALAR(messages))
		goto malformed;
	it = JsonbIteratorInit(&messages->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM && (!jsonb_value_is_object(&v) || !valid_message(v.val.binary.data)))
			goto malformed;

	appendStringInfoString(result, "{\"description\":");
	json_append_string(result, mtmcp_apply_tenant_terms(id, p->description));
	appendStringInfoString(result, ",\"messages\":");
	json_append_jsonb(result, messages);
	appendStringInfoChar(result, '}');
	ev->result_kind = "ok";
	ev->severity = "info";
	return 0;

malformed:
	ereport(LOG, (errmsg("prompt \"%s\" rendered malformed messages", name)));
	ev->result_kind = "tool_error";
	ev->severity = "warning";
	ev->error_code = "malformed_messages";
	*rpc_msg = "Internal error";
	return JSONRPC_INTERNAL_ERROR;
}

/* completion/complete for an argument of a prompt */
int
mtmcp_complete_prompt(const MtmcpIdentity *id, const char *prompt, const char *arg,
					  const char *value, Jsonb *request, StringInfo result, const char **rpc_msg,
					  MtmcpAuditEvent *ev)
{
	Prompt	   *p = find_prompt(id, prompt, ev);
	bool		required;

	if (p == NULL)
	{
		*rpc_msg = psprintf("Invalid params: unknown prompt \"%s\"", prompt);
		return JSONRPC_INVALID_PARAMS;
	}
	if (!declared_argument(p, arg, strlen(arg), &required))
	{
		*rpc_msg = psprintf("Invalid params: prompt \"%s\" has no argument \"%s\"", prompt, arg);
		return JSONRPC_INVALID_PARAMS;
	}
	if (!OidIsValid(p->completer))
	{
		appendStringInfoString(result, "{\"completion\":{\"values\":[],\"total\":0,\"hasMore\":false}}");
		return 0;
	}
	{
		Jsonb	   *res;
		ErrorData  *edata;
		char	   *oerr;

		if (!mtmcp_run_as_tool(p->completer, request, NULL, &res, &edata, &oerr))
		{
			ereport(LOG, (errmsg("completer of prompt \"%s\" failed: %s", prompt, edata->message ? edata->message : "?")));
			*rpc_msg = "Internal error";
			return JSONRPC_INTERNAL_ERROR;
		}
		mtmcp_append_completion(result, res, NULL);
	}
	return 0;
}
