/*
 * resources.c -- tenant-scoped resources
 *
 * Resource templates are RFC 6570 level-1 URI templates.  Every template
 * that is not explicitly public carries a {tenant} variable, e.g.
 * kb://tenants/{tenant}/documents/{doc_id}.  For resources/read and
 * resources/subscribe the dispatcher matches the URI against the templates
 * and, when the tenant segment is not the verified tenant, refuses it
 * *before any reader runs*, with exactly the answer a URI that matches
 * nothing gets (-32002, same message, same data), and records a security
 * event.  The same answer covers a template outside the caller's catalog
 * and a reader that finds nothing, so the response can never tell "exists
 * elsewhere" from "does not exist".
 *
 * Readers, listers and completers run as mtmcp_tool under RLS, like tools.
 * resources/list entries a lister returns are checked again: an entry whose
 * URI names another tenant (a buggy lister) is dropped and logged.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
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
#include "resources.h"
#include "tools.h"

#define MAX_TEMPLATE_VARS 16

typedef struct Template
{
	char	   *name;
	char	   *uri_template;
	char	   *title;
	char	   *description;
	char	   *mime_type;
	Oid			reader;
	Oid			lister;
	Oid			completer;
	char	   *feature;
	char	   *scope;
	/* parsed: literal[0] {var[0]} literal[1] ... {var[n-1]} literal[n] */
	int			nvars;
	char	   *literals[MAX_TEMPLATE_VARS + 1];
	char	   *vars[MAX_TEMPLATE_VARS];
	int			tenant_var;		/* index of {tenant}, or -1 */
} Template;

/* ---------------------------------------------------------------------------
 * URI templates
 * ------------------------------------------------------------------------- */

/* Parse a level-1 template; NULL on success, else why not. */
static const char *
parse_template(const char *tpl, Template *t)
{
	const char *p = tpl;
	StringInfoData lit;
	int			i;

	t->nvars = 0;
	t->tenant_var = -1;
	initStringInfo(&lit);
	while (*p)
	{
		if (*p == '}')
			return "Unbalanced \"}\"";
		if (*p != '{')
		{
			appendStringInfoChar(&lit, *p++);
			continue;
		}
		{
			const char *end = strchr(p, '}');
			char	   *var;

			if (end == NULL)
				return "Unbalanced \"{\"";
			if (t->nvars > 0 && lit.len == 0)
				return "Two variables must be separated by literal text";
			if (t->nvars == MAX_TEMPLATE_VARS)
				return "A template has at most 16 variables";
			var = pnstrdup(p + 1, end - p - 1);
			if (var[0] == '\0')
				return "A variable name is empty";
			for (i = 0; var[i]; i++)
				if (!((var[i] >= 'a' && var[i] <= 'z') || (var[i] >= 'A' && var[i] <= 'Z') ||
					  (var[i] >= '0' && var[i] <= '9') || var[i] == '_'))
					return "Only level-1 variables ({name}: letters, digits and \"_\") are supported";
			for (i = 0; i < t->nvars; i++)
				if (strcmp(t->vars[i], var) == 0)
					return "A variable appears twice";
			t->literals[t->nvars] = pstrdup(lit.data);
			resetStringInfo(&lit);
			if (strcmp(var, "tenant") == 0)
				t->tenant_var = t->nvars;
			t->vars[t->nvars++] = var;
			p = end + 1;
		}
	}
	t->literals[t->nvars] = pstrdup(lit.data);
	/* a scheme first: letters, digits, "+", "-", "." then ":" */
	p = t->literals[0];
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return "A URI template starts with a scheme such as \"kb:\"";
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		   *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':')
		return "A URI template starts with a scheme such as \"kb:\"";
	return NULL;
}

static bool
is_value_char(char c)
{
	/* what a level-1 expansion produces: unreserved characters and %XX */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '%';
}

