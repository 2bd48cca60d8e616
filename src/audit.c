/*
 * audit.c -- the audit trail: one row per dispatched message
 *
 * Where rows go:
 *   - mtmcp.audit_log: every message that passed authentication, with the
 *     verified tenant on the row.  Written by mcp_dispatch in the caller's
 *     transaction, after the handler's subtransaction has ended: a tool whose
 *     writes commit has its row commit with them; a failing handler's writes
 *     are rolled back but its row stays.
 *   - mtmcp.auth_failures: messages refused before any tenant was verified.
 *     That table has no tenant column at all, so a tenant's "what did our
 *     agent do" can never include rows nobody proved were theirs.
 *
 * Arguments are redacted before they reach a row: the tool's registered
 * redaction paths, plus every object key that looks like a secret.
 *
 * Observability budget: a tenant whose plan (or own settings) sets
 * "audit_budget": {"rows": N, "window_seconds": S} gets N non-security rows
 * per window; past that, info rows are only counted (mtmcp.audit_overflow).
 * Warning rows are written but count; security rows are never dropped nor
 * counted.  Budgets are per tenant (src/counters.c), so a noisy tenant can
 * only ever drop its own rows.  Refusals before any tenant was verified
 * have no tenant; their budgets are per source and reason
 * (mtmcp.auth_failure_budget a minute each), an attack on a real tenant is
 * never budgeted, and a budget that runs out raises one alert per window.
 *
 * Security events also NOTIFY mtmcp_security (sent at commit) with
 * {"tenant", "event_id", "table", "kind"}: event_id is the row's, in table,
 * so a consumer can tell a real alert from a NOTIFY anyone could send.
 */
#include "postgres.h"

#include <time.h>

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "common/hashfn.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/datetime.h"
#include "utils/uuid.h"

#include "audit.h"
#include "cache.h"
#include "counters.h"
#include "identity.h"
#include "jsonutil.h"
#include "mtmcp.h"
#include "rowinsert.h"

static int	auth_failure_budget = 600;
static char *audit_retention = NULL;
static char *cost_retention = NULL;

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr overflow_plan = NULL;
static SPIPlanPtr auth_plan = NULL;
static SPIPlanPtr auth_overflow_plan = NULL;

/*
 * Object keys whose values never reach the audit table: a key is split into
 * words ("clientSecret" -> client, secret; "API-Key" -> api, key) and is
 * secret when a word, or two adjacent words run together, is one of these.
 * Whole words only: "max_tokens" or "shipping" are not secrets.
 */
static const char *const secret_key_words[] = {
	"password", "passwd", "pwd", "passphrase", "secret", "token", "apikey",
	"authorization", "credential", "credentials", "privatekey", "cookie",
	"cvv", "cvc", "ssn", "pin", "otp", "bearer", NULL
};

