/*
 * mrtr.c -- multi round-trip requests: handlers ask the client for input
 *
 * Replay style.  Every round runs the handler from the start.  When it calls
 * mtmcp.elicit(key, ...) (or elicit_url, sample, list_roots) the answer is
 * looked up, in order, in this round's params.inputResponses[key] and in the
 * answers of earlier rounds that the sealed requestState carries.  Found: it
 * is returned.  Not found: the input request is recorded and the handler is
 * aborted with a private SQLSTATE (or, with wait => false, it gets NULL and
 * goes on, so several questions can be asked in one round); the dispatcher
 * then answers resultType "input_required" with every recorded request,
 * keyed by the handler's keys, and a new requestState.  A handler's writes
 * in such a round are rolled back (mtmcp_run_as_tool's subtransaction).
 *
 * requestState = base64url(payload) "." base64url(HMAC-SHA-256), the payload
 * a JSON object {v, t: tenant, s: subject, m: method, g: target (tool or
 * prompt name, resource URI), h: SHA-256 of the arguments, e: expiry (Unix
 * seconds), a: {key: {d: digest of the question, a: answer}}, p: {key:
 * digest} (asked in the round that made the state)}, the MAC over the
 * payload under mtmcp.request_state_secret.  It is verified in
 * mtmcp_mrtr_begin, before any handler runs: a state that does not verify,
 * is another tenant's or subject's, was made for another method, target or
 * arguments, or has expired is refused with -32602 and audited as a
 * security event.  It is integrity-protected, not encrypted: it holds the
 * client's own answers.  An answer counts only for the question it
 * answered (the digest), so a handler that asks something else under a key
 * asks again.
 *
 * Capabilities: form elicitation needs clientCapabilities.elicitation (with
 * "form", or without "url"), URL elicitation elicitation.url, sampling
 * sampling, roots roots.  Asking for an undeclared one aborts the request
 * with -32021 and data.requiredCapabilities.  Outside tools/call,
 * prompts/get and resources/read the functions raise an ordinary error.
 */
#include "postgres.h"

#include <time.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "cache.h"
#include "codec.h"
#include "jsonutil.h"
#include "mrtr.h"
#include "mtmcp.h"

#define MAX_ASKS		16
#define MAX_KEY_LEN		64
#define MAX_STATE_LEN	(256 * 1024)
#define DIGEST_BYTES	16

int			mtmcp_request_state_ttl = 900;

typedef struct MrtrCall
{
	bool		active;
	MemoryContext cxt;			/* child of TopTransactionContext */
	const char *tenant;
	const char *subject;
	const char *method;
	const char *target;
	Jsonb	   *args;			/* the call's arguments ({} when none) */
	char	   *args_hash;		/* base64url digest of args' text: made when a state needs it */
	Jsonb	   *caps;			/* the client's capabilities, {} when none */
	Jsonb	   *responses;		/* this round's inputResponses, or NULL */
	Jsonb	   *prior;			/* earlier rounds' answers {key: {d, a}}, or NULL */
	Jsonb	   *pending;		/* {key: digest} asked in the round that made the state */
	StringInfo	asked;			/* "key": {"method", "params"}, ... */
	StringInfo	asked_digests;	/* "key": "digest", ... */
	char	   *asked_keys[MAX_ASKS];
	char	   *asked_d[MAX_ASKS];
	int			nasked;
	StringInfo	used;			/* this round's answers taken: "key": {"d", "a"}, ... */
	char	   *used_keys[MAX_ASKS];
	int			nused;
	char	   *missing_cap;	/* JSON: the requiredCapabilities */
} MrtrCall;

static MrtrCall call;

static MtmcpSecret secret = {"request_state_secret"};

static void
clear_call(void)
{
	memset(&call, 0, sizeof(call));
}

static void
mrtr_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		clear_call();			/* the memory went with TopTransactionContext */
}

