/*
 * listen.c -- subscriptions/listen (2026-07-28) and list-change announcements
 *
 * A stateless client opens a notification stream with subscriptions/listen
 * (params.notifications: toolsListChanged, promptsListChanged,
 * resourcesListChanged).  The database authenticates and audits it like any
 * request and answers, through mcp_http, with
 *
 *   - the acknowledgement, complete: notifications/subscriptions/acknowledged
 *     with _meta["io.modelcontextprotocol/subscriptionId"] = the request's id
 *     and params.notifications = the kinds it agreed to (resource
 *     subscriptions are not offered on listen streams);
 *   - in the session_id column, the tenant's listen key.
 *
 * The shim keeps the stream open and, on its LISTEN connection, takes every
 * NOTIFY mtmcp_list_changed "<listen key> <kind>" to the streams of that key
 * that asked for the kind.  The listen key is
 * 'l' || hex(HMAC(request-state secret, "mtmcp-listen-key-v1\0" || tenant))[0:32]:
 * the same for every listen of one tenant, opaque to the shim and to anyone
 * who can LISTEN on the channel (no tenant name travels), and impossible to
 * compute for another tenant without the secret.  Rotating the secret
 * changes every key: streams opened before it hear nothing more (clients
 * listen again).
 *
 * Who announces: the configuration triggers (src/sql/listen.sql) for every
 * tenant whose catalog a change touches, and handlers through
 * mtmcp.notify_list_changed(kind), for the verified tenant only.  NOTIFY is
 * transactional (sent at commit, dropped on rollback, duplicates within a
 * transaction folded), so a rolled-back change announces nothing.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "codec.h"
#include "identity.h"
#include "jsonutil.h"
#include "listen.h"
#include "mtmcp.h"

#define LISTEN_CHANNEL "mtmcp_list_changed"

/* the request-state key (mrtr.c seals with it too, under another label) */
static MtmcpSecret secret = {"request_state_secret"};

static const char *const kinds[] = {"tools", "prompts", "resources", NULL};
static const char *const filter_names[] = {"toolsListChanged", "promptsListChanged", "resourcesListChanged", NULL};

char *
mtmcp_listen_key(const char *tenant)
{
	uint8		h[MTMCP_SHA256_LEN];
	char	   *key = palloc(34);
	StringInfoData m;
	int			i;

	mtmcp_secret_load(&secret);
	initStringInfo(&m);
	appendBinaryStringInfo(&m, "mtmcp-listen-key-v1", sizeof("mtmcp-listen-key-v1"));	/* with its NUL */
	appendStringInfoString(&m, tenant);
	mtmcp_hmac_sha256(secret.bytes, secret.len, m.data, m.len, h);
	pfree(m.data);
	key[0] = 'l';
	for (i = 0; i < 16; i++)
		snprintf(key + 1 + 2 * i, 3, "%02x", h[i]);
	return key;
}

static bool
kind_valid(const char *kind)
{
	int			i;

	for (i = 0; kinds[i] != NULL; i++)
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	return false;
}

static void
announce(const char *tenant, const char *kind)
{
	Async_Notify(LISTEN_CHANNEL, psprintf("%s %s", mtmcp_listen_key(tenant), kind));
}

int
mtmcp_listen(const MtmcpIdentity *id, JsonbValue *idv, JsonbContainer *params, StringInfo out,
			 char **listen_key, const char **rpc_msg)
{
	JsonbValue *filter = jsonb_object_get(params, "notifications");
	bool		first = true;
	int			i;

	if (!jsonb_value_is_object(filter))
	{
		*rpc_msg = "Invalid params: notifications must be an object";
		return JSONRPC_INVALID_PARAMS;
	}
	appendStringInfoString(out, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\","
						   "\"params\":{\"notifications\":{");
	for (i = 0; filter_names[i] != NULL; i++)
	{
		JsonbValue *v = jsonb_object_get(filter->val.binary.data, filter_names[i]);

		if (v == NULL || v->type != jbvBool || !v->val.boolean)
			continue;
		appendStringInfo(out, "%s\"%s\":true", first ? "" : ",", filter_names[i]);
		first = false;
	}
	appendStringInfoString(out, "},\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":");
	json_append_value(out, idv);
	appendStringInfoString(out, "}}}");
	*listen_key = mtmcp_listen_key(id->tenant);
	return 0;
}

PG_FUNCTION_INFO_V1(mtmcp_notify_list_changed);

/*
 * SQL: mtmcp.notify_list_changed(kind text).  From a handler (or any code
 * running for a verified tenant): the tenant's tools, prompts or resources
 * list changed; its listen streams that asked for that kind hear it at
 * commit.  Only the verified tenant can be announced.
 */
Datum
mtmcp_notify_list_changed(PG_FUNCTION_ARGS)
{
	const char *tenant;
	char	   *kind;

	mtmcp_require_preloaded();
	tenant = mtmcp_verified_tenant();
	if (tenant == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no verified tenant in this transaction")));
	kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!kind_valid(kind))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list kind \"%s\"", kind),
				 errhint("Use tools, prompts or resources.")));
	announce(tenant, kind);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(mtmcp_announce_list_changed);

/*
 * SQL: mtmcp._announce_list_changed(tenant_ids text[], kinds text[]).  For
 * the configuration triggers: every kind to every tenant named (NULL
 * elements skipped).  Not granted to anyone: the triggers run it as the
 * extension's owner.
 */
Datum
mtmcp_announce_list_changed(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *ka = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *tv,
			   *kv;
	bool	   *tn,
			   *kn;
	int			nt,
				nk,
				i,
				j;

	mtmcp_require_preloaded();
	deconstruct_array(ta, TEXTOID, -1, false, TYPALIGN_INT, &tv, &tn, &nt);
	deconstruct_array(ka, TEXTOID, -1, false, TYPALIGN_INT, &kv, &kn, &nk);
	for (j = 0; j < nk; j++)
		if (!kn[j] && !kind_valid(TextDatumGetCString(kv[j])))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid list kind \"%s\"", TextDatumGetCString(kv[j]))));
	for (i = 0; i < nt; i++)
	{
		char	   *tenant;

		if (tn[i])
			continue;
		tenant = TextDatumGetCString(tv[i]);
		for (j = 0; j < nk; j++)
			if (!kn[j])
				announce(tenant, TextDatumGetCString(kv[j]));
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(mtmcp_listen_key_sql);

/*
 * SQL: mtmcp._listen_key(tenant_id text).  The tenant's listen key, for
 * tests and operators (LISTEN mtmcp_list_changed and match it).  Not granted.
 */
Datum
mtmcp_listen_key_sql(PG_FUNCTION_ARGS)
{
	mtmcp_require_preloaded();
	PG_RETURN_TEXT_P(cstring_to_text(mtmcp_listen_key(text_to_cstring(PG_GETARG_TEXT_PP(0)))));
}
