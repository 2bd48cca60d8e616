/*
 * inspect.c -- prompt-injection policy, findings and the kept result
 *
 * The detector (detect.c) is pure C and knows nothing of tenants' settings
 * or the audit trail; this module is its backend glue:
 *
 *   - Patterns.  mtmcp.injection_patterns holds global rows (tenant_id
 *     NULL) and per-tenant rows.  Enabled rows are compiled once per
 *     backend -- the global set, and each tenant's own rows as extra rules
 *     -- together with the set of known tenant ids (mtmcp.tenants, for
 *     cross-tenant references), and rebuilt when the configuration
 *     generation moves (cache.c tracks both tables).  A row that does not
 *     compile is refused by the table's check.
 *
 *   - Scan points.  A tool's arguments before its handler runs (tools.c)
 *     and the result of tools/call, resources/read and prompts/get before
 *     it is answered (dispatch.c; for a prompt, the messages' contents; for
 *     a handler that asks the client, the params of its input requests).
 *     At most mtmcp.injection_max_bytes of each are scanned; a cut scan is
 *     recorded as the finding "scan_truncated" (unscanned, not clean).
 *
 *   - Policy.  The tenant's settings (plan settings overlaid with its own)
 *     may hold "injection_policy":
 *         {"enabled": true,
 *          "arguments": {"<category>": "<action>", ...},
 *          "results":   {"<category>": "<action>", ...},
 *          "tools": {"<tool>": {"arguments": {...}, "results": {...}}},
 *          "allowed_hosts": ["example.com", ...]}
 *     actions: off, log, alert, block, withhold.  A tool's entry wins over
 *     the tenant-wide one, which wins over the defaults: arguments --
 *     cross_tenant and session_state block, override and exfiltration
 *     alert; results (tool results, resource contents, rendered prompts) --
 *     override, exfiltration and cross_tenant alert, session_state off.
 *     On arguments withhold means block; on results block means withhold.
 *
 *   - What an action does.  Every finding is on the audit row (findings:
 *     direction, category, pattern id, severity, action, offset, length,
 *     obfuscated -- never the matched text).  log: the row is at least a
 *     warning (never dropped by the observability budget).  alert: the row
 *     is a security event, which NOTIFYs mtmcp_security with its event_id
 *     (audit.c).  block: the call is refused before the handler runs, as a
 *     tool error that names no pattern.  withhold: the result is not
 *     answered (a tool error, or -32003 for resources and prompts); it is in
 *     the audit row for the tenant to see.  Anything cross_tenant is a
 *     security event whatever its action.
 *
 *   - The result on the audit row.  Every tools/call, resources/read and
 *     prompts/get answered with a result keeps it: the SHA-256 and length
 *     of its JSON text as the response carries it, and the text redacted
 *     like arguments (secret-looking keys and the tool's redaction paths,
 *     also inside JSON documents carried as text and in structuredContent),
 *     cut at the tenant's "audit_result_bytes" (default 16384).
 *
 *   - Counters.  Findings are counted in shared memory by direction,
 *     category and action (no tenant), for mtmcp.finding_counts() and the
 *     shim's /metrics.
 *
 * mtmcp.injection_detection = off turns scanning off (the results are
 * still kept); bench/dispatch.sh compares the two.
 */
#include "postgres.h"

#include <stdlib.h>

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "audit.h"
#include "cache.h"
#include "codec.h"
#include "detect.h"
#include "inspect.h"
#include "jsonutil.h"
#include "mtmcp.h"

#define MAX_FINDINGS		32
#define DEFAULT_RESULT_BYTES 16384
#define MAX_RESULT_BYTES	(64 * 1024 * 1024)

typedef enum Action
{
	ACT_OFF = 0,
	ACT_LOG,
	ACT_ALERT,
	ACT_BLOCK,
	ACT_WITHHOLD,
	NACTIONS
} Action;

static const char *const action_names[NACTIONS] = {"off", "log", "alert", "block", "withhold"};
static const char *const direction_names[] = {"arguments", "result", "resource", "prompt"};

#define NDIRECTIONS	4
#define CAT_TRUNCATED DETECT_NCATEGORIES	/* counter slot for cut scans */
#define NCOUNTED_CATEGORIES (DETECT_NCATEGORIES + 1)

/* defaults by category: override, exfiltration, cross_tenant, session_state */
static const Action default_arguments[DETECT_NCATEGORIES] = {ACT_ALERT, ACT_ALERT, ACT_BLOCK, ACT_BLOCK};
static const Action default_results[DETECT_NCATEGORIES] = {ACT_ALERT, ACT_ALERT, ACT_ALERT, ACT_OFF};