/* Percent-decode a variable value; NULL when malformed or not UTF-8. */
static char *
pct_decode(const char *s, int len)
{
	char	   *out = palloc(len + 1);
	int			i,
				j = 0;

	for (i = 0; i < len; i++)
	{
		if (s[i] == '%')
		{
			int			h,
						l;

			if (i + 2 >= len)
				return NULL;
			h = hex_digit_value(s[i + 1]);
			l = hex_digit_value(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return NULL;
			out[j++] = (char) (h * 16 + l);
			i += 2;
		}
		else
			out[j++] = s[i];
	}
	out[j] = '\0';
	if (j == 0 || !pg_verifymbstr(out, j, true))
		return NULL;
	return out;
}

/* Match uri from pos against parts k.. of t; fills values.  Backtracks. */
static bool
match_from(const Template *t, const char *uri, int k, char **values)
{
	const char *lit = t->literals[k];
	size_t		n = strlen(lit);
	int			len;

	if (strncmp(uri, lit, n) != 0)
		return false;
	uri += n;
	if (k == t->nvars)
		return *uri == '\0';
	for (len = 1; is_value_char(uri[len - 1]); len++)
	{
		if (match_from(t, uri + len, k + 1, values))
		{
			values[k] = pct_decode(uri, len);
			return values[k] != NULL;
		}
	}
	return false;
}

PG_FUNCTION_INFO_V1(mtmcp_check_uri_template);

/* SQL: mtmcp._check_uri_template(template, public), register_resource_template's gate. */
Datum
mtmcp_check_uri_template(PG_FUNCTION_ARGS)
{
	char	   *tpl = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		public = PG_GETARG_BOOL(1);
	Template	t;
	const char *why = parse_template(tpl, &t);

	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid URI template \"%s\"", tpl),
				 errdetail("%s.", why)));
	if (t.tenant_var < 0 && !public)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("URI template \"%s\" does not name its tenant", tpl),
				 errdetail("Tenant-owned resources carry a {tenant} variable, e.g. kb://tenants/{tenant}/documents/{doc_id}."),
				 errhint("Register content that is the same for every tenant with public => true.")));
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------------
 * Loading templates
 * ------------------------------------------------------------------------- */

static Template *
load_templates(int *n)
{
	MemoryContext outer = CurrentMemoryContext;
	Template   *ts;
	uint64		r;
	int			k = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT name, uri_template, title, description, mime_type, reader::oid,"
					"       lister::oid, completer::oid, required_feature, required_scope"
					"  FROM mtmcp.resource_templates ORDER BY name COLLATE \"C\"", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read resource templates");
	ts = MemoryContextAllocZero(outer, sizeof(Template) * Max(SPI_processed, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Template   *t = &ts[k];
		bool		isnull;
		MemoryContext spi = MemoryContextSwitchTo(outer);

		t->name = SPI_getvalue(tup, desc, 1);
		t->uri_template = SPI_getvalue(tup, desc, 2);
		t->title = SPI_getvalue(tup, desc, 3);
		t->description = SPI_getvalue(tup, desc, 4);
		t->mime_type = SPI_getvalue(tup, desc, 5);
		t->reader = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
		t->lister = DatumGetObjectId(SPI_getbinval(tup, desc, 7, &isnull));
		if (isnull)
			t->lister = InvalidOid;
		t->completer = DatumGetObjectId(SPI_getbinval(tup, desc, 8, &isnull));
		if (isnull)
			t->completer = InvalidOid;
		t->feature = SPI_getvalue(tup, desc, 9);
		t->scope = SPI_getvalue(tup, desc, 10);
		if (parse_template(t->uri_template, t) == NULL)
			k++;
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	*n = k;
	return ts;
}

static bool
template_visible(const MtmcpIdentity *id, const Template *t)
{
	if (t->feature != NULL && !mtmcp_tenant_has_feature(id, t->feature))
		return false;
	if (t->scope != NULL && !mtmcp_has_scope(id, t->scope))
		return false;
	return true;
}

/* The "not found" answer, byte-identical for every reason it is given. */
static int
not_found(const char *uri, const char **rpc_msg, char **rpc_data)
{
	StringInfoData d;

	initStringInfo(&d);
	appendStringInfoString(&d, "{\"uri\":");
	json_append_string(&d, uri);
	appendStringInfoChar(&d, '}');
	*rpc_msg = "Resource not found";
	*rpc_data = d.data;
	return MCP_RESOURCE_NOT_FOUND;
}

/*
 * Resolve a URI to a template the caller may use and its variables.  Returns
 * the template, or NULL after recording why in ev (the caller answers
 * "not found" whatever the reason).
 */
static Template *
resolve_uri(const MtmcpIdentity *id, const char *uri, Template *ts, int n, char **values,
			MtmcpAuditEvent *ev)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		Template   *t = &ts[i];

		memset(values, 0, sizeof(char *) * MAX_TEMPLATE_VARS);
		if (!match_from(t, uri, 0, values))
			continue;
		ev->target = t->name;
		if (t->tenant_var >= 0 && strcmp(values[t->tenant_var], id->tenant) != 0)
		{
			ev->result_kind = "denied";
			ev->severity = "security";
			ev->detail = "cross_tenant_uri";
			return NULL;
		}
		if (!template_visible(id, t))
		{
			ev->result_kind = "denied";
			ev->severity = "security";
			ev->detail = "resource_not_in_catalog";
			return NULL;
		}
		return t;
	}
	ev->result_kind = "not_found";
	ev->severity = "warning";
	return NULL;
}

