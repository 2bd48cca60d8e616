/*
 * catalog.c -- the per-caller tool catalog, cached per backend
 *
 * What a caller may see and call is the intersection of
 *   - the tenant's features: its plan's, plus features the tenant switched
 *     on, minus those it switched off (mtmcp.set_tenant_feature);
 *   - the caller's scopes, from the verified token;
 *   - the tenant's tool switches (mtmcp.set_tool_enabled): a switched-off
 *     tool is gone, and a destructive tool is gone until switched on.
 * It is computed on every tools/list and again on every tools/call, so a
 * downgrade, a revoked feature or a narrower token applies to the next call.
 *
 * What is cached (per backend, all of it dropped when the configuration
 * generation of src/cache.c moves, i.e. after any committed change to
 * plans, tenants, tools or the tenant_* tables):
 *   - every registered tool, with its listing JSON pre-rendered;
 *   - per tenant, on first use: feature switches, tool switches,
 *     description overrides (with the tenant's terms applied), defaults.
 * So tools/list costs a walk over the cached tools, whatever the number of
 * tenants, and builds no JSON it has already built.
 *
 * Tenant identity never travels in arguments: reserved_names below is the
 * one list of argument names that would carry it.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "cache.h"
#include "catalog.h"
#include "identity.h"
#include "jsonutil.h"
#include "mtmcp.h"

/*
 * Argument names that would carry tenant or session identity.  Compared
 * after lower-casing and dropping "_", "-" and ".", so "tenantId",
 * "Tenant-ID" and "tenant_id" are one name.
 */
static const char *const reserved_names[] = {
	"tenant", "tenantid", "tenantname", "tenantslug", "tenantkey",
	"org", "orgid", "orgname", "orgslug",
	"organization", "organizationid", "organizationname", "organisation", "organisationid",
	"session", "sessionid", "mcpsessionid",
	NULL
};

typedef struct ToolOverride
{
	int			enabled;		/* -1 unset, 0 off, 1 on */
	char	   *description;	/* the tenant's override, or NULL */
	bool		listing_ready;	/* listing computed (on first tools/list) */
	char	   *listing;		/* tenant-specific listing, or NULL for the tool's own */
	Jsonb	   *defaults;
} ToolOverride;

typedef struct TenantConf
{
	char		tenant[MTMCP_MAX_TENANT_LEN + 1];	/* hash key */
	char	  **features_on;
	int			n_on;
	char	  **features_off;
	int			n_off;
	char	  **terms;
	char	  **replacements;
	int			nterms;
	ToolOverride *overrides;	/* one per cached tool, same order */
} TenantConf;

static MemoryContext catalog_cxt = NULL;
static uint64 catalog_generation = 0;
static MtmcpTool *tools = NULL;
static int	ntools = 0;
static HTAB *tenant_confs = NULL;

void
CatalogInit(void)
{
	mtmcp_track_config_relation("tools");
	mtmcp_track_config_relation("plans");
	mtmcp_track_config_relation("tenants");
	mtmcp_track_config_relation("tenant_features");
	mtmcp_track_config_relation("tenant_tools");
	mtmcp_track_config_relation("tenant_terms");
}

/* ---------------------------------------------------------------------------
 * Reserved argument names
 * ------------------------------------------------------------------------- */

static bool
name_is_reserved(const char *name, int len)
{
	char		norm[64];
	int			i,
				j = 0;

	for (i = 0; i < len; i++)
	{
		char		c = name[i];

		if (c == '_' || c == '-' || c == '.' || c == ' ')
			continue;
		if (j >= (int) sizeof(norm) - 1)
			return false;
		norm[j++] = (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
	}
	norm[j] = '\0';
	for (i = 0; reserved_names[i] != NULL; i++)
		if (strcmp(norm, reserved_names[i]) == 0)
			return true;
	return false;
}

/*
 * The first reserved key anywhere in a JSON value (objects inside arrays
 * included), or NULL.
 */
char *
mtmcp_reserved_argument(JsonbContainer *c)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (c == NULL)
		return NULL;
	it = JsonbIteratorInit(c);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
		if (tok == WJB_KEY && name_is_reserved(v.val.string.val, v.val.string.len))
			return pnstrdup(v.val.string.val, v.val.string.len);
	return NULL;
}