static bool inspect_enabled = true;
static int	inspect_max_bytes = 256 * 1024;

/* ---------------------------------------------------------------------------
 * Counters in shared memory
 * ------------------------------------------------------------------------- */

typedef struct InspectShared
{
	pg_atomic_uint64 n[NDIRECTIONS][NCOUNTED_CATEGORIES][NACTIONS];
} InspectShared;

static InspectShared *inspect_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
inspect_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(InspectShared)));
}

static void
inspect_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	inspect_shared = ShmemInitStruct("mtmcp injection findings", sizeof(InspectShared), &found);
	if (!found)
	{
		int			d,
					c,
					a;

		for (d = 0; d < NDIRECTIONS; d++)
			for (c = 0; c < NCOUNTED_CATEGORIES; c++)
				for (a = 0; a < NACTIONS; a++)
					pg_atomic_init_u64(&inspect_shared->n[d][c][a], 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
count_finding(int direction, int category, Action action)
{
	if (inspect_shared != NULL)
		pg_atomic_fetch_add_u64(&inspect_shared->n[direction][category][action], 1);
}

void
InspectInit(void)
{
	DefineCustomBoolVariable("mtmcp.injection_detection",
							 gettext_noop("Scans tool arguments, results, resource contents and rendered prompts for prompt injection."),
							 gettext_noop("Off: nothing is scanned and no tenant's injection policy applies (results are still kept in the audit trail)."),
							 &inspect_enabled,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("mtmcp.injection_max_bytes",
							gettext_noop("Bytes of a call's arguments, and of its result, scanned for prompt injection."),
							gettext_noop("Beyond it the rest is not scanned and the finding \"scan_truncated\" says so."),
							&inspect_max_bytes,
							256 * 1024, 1024, 64 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	mtmcp_track_config_relation("injection_patterns");
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = inspect_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = inspect_shmem_startup;
}

/* ---------------------------------------------------------------------------
 * Compiled patterns and the tenant set, per backend
 * ------------------------------------------------------------------------- */

typedef struct TenantRules
{
	char	   *tenant;
	DetectRules *rules;
} TenantRules;

static uint64 cache_generation = 0;
static DetectRules *global_rules = NULL;
static DetectTenants *tenant_set = NULL;
static TenantRules *tenant_rules = NULL;	/* in TopMemoryContext */
static int	ntenant_rules = 0;

/*
 * The scans' working memory (malloc'd), kept between calls: a scan of a
 * typical result then clears and allocates nothing.  Dropped after a large
 * scan so that one big result does not pin its buffers in the backend.
 */
#define SCRATCH_KEEP_BYTES	(64 * 1024)
static DetectScratch *scan_scratch = NULL;

static void
cache_clear(void)
{
	int			i;

	detect_free(global_rules);
	global_rules = NULL;
	detect_tenants_free(tenant_set);
	tenant_set = NULL;
	for (i = 0; i < ntenant_rules; i++)
	{
		detect_free(tenant_rules[i].rules);
		pfree(tenant_rules[i].tenant);
	}
	if (tenant_rules != NULL)
		pfree(tenant_rules);
	tenant_rules = NULL;
	ntenant_rules = 0;
	cache_generation = 0;
}

static DetectRules *
compile_or_warn(DetectPattern *p, int n, const char *whose)
{
	char		err[256];
	DetectRules *r;

	if (n == 0)
		return NULL;
	r = detect_compile(p, n, err, sizeof(err));
	if (r == NULL)
		ereport(WARNING,
				(errmsg("prompt-injection patterns of %s do not compile: %s", whose, err),
				 errdetail("Only the structural checks apply to them until the rows are fixed.")));
	return r;
}

static void
cache_load(void)
{
	uint64		gen = mtmcp_config_generation();
	int			ret,
				i,
				start;
	uint64		n;
	const char **ids;
	DetectPattern *pats;
	char	  **owners;
	MemoryContext oldcxt;

	if (gen == cache_generation && cache_generation != 0)
		return;
	cache_clear();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute("SELECT tenant_id FROM mtmcp.tenants", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read mtmcp.tenants: %s", SPI_result_code_string(ret));
	n = SPI_processed;
	ids = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < (int) n; i++)
		ids[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
	tenant_set = detect_tenants_new(ids, (int) n);
	if (tenant_set == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

	ret = SPI_execute("SELECT tenant_id, id, category, severity, pattern FROM mtmcp.injection_patterns"
					  " WHERE enabled ORDER BY tenant_id NULLS FIRST, id", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read mtmcp.injection_patterns: %s", SPI_result_code_string(ret));
	n = SPI_processed;
	pats = palloc(sizeof(DetectPattern) * Max(n, 1));
	owners = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < (int) n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		owners[i] = SPI_getvalue(tup, desc, 1);
		pats[i].id = SPI_getvalue(tup, desc, 2);
		pats[i].category = (DetectCategory) detect_category_from_name(SPI_getvalue(tup, desc, 3));
		pats[i].severity = (DetectSeverity) detect_severity_from_name(SPI_getvalue(tup, desc, 4));
		pats[i].text = SPI_getvalue(tup, desc, 5);
	}

	/* global rows first (NULLS FIRST), then each tenant's run of rows */
	for (start = 0; start < (int) n && owners[start] == NULL; start++)
		;
	global_rules = compile_or_warn(pats, start, "every tenant");
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	tenant_rules = palloc0(sizeof(TenantRules) * Max(n, 1));
	MemoryContextSwitchTo(oldcxt);
	while (start < (int) n)
	{
		int			end = start;

		while (end < (int) n && strcmp(owners[end], owners[start]) == 0)
			end++;
		tenant_rules[ntenant_rules].tenant = MemoryContextStrdup(TopMemoryContext, owners[start]);
		tenant_rules[ntenant_rules].rules = compile_or_warn(pats + start, end - start,
															psprintf("tenant \"%s\"", owners[start]));
		ntenant_rules++;
		start = end;
	}
	SPI_finish();
	cache_generation = gen;
	elog(DEBUG1, "mtmcp: prompt-injection patterns compiled (generation %llu)", (unsigned long long) gen);
}

static const DetectRules *
rules_of(const char *tenant)
{
	int			i;

	for (i = 0; i < ntenant_rules; i++)
		if (strcmp(tenant_rules[i].tenant, tenant) == 0)
			return tenant_rules[i].rules;
	return NULL;
}

PG_FUNCTION_INFO_V1(mtmcp_injection_pattern_error);

/* SQL: mtmcp._injection_pattern_error(category, severity, pattern) -- NULL when it compiles */
Datum
mtmcp_injection_pattern_error(PG_FUNCTION_ARGS)
{
	DetectPattern p;
	DetectRules *r;
	char		err[256];
	int			c,
				s;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();			/* NOT NULL constraints say it */
	c = detect_category_from_name(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	s = detect_severity_from_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	if (c < 0 || s < 0)
		PG_RETURN_NULL();			/* the other checks say it */
	p.id = "pattern";
	p.category = (DetectCategory) c;
	p.severity = (DetectSeverity) s;
	p.text = text_to_cstring(PG_GETARG_TEXT_PP(2));
	r = detect_compile(&p, 1, err, sizeof(err));
	if (r == NULL)
		PG_RETURN_TEXT_P(cstring_to_text(err));
	detect_free(r);
	PG_RETURN_NULL();
}

/* ---------------------------------------------------------------------------
 * Policy
 * ------------------------------------------------------------------------- */

typedef struct Policy
{
	bool		enabled;
	Action		act[DETECT_NCATEGORIES];
	const char **hosts;
	int			nhosts;
} Policy;

static Action
action_from(JsonbValue *v, Action dflt)
{
	int			a;

	if (v == NULL || v->type != jbvString)
		return dflt;
	for (a = 0; a < NACTIONS; a++)
		if (strlen(action_names[a]) == (size_t) v->val.string.len &&
			memcmp(action_names[a], v->val.string.val, v->val.string.len) == 0)
			return (Action) a;
	return dflt;
}

static void
apply_actions(Policy *p, JsonbValue *obj)
{
	int			c;

	if (!jsonb_value_is_object(obj))
		return;
	for (c = 0; c < DETECT_NCATEGORIES; c++)
		p->act[c] = action_from(jsonb_object_get(obj->val.binary.data, detect_category_name((DetectCategory) c)),
								p->act[c]);
}

/* The tenant's policy for one scan point: results or arguments, of tool (or NULL). */
static void
policy_for(const MtmcpIdentity *id, const char *tool, bool results, Policy *p)
{
	JsonbValue *pol = id->settings ? jsonb_object_get(&id->settings->root, "injection_policy") : NULL;
	const char *key = results ? "results" : "arguments";
	JsonbValue *v;
	int			c;

	p->enabled = true;
	for (c = 0; c < DETECT_NCATEGORIES; c++)
		p->act[c] = results ? default_results[c] : default_arguments[c];
	p->hosts = NULL;
	p->nhosts = 0;
	if (!jsonb_value_is_object(pol))
		return;
	v = jsonb_object_get(pol->val.binary.data, "enabled");
	if (v != NULL && v->type == jbvBool && !v->val.boolean)
		p->enabled = false;
	apply_actions(p, jsonb_object_get(pol->val.binary.data, key));
	if (tool != NULL)
	{
		v = jsonb_object_get(pol->val.binary.data, "tools");
		if (jsonb_value_is_object(v))
		{
			v = jsonb_object_get(v->val.binary.data, tool);
			if (jsonb_value_is_object(v))
			{
				JsonbValue *en = jsonb_object_get(v->val.binary.data, "enabled");

				if (en != NULL && en->type == jbvBool)
					p->enabled = en->val.boolean;
				apply_actions(p, jsonb_object_get(v->val.binary.data, key));
			}
		}
	}
	v = jsonb_object_get(pol->val.binary.data, "allowed_hosts");
	if (jsonb_value_is_array(v))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	e;
		JsonbIteratorToken tok;
		int			cap = 8;

		p->hosts = palloc(sizeof(char *) * cap);
		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM || e.type != jbvString)
				continue;
			if (p->nhosts == cap)
			{
				cap *= 2;
				p->hosts = repalloc(p->hosts, sizeof(char *) * cap);
			}
			p->hosts[p->nhosts++] = pnstrdup(e.val.string.val, e.val.string.len);
		}
	}
}

/* ---------------------------------------------------------------------------
 * Scanning and findings
 * ------------------------------------------------------------------------- */

static void
add_finding(MtmcpAuditEvent *ev, const char *json)
{
	if (ev->findings == NULL)
		ev->findings = psprintf("[%s]", json);
	else
	{
		size_t		len = strlen(ev->findings);

		/* "[a,b]" + c -> "[a,b,c]" */
		ev->findings = psprintf("%.*s,%s]", (int) (len - 1), ev->findings, json);
	}
}

static int
detail_rank(const char *d)
{
	if (d == NULL)
		return 0;
	if (strcmp(d, "injection_withheld") == 0)
		return 4;
	if (strcmp(d, "injection_blocked") == 0)
		return 3;
	if (strcmp(d, "cross_tenant_reference") == 0)
		return 2;
	return 1;
}

/* Raise the floor of the row's severity (applied when it is written, audit.c). */
static void
raise_floor(MtmcpAuditEvent *ev, Action worst, bool cross, bool output)
{
	const char *detail = NULL;

	if (worst >= ACT_BLOCK)
		detail = output ? "injection_withheld" : "injection_blocked";
	else if (cross)
		detail = "cross_tenant_reference";
	else if (worst == ACT_ALERT)
		detail = "injection_alert";

	if (detail != NULL)
	{
		ev->min_severity = "security";
		if (detail_rank(detail) > detail_rank(ev->min_detail))
			ev->min_detail = detail;
	}
	else if (worst == ACT_LOG && ev->min_severity == NULL)
		ev->min_severity = "warning";
}

/*
 * Scan len bytes of text under policy p; findings go on ev.  Returns the
 * strongest action of any finding (ACT_OFF for none).
 */
static Action
scan(const MtmcpIdentity *id, const Policy *p, DetectDirection dir, const char *text, size_t len,
	 MtmcpAuditEvent *ev)
{
	DetectContext ctx;
	DetectFinding out[MAX_FINDINGS];
	bool		truncated = false;
	unsigned	mask = 0;
	int			n,
				i,
				c;
	Action		worst = ACT_OFF;
	bool		cross = false;
	bool		output = dir != DETECT_ARGUMENTS;

	for (c = 0; c < DETECT_NCATEGORIES; c++)
		if (p->act[c] != ACT_OFF)
			mask |= DETECT_CAT_BIT(c);
	/* "{}", "[]", "": nothing to find, not worth a scan's set-up */
	if (mask == 0 || len <= 2)
		return ACT_OFF;

	memset(&ctx, 0, sizeof(ctx));
	ctx.direction = dir;
	ctx.categories = mask;
	ctx.own_tenant = id->tenant;
	ctx.tenants = tenant_set;
	ctx.allowed_hosts = p->hosts;
	ctx.n_allowed_hosts = p->nhosts;
	ctx.extra_rules = rules_of(id->tenant);
	ctx.max_bytes = (size_t) inspect_max_bytes;
	if (scan_scratch == NULL)
		scan_scratch = detect_scratch_new();	/* NULL: the scan allocates its own */
	ctx.scratch = scan_scratch;

	n = detect_scan(global_rules, &ctx, text, len, out, MAX_FINDINGS, &truncated);
	if (len > SCRATCH_KEEP_BYTES)
	{
		detect_scratch_free(scan_scratch);
		scan_scratch = NULL;
	}
	if (n < 0)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

	for (i = 0; i < n; i++)
	{
		DetectFinding *f = &out[i];
		Action		a = p->act[f->category];
		StringInfoData j;

		if (a == ACT_OFF)
			continue;
		/* on arguments withhold means block; on results block means withhold */
		if (a >= ACT_BLOCK)
			a = output ? ACT_WITHHOLD : ACT_BLOCK;
		initStringInfo(&j);
		appendStringInfo(&j, "{\"direction\":\"%s\",\"category\":\"%s\",\"pattern\":",
						 direction_names[dir], detect_category_name(f->category));
		json_append_string(&j, f->pattern_id);
		appendStringInfo(&j, ",\"severity\":\"%s\",\"action\":\"%s\",\"offset\":%zu,\"length\":%zu,"
						 "\"obfuscated\":%s}",
						 detect_severity_name(f->severity), action_names[a], f->offset, f->length,
						 f->obfuscated ? "true" : "false");
		add_finding(ev, j.data);
		count_finding(dir, f->category, a);
		if (a > worst)
			worst = a;
		if (f->category == DETECT_CROSS_TENANT)
			cross = true;
	}
	if (truncated)
	{
		add_finding(ev, psprintf("{\"direction\":\"%s\",\"category\":\"unscanned\",\"pattern\":\"scan_truncated\","
								 "\"severity\":\"low\",\"action\":\"log\",\"offset\":%d,\"length\":%zu,"
								 "\"obfuscated\":false}",
								 direction_names[dir], inspect_max_bytes,
								 len > (size_t) inspect_max_bytes ? len - (size_t) inspect_max_bytes : 0));
		count_finding(dir, CAT_TRUNCATED, ACT_LOG);
		if (worst < ACT_LOG)
			worst = ACT_LOG;
	}
	raise_floor(ev, worst, cross, output);
	return worst;
}

bool
mtmcp_inspect_arguments(const MtmcpIdentity *id, const char *tool, Jsonb *args, MtmcpAuditEvent *ev)
{
	Policy		p;
	char	   *text;

	if (!inspect_enabled || args == NULL)
		return false;
	policy_for(id, tool, false, &p);
	if (!p.enabled)
		return false;
	cache_load();
	text = JsonbToCString(NULL, &args->root, VARSIZE(args));
	if (scan(id, &p, DETECT_ARGUMENTS, text, strlen(text), ev) < ACT_BLOCK)
		return false;
	ev->result_kind = "denied";
	ev->severity = "security";
	ev->error_code = "injection_blocked";
	return true;
}

char *
mtmcp_inspect_refusal(const MtmcpAuditEvent *ev)
{
	return psprintf("The call was refused by this server's content policy (event %s).", ev->event_id);
}

/* ---------------------------------------------------------------------------
 * The kept result
 * ------------------------------------------------------------------------- */

/*
 * Could the string s (len bytes) carry a JSON object or array?  Sets [*a, *b)
 * to it without the surrounding whitespace.  Text with \u0000, which jsonb
 * refuses though JSON allows it, is left as it is.
 */
static bool
embedded_bounds(const char *s, int len, int *a, int *b)
{
	*a = 0;
	*b = len;
	while (*a < *b && (s[*a] == ' ' || s[*a] == '\n' || s[*a] == '\t' || s[*a] == '\r'))
		(*a)++;
	while (*b > *a && (s[*b - 1] == ' ' || s[*b - 1] == '\n' || s[*b - 1] == '\t' || s[*b - 1] == '\r'))
		(*b)--;
	if (*b - *a < 2 || !((s[*a] == '{' && s[*b - 1] == '}') || (s[*a] == '[' && s[*b - 1] == ']')))
		return false;
	return memmem(s + *a, *b - *a, "\\u0000", 6) == NULL;
}

/* A JSON object or array carried as a string, parsed; NULL when it is not one. */
static Jsonb *
embedded_json(const char *s, int len)
{
	int			a,
				b;
	JsonLexContext *lex;
	char	   *copy;

	if (!embedded_bounds(s, len, &a, &b))
		return NULL;
	copy = pnstrdup(s + a, b - a);
	lex = makeJsonLexContextCstringLen(copy, b - a, GetDatabaseEncoding(), false);
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
		return NULL;
	return json_text_to_jsonb(copy);
}

/*
 * Rebuild v with every JSON document carried as a string, and the top-level
 * structuredContent, redacted with the tool's paths (mtmcp_redact: the
 * secret-looking keys too).
 */
static JsonbValue *
redact_embedded(JsonbParseState **state, JsonbValue *v, JsonbIteratorToken as, char **paths, int npaths,
				int depth)
{
	JsonbIterator *it;
	JsonbValue	jv;
	JsonbIteratorToken tok;
	JsonbValue *res = NULL;

	check_stack_depth();
	if (v->type == jbvString)
	{
		Jsonb	   *inner = embedded_json(v->val.string.val, v->val.string.len);

		if (inner != NULL)
		{
			Jsonb	   *red = mtmcp_redact(inner, paths, npaths);
			JsonbValue	s;

			s.type = jbvString;
			s.val.string.val = JsonbToCString(NULL, &red->root, VARSIZE(red));
			s.val.string.len = strlen(s.val.string.val);
			return pushJsonbValue(state, as, &s);
		}
		return pushJsonbValue(state, as, v);
	}
	if (v->type != jbvBinary)
		return pushJsonbValue(state, as, v);

	it = JsonbIteratorInit(v->val.binary.data);
	tok = JsonbIteratorNext(&it, &jv, false);
	if (tok == WJB_BEGIN_ARRAY && jv.val.array.rawScalar)
	{
		tok = JsonbIteratorNext(&it, &jv, true);
		return redact_embedded(state, &jv, as, paths, npaths, depth);
	}
	res = pushJsonbValue(state, tok, NULL);
	while ((tok = JsonbIteratorNext(&it, &jv, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			JsonbValue	val;
			bool		structured = depth == 0 && jv.val.string.len == 17 &&
				memcmp(jv.val.string.val, "structuredContent", 17) == 0;

			pushJsonbValue(state, WJB_KEY, &jv);
			(void) JsonbIteratorNext(&it, &val, true);
			if (structured && val.type == jbvBinary)
			{
				Jsonb	   *sc = mtmcp_redact(jsonb_value_to_jsonb(&val), paths, npaths);
				JsonbValue	scv;

				scv.type = jbvBinary;
				scv.val.binary.data = &sc->root;
				scv.val.binary.len = VARSIZE(sc) - VARHDRSZ;
				pushJsonbValue(state, WJB_VALUE, &scv);
			}
			else
				redact_embedded(state, &val, WJB_VALUE, paths, npaths, depth + 1);
		}
		else if (tok == WJB_ELEM)
			redact_embedded(state, &jv, WJB_ELEM, paths, npaths, depth + 1);
		else
			res = pushJsonbValue(state, tok, NULL);
	}
	return res;
}

/*
 * Would redact_embedded change v?  The same walk, read-only: a document
 * carried in a string is only lexed (mtmcp_redaction_needed_text), never
 * built, unless it has something to redact.
 */
static bool
embedded_redaction_needed(JsonbValue *v, char **paths, int npaths, int depth)
{
	JsonbIterator *it;
	JsonbValue	jv;
	JsonbIteratorToken tok;

	check_stack_depth();
	if (v->type == jbvString)
	{
		int			a,
					b;
		bool		is_json;

		if (!embedded_bounds(v->val.string.val, v->val.string.len, &a, &b))
			return false;
		return mtmcp_redaction_needed_text(v->val.string.val + a, b - a, paths, npaths, &is_json);
	}
	if (v->type != jbvBinary)
		return false;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &jv, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			JsonbValue	val;
			bool		structured = depth == 0 && jv.val.string.len == 17 &&
				memcmp(jv.val.string.val, "structuredContent", 17) == 0;

			(void) JsonbIteratorNext(&it, &val, true);
			if (structured && val.type == jbvBinary
				? mtmcp_redaction_needed(val.val.binary.data, paths, npaths)
				: embedded_redaction_needed(&val, paths, npaths, depth + 1))
				return true;
		}
		else if (tok == WJB_ELEM && embedded_redaction_needed(&jv, paths, npaths, depth + 1))
			return true;
	}
	return false;
}

static Jsonb *
redact_result(Jsonb *jb, char **paths, int npaths)
{
	JsonbParseState *state = NULL;
	JsonbValue	root;

	if (JB_ROOT_IS_SCALAR(jb))
		return jb;
	root.type = jbvBinary;
	root.val.binary.data = &jb->root;
	root.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	/* nothing to redact (the usual case): the result as it is */
	if (!mtmcp_redaction_needed(&jb->root, NULL, 0) && !embedded_redaction_needed(&root, paths, npaths, 0))
		return jb;
	jb = JsonbValueToJsonb(redact_embedded(&state, &root, WJB_VALUE, paths, npaths, 0));
	/* secret-looking keys everywhere */
	return mtmcp_redact(jb, NULL, 0);
}

/* "audit_result_bytes" from the tenant's settings */
static int64
result_bound(const MtmcpIdentity *id)
{
	JsonbValue *v = id->settings ? jsonb_object_get(&id->settings->root, "audit_result_bytes") : NULL;
	char	   *s,
			   *end;
	long long	n;

	if (v == NULL || v->type != jbvNumeric)
		return DEFAULT_RESULT_BYTES;
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	n = strtoll(s, &end, 10);
	if (*end != '\0' || n < 0)
		return DEFAULT_RESULT_BYTES;
	return Min(n, MAX_RESULT_BYTES);
}

static void
keep_result(const MtmcpIdentity *id, Jsonb *jb, const char *full, size_t len, MtmcpAuditEvent *ev)
{
	uint8		digest[MTMCP_SHA256_LEN];
	static const char hex[] = "0123456789abcdef";
	int64		bound = result_bound(id);
	Jsonb	   *red;
	char	   *text;
	int			tlen,
				i;

	mtmcp_sha256(full, len, digest);
	for (i = 0; i < MTMCP_SHA256_LEN; i++)
	{
		ev->result_sha256[2 * i] = hex[digest[i] >> 4];
		ev->result_sha256[2 * i + 1] = hex[digest[i] & 15];
	}
	ev->result_sha256[64] = '\0';
	ev->result_bytes = (int64) len;
	ev->result_truncated = false;
	ev->result_text = NULL;

	/* jb NULL: nothing to redact (mtmcp_inspect_result looked) */
	red = jb != NULL ? redact_result(jb, ev->redact_paths, ev->nredact) : NULL;
	text = red == jb ? (char *) full : JsonbToCString(NULL, &red->root, VARSIZE(red));
	tlen = red == jb ? (int) len : strlen(text);
	if (tlen > bound)
	{
		tlen = pg_mbcliplen(text, tlen, (int) bound);
		ev->result_truncated = true;
	}
	if (tlen > 0 || !ev->result_truncated)
		ev->result_text = pnstrdup(text, tlen);
}

/* A prompt's messages' contents, one per line: what the model reads (roles are protocol). */
static char *
prompt_text(Jsonb *jb)
{
	JsonbValue *msgs = JB_ROOT_IS_OBJECT(jb) ? jsonb_object_get(&jb->root, "messages") : NULL;
	StringInfoData b;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	initStringInfo(&b);
	if (!jsonb_value_is_array(msgs))
		return b.data;
	it = JsonbIteratorInit(msgs->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue *content;

		if (tok != WJB_ELEM || !jsonb_value_is_object(&v))
			continue;
		content = jsonb_object_get(v.val.binary.data, "content");
		if (content == NULL)
			continue;
		json_append_value(&b, content);
		appendStringInfoChar(&b, '\n');
	}
	return b.data;
}

/*
 * A multi round-trip answer (mrtr.c) is the server's own request to the
 * client: its method names and the sealed requestState are protocol; what a
 * handler wrote is in each request's params (the message, the schema).
 */
static char *
input_requests_text(Jsonb *jb)
{
	JsonbValue *reqs = jsonb_object_get(&jb->root, "inputRequests");
	StringInfoData b;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	initStringInfo(&b);
	if (!jsonb_value_is_object(reqs))
		return b.data;
	it = JsonbIteratorInit(reqs->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue *params;

		if (tok != WJB_VALUE || !jsonb_value_is_object(&v))
			continue;
		params = jsonb_object_get(v.val.binary.data, "params");
		if (params == NULL)
			continue;
		json_append_value(&b, params);
		appendStringInfoChar(&b, '\n');
	}
	return b.data;
}

static bool
is_input_required(Jsonb *jb)
{
	JsonbValue *rt = JB_ROOT_IS_OBJECT(jb) ? jsonb_object_get(&jb->root, "resultType") : NULL;

	return rt != NULL && rt->type == jbvString && rt->val.string.len == 14 &&
		memcmp(rt->val.string.val, "input_required", 14) == 0;
}

int
mtmcp_inspect_result(const MtmcpIdentity *id, const char *method, StringInfo result,
					 const char **rpc_msg, char **rpc_data, MtmcpAuditEvent *ev)
{
	DetectDirection dir;
	Jsonb	   *jb;
	char	   *full;
	size_t		len;
	Policy		p;

	if (method == NULL)
		return 0;
	if (strcmp(method, "tools/call") == 0)
		dir = DETECT_RESULT;
	else if (strcmp(method, "resources/read") == 0)
		dir = DETECT_RESOURCE;
	else if (strcmp(method, "prompts/get") == 0)
		dir = DETECT_PROMPT;
	else
		return 0;
	if (result->len == 0)
		return 0;

	/*
	 * The result in jsonb's text form, the form the response carries it in:
	 * mcp_dispatch's jsonb prints it so, and the text response (mcp_http_text)
	 * is given exactly these bytes -- the ones hashed for the audit row.  A
	 * tool's result that tools.c wrapped is in that form already, and has
	 * nothing to redact but what its handler's jsonb has: then it is neither
	 * parsed nor read again here.
	 */
	if (dir == DETECT_RESULT && ev->tool_result != NULL &&
		!mtmcp_redaction_needed(&ev->tool_result->root, ev->redact_paths, ev->nredact))
	{
		jb = NULL;
		full = result->data;
		len = result->len;
	}
	else
	{
		jb = json_text_to_jsonb(result->data);
		full = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
		len = strlen(full);
		resetStringInfo(result);
		appendBinaryStringInfo(result, full, (int) len);
	}
	keep_result(id, jb, full, len, ev);

	if (!inspect_enabled)
		return 0;
	policy_for(id, dir == DETECT_RESULT ? ev->target : NULL, true, &p);
	if (!p.enabled)
		return 0;
	cache_load();
	if (jb != NULL && is_input_required(jb))
	{
		full = input_requests_text(jb);
		len = strlen(full);
	}
	else if (dir == DETECT_PROMPT)
	{
		full = prompt_text(jb);
		len = strlen(full);
	}
	if (scan(id, &p, dir, full, len, ev) < ACT_BLOCK)
		return 0;

	/* withheld: the agent gets nothing of it; the tenant finds it in the audit */
	ev->result_kind = "denied";
	ev->severity = "security";
	ev->error_code = "injection_withheld";
	resetStringInfo(result);
	if (dir == DETECT_RESULT)
	{
		appendStringInfoString(result, "{\"content\":[{\"type\":\"text\",\"text\":");
		json_append_string(result,
						   psprintf("The result was withheld by this server's content policy; the tenant can review it in the audit trail (event %s).",
									ev->event_id));
		appendStringInfoString(result, "}],\"isError\":true}");
		return 0;
	}
	*rpc_msg = "Content withheld by the server's content policy";
	*rpc_data = psprintf("{\"eventId\":\"%s\"}", ev->event_id);
	return MTMCP_CONTENT_WITHHELD;
}

/* ---------------------------------------------------------------------------
 * Counters for /metrics
 * ------------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(mtmcp_finding_counts);

/* SQL: mtmcp.finding_counts() RETURNS TABLE (direction, category, action, findings) */
Datum
mtmcp_finding_counts(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			d,
				c,
				a;

	mtmcp_require_preloaded();
	InitMaterializedSRF(fcinfo, 0);
	if (inspect_shared == NULL)
		return (Datum) 0;
	for (d = 0; d < NDIRECTIONS; d++)
		for (c = 0; c < NCOUNTED_CATEGORIES; c++)
			for (a = 0; a < NACTIONS; a++)
			{
				uint64		n = pg_atomic_read_u64(&inspect_shared->n[d][c][a]);
				Datum		vals[4];
				bool		nulls[4] = {false, false, false, false};

				if (n == 0)
					continue;
				vals[0] = CStringGetTextDatum(direction_names[d]);
				vals[1] = CStringGetTextDatum(c == CAT_TRUNCATED ? "unscanned"
											  : detect_category_name((DetectCategory) c));
				vals[2] = CStringGetTextDatum(action_names[a]);
				vals[3] = Int64GetDatum((int64) n);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, vals, nulls);
			}
	return (Datum) 0;
}