static Jsonb *
vars_object(const Template *t, const char *uri, char **values)
{
	StringInfoData b;
	int			i;

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"uri\":");
	json_append_string(&b, uri);
	for (i = 0; i < t->nvars; i++)
	{
		appendStringInfoChar(&b, ',');
		json_append_string(&b, t->vars[i]);
		appendStringInfoChar(&b, ':');
		json_append_string(&b, values[i]);
	}
	appendStringInfoChar(&b, '}');
	return json_text_to_jsonb(b.data);
}

static bool
valid_base64(const char *s)
{
	size_t		n = strlen(s),
				i;

	if (n % 4 != 0)
		return false;
	for (i = 0; i < n; i++)
	{
		char		c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '+' || c == '/' || (c == '=' && i >= n - 2)))
			return false;
	}
	return true;
}

/* One content entry from a reader's object; false when malformed. */
static bool
append_content(StringInfo out, JsonbContainer *obj, const char *uri, const char *mime)
{
	char	   *text = jsonb_value_cstring(jsonb_object_get(obj, "text"));
	char	   *blob = jsonb_value_cstring(jsonb_object_get(obj, "blob"));
	char	   *u = jsonb_value_cstring(jsonb_object_get(obj, "uri"));
	char	   *m = jsonb_value_cstring(jsonb_object_get(obj, "mimeType"));

	if ((text == NULL) == (blob == NULL))
		return false;
	if (blob != NULL && !valid_base64(blob))
		return false;
	appendStringInfoString(out, "{\"uri\":");
	json_append_string(out, u ? u : uri);
	appendStringInfoString(out, ",\"mimeType\":");
	json_append_string(out, m ? m : mime);
	appendStringInfoString(out, text ? ",\"text\":" : ",\"blob\":");
	json_append_string(out, text ? text : blob);
	appendStringInfoChar(out, '}');
	return true;
}

/* ---------------------------------------------------------------------------
 * Methods
 * ------------------------------------------------------------------------- */

/* {"uri": uri}, what the audit row records of a resource request */
static Jsonb *
uri_argument(const char *uri)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"uri\":");
	json_append_string(&b, uri);
	appendStringInfoChar(&b, '}');
	return json_text_to_jsonb(b.data);
}