/*
 * The first reserved property name declared anywhere in a schema (in any
 * "properties" map, at any depth, $defs included), or NULL.
 */
static char *
schema_reserved_property(JsonbContainer *schema)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		is_map[128];	/* per depth: is this object a "properties" map? */
	int			depth = 0;
	bool		pending = false;	/* the next object is a "properties" map */

	if (schema == NULL)
		return NULL;
	is_map[0] = false;
	it = JsonbIteratorInit(schema);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				if (++depth >= (int) lengthof(is_map))
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("input schema is nested too deeply")));
				is_map[depth] = (tok == WJB_BEGIN_OBJECT && pending);
				pending = false;
				break;
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				depth--;
				break;
			case WJB_KEY:
				if (is_map[depth])
				{
					/* a property name; its value is a schema */
					if (name_is_reserved(v.val.string.val, v.val.string.len))
						return pnstrdup(v.val.string.val, v.val.string.len);
					pending = false;
				}
				else
					pending = (v.val.string.len == 10 &&
							   memcmp(v.val.string.val, "properties", 10) == 0);
				break;
			default:
				pending = false;
				break;
		}
	}
	return NULL;
}

PG_FUNCTION_INFO_V1(mtmcp_check_reserved_properties);

/* SQL: mtmcp._check_reserved_properties(tool, schema), register_tool's gate. */
Datum
mtmcp_check_reserved_properties(PG_FUNCTION_ARGS)
{
	char	   *tool = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *schema = PG_GETARG_JSONB_P(1);
	char	   *bad = schema_reserved_property(&schema->root);

	if (bad != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("input schema of tool \"%s\" declares the reserved argument \"%s\"", tool, bad),
				 errdetail("The tenant and the session come from the verified token, never from tool arguments."),
				 errhint("Scope arguments within the tenant (a document or project id), and read the tenant with mtmcp.current_tenant().")));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(mtmcp_reserved_argument_names);

/* SQL: mtmcp.reserved_argument_names() -- the list above, for docs and tests. */
Datum
mtmcp_reserved_argument_names(PG_FUNCTION_ARGS)
{
	FuncCallContext *fctx;

	if (SRF_IS_FIRSTCALL())
		fctx = SRF_FIRSTCALL_INIT();
	fctx = SRF_PERCALL_SETUP();
	if (reserved_names[fctx->call_cntr] != NULL)
	{
		/* evaluated first: SRF_RETURN_NEXT advances call_cntr before its argument */
		Datum		name = CStringGetTextDatum(reserved_names[fctx->call_cntr]);

		SRF_RETURN_NEXT(fctx, name);
	}
	SRF_RETURN_DONE(fctx);
}

/* ---------------------------------------------------------------------------
 * Terms: whole words, case kept
 * ------------------------------------------------------------------------- */

static bool
is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || (unsigned char) c >= 0x80;
}