void
MrtrInit(void)
{
	DefineCustomIntVariable("mtmcp.request_state_ttl",
							gettext_noop("Seconds a requestState of a multi round-trip request stays valid."),
							NULL,
							&mtmcp_request_state_ttl,
							900, 10, 24 * 3600,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	RegisterXactCallback(mrtr_xact_callback, NULL);
	/* a new key reaches every backend (its trigger invalidates the relation) */
	mtmcp_track_config_relation("request_state_secret");
}

void
mtmcp_mrtr_reset(void)
{
	if (call.cxt != NULL)
		MemoryContextDelete(call.cxt);
	clear_call();
}

/* ---------------------------------------------------------------------------
 * Sealing
 * ------------------------------------------------------------------------- */


static void
state_mac(const char *payload, size_t len, uint8 out[MTMCP_SHA256_LEN])
{
	StringInfoData m;

	mtmcp_secret_load(&secret);
	initStringInfo(&m);
	appendBinaryStringInfo(&m, "mtmcp-request-state-v1", sizeof("mtmcp-request-state-v1"));
	appendBinaryStringInfo(&m, payload, len);
	mtmcp_hmac_sha256(secret.bytes, secret.len, m.data, m.len, out);
}

static char *
b64_digest(const void *data, size_t len)
{
	uint8		h[MTMCP_SHA256_LEN];
	StringInfoData b;

	mtmcp_sha256(data, len, h);
	initStringInfo(&b);
	mtmcp_append_b64url(&b, h, DIGEST_BYTES);
	return b.data;
}

static char *
jsonb_text(Jsonb *j)
{
	return JsonbToCString(NULL, &j->root, VARSIZE(j));
}

/* ---------------------------------------------------------------------------
 * Begin and finish (the dispatcher)
 * ------------------------------------------------------------------------- */

static int
refuse_state(const char *detail, const char **rpc_msg, MtmcpAuditEvent *ev)
{
	ev->result_kind = "denied";
	ev->severity = "security";
	ev->detail = (char *) detail;
	ev->error_code = "request_state";
	*rpc_msg = "Invalid params: requestState is not valid for this request";
	mtmcp_mrtr_reset();
	return JSONRPC_INVALID_PARAMS;
}

static int
refuse_input(const char *msg, const char **rpc_msg, MtmcpAuditEvent *ev)
{
	ev->result_kind = "invalid";
	ev->severity = "warning";
	ev->error_code = "input_responses";
	*rpc_msg = msg;
	mtmcp_mrtr_reset();
	return JSONRPC_INVALID_PARAMS;
}

/*
 * The digest binding a request state to its call's arguments, made the first
 * time a state is opened or sealed: most calls never ask the client anything.
 */
static const char *
args_hash(void)
{
	if (call.args_hash == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(call.cxt);
		char	   *atext = jsonb_text(call.args);

		call.args_hash = b64_digest(atext, strlen(atext));
		MemoryContextSwitchTo(old);
	}
	return call.args_hash;
}

static Jsonb *
session_capabilities(const char *session_id)
{
	Datum		args[1];
	Oid			types[1] = {TEXTOID};
	Jsonb	   *caps = NULL;
	MemoryContext outer = CurrentMemoryContext;

	if (session_id == NULL)
		return NULL;
	args[0] = CStringGetTextDatum(session_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT client_capabilities FROM mtmcp.sessions WHERE session_id = $1",
							  1, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the session's capabilities");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext spi = MemoryContextSwitchTo(outer);

			caps = DatumGetJsonbPCopy(d);
			MemoryContextSwitchTo(spi);
		}
	}
	SPI_finish();
	return caps;
}