void
AuditInit(void)
{
	DefineCustomIntVariable("mtmcp.auth_failure_budget",
							gettext_noop("Refused-authentication rows written per minute for each source and reason."),
							gettext_noop("Further such refusals in the same minute are only counted, in mtmcp.auth_failure_overflow, and raise one alert; attacks on a real tenant are always written."),
							&auth_failure_budget,
							600, 0, INT_MAX,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	/* read by mtmcp.maintain_partitions() */
	DefineCustomStringVariable("mtmcp.audit_retention",
							   gettext_noop("How long audit and refusal rows are kept (an interval)."),
							   NULL,
							   &audit_retention,
							   "90 days",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("mtmcp.cost_retention",
							   gettext_noop("How long cost ledger rows are kept (an interval)."),
							   NULL,
							   &cost_retention,
							   "400 days",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------------
 * Ids and trace context
 * ------------------------------------------------------------------------- */

/*
 * Strong random bytes come from a small per-backend reserve, filled by
 * pg_strong_random (OpenSSL's DRBG) 512 bytes at a time: a call takes 40
 * random bytes for its ids, and every fill is a locked trip through the
 * DRBG (about 2% of a call's CPU when taken one id at a time).  Handed-out
 * bytes are wiped from the reserve; a reserve filled before a fork (the
 * postmaster) is never used by the child.
 */
#define RANDOM_RESERVE 512
static unsigned char random_reserve[RANDOM_RESERVE];
static int	random_left = 0;
static int	random_pid = 0;

static void
random_take(unsigned char *buf, int nbytes)
{
	Assert(nbytes <= RANDOM_RESERVE);
	if (random_pid != MyProcPid || random_left < nbytes)
	{
		if (!pg_strong_random(random_reserve, RANDOM_RESERVE))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random values")));
		random_left = RANDOM_RESERVE;
		random_pid = MyProcPid;
	}
	random_left -= nbytes;
	memcpy(buf, random_reserve + random_left, nbytes);
	explicit_bzero(random_reserve + random_left, nbytes);
}

/* nbytes (at most 32) strong random bytes as lower-case hex into out (2 * nbytes + 1). */
void
mtmcp_random_hex(char *out, int nbytes)
{
	unsigned char buf[32];
	static const char hex[] = "0123456789abcdef";
	int			i;

	Assert(nbytes <= (int) sizeof(buf));
	random_take(buf, nbytes);
	for (i = 0; i < nbytes; i++)
	{
		out[2 * i] = hex[buf[i] >> 4];
		out[2 * i + 1] = hex[buf[i] & 15];
	}
	out[2 * nbytes] = '\0';
	explicit_bzero(buf, nbytes);
}

static bool
is_lower_hex(const char *s, int n)
{
	int			i;
	bool		nonzero = false;

	for (i = 0; i < n; i++)
	{
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
		if (s[i] != '0')
			nonzero = true;
	}
	return nonzero;				/* all-zero ids are invalid in W3C trace context */
}

/*
 * A fresh event id, as text into out (37 bytes): a version 7 UUID (RFC 9562)
 * for the time at, its milliseconds since the Unix epoch first, then the
 * microseconds within the millisecond in 12 bits, then 62 random bits.  Ids
 * made later sort later, so each insert lands on the rightmost page of the
 * audit tables' event_id index: random (version 4) ids put every insert on
 * a random leaf, a page read and, after each checkpoint, a full-page image
 * in the WAL per row once the index outgrows memory.  The time in the id is
 * when the event began (the row's ts minus its duration_us; ts is when the
 * row was written); the id is a reference, not a secret.
 */
static void
new_event_id(char *out, TimestampTz at)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	uint64		ms = (uint64) (at / 1000 + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000);
	uint32		sub = (uint32) ((at % 1000 + 1000) % 1000) * 4096 / 1000;
	int			i,
				o = 0;

	for (i = 0; i < 6; i++)
		b[i] = (unsigned char) (ms >> (40 - 8 * i));
	b[6] = (unsigned char) (0x70 | (sub >> 8));
	b[7] = (unsigned char) sub;
	random_take(b + 8, 8);
	b[8] = (unsigned char) (0x80 | (b[8] & 0x3f));	/* variant 10 */
	for (i = 0; i < 16; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

/*
 * Start an event: a fresh event id and span id; the trace id and parent span
 * from a W3C traceparent in params._meta when there is a valid one.
 */
void
mtmcp_audit_begin(MtmcpAuditEvent *ev, JsonbContainer *params)
{
	char	   *tp = NULL;

	memset(ev, 0, sizeof(*ev));
	ev->start = GetCurrentTimestamp();
	new_event_id(ev->event_id, ev->start);
	mtmcp_random_hex(ev->span_id, 8);

	if (params != NULL)
	{
		JsonbValue *meta = jsonb_object_get(params, "_meta");

		if (jsonb_value_is_object(meta))
			tp = jsonb_value_cstring(jsonb_object_get(meta->val.binary.data, "traceparent"));
	}
	/* version "00": 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags> */
	if (tp != NULL && strlen(tp) == 55 && tp[2] == '-' && tp[35] == '-' && tp[52] == '-' &&
		strncmp(tp, "00", 2) == 0 && is_lower_hex(tp + 3, 32) && is_lower_hex(tp + 36, 16))
	{
		memcpy(ev->trace_id, tp + 3, 32);
		ev->trace_id[32] = '\0';
		memcpy(ev->parent_span_id, tp + 36, 16);
		ev->parent_span_id[16] = '\0';
	}
	else
		mtmcp_random_hex(ev->trace_id, 16);
}

/* ---------------------------------------------------------------------------
 * Redaction
 * ------------------------------------------------------------------------- */

/*
 * Is a (of la bytes) followed by b (lb bytes, 0 for none) one of the secret
 * words?  Compared by length first: every key of every redacted document
 * passes through here.
 */
static bool
is_secret_word(const char *a, int la, const char *b, int lb)
{
	int			i;

	for (i = 0; secret_key_words[i] != NULL; i++)
	{
		const char *w = secret_key_words[i];

		if ((int) strlen(w) == la + lb && memcmp(w, a, la) == 0 && memcmp(w + la, b, lb) == 0)
			return true;
	}
	return false;
}

static bool
key_looks_secret(const char *key, int len)
{
	char		words[16][32];
	int			wlens[16];
	int			nwords = 0;
	int			wlen = 0;
	int			i;

	for (i = 0; i <= len && nwords < 16; i++)
	{
		char		c = i < len ? key[i] : '\0';
		bool		alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		bool		upper = c >= 'A' && c <= 'Z';
		bool		prev_lower = i > 0 && ((key[i - 1] >= 'a' && key[i - 1] <= 'z') ||
										   (key[i - 1] >= '0' && key[i - 1] <= '9'));

		/* a word ends at a separator, the end, or a lower-to-upper step */
		if ((!alnum || (upper && prev_lower)) && wlen > 0)
		{
			wlens[nwords] = wlen;
			nwords++;
			wlen = 0;
			if (nwords >= 16)
				break;
		}
		if (alnum && wlen < 31)
			words[nwords][wlen++] = upper ? c - 'A' + 'a' : c;
	}
	/* each word, and each word with the next ("api" "key") */
	for (i = 0; i < nwords; i++)
	{
		if (is_secret_word(words[i], wlens[i], "", 0))
			return true;
		if (i + 1 < nwords && is_secret_word(words[i], wlens[i], words[i + 1], wlens[i + 1]))
			return true;
	}
	return false;
}

static bool
path_is_redacted(const char *path, char **paths, int npaths)
{
	int			i;

	for (i = 0; i < npaths; i++)
		if (strcmp(path, paths[i]) == 0)
			return true;
	return false;
}

/*
 * Rebuild v with redacted values replaced by "[REDACTED]".  path is the dotted
 * path of v ("" at the root); array elements do not add to the path, so a
 * registered path "cards.number" covers every element of "cards".
 */
static JsonbValue *
redact_value(JsonbParseState **state, JsonbValue *v, const char *path, char **paths, int npaths,
			 JsonbIteratorToken as)
{
	JsonbIterator *it;
	JsonbValue	jv;
	JsonbIteratorToken tok;
	JsonbValue *res = NULL;

	check_stack_depth();
	if (v->type != jbvBinary)
		return pushJsonbValue(state, as, v);

	it = JsonbIteratorInit(v->val.binary.data);
	tok = JsonbIteratorNext(&it, &jv, false);
	if (tok == WJB_BEGIN_ARRAY && jv.val.array.rawScalar)
	{
		/* a scalar wrapped as a one-element array */
		tok = JsonbIteratorNext(&it, &jv, true);
		return pushJsonbValue(state, as, &jv);
	}
	res = pushJsonbValue(state, tok, NULL);
	while ((tok = JsonbIteratorNext(&it, &jv, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char	   *key = pnstrdup(jv.val.string.val, jv.val.string.len);
			char	   *child = path[0] ? psprintf("%s.%s", path, key) : key;
			JsonbValue	val;

			pushJsonbValue(state, WJB_KEY, &jv);
			(void) JsonbIteratorNext(&it, &val, true);
			if (key_looks_secret(key, strlen(key)) || path_is_redacted(child, paths, npaths))
			{
				JsonbValue	r;

				r.type = jbvString;
				r.val.string.val = "[REDACTED]";
				r.val.string.len = strlen("[REDACTED]");
				pushJsonbValue(state, WJB_VALUE, &r);
			}
			else
				redact_value(state, &val, child, paths, npaths, WJB_VALUE);
		}
		else if (tok == WJB_ELEM)
			redact_value(state, &jv, path, paths, npaths, WJB_ELEM);
		else
			res = pushJsonbValue(state, tok, NULL);
	}
	return res;
}

/*
 * Would redact_value change anything in c (at path)?  A read-only walk of the
 * keys: most documents have nothing to redact, and rebuilding one costs far
 * more than looking at it.
 */
static bool
redaction_needed(JsonbContainer *c, const char *path, char **paths, int npaths)
{
	JsonbIterator *it;
	JsonbValue	jv;
	JsonbIteratorToken tok;

	check_stack_depth();
	it = JsonbIteratorInit(c);
	while ((tok = JsonbIteratorNext(&it, &jv, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			JsonbValue	val;
			char	   *child = NULL;

			if (key_looks_secret(jv.val.string.val, jv.val.string.len))
				return true;
			if (npaths > 0)
			{
				child = path[0] ? psprintf("%s.%.*s", path, jv.val.string.len, jv.val.string.val)
					: pnstrdup(jv.val.string.val, jv.val.string.len);
				if (path_is_redacted(child, paths, npaths))
					return true;
			}
			(void) JsonbIteratorNext(&it, &val, true);
			if (val.type == jbvBinary &&
				redaction_needed(val.val.binary.data, child ? child : "", paths, npaths))
				return true;
		}
		else if (tok == WJB_ELEM && jv.type == jbvBinary &&
				 redaction_needed(jv.val.binary.data, path, paths, npaths))
			return true;
	}
	return false;
}

/*
 * The same question for JSON text (a document carried in a string), answered
 * by the JSON lexer alone, without building the document: the keys with their
 * escapes resolved, and their dotted paths when there are paths to match.
 * False as well when text is not JSON: then there is nothing to redact in it.
 */
typedef struct TextRedactState
{
	char	  **paths;
	int			npaths;
	StringInfoData path;		/* the dotted path of the current key */
	int			depth;			/* object nesting, for the stack below */
	int		   *start;			/* path length before each open key */
	bool		needed;
} TextRedactState;

static void
text_field_start(void *state, char *fname, bool isnull)
{
	TextRedactState *s = (TextRedactState *) state;

	if (s->needed)
		return;
	if (key_looks_secret(fname, strlen(fname)))
	{
		s->needed = true;
		return;
	}
	if (s->npaths == 0)
		return;
	if (s->depth >= 64)
	{
		s->needed = true;		/* too deep to follow: let the full redaction decide */
		return;
	}
	s->start[s->depth++] = s->path.len;
	if (s->path.len > 0)
		appendStringInfoChar(&s->path, '.');
	appendStringInfoString(&s->path, fname);
	if (path_is_redacted(s->path.data, s->paths, s->npaths))
		s->needed = true;
}

static void
text_field_end(void *state, char *fname, bool isnull)
{
	TextRedactState *s = (TextRedactState *) state;

	if (s->npaths == 0 || s->needed || s->depth == 0)
		return;
	s->path.len = s->start[--s->depth];
	s->path.data[s->path.len] = '\0';
}

bool
mtmcp_redaction_needed_text(const char *json, int len, char **paths, int npaths, bool *is_json)
{
	TextRedactState s;
	JsonSemAction sem;
	JsonLexContext *lex;
	int			start[64];

	memset(&s, 0, sizeof(s));
	s.paths = paths;
	s.npaths = npaths;
	s.start = start;
	initStringInfo(&s.path);
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &s;
	sem.object_field_start = text_field_start;
	sem.object_field_end = text_field_end;
	lex = makeJsonLexContextCstringLen((char *) json, len, GetDatabaseEncoding(), true);
	*is_json = pg_parse_json(lex, &sem) == JSON_SUCCESS;
	return *is_json && s.needed;
}

bool
mtmcp_redaction_needed(JsonbContainer *doc, char **paths, int npaths)
{
	return redaction_needed(doc, "", paths, npaths);
}

Jsonb *
mtmcp_redact(Jsonb *args, char **paths, int npaths)
{
	JsonbParseState *state = NULL;
	JsonbValue	root;
	JsonbValue *res;

	if (args == NULL)
		return NULL;
	if (JB_ROOT_IS_SCALAR(args) || !redaction_needed(&args->root, "", paths, npaths))
		return args;
	root.type = jbvBinary;
	root.val.binary.data = &args->root;
	root.val.binary.len = VARSIZE(args) - VARHDRSZ;
	res = redact_value(&state, &root, "", paths, npaths, WJB_VALUE);
	return JsonbValueToJsonb(res);
}

/*
 * The CHECK constraints of audit_log's result_kind and severity.  They are C
 * functions rather than IN lists because an INSERT re-reads and re-plans a
 * partition's CHECK expressions on every execution, and an audited call
 * inserts one row: an IN list of text constants cost about 5% of the
 * database's time per call, a function call of a column almost nothing.
 */
static const char *const result_kinds[] = {
	"ok", "tool_error", "denied", "invalid", "not_found", "rate_limited", "error", "timeout", "cancelled"
};
static const char *const severities[] = {"info", "warning", "security"};

static bool
one_of(text *t, const char *const *set, int n)
{
	const char *s = VARDATA_ANY(t);
	size_t		len = VARSIZE_ANY_EXHDR(t);
	int			i;

	for (i = 0; i < n; i++)
		if (strlen(set[i]) == len && memcmp(set[i], s, len) == 0)
			return true;
	return false;
}

PG_FUNCTION_INFO_V1(mtmcp_audit_result_kind_valid);

Datum
mtmcp_audit_result_kind_valid(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(one_of(PG_GETARG_TEXT_PP(0), result_kinds, lengthof(result_kinds)));
}

PG_FUNCTION_INFO_V1(mtmcp_audit_severity_valid);

Datum
mtmcp_audit_severity_valid(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(one_of(PG_GETARG_TEXT_PP(0), severities, lengthof(severities)));
}

PG_FUNCTION_INFO_V1(mtmcp_redact_sql);

/* SQL: mtmcp.redact(args jsonb, paths text[]) -- what the audit table would store */
Datum
mtmcp_redact_sql(PG_FUNCTION_ARGS)
{
	Jsonb	   *args = PG_GETARG_JSONB_P(0);
	char	  **paths = NULL;
	int			npaths = 0;

	if (!PG_ARGISNULL(1))
		npaths = mtmcp_text_array(PG_GETARG_ARRAYTYPE_P(1), &paths);
	PG_RETURN_JSONB_P(mtmcp_redact(args, paths, npaths));
}

/* ---------------------------------------------------------------------------
 * Budgets
 * ------------------------------------------------------------------------- */

/* "audit_budget": {"rows": N, "window_seconds": S} from the tenant's settings */
static bool
tenant_budget(const MtmcpIdentity *id, int64 *rows, int64 *window)
{
	return mtmcp_budget_setting(id->settings, "audit_budget", "rows", rows, window);
}

/*
 * The alert for a security row: sent at commit, so only for rows that
 * committed.  It names the row (event_id, and the table it is in) so a
 * consumer can check it against the table: a NOTIFY anyone else sends on
 * this channel names no such row.
 */
static void
notify_security(const char *tenant, const char *event_id, const char *table, const char *kind)
{
	StringInfoData p;

	initStringInfo(&p);
	appendStringInfoString(&p, "{\"tenant\":");
	if (tenant)
		json_append_string(&p, tenant);
	else
		appendStringInfoString(&p, "null");
	appendStringInfo(&p, ",\"event_id\":\"%s\",\"table\":\"%s\",\"kind\":", event_id, table);
	json_append_string(&p, kind);
	appendStringInfoChar(&p, '}');
	Async_Notify("mtmcp_security", p.data);
}

static Datum
text_or_null(const char *s, char *nulls, int i)
{
	if (s == NULL)
	{
		nulls[i] = 'n';
		return (Datum) 0;
	}
	return CStringGetTextDatum(s);
}

static int
severity_rank(const char *s)
{
	return strcmp(s, "security") == 0 ? 3 : strcmp(s, "warning") == 0 ? 2 : 1;
}

/* ---------------------------------------------------------------------------
 * Writing rows
 * ------------------------------------------------------------------------- */

/*
 * Redact the event's arguments now, while a failure can still be answered
 * (the dispatcher calls this inside its guarded part); mtmcp_audit_write
 * then has nothing left that could fail on the caller's data.
 */
void
mtmcp_audit_prepare(MtmcpAuditEvent *ev)
{
	if (ev->arguments != NULL && !ev->redacted)
		ev->arguments = mtmcp_redact(ev->arguments, ev->redact_paths, ev->nredact);
	ev->redacted = true;
}

/*
 * The audit row: every column, in this order and of these types, for both
 * ways of writing it -- without the executor (rowinsert.c), or, when that
 * declines, through the INSERT made from the same lists.  ts is the clock
 * now, as the column's default would have it.
 */
static const char *const audit_columns[] = {
	"event_id", "ts", "tenant_id", "session_id", "subject", "issuer", "method", "target",
	"result_kind", "severity", "arguments", "error_code", "request_id", "trace_id", "span_id",
	"parent_span_id", "duration_us", "detail", "findings", "result", "result_bytes",
	"result_sha256", "result_truncated"
};
static const Oid audit_types[] = {
	UUIDOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, INT8OID, TEXTOID, JSONBOID, TEXTOID, INT8OID,
	TEXTOID, BOOLOID
};
#define AUDIT_NCOLS lengthof(audit_columns)
StaticAssertDecl(lengthof(audit_types) == lengthof(audit_columns), "one type per audit column");

static Datum
text_datum(const char *s, bool *nulls, int i)
{
	nulls[i] = s == NULL;
	return s == NULL ? (Datum) 0 : CStringGetTextDatum(s);
}

static void
audit_row(const MtmcpIdentity *id, MtmcpAuditEvent *ev, TimestampTz now, int64 duration_us,
		  Datum *v, bool *n)
{
	bool		has_result = ev->result_sha256[0] != '\0';

	memset(n, 0, sizeof(bool) * AUDIT_NCOLS);
	v[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(ev->event_id));
	v[1] = TimestampTzGetDatum(now);
	v[2] = CStringGetTextDatum(id->tenant);
	v[3] = text_datum(ev->session_id, n, 3);
	v[4] = CStringGetTextDatum(id->subject);
	v[5] = text_datum(id->issuer, n, 5);
	v[6] = CStringGetTextDatum(ev->method ? ev->method : "(none)");
	v[7] = text_datum(ev->target, n, 7);
	v[8] = CStringGetTextDatum(ev->result_kind);
	v[9] = CStringGetTextDatum(ev->severity);
	n[10] = ev->arguments == NULL;
	v[10] = n[10] ? (Datum) 0
		: JsonbPGetDatum(ev->redacted ? ev->arguments : mtmcp_redact(ev->arguments, ev->redact_paths, ev->nredact));
	v[11] = text_datum(ev->error_code, n, 11);
	v[12] = text_datum(ev->request_id, n, 12);
	v[13] = CStringGetTextDatum(ev->trace_id);
	v[14] = CStringGetTextDatum(ev->span_id);
	v[15] = text_datum(ev->parent_span_id[0] ? ev->parent_span_id : NULL, n, 15);
	v[16] = Int64GetDatum(duration_us);
	v[17] = text_datum(ev->detail, n, 17);
	n[18] = ev->findings == NULL;
	v[18] = n[18] ? (Datum) 0 : DirectFunctionCall1(jsonb_in, CStringGetDatum(ev->findings));
	v[19] = text_datum(has_result ? ev->result_text : NULL, n, 19);
	v[20] = Int64GetDatum(ev->result_bytes);
	n[20] = !has_result;
	v[21] = text_datum(has_result ? ev->result_sha256 : NULL, n, 21);
	v[22] = BoolGetDatum(ev->result_truncated);
	n[22] = !has_result;
}

/* The row through SQL: INSERT INTO mtmcp.audit_log (<audit_columns>) VALUES ($1, ...). */
static void
insert_row_sql(Datum *v, bool *n)
{
	char		nulls[AUDIT_NCOLS];
	int			i,
				ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (insert_plan == NULL)
	{
		StringInfoData sql;

		initStringInfo(&sql);
		appendStringInfoString(&sql, "INSERT INTO mtmcp.audit_log (");
		for (i = 0; i < (int) AUDIT_NCOLS; i++)
			appendStringInfo(&sql, "%s%s", i ? ", " : "", audit_columns[i]);
		appendStringInfoString(&sql, ") VALUES (");
		for (i = 0; i < (int) AUDIT_NCOLS; i++)
			appendStringInfo(&sql, "%s$%d", i ? ", " : "", i + 1);
		appendStringInfoChar(&sql, ')');
		insert_plan = mtmcp_keep_plan(sql.data, AUDIT_NCOLS, (Oid *) audit_types);
	}
	for (i = 0; i < (int) AUDIT_NCOLS; i++)
		nulls[i] = n[i] ? 'n' : ' ';
	ret = SPI_execute_plan(insert_plan, v, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not write the audit row: %s", SPI_result_code_string(ret));
	SPI_finish();
}

/*
 * Write the audit row of one message of a verified tenant (or count it in the
 * overflow when the tenant's budget is spent).  Returns true when written.
 */
bool
mtmcp_audit_write(const MtmcpIdentity *id, MtmcpAuditEvent *ev)
{
	Datum		vals[AUDIT_NCOLS];
	bool		nulls[AUDIT_NCOLS];
	int64		rows,
				window,
				window_start;
	bool		security;
	int			ret;
	long		secs;
	int			usecs;
	TimestampTz now;
	Oid			rel;

	/* findings raise the row's severity, whatever else became of the call */
	if (ev->min_severity != NULL && severity_rank(ev->min_severity) > severity_rank(ev->severity))
		ev->severity = ev->min_severity;
	if (ev->min_detail != NULL && ev->detail == NULL && strcmp(ev->severity, "security") == 0)
		ev->detail = (char *) ev->min_detail;
	security = strcmp(ev->severity, "security") == 0;
	if (!security && tenant_budget(id, &rows, &window))
	{
		MtmcpCounterResult r = mtmcp_counter_take(MTMCP_COUNTER_AUDIT, id->tenant, (int64) time(NULL),
												  window, rows, &window_start);

		if (r == MTMCP_COUNTER_OVER && strcmp(ev->severity, "info") == 0)
		{
			Datum		ovals[2];

			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			if (overflow_plan == NULL)
			{
				Oid			types[2] = {TEXTOID, INT8OID};

				overflow_plan = mtmcp_keep_plan("INSERT INTO mtmcp.audit_overflow AS o (tenant_id, window_start, dropped)"
											 " VALUES ($1, to_timestamp($2), 1)"
											 " ON CONFLICT (tenant_id, window_start)"
											 " DO UPDATE SET dropped = o.dropped + 1", 2, types);
			}
			ovals[0] = CStringGetTextDatum(id->tenant);
			ovals[1] = Int64GetDatum(window_start);
			ret = SPI_execute_plan(overflow_plan, ovals, NULL, false, 0);
			if (ret != SPI_OK_INSERT)
				elog(ERROR, "could not count an overflowing audit row: %s", SPI_result_code_string(ret));
			SPI_finish();
			return false;
		}
	}

	now = GetCurrentTimestamp();
	TimestampDifference(ev->start, now, &secs, &usecs);
	audit_row(id, ev, now, (int64) secs * 1000000 + usecs, vals, nulls);
	rel = mtmcp_relid("audit_log");
	if (!OidIsValid(rel) || !mtmcp_row_insert(rel, AUDIT_NCOLS, audit_columns, audit_types, vals, nulls))
		insert_row_sql(vals, nulls);

	if (security)
		notify_security(id->tenant, ev->event_id, "mtmcp.audit_log", ev->detail ? ev->detail : ev->result_kind);
	return true;
}

/*
 * The budget a refusal counts against: its reason and source (both from a
 * small set, see MtmcpAuthError), hashed when too long for a counter scope.
 */
static char *
refusal_scope(const char *source, const char *reason)
{
	char	   *scope = psprintf("%s|%s", reason, source);

	if (strlen(scope) >= 80)
		scope = psprintf("%.40s|#%016llx", reason,
						 (unsigned long long) DatumGetUInt64(hash_any_extended((const unsigned char *) scope,
																			   strlen(scope), 0)));
	return scope;
}

static void
insert_refusal(const char *event_id, const MtmcpAuditEvent *ev, const char *reason, int http_status,
			   const char *detail, const char *source, const char *severity, bool with_request)
{
	Datum		vals[11];
	char		nulls[11];
	int			ret;

	memset(nulls, ' ', sizeof(nulls));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (auth_plan == NULL)
	{
		Oid			types[11] = {TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID};

		auth_plan = mtmcp_keep_plan("INSERT INTO mtmcp.auth_failures (event_id, session_id, reason, http_status,"
									" method, request_id, trace_id, span_id, detail, source, severity)"
									" VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", 11, types);
	}
	vals[0] = CStringGetTextDatum(event_id);
	vals[1] = text_or_null(with_request ? ev->session_id : NULL, nulls, 1);
	vals[2] = CStringGetTextDatum(reason);
	vals[3] = Int32GetDatum(http_status);
	vals[4] = text_or_null(with_request ? ev->method : NULL, nulls, 4);
	vals[5] = text_or_null(with_request ? ev->request_id : NULL, nulls, 5);
	vals[6] = CStringGetTextDatum(ev->trace_id);
	vals[7] = CStringGetTextDatum(ev->span_id);
	vals[8] = text_or_null(detail, nulls, 8);
	vals[9] = text_or_null(source, nulls, 9);
	vals[10] = CStringGetTextDatum(severity);
	ret = SPI_execute_plan(auth_plan, vals, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not write the refusal row: %s", SPI_result_code_string(ret));
	SPI_finish();
}

/*
 * A message refused before any tenant was verified.  Goes to
 * mtmcp.auth_failures, which has no tenant column.
 *
 * An attack on a real tenant (err->security) is always written.  Other
 * refusals count against the budget of their (source, reason):
 * mtmcp.auth_failure_budget rows a minute each, so a flood of one kind
 * from one source cannot silence another.  Past it they are counted in
 * mtmcp.auth_failure_overflow, and the first one past it in each window
 * writes one alert row (reason "refusals_suppressed") and notifies.
 */
void
mtmcp_audit_auth_failure(MtmcpAuditEvent *ev, const MtmcpAuthError *err)
{
	const char *source = err->source ? err->source : "(no issuer)";
	int64		window_start;
	int64		over;
	int			ret;

	if (!err->security &&
		mtmcp_counter_take_over(MTMCP_COUNTER_AUTH_FAILURES, refusal_scope(source, err->reason),
								(int64) time(NULL), 60, auth_failure_budget,
								&window_start, &over) == MTMCP_COUNTER_OVER)
	{
		Datum		ovals[3];

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (auth_overflow_plan == NULL)
		{
			Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};

			auth_overflow_plan = mtmcp_keep_plan("INSERT INTO mtmcp.auth_failure_overflow AS o"
												 " (window_start, source, reason, dropped)"
												 " VALUES (to_timestamp($1), $2, $3, 1)"
												 " ON CONFLICT (window_start, source, reason)"
												 " DO UPDATE SET dropped = o.dropped + 1",
												 3, types);
		}
		ovals[0] = Int64GetDatum(window_start);
		ovals[1] = CStringGetTextDatum(source);
		ovals[2] = CStringGetTextDatum(err->reason);
		ret = SPI_execute_plan(auth_overflow_plan, ovals, NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "could not count an overflowing refusal: %s", SPI_result_code_string(ret));
		SPI_finish();

		/* silence is not an option: the first refusal past the budget raises the alert */
		if (over == 1)
		{
			char		alert_id[37];
			char	   *detail;

			new_event_id(alert_id, GetCurrentTimestamp());
			detail = psprintf("Refusals of reason \"%s\" from \"%s\" beyond %d a minute are counted in"
							  " mtmcp.auth_failure_overflow, not written, until %s.",
							  err->reason, source, auth_failure_budget,
							  timestamptz_to_str(time_t_to_timestamptz((pg_time_t) (window_start + 60))));
			insert_refusal(alert_id, ev, "refusals_suppressed", err->http_status, detail, source,
						   "security", false);
			notify_security(NULL, alert_id, "mtmcp.auth_failures", "refusals_suppressed");
		}
		return;
	}

	insert_refusal(ev->event_id, ev, err->reason, err->http_status, err->detail, source,
				   err->security ? "security" : "warning", true);
	notify_security(NULL, ev->event_id, "mtmcp.auth_failures", err->reason);
}