int
mtmcp_resources_read(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
					 const char **rpc_msg, char **rpc_data, MtmcpAuditEvent *ev)
{
	char	   *uri = jsonb_value_cstring(jsonb_object_get(params, "uri"));
	Template   *ts;
	Template   *t;
	int			n;
	char	   *values[MAX_TEMPLATE_VARS];
	Jsonb	   *res;
	ErrorData  *edata;
	char	   *oerr;
	JsonbValue	v;

	if (uri == NULL)
	{
		*rpc_msg = "Invalid params: uri must be a string";
		return JSONRPC_INVALID_PARAMS;
	}
	ev->arguments = uri_argument(uri);
	ts = load_templates(&n);
	t = resolve_uri(id, uri, ts, n, values, ev);
	if (t == NULL)
		return not_found(uri, rpc_msg, rpc_data);

	if (!mtmcp_run_as_tool(t->reader, vars_object(t, uri, values), NULL, &res, &edata, &oerr))
	{
		if (mtmcp_mrtr_interrupted())
			return 0;			/* it stopped to ask the client: the dispatcher answers */
		if (edata->sqlerrcode == ERRCODE_NO_DATA_FOUND)
		{
			ev->result_kind = "not_found";
			ev->severity = "warning";
			return not_found(uri, rpc_msg, rpc_data);
		}
		ereport(LOG,
				(errmsg("resource reader of \"%s\" failed for tenant \"%s\": %s", t->name, id->tenant,
						edata->message ? edata->message : "?"),
				 errhidestmt(true)));
		ev->result_kind = "tool_error";
		ev->severity = "warning";
		ev->error_code = pstrdup(unpack_sql_state(edata->sqlerrcode));
		*rpc_msg = "Internal error";
		return JSONRPC_INTERNAL_ERROR;
	}
	if (res == NULL)
	{
		ev->result_kind = "not_found";
		ev->severity = "warning";
		return not_found(uri, rpc_msg, rpc_data);
	}

	appendStringInfoString(result, "{\"contents\":[");
	if (JB_ROOT_IS_SCALAR(res) && JsonbExtractScalar(&res->root, &v) && v.type == jbvString)
	{
		appendStringInfoString(result, "{\"uri\":");
		json_append_string(result, uri);
		appendStringInfoString(result, ",\"mimeType\":");
		json_append_string(result, t->mime_type);
		appendStringInfoString(result, ",\"text\":");
		json_append_string(result, jsonb_value_cstring(&v));
		appendStringInfoChar(result, '}');
	}
	else if (JB_ROOT_IS_OBJECT(res))
	{
		if (!append_content(result, &res->root, uri, t->mime_type))
			goto malformed;
	}
	else if (JB_ROOT_IS_ARRAY(res) && !JB_ROOT_IS_SCALAR(res))
	{
		JsonbIterator *it = JsonbIteratorInit(&res->root);
		JsonbIteratorToken tok;
		bool		first = true;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			if (!jsonb_value_is_object(&v))
				goto malformed;
			if (!first)
				appendStringInfoChar(result, ',');
			if (!append_content(result, v.val.binary.data, uri, t->mime_type))
				goto malformed;
			first = false;
		}
	}
	else
		goto malformed;
	appendStringInfoString(result, "]}");
	ev->result_kind = "ok";
	ev->severity = "info";
	return 0;

malformed:
	ereport(LOG,
			(errmsg("resource reader of \"%s\" returned malformed contents", t->name),
			 errdetail("A reader returns a string, an object with \"text\" or base64 \"blob\", or an array of such objects.")));
	ev->result_kind = "tool_error";
	ev->severity = "warning";
	ev->error_code = "malformed_contents";
	*rpc_msg = "Internal error";
	return JSONRPC_INTERNAL_ERROR;
}

typedef struct ListedResource
{
	char	   *uri;
	char	   *json;
} ListedResource;