void
mtmcp_mrtr_session_opened(const char *session_id, JsonbContainer *params)
{
	JsonbValue *cv = jsonb_object_get(params, "capabilities");
	Datum		args[2];
	Oid			types[2] = {TEXTOID, JSONBOID};

	if (!jsonb_value_is_object(cv))
		return;
	args[0] = CStringGetTextDatum(session_id);
	args[1] = JsonbPGetDatum(jsonb_value_to_jsonb(cv));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("UPDATE mtmcp.sessions SET client_capabilities = $2 WHERE session_id = $1",
							  2, types, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the session's capabilities");
	SPI_finish();
}

/* Verify a requestState; NULL when it is good (call.prior/pending set), else the audit detail. */
static const char *
open_state(const char *state)
{
	const char *dot = strchr(state, '.');
	uint8	   *payload;
	uint8	   *mac;
	size_t		plen,
				mlen;
	uint8		want[MTMCP_SHA256_LEN];
	Jsonb	   *p;
	JsonbValue *v;
	char	   *s;

	if (dot == NULL || strlen(state) > MAX_STATE_LEN)
		return "request_state_tampered";
	payload = mtmcp_b64url_decode(state, dot - state, &plen);
	mac = mtmcp_b64url_decode(dot + 1, strlen(dot + 1), &mlen);
	if (payload == NULL || mac == NULL || mlen != MTMCP_SHA256_LEN)
		return "request_state_tampered";
	state_mac((char *) payload, plen, want);
	if (timingsafe_bcmp(want, mac, MTMCP_SHA256_LEN) != 0)
		return "request_state_tampered";
	/* ours from here on: well-formed */
	p = json_text_to_jsonb((char *) payload);
	s = jsonb_value_cstring(jsonb_object_get(&p->root, "t"));
	if (s == NULL || strcmp(s, call.tenant) != 0)
		return "request_state_foreign_tenant";
	s = jsonb_value_cstring(jsonb_object_get(&p->root, "s"));
	if (s == NULL || strcmp(s, call.subject) != 0)
		return "request_state_foreign_subject";
	s = jsonb_value_cstring(jsonb_object_get(&p->root, "m"));
	if (s == NULL || strcmp(s, call.method) != 0)
		return "request_state_other_request";
	s = jsonb_value_cstring(jsonb_object_get(&p->root, "g"));
	if (s == NULL || strcmp(s, call.target) != 0)
		return "request_state_other_request";
	s = jsonb_value_cstring(jsonb_object_get(&p->root, "h"));
	if (s == NULL || strcmp(s, args_hash()) != 0)
		return "request_state_other_arguments";
	v = jsonb_object_get(&p->root, "e");
	if (v == NULL || v->type != jbvNumeric ||
		DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric))) <
		(int64) time(NULL))
		return "request_state_expired";
	v = jsonb_object_get(&p->root, "a");
	call.prior = jsonb_value_is_object(v) ? jsonb_value_to_jsonb(v) : NULL;
	v = jsonb_object_get(&p->root, "p");
	call.pending = jsonb_value_is_object(v) ? jsonb_value_to_jsonb(v) : NULL;
	return NULL;
}