static bool
ascii_ieq(const char *a, const char *b, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		char		x = a[i],
					y = b[i];

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

/* Append repl in the case pattern of the matched word: lower, Capitalized or UPPER. */
static void
append_in_case(StringInfo out, const char *match, int mlen, const char *repl)
{
	bool		all_upper = true;
	bool		first_upper = match[0] >= 'A' && match[0] <= 'Z';
	int			i;

	for (i = 0; i < mlen; i++)
		if (match[i] >= 'a' && match[i] <= 'z')
			all_upper = false;
	if (mlen < 2)
		all_upper = false;
	for (i = 0; repl[i] != '\0'; i++)
	{
		char		c = repl[i];

		if (all_upper && c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		else if (!all_upper && first_upper && i == 0 && c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		appendStringInfoChar(out, c);
	}
}

static char *
apply_terms(const TenantConf *tc, const char *text)
{
	StringInfoData out;
	const char *p = text;

	if (tc == NULL || tc->nterms == 0 || text == NULL)
		return (char *) text;
	initStringInfo(&out);
	while (*p)
	{
		bool		replaced = false;

		if (p == text || !is_word_char(p[-1]))
		{
			int			t;

			for (t = 0; t < tc->nterms; t++)
			{
				int			n = strlen(tc->terms[t]);

				if (strlen(p) >= (size_t) n && ascii_ieq(p, tc->terms[t], n) && !is_word_char(p[n]))
				{
					append_in_case(&out, p, n, tc->replacements[t]);
					p += n;
					replaced = true;
					break;
				}
			}
		}
		if (!replaced)
			appendStringInfoChar(&out, *p++);
	}
	return out.data;
}

/* ---------------------------------------------------------------------------
 * The caches
 * ------------------------------------------------------------------------- */

static char *
render_listing(const MtmcpTool *t, const char *description)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"name\":");
	json_append_string(&b, t->name);
	appendStringInfoString(&b, ",\"description\":");
	json_append_string(&b, description);
	appendStringInfoString(&b, t->listing_tail);
	return b.data;
}

static void
reset_caches(uint64 gen)
{
	HASHCTL		ctl;

	if (catalog_cxt == NULL)
		catalog_cxt = AllocSetContextCreate(TopMemoryContext, "mtmcp catalog cache", ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(catalog_cxt);
	tools = NULL;
	ntools = 0;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MTMCP_MAX_TENANT_LEN + 1;
	ctl.entrysize = sizeof(TenantConf);
	ctl.hcxt = catalog_cxt;
	tenant_confs = hash_create("mtmcp tenant configuration", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	catalog_generation = gen;
}

static void
load_tools(void)
{
	int			ret;
	uint64		r;
	MemoryContext old;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute("SELECT name, description, handler::oid, required_feature, required_scope, destructive,"
					  "       input_schema, output_schema, redact_paths,"
					  "       ',\"inputSchema\":' || input_schema::text"
					  "       || CASE WHEN output_schema IS NULL THEN ''"
					  "               ELSE ',\"outputSchema\":' || output_schema::text END"
					  "       || ',\"annotations\":' || (coalesce(annotations, '{}')"
					  "                     || jsonb_build_object('destructiveHint', destructive))::text || '}',"
					  "       coalesce(timeout_ms, 0), coalesce(lock_timeout_ms, 0)"
					  "  FROM mtmcp.tools ORDER BY name COLLATE \"C\"", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the tool catalog: %s", SPI_result_code_string(ret));

	old = MemoryContextSwitchTo(catalog_cxt);
	tools = palloc0(sizeof(MtmcpTool) * Max(SPI_processed, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MtmcpTool  *t = &tools[r];
		bool		isnull;
		Datum		d;

		t->index = r;
		t->name = SPI_getvalue(tup, desc, 1);
		t->description = SPI_getvalue(tup, desc, 2);
		t->handler = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		t->feature = SPI_getvalue(tup, desc, 4);
		t->scope = SPI_getvalue(tup, desc, 5);
		t->destructive = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
		t->input_schema = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 7, &isnull));
		d = SPI_getbinval(tup, desc, 8, &isnull);
		t->output_schema = isnull ? NULL : DatumGetJsonbPCopy(d);
		d = SPI_getbinval(tup, desc, 9, &isnull);
		t->nredact = isnull ? 0 : mtmcp_text_array(DatumGetArrayTypeP(d), &t->redact_paths);
		t->listing_tail = SPI_getvalue(tup, desc, 10);
		t->timeout_ms = DatumGetInt32(SPI_getbinval(tup, desc, 11, &isnull));
		t->lock_timeout_ms = DatumGetInt32(SPI_getbinval(tup, desc, 12, &isnull));
		t->listing = render_listing(t, t->description);
	}
	ntools = SPI_processed;
	MemoryContextSwitchTo(old);
	SPI_finish();
}

static void
ensure_catalog(void)
{
	uint64		gen = mtmcp_config_generation();

	if (catalog_cxt != NULL && catalog_generation == gen)
		return;
	reset_caches(gen);
	PG_TRY();
	{
		load_tools();
	}
	PG_CATCH();
	{
		catalog_generation = 0;	/* half-built: rebuild next time */
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static void
load_tenant_conf(TenantConf *tc)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	int			ret;
	uint64		r;
	MemoryContext old;

	args[0] = CStringGetTextDatum(tc->tenant);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	tc->overrides = MemoryContextAlloc(catalog_cxt, sizeof(ToolOverride) * Max(ntools, 1));
	for (r = 0; r < (uint64) ntools; r++)
	{
		tc->overrides[r].enabled = -1;
		tc->overrides[r].description = NULL;
		tc->overrides[r].listing_ready = false;
		tc->overrides[r].listing = NULL;
		tc->overrides[r].defaults = NULL;
	}

	/* features */
	ret = SPI_execute_with_args("SELECT feature, enabled FROM mtmcp.tenant_features WHERE tenant_id = $1",
								1, types, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read tenant features: %s", SPI_result_code_string(ret));
	old = MemoryContextSwitchTo(catalog_cxt);
	tc->features_on = palloc(sizeof(char *) * Max(SPI_processed, 1));
	tc->features_off = palloc(sizeof(char *) * Max(SPI_processed, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		char	   *f = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);

		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull)))
			tc->features_on[tc->n_on++] = f;
		else
			tc->features_off[tc->n_off++] = f;
	}
	MemoryContextSwitchTo(old);

	/* terms, longest first so "support ticket" wins over "ticket" */
	ret = SPI_execute_with_args("SELECT term, replacement FROM mtmcp.tenant_terms WHERE tenant_id = $1"
								" ORDER BY length(term) DESC, term", 1, types, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read tenant terms: %s", SPI_result_code_string(ret));
	old = MemoryContextSwitchTo(catalog_cxt);
	tc->terms = palloc(sizeof(char *) * Max(SPI_processed, 1));
	tc->replacements = palloc(sizeof(char *) * Max(SPI_processed, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		tc->terms[r] = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		tc->replacements[r] = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2);
	}
	tc->nterms = SPI_processed;
	MemoryContextSwitchTo(old);

	/* tool switches, descriptions, defaults */
	ret = SPI_execute_with_args("SELECT tool, enabled, description, defaults FROM mtmcp.tenant_tools WHERE tenant_id = $1",
								1, types, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read tenant tools: %s", SPI_result_code_string(ret));
	old = MemoryContextSwitchTo(catalog_cxt);
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tup, desc, 1);
		MtmcpTool  *t = mtmcp_catalog_find(name);
		ToolOverride *o;
		bool		isnull;
		Datum		d;
		char	   *description;

		if (t == NULL)
			continue;
		o = &tc->overrides[t->index];
		d = SPI_getbinval(tup, desc, 2, &isnull);
		if (!isnull)
			o->enabled = DatumGetBool(d) ? 1 : 0;
		description = SPI_getvalue(tup, desc, 3);
		if (description != NULL)
			o->description = description;
		d = SPI_getbinval(tup, desc, 4, &isnull);
		if (!isnull)
			o->defaults = DatumGetJsonbPCopy(d);
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
}

static TenantConf *
tenant_conf(const char *tenant)
{
	TenantConf *tc;
	bool		found;
	char		key[MTMCP_MAX_TENANT_LEN + 1];

	ensure_catalog();
	memset(key, 0, sizeof(key));
	strlcpy(key, tenant, sizeof(key));
	tc = hash_search(tenant_confs, key, HASH_ENTER, &found);
	if (!found)
	{
		memset(((char *) tc) + sizeof(tc->tenant), 0, sizeof(TenantConf) - sizeof(tc->tenant));
		PG_TRY();
		{
			load_tenant_conf(tc);
		}
		PG_CATCH();
		{
			hash_search(tenant_confs, key, HASH_REMOVE, NULL);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return tc;
}

/* ---------------------------------------------------------------------------
 * The interface
 * ------------------------------------------------------------------------- */

int
mtmcp_catalog_tools(MtmcpTool **out)
{
	ensure_catalog();
	*out = tools;
	return ntools;
}

/* A registered tool by name (binary search over the C-ordered cache), or NULL. */
MtmcpTool *
mtmcp_catalog_find(const char *name)
{
	int			lo = 0,
				hi = ntools - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(name, tools[mid].name);

		if (c == 0)
			return &tools[mid];
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The effective features: the plan's, plus switched on, minus switched off. */
bool
mtmcp_tenant_has_feature(const MtmcpIdentity *id, const char *feature)
{
	TenantConf *tc = tenant_conf(id->tenant);
	int			i;

	for (i = 0; i < tc->n_off; i++)
		if (strcmp(tc->features_off[i], feature) == 0)
			return false;
	for (i = 0; i < tc->n_on; i++)
		if (strcmp(tc->features_on[i], feature) == 0)
			return true;
	return mtmcp_plan_has_feature(id, feature);
}

/* Is the tool in this caller's catalog right now? */
bool
mtmcp_tool_visible(const MtmcpIdentity *id, const MtmcpTool *t)
{
	TenantConf *tc = tenant_conf(id->tenant);
	int			sw = tc->overrides[t->index].enabled;

	if (sw == 0 || (sw == -1 && t->destructive))
		return false;
	if (t->feature != NULL && !mtmcp_tenant_has_feature(id, t->feature))
		return false;
	if (t->scope != NULL && !mtmcp_has_scope(id, t->scope))
		return false;
	return true;
}

/*
 * The tool's tools/list entry as this tenant sees it: its description
 * override and terms applied.  Rendered on first use and kept, so tools a
 * tenant never lists cost it nothing.
 */
const char *
mtmcp_tool_listing(const MtmcpIdentity *id, const MtmcpTool *t)
{
	TenantConf *tc = tenant_conf(id->tenant);
	ToolOverride *o = &tc->overrides[t->index];

	if (!o->listing_ready)
	{
		MemoryContext old = MemoryContextSwitchTo(catalog_cxt);
		const char *base = o->description ? o->description : t->description;
		char	   *d = apply_terms(tc, base);

		if (o->description != NULL || strcmp(d, t->description) != 0)
			o->listing = render_listing(t, d);
		o->listing_ready = true;
		MemoryContextSwitchTo(old);
	}
	return o->listing ? o->listing : t->listing;
}

/*
 * Defaults for the tool's optional arguments: the plan's
 * settings.tool_defaults[tool], overlaid by the tenant's own; NULL if none.
 */
Jsonb *
mtmcp_tool_defaults(const MtmcpIdentity *id, const MtmcpTool *t)
{
	TenantConf *tc = tenant_conf(id->tenant);
	Jsonb	   *plan = NULL;
	Jsonb	   *own = tc->overrides[t->index].defaults;

	if (id->settings != NULL)
	{
		JsonbValue *all = jsonb_object_get(&id->settings->root, "tool_defaults");

		if (jsonb_value_is_object(all))
		{
			JsonbValue *mine = jsonb_object_get(all->val.binary.data, t->name);

			if (jsonb_value_is_object(mine))
				plan = jsonb_value_to_jsonb(mine);
		}
	}
	if (plan == NULL)
		return own;
	if (own == NULL)
		return plan;
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(plan), JsonbPGetDatum(own)));
}

/* Text with the tenant's terms applied (for prompts and other prose). */
char *
mtmcp_apply_tenant_terms(const MtmcpIdentity *id, const char *text)
{
	return apply_terms(tenant_conf(id->tenant), text);
}