static int
cmp_listed(const void *a, const void *b)
{
	return strcmp(((const ListedResource *) a)->uri, ((const ListedResource *) b)->uri);
}

int
mtmcp_resources_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
					 const char **rpc_msg, MtmcpAuditEvent *ev)
{
	Template   *ts;
	int			n,
				i,
				rc;
	ListedResource *items = NULL;
	int			nitems = 0,
				cap = 0;
	MtmcpPager	pg;
	StringInfoData page;

	/* the page is written aside: listers may fail, and then nothing is answered */
	initStringInfo(&page);
	if ((rc = mtmcp_pager_begin(&pg, "resources/list", id, params, &page, "resources", rpc_msg)) != 0)
		return rc;

	ts = load_templates(&n);
	for (i = 0; i < n; i++)
	{
		Template   *t = &ts[i];
		Jsonb	   *res;
		ErrorData  *edata;
		char	   *oerr;
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;

		if (!OidIsValid(t->lister) || !template_visible(id, t))
			continue;
		if (!mtmcp_run_as_tool(t->lister, json_text_to_jsonb("{}"), NULL, &res, &edata, &oerr))
		{
			ereport(LOG,
					(errmsg("resource lister of \"%s\" failed for tenant \"%s\": %s", t->name, id->tenant,
							edata->message ? edata->message : "?")));
			ev->result_kind = "tool_error";
			ev->severity = "warning";
			ev->target = t->name;
			*rpc_msg = "Internal error";
			return JSONRPC_INTERNAL_ERROR;
		}
		if (res == NULL || !JB_ROOT_IS_ARRAY(res) || JB_ROOT_IS_SCALAR(res))
			continue;
		it = JsonbIteratorInit(&res->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			char	   *uri;
			char	   *name;
			char	   *values[MAX_TEMPLATE_VARS];
			StringInfoData e;
			JsonbValue *x;

			if (tok != WJB_ELEM || !jsonb_value_is_object(&v))
				continue;
			uri = jsonb_value_cstring(jsonb_object_get(v.val.binary.data, "uri"));
			name = jsonb_value_cstring(jsonb_object_get(v.val.binary.data, "name"));
			if (uri == NULL || name == NULL)
				continue;
			memset(values, 0, sizeof(values));
			if (!match_from(t, uri, 0, values) ||
				(t->tenant_var >= 0 && strcmp(values[t->tenant_var], id->tenant) != 0))
			{
				/* never list what the caller could not read */
				ereport(LOG,
						(errmsg("resource lister of \"%s\" returned \"%s\", which is not a resource of tenant \"%s\"; dropped",
								t->name, uri, id->tenant)));
				continue;
			}
			if (mtmcp_pager_skip(&pg, uri))
				continue;
			initStringInfo(&e);
			appendStringInfoString(&e, "{\"uri\":");
			json_append_string(&e, uri);
			appendStringInfoString(&e, ",\"name\":");
			json_append_string(&e, name);
			if ((x = jsonb_object_get(v.val.binary.data, "title")) != NULL && x->type == jbvString)
			{
				appendStringInfoString(&e, ",\"title\":");
				json_append_value(&e, x);
			}
			if ((x = jsonb_object_get(v.val.binary.data, "description")) != NULL && x->type == jbvString)
			{
				appendStringInfoString(&e, ",\"description\":");
				json_append_string(&e, mtmcp_apply_tenant_terms(id, jsonb_value_cstring(x)));
			}
			appendStringInfoString(&e, ",\"mimeType\":");
			x = jsonb_object_get(v.val.binary.data, "mimeType");
			if (x != NULL && x->type == jbvString)
				json_append_value(&e, x);
			else
				json_append_string(&e, t->mime_type);
			if ((x = jsonb_object_get(v.val.binary.data, "size")) != NULL && x->type == jbvNumeric)
			{
				appendStringInfoString(&e, ",\"size\":");
				json_append_value(&e, x);
			}
			appendStringInfoChar(&e, '}');
			if (nitems == cap)
			{
				cap = cap ? cap * 2 : 64;
				items = items ? repalloc(items, sizeof(ListedResource) * cap) : palloc(sizeof(ListedResource) * cap);
			}
			items[nitems].uri = uri;
			items[nitems].json = e.data;
			nitems++;
		}
	}
	if (nitems > 1)
		qsort(items, nitems, sizeof(ListedResource), cmp_listed);

	for (i = 0; i < nitems; i++)
	{
		if (i > 0 && strcmp(items[i].uri, items[i - 1].uri) == 0)
			continue;
		if (!mtmcp_pager_next(&pg, items[i].uri))
			break;
		appendStringInfoString(&page, items[i].json);
	}
	mtmcp_pager_end(&pg);
	appendBinaryStringInfo(result, page.data, page.len);
	return 0;
}