int
mtmcp_mrtr_begin(const MtmcpIdentity *id, const char *method, JsonbContainer *params,
				 Jsonb *caps, const char *session_id, const char **rpc_msg, MtmcpAuditEvent *ev)
{
	MemoryContext old;
	JsonbValue *v;
	JsonbValue *av;
	char	   *target;
	Jsonb	   *args;

	mtmcp_mrtr_reset();
	call.cxt = AllocSetContextCreate(TopTransactionContext, "mtmcp mrtr", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(call.cxt);
	call.active = true;
	call.tenant = pstrdup(id->tenant);
	call.subject = pstrdup(id->subject);
	call.method = pstrdup(method);
	target = jsonb_value_cstring(jsonb_object_get(params, strcmp(method, "resources/read") == 0 ? "uri" : "name"));
	call.target = target ? target : "";
	/* what the audit row of a refusal names: the tool or prompt, the URI */
	if (target != NULL && strcmp(method, "resources/read") != 0)
		ev->target = MemoryContextStrdup(TopTransactionContext, target);
	else if (target != NULL && ev->arguments == NULL)
	{
		StringInfoData u;

		initStringInfo(&u);
		appendStringInfoString(&u, "{\"uri\":");
		json_append_string(&u, target);
		appendStringInfoChar(&u, '}');
		MemoryContextSwitchTo(TopTransactionContext);
		ev->arguments = json_text_to_jsonb(u.data);
		MemoryContextSwitchTo(call.cxt);
	}
	av = strcmp(method, "resources/read") == 0 ? NULL : jsonb_object_get(params, "arguments");
	args = (av != NULL && av->type != jbvNull) ? jsonb_value_to_jsonb(av) : json_text_to_jsonb("{}");
	call.args = args;
	if (caps == NULL)
		caps = session_capabilities(session_id);
	call.caps = caps ? caps : json_text_to_jsonb("{}");
	call.asked = makeStringInfo();
	call.asked_digests = makeStringInfo();
	call.used = makeStringInfo();

	/* this round's answers: an object of objects */
	v = jsonb_object_get(params, "inputResponses");
	if (v != NULL)
	{
		JsonbIterator *it;
		JsonbValue	x;
		JsonbIteratorToken tok;

		if (!jsonb_value_is_object(v))
		{
			MemoryContextSwitchTo(old);
			return refuse_input("Invalid params: inputResponses must be an object", rpc_msg, ev);
		}
		it = JsonbIteratorInit(v->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &x, true)) != WJB_DONE)
			if (tok == WJB_VALUE && !jsonb_value_is_object(&x))
			{
				MemoryContextSwitchTo(old);
				return refuse_input("Invalid params: every value of inputResponses must be an object", rpc_msg, ev);
			}
		call.responses = jsonb_value_to_jsonb(v);
	}

	/* the sealed state of earlier rounds */
	v = jsonb_object_get(params, "requestState");
	if (v != NULL && v->type != jbvNull)
	{
		char	   *state = jsonb_value_cstring(v);
		const char *why;

		if (state == NULL)
		{
			MemoryContextSwitchTo(old);
			return refuse_state("request_state_tampered", rpc_msg, ev);
		}
		why = open_state(state);
		if (why != NULL)
		{
			MemoryContextSwitchTo(old);
			ereport(LOG,
					(errmsg("requestState refused for tenant \"%s\" (%s on %s \"%s\")", id->tenant, why, method, call.target)));
			return refuse_state(why, rpc_msg, ev);
		}
	}
	MemoryContextSwitchTo(old);
	return 0;
}

bool
mtmcp_mrtr_interrupted(void)
{
	return call.active && (call.nasked > 0 || call.missing_cap != NULL);
}

void
mtmcp_mrtr_check_pending(void)
{
	if (mtmcp_mrtr_interrupted())
		ereport(ERROR,
				(errcode(ERRCODE_MTMCP_INPUT_REQUIRED),
				 errmsg("input required from the client")));
}

/* Append "key": value to a comma-separated list of members. */
static void
append_member(StringInfo s, const char *key, const char *value_json)
{
	if (s->len > 0)
		appendStringInfoChar(s, ',');
	json_append_string(s, key);
	appendStringInfoChar(s, ':');
	appendStringInfoString(s, value_json);
}

static bool
key_in(char **keys, int n, const char *key)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return true;
	return false;
}

static char *
seal_state(void)
{
	StringInfoData p;
	StringInfoData tok;
	uint8		mac[MTMCP_SHA256_LEN];

	initStringInfo(&p);
	appendStringInfoString(&p, "{\"v\":1,\"t\":");
	json_append_string(&p, call.tenant);
	appendStringInfoString(&p, ",\"s\":");
	json_append_string(&p, call.subject);
	appendStringInfoString(&p, ",\"m\":");
	json_append_string(&p, call.method);
	appendStringInfoString(&p, ",\"g\":");
	json_append_string(&p, call.target);
	appendStringInfoString(&p, ",\"h\":");
	json_append_string(&p, args_hash());
	appendStringInfo(&p, ",\"e\":" INT64_FORMAT, (int64) time(NULL) + mtmcp_request_state_ttl);
	/* earlier answers (those not answered again this round) and this round's */
	appendStringInfoString(&p, ",\"a\":{");
	{
		StringInfoData a;

		initStringInfo(&a);
		if (call.prior != NULL)
		{
			JsonbIterator *it = JsonbIteratorInit(&call.prior->root);
			JsonbValue	x;
			JsonbIteratorToken tok2;
			char	   *key = NULL;

			while ((tok2 = JsonbIteratorNext(&it, &x, true)) != WJB_DONE)
			{
				if (tok2 == WJB_KEY)
					key = pnstrdup(x.val.string.val, x.val.string.len);
				else if (tok2 == WJB_VALUE && !key_in(call.used_keys, call.nused, key))
				{
					StringInfoData vj;

					initStringInfo(&vj);
					json_append_value(&vj, &x);
					append_member(&a, key, vj.data);
				}
			}
		}
		if (call.used->len > 0)
		{
			if (a.len > 0)
				appendStringInfoChar(&a, ',');
			appendBinaryStringInfo(&a, call.used->data, call.used->len);
		}
		appendBinaryStringInfo(&p, a.data, a.len);
	}
	appendStringInfoString(&p, "},\"p\":{");
	appendBinaryStringInfo(&p, call.asked_digests->data, call.asked_digests->len);
	appendStringInfoString(&p, "}}");

	state_mac(p.data, p.len, mac);
	initStringInfo(&tok);
	mtmcp_append_b64url(&tok, p.data, p.len);
	appendStringInfoChar(&tok, '.');
	mtmcp_append_b64url(&tok, mac, MTMCP_SHA256_LEN);
	return tok.data;
}

int
mtmcp_mrtr_finish(int rc, StringInfo result, const char **rpc_msg, char **rpc_data, MtmcpAuditEvent *ev)
{
	if (!call.active)
		return rc;
	/* a result replaced here is no longer the handler's wrapped result (inspect.c) */
	if (call.missing_cap != NULL || call.nasked > 0)
		ev->tool_result = NULL;
	if (call.missing_cap != NULL)
	{
		*rpc_msg = "Missing required client capability";
		*rpc_data = psprintf("{\"requiredCapabilities\":%s}", call.missing_cap);
		ev->result_kind = "invalid";
		ev->severity = "warning";
		ev->error_code = "missing_capability";
		rc = MCP_MISSING_CAPABILITY;
	}
	else if (call.nasked > 0)
	{
		char	   *state = seal_state();

		if (strlen(state) > MAX_STATE_LEN)
		{
			*rpc_msg = "Internal error";
			ev->result_kind = "tool_error";
			ev->severity = "warning";
			ev->error_code = "request_state_too_large";
			rc = JSONRPC_INTERNAL_ERROR;
		}
		else
		{
			resetStringInfo(result);
			appendStringInfoString(result, "{\"resultType\":\"input_required\",\"inputRequests\":{");
			appendBinaryStringInfo(result, call.asked->data, call.asked->len);
			appendStringInfoString(result, "},\"requestState\":");
			json_append_string(result, state);
			appendStringInfoChar(result, '}');
			ev->result_kind = "ok";
			ev->severity = "info";
			ev->error_code = "input_required";
			rc = 0;
		}
	}
	mtmcp_mrtr_reset();
	return rc;
}

/* ---------------------------------------------------------------------------
 * The handler API
 * ------------------------------------------------------------------------- */

static void
require_call(const char *fn)
{
	if (!call.active)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s may be called only by a tool handler, prompt renderer or resource reader", fn),
				 errdetail("Input from the client can be asked on tools/call, prompts/get and resources/read only.")));
}