int
mtmcp_resource_templates_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
							  const char **rpc_msg)
{
	Template   *ts;
	int			n,
				i,
				rc;
	MtmcpPager	pg;

	if ((rc = mtmcp_pager_begin(&pg, "resources/templates/list", id, params, result, "resourceTemplates",
								rpc_msg)) != 0)
		return rc;
	ts = load_templates(&n);
	for (i = 0; i < n; i++)
	{
		Template   *t = &ts[i];

		if (mtmcp_pager_skip(&pg, t->name) || !template_visible(id, t))
			continue;
		if (!mtmcp_pager_next(&pg, t->name))
			break;
		appendStringInfoString(result, "{\"uriTemplate\":");
		json_append_string(result, t->uri_template);
		appendStringInfoString(result, ",\"name\":");
		json_append_string(result, t->name);
		if (t->title)
		{
			appendStringInfoString(result, ",\"title\":");
			json_append_string(result, t->title);
		}
		appendStringInfoString(result, ",\"description\":");
		json_append_string(result, mtmcp_apply_tenant_terms(id, t->description));
		appendStringInfoString(result, ",\"mimeType\":");
		json_append_string(result, t->mime_type);
		appendStringInfoChar(result, '}');
	}
	mtmcp_pager_end(&pg);
	return 0;
}

/* resources/subscribe and resources/unsubscribe, recorded per caller and session. */
int
mtmcp_resources_subscribe(const MtmcpIdentity *id, JsonbContainer *params, bool subscribe,
						  const char *session_id, StringInfo result, const char **rpc_msg,
						  char **rpc_data, MtmcpAuditEvent *ev)
{
	char	   *uri = jsonb_value_cstring(jsonb_object_get(params, "uri"));
	Template   *ts;
	int			n;
	char	   *values[MAX_TEMPLATE_VARS];
	Datum		args[4];
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};

	if (uri == NULL)
	{
		*rpc_msg = "Invalid params: uri must be a string";
		return JSONRPC_INVALID_PARAMS;
	}
	ev->arguments = uri_argument(uri);
	ts = load_templates(&n);
	if (subscribe && resolve_uri(id, uri, ts, n, values, ev) == NULL)
		return not_found(uri, rpc_msg, rpc_data);

	args[0] = CStringGetTextDatum(id->tenant);
	args[1] = CStringGetTextDatum(id->subject);
	args[2] = CStringGetTextDatum(session_id ? session_id : "");
	args[3] = CStringGetTextDatum(uri);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(subscribe
							  ? "INSERT INTO mtmcp.resource_subscriptions (tenant_id, subject, session_id, uri)"
							  "  VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
							  : "DELETE FROM mtmcp.resource_subscriptions"
							  " WHERE tenant_id = $1 AND subject = $2 AND session_id = $3 AND uri = $4",
							  4, types, args, NULL, false, 0) < 0)
		elog(ERROR, "could not record the subscription");
	SPI_finish();
	appendStringInfoString(result, "{}");
	ev->result_kind = "ok";
	ev->severity = "info";
	return 0;
}