static char *
check_key(text *t)
{
	char	   *key = text_to_cstring(t);
	int			i,
				n = strlen(key);

	if (n == 0 || n > MAX_KEY_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an input request key is 1 to %d characters", MAX_KEY_LEN)));
	for (i = 0; i < n; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
			  (key[i] >= '0' && key[i] <= '9') || key[i] == '_' || key[i] == '-' || key[i] == '.'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid input request key \"%s\"", key),
					 errdetail("Keys are letters, digits, \"_\", \"-\" and \".\".")));
	return key;
}

static JsonbValue *
cap(const char *name)
{
	JsonbValue *v = jsonb_object_get(&call.caps->root, name);

	return jsonb_value_is_object(v) ? v : NULL;
}

/* Raise -32021 unless the client declared what method (mode) needs. */
static void
require_capability(const char *method, bool url_mode)
{
	const char *missing = NULL;

	if (strcmp(method, "elicitation/create") == 0)
	{
		JsonbValue *e = cap("elicitation");

		if (url_mode)
		{
			if (e == NULL || !jsonb_value_is_object(jsonb_object_get(e->val.binary.data, "url")))
				missing = "{\"elicitation\":{\"url\":{}}}";
		}
		else if (e == NULL ||
				 (jsonb_object_get(e->val.binary.data, "form") == NULL &&
				  jsonb_object_get(e->val.binary.data, "url") != NULL))
			missing = "{\"elicitation\":{\"form\":{}}}";
		if (!url_mode && e == NULL)
			missing = "{\"elicitation\":{}}";
	}
	else if (strcmp(method, "sampling/createMessage") == 0)
	{
		if (cap("sampling") == NULL)
			missing = "{\"sampling\":{}}";
	}
	else if (cap("roots") == NULL)
		missing = "{\"roots\":{}}";
	if (missing == NULL)
		return;
	if (call.missing_cap == NULL)
		call.missing_cap = MemoryContextStrdup(call.cxt, missing);
	ereport(ERROR,
			(errcode(ERRCODE_MTMCP_MISSING_CAPABILITY),
			 errmsg("the client did not declare the capability this request needs")));
}

/* Is answer a plausible result of method? */
static bool
answer_fits(const char *method, JsonbValue *answer)
{
	JsonbContainer *c = answer->val.binary.data;

	if (strcmp(method, "elicitation/create") == 0)
	{
		char	   *action = jsonb_value_cstring(jsonb_object_get(c, "action"));

		return action != NULL && (strcmp(action, "accept") == 0 || strcmp(action, "decline") == 0 ||
								  strcmp(action, "cancel") == 0);
	}
	if (strcmp(method, "sampling/createMessage") == 0)
		return jsonb_object_get(c, "content") != NULL && jsonb_object_get(c, "role") != NULL;
	return jsonb_value_is_array(jsonb_object_get(c, "roots"));
}

/*
 * The common path of the four asking functions: the answer (a palloc'd
 * Jsonb), or NULL after recording the request (raising unless !wait).
 */