/* completion/complete for a variable of a resource template */
int
mtmcp_complete_resource(const MtmcpIdentity *id, const char *uri_template, const char *arg,
						const char *value, Jsonb *request, StringInfo result, const char **rpc_msg)
{
	Template   *ts;
	int			n,
				i,
				v;

	ts = load_templates(&n);
	for (i = 0; i < n; i++)
		if (strcmp(ts[i].uri_template, uri_template) == 0 && template_visible(id, &ts[i]))
			break;
	if (i == n)
	{
		*rpc_msg = "Invalid params: unknown resource template";
		return JSONRPC_INVALID_PARAMS;
	}
	for (v = 0; v < ts[i].nvars; v++)
		if (strcmp(ts[i].vars[v], arg) == 0)
			break;
	if (v == ts[i].nvars)
	{
		*rpc_msg = "Invalid params: the template has no such variable";
		return JSONRPC_INVALID_PARAMS;
	}
	/* the only tenant a caller may name is its own */
	if (v == ts[i].tenant_var)
	{
		appendStringInfoString(result, "{\"completion\":{\"values\":[");
		if (strncmp(id->tenant, value, strlen(value)) == 0)
			json_append_string(result, id->tenant);
		appendStringInfo(result, "],\"total\":%d,\"hasMore\":false}}",
						 strncmp(id->tenant, value, strlen(value)) == 0 ? 1 : 0);
		return 0;
	}
	if (!OidIsValid(ts[i].completer))
	{
		appendStringInfoString(result, "{\"completion\":{\"values\":[],\"total\":0,\"hasMore\":false}}");
		return 0;
	}
	{
		Jsonb	   *res;
		ErrorData  *edata;
		char	   *oerr;

		if (!mtmcp_run_as_tool(ts[i].completer, request, NULL, &res, &edata, &oerr))
		{
			ereport(LOG, (errmsg("completer of \"%s\" failed: %s", ts[i].name, edata->message ? edata->message : "?")));
			*rpc_msg = "Internal error";
			return JSONRPC_INTERNAL_ERROR;
		}
		mtmcp_append_completion(result, res, NULL);
	}
	return 0;
}

PG_FUNCTION_INFO_V1(mtmcp_resource_updated);

/*
 * SQL: mtmcp.resource_updated(uri).  Only a resource of the verified tenant
 * (or of a public template) can be announced; the announcement is an event
 * row plus a NOTIFY carrying only its id, so a forged NOTIFY tells the shim
 * nothing it will act on.
 */
Datum
mtmcp_resource_updated(PG_FUNCTION_ARGS)
{
	const char *tenant = mtmcp_verified_tenant();
	char	   *uri = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Template   *ts;
	int			n,
				i;
	char	   *values[MAX_TEMPLATE_VARS];
	Datum		args[2];
	Oid			types[2] = {TEXTOID, TEXTOID};
	bool		isnull;
	int64		event_id;

	mtmcp_require_preloaded();
	if (tenant == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no verified tenant in this transaction")));
	ts = load_templates(&n);
	for (i = 0; i < n; i++)
	{
		memset(values, 0, sizeof(values));
		if (match_from(&ts[i], uri, 0, values))
			break;
	}
	if (i == n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" matches no resource template", uri)));
	if (ts[i].tenant_var >= 0 && strcmp(values[ts[i].tenant_var], tenant) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("resource \"%s\" is not a resource of tenant \"%s\"", uri, tenant)));

	args[0] = CStringGetTextDatum(tenant);
	args[1] = CStringGetTextDatum(uri);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("INSERT INTO mtmcp.resource_events (tenant_id, uri) VALUES ($1, $2) RETURNING event_id",
							  2, types, args, NULL, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not record the resource update");
	event_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	Async_Notify("mtmcp_resource_updated", psprintf(INT64_FORMAT, event_id));
	PG_RETURN_VOID();
}