static Jsonb *
ask(text *keyt, const char *method, const char *params_json, bool url_mode, bool wait)
{
	char	   *key = check_key(keyt);
	char	   *digest;
	StringInfoData q;
	JsonbValue *v;
	MemoryContext old;

	require_capability(method, url_mode);

	initStringInfo(&q);
	appendStringInfoString(&q, method);
	appendStringInfoChar(&q, '\n');
	appendStringInfoString(&q, params_json);
	digest = b64_digest(q.data, q.len);

	/* this round's answer, when it answers this question */
	if (call.responses != NULL && (v = jsonb_object_get(&call.responses->root, key)) != NULL &&
		jsonb_value_is_object(v))
	{
		char	   *asked_as = call.pending ? jsonb_value_cstring(jsonb_object_get(&call.pending->root, key)) : NULL;
		JsonbValue *err = jsonb_object_get(v->val.binary.data, "error");

		if (asked_as == NULL || strcmp(asked_as, digest) == 0)
		{
			if (jsonb_value_is_object(err))
			{
				char	   *m = jsonb_value_cstring(jsonb_object_get(err->val.binary.data, "message"));

				ereport(ERROR,
						(errcode(ERRCODE_MTMCP_INPUT_REFUSED),
						 errmsg("the client refused input request \"%s\"%s%s", key, m ? ": " : "", m ? m : "")));
			}
			if (answer_fits(method, v))
			{
				Jsonb	   *a = jsonb_value_to_jsonb(v);

				if (!key_in(call.used_keys, call.nused, key) && call.nused < MAX_ASKS)
				{
					StringInfoData e;

					old = MemoryContextSwitchTo(call.cxt);
					initStringInfo(&e);
					appendStringInfoString(&e, "{\"d\":");
					json_append_string(&e, digest);
					appendStringInfoString(&e, ",\"a\":");
					json_append_jsonb(&e, a);
					appendStringInfoChar(&e, '}');
					append_member(call.used, key, e.data);
					call.used_keys[call.nused++] = pstrdup(key);
					MemoryContextSwitchTo(old);
				}
				return a;
			}
		}
	}
	/* an earlier round's answer to the same question */
	if (call.prior != NULL && (v = jsonb_object_get(&call.prior->root, key)) != NULL &&
		jsonb_value_is_object(v))
	{
		char	   *d = jsonb_value_cstring(jsonb_object_get(v->val.binary.data, "d"));
		JsonbValue *a = jsonb_object_get(v->val.binary.data, "a");

		if (d != NULL && strcmp(d, digest) == 0 && a != NULL)
			return jsonb_value_to_jsonb(a);
	}

	/* not answered: ask */
	if (key_in(call.asked_keys, call.nasked, key))
	{
		int			i;

		for (i = 0; i < call.nasked; i++)
			if (strcmp(call.asked_keys[i], key) == 0 && strcmp(call.asked_d[i], digest) != 0)
			{
				/* a handler's bug, not a question: it fails as such */
				call.nasked = 0;
				resetStringInfo(call.asked);
				resetStringInfo(call.asked_digests);
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("input request key \"%s\" is used for two different requests", key)));
			}
	}
	else
	{
		StringInfoData r;

		if (call.nasked == MAX_ASKS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("at most %d input requests per round", MAX_ASKS)));
		old = MemoryContextSwitchTo(call.cxt);
		initStringInfo(&r);
		appendStringInfoString(&r, "{\"method\":");
		json_append_string(&r, method);
		appendStringInfo(&r, ",\"params\":%s}", params_json);
		append_member(call.asked, key, r.data);
		initStringInfo(&r);
		json_append_string(&r, digest);
		append_member(call.asked_digests, key, r.data);
		call.asked_keys[call.nasked] = pstrdup(key);
		call.asked_d[call.nasked] = pstrdup(digest);
		call.nasked++;
		MemoryContextSwitchTo(old);
	}
	if (wait)
		mtmcp_mrtr_check_pending();
	return NULL;
}

#define RETURN_ANSWER(a) do { Jsonb *a_ = (a); if (a_ == NULL) PG_RETURN_NULL(); PG_RETURN_JSONB_P(a_); } while (0)

static void
require_args(FunctionCallInfo fcinfo, int n, const char *fn)
{
	int			i;

	for (i = 0; i < n; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the arguments of %s must not be null", fn)));
}

PG_FUNCTION_INFO_V1(mtmcp_elicit);

/* SQL: mtmcp.elicit(key, message, requested_schema, wait) -> ElicitResult */
Datum
mtmcp_elicit(PG_FUNCTION_ARGS)
{
	StringInfoData p;
	Jsonb	   *schema;

	mtmcp_require_preloaded();
	require_call("mtmcp.elicit");
	require_args(fcinfo, 4, "mtmcp.elicit");
	schema = PG_GETARG_JSONB_P(2);
	if (!JB_ROOT_IS_OBJECT(schema))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("requested_schema must be a JSON object")));
	initStringInfo(&p);
	appendStringInfoString(&p, "{\"message\":");
	json_append_string(&p, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	appendStringInfoString(&p, ",\"requestedSchema\":");
	json_append_jsonb(&p, schema);
	appendStringInfoChar(&p, '}');
	RETURN_ANSWER(ask(PG_GETARG_TEXT_PP(0), "elicitation/create", p.data, false, PG_GETARG_BOOL(3)));
}

PG_FUNCTION_INFO_V1(mtmcp_elicit_url);

/* SQL: mtmcp.elicit_url(key, message, url, wait) -> ElicitResult */
Datum
mtmcp_elicit_url(PG_FUNCTION_ARGS)
{
	StringInfoData p;
	char	   *key;

	mtmcp_require_preloaded();
	require_call("mtmcp.elicit_url");
	require_args(fcinfo, 4, "mtmcp.elicit_url");
	key = text_to_cstring(PG_GETARG_TEXT_PP(0));
	initStringInfo(&p);
	appendStringInfoString(&p, "{\"mode\":\"url\",\"message\":");
	json_append_string(&p, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	appendStringInfoString(&p, ",\"url\":");
	json_append_string(&p, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	/* the key names the elicitation, so a client can match its completion */
	appendStringInfoString(&p, ",\"elicitationId\":");
	json_append_string(&p, key);
	appendStringInfoChar(&p, '}');
	RETURN_ANSWER(ask(PG_GETARG_TEXT_PP(0), "elicitation/create", p.data, true, PG_GETARG_BOOL(3)));
}

PG_FUNCTION_INFO_V1(mtmcp_sample);

/* SQL: mtmcp.sample(key, params, wait) -> CreateMessageResult */
Datum
mtmcp_sample(PG_FUNCTION_ARGS)
{
	Jsonb	   *params;
	StringInfoData p;

	mtmcp_require_preloaded();
	require_call("mtmcp.sample");
	require_args(fcinfo, 3, "mtmcp.sample");
	params = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(params) ||
		!jsonb_value_is_array(jsonb_object_get(&params->root, "messages")) ||
		jsonb_object_get(&params->root, "maxTokens") == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sampling params must be an object with \"messages\" (an array) and \"maxTokens\"")));
	initStringInfo(&p);
	json_append_jsonb(&p, params);
	RETURN_ANSWER(ask(PG_GETARG_TEXT_PP(0), "sampling/createMessage", p.data, false, PG_GETARG_BOOL(2)));
}

PG_FUNCTION_INFO_V1(mtmcp_list_roots);

/* SQL: mtmcp.list_roots(key, wait) -> ListRootsResult */
Datum
mtmcp_list_roots(PG_FUNCTION_ARGS)
{
	mtmcp_require_preloaded();
	require_call("mtmcp.list_roots");
	require_args(fcinfo, 2, "mtmcp.list_roots");
	RETURN_ANSWER(ask(PG_GETARG_TEXT_PP(0), "roots/list", "{}", false, PG_GETARG_BOOL(1)));
}

PG_FUNCTION_INFO_V1(mtmcp_await_input);

/* SQL: mtmcp.await_input() -- ends the round when something asked is unanswered */
Datum
mtmcp_await_input(PG_FUNCTION_ARGS)
{
	mtmcp_require_preloaded();
	require_call("mtmcp.await_input");
	mtmcp_mrtr_check_pending();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(mtmcp_client_capabilities);

/* SQL: mtmcp.client_capabilities() -> what the client declared ({} outside a request) */
Datum
mtmcp_client_capabilities(PG_FUNCTION_ARGS)
{
	mtmcp_require_preloaded();
	if (!call.active)
		PG_RETURN_JSONB_P(json_text_to_jsonb("{}"));
	PG_RETURN_JSONB_P(call.caps);
}
