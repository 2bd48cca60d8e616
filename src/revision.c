/*
 * revision.c -- MCP 2026-07-28 (stateless) beside the session revisions
 *
 * 2026-07-28 has no initialize and no session: every request carries
 * params._meta with io.modelcontextprotocol/protocolVersion and
 * io.modelcontextprotocol/clientCapabilities (clientInfo optional,
 * logLevel optional).  The dispatcher asks mtmcp_revision_stateless which
 * revision a message speaks; for a stateless one:
 *
 *   - _meta is checked (-32602, HTTP 400, data.missing naming the key), the
 *     version must be one we implement (-32022, HTTP 400, data.supported and
 *     data.requested);
 *   - initialize, ping, logging/setLevel, resources/(un)subscribe and
 *     unknown methods answer -32601 with HTTP 404;
 *   - server/discover answers the supported versions, the capabilities
 *     (listChanged for tools, prompts and resources: subscriptions/listen,
 *     listen.c) and the server's identity (in _meta,
 *     io.modelcontextprotocol/serverInfo);
 *   - every result carries resultType ("complete", or "input_required" from
 *     mrtr.c), and the results the revision lets clients cache (tools/list,
 *     prompts/list, resources/list, resources/templates/list,
 *     resources/read) carry ttlMs and cacheScope.
 *
 * cacheScope is always "private" for those: what they list depends on the
 * tenant (plan features, tool switches, descriptions, terms) and on the
 * token's scopes, so a cache may reuse an answer only for the same
 * authorization context (the same token), never across tenants or callers.
 * server/discover, the same for everyone, is "public".
 *
 * The tenant never comes from _meta: it is the verified token's.
 */
#include "postgres.h"

#include "utils/formatting.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "catalog.h"
#include "jsonutil.h"
#include "mrtr.h"
#include "mtmcp.h"
#include "revision.h"

#define META_PREFIX "io.modelcontextprotocol/"

/* every revision this server speaks, newest first (sessions: dispatch.c) */
static const char *const all_versions[] = {
	MTMCP_STATELESS_VERSION, "2025-11-25", "2025-06-18", "2025-03-26", NULL
};

int			mtmcp_list_cache_ttl = 60000;

void
RevisionInit(void)
{
	DefineCustomIntVariable("mtmcp.list_cache_ttl",
							gettext_noop("ttlMs of cacheable 2026-07-28 list results (milliseconds; 0: do not reuse)."),
							NULL,
							&mtmcp_list_cache_ttl,
							60000, 0, 24 * 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

static JsonbContainer *
meta_of(JsonbContainer *params)
{
	JsonbValue *m = jsonb_object_get(params, "_meta");

	return jsonb_value_is_object(m) ? m->val.binary.data : NULL;
}

bool
mtmcp_revision_stateless(const char *session_id, const char *method, JsonbContainer *params, Jsonb *headers)
{
	JsonbContainer *meta;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *hv;

	if (session_id != NULL)
		return false;
	if (method != NULL && strcmp(method, "server/discover") == 0)
		return true;
	/* the shim's MCP-Protocol-Version header (the five-argument mcp_http) */
	hv = headers != NULL && JB_ROOT_IS_OBJECT(headers)
		? jsonb_value_cstring(jsonb_object_get(&headers->root, "mcp-protocol-version")) : NULL;
	if (hv != NULL && strcmp(hv, MTMCP_STATELESS_VERSION) == 0)
		return true;
	meta = meta_of(params);
	if (meta == NULL)
		return false;
	it = JsonbIteratorInit(meta);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_KEY && v.val.string.len > (int) strlen(META_PREFIX) &&
			memcmp(v.val.string.val, META_PREFIX, strlen(META_PREFIX)) == 0)
			return true;
	return false;
}

static void
append_versions(StringInfo out)
{
	int			i;

	appendStringInfoChar(out, '[');
	for (i = 0; all_versions[i] != NULL; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, ',');
		json_append_string(out, all_versions[i]);
	}
	appendStringInfoChar(out, ']');
}

int
mtmcp_revision_check_meta(JsonbContainer *params, Jsonb **caps, char **log_level,
						  const char **rpc_msg, char **rpc_data, int *http_status)
{
	JsonbContainer *meta = meta_of(params);
	JsonbValue *pv;
	JsonbValue *cv;
	JsonbValue *lv;
	char	   *version;

	*http_status = 400;
	if (meta == NULL)
	{
		*rpc_msg = "Invalid params: _meta is required";
		*rpc_data = "{\"missing\":\"_meta\"}";
		return JSONRPC_INVALID_PARAMS;
	}
	pv = jsonb_object_get(meta, META_PREFIX "protocolVersion");
	version = jsonb_value_cstring(pv);
	if (version == NULL)
	{
		*rpc_msg = "Invalid params: _meta[\"io.modelcontextprotocol/protocolVersion\"] is required";
		*rpc_data = "{\"missing\":\"io.modelcontextprotocol/protocolVersion\"}";
		return JSONRPC_INVALID_PARAMS;
	}
	cv = jsonb_object_get(meta, META_PREFIX "clientCapabilities");
	if (!jsonb_value_is_object(cv))
	{
		*rpc_msg = "Invalid params: _meta[\"io.modelcontextprotocol/clientCapabilities\"] is required";
		*rpc_data = "{\"missing\":\"io.modelcontextprotocol/clientCapabilities\"}";
		return JSONRPC_INVALID_PARAMS;
	}
	if (strcmp(version, MTMCP_STATELESS_VERSION) != 0)
	{
		StringInfoData d;

		initStringInfo(&d);
		appendStringInfoString(&d, "{\"supported\":");
		append_versions(&d);
		appendStringInfoString(&d, ",\"requested\":");
		json_append_string(&d, version);
		appendStringInfoChar(&d, '}');
		*rpc_msg = "Unsupported protocol version";
		*rpc_data = d.data;
		return MCP_UNSUPPORTED_VERSION;
	}
	lv = jsonb_object_get(meta, META_PREFIX "logLevel");
	*log_level = jsonb_value_cstring(lv);
	if (*log_level == NULL)
		*log_level = "off";
	*caps = jsonb_value_to_jsonb(cv);
	*http_status = 200;
	return 0;
}

bool
mtmcp_revision_method_unknown(const char *method)
{
	static const char *const kept[] = {
		"server/discover", "tools/list", "tools/call", "resources/list", "resources/read",
		"resources/templates/list", "prompts/list", "prompts/get", "completion/complete",
		"subscriptions/listen", NULL
	};
	int			i;

	for (i = 0; kept[i] != NULL; i++)
		if (strcmp(method, kept[i]) == 0)
			return false;
	return true;
}

void
mtmcp_revision_discover(StringInfo result)
{
	appendStringInfoString(result, "{\"supportedVersions\":");
	append_versions(result);
	appendStringInfoString(result,
						   ",\"capabilities\":{\"tools\":{\"listChanged\":true},"
						   "\"resources\":{\"listChanged\":true},\"prompts\":{\"listChanged\":true},"
						   "\"completions\":{},\"logging\":{}}"
						   ",\"_meta\":{\"" META_PREFIX "serverInfo\":{\"name\":\"mtmcp\","
						   "\"title\":\"mtmcp multi-tenant MCP server\",\"version\":\"" MTMCP_VERSION "\"}}");
	appendStringInfo(result, ",\"ttlMs\":%d,\"cacheScope\":\"public\"}", mtmcp_list_cache_ttl);
}

static bool
cacheable(const char *method)
{
	return strcmp(method, "tools/list") == 0 || strcmp(method, "prompts/list") == 0 ||
		strcmp(method, "resources/list") == 0 || strcmp(method, "resources/templates/list") == 0 ||
		strcmp(method, "resources/read") == 0;
}

void
mtmcp_revision_decorate(const char *method, StringInfo result)
{
	bool		empty;

	/* input_required results (mrtr.c) and discover carry their own */
	if (result->len < 2 || result->data[0] != '{' || result->data[result->len - 1] != '}' ||
		strncmp(result->data, "{\"resultType\":", 14) == 0 || strcmp(method, "server/discover") == 0)
		return;
	/* last members win in jsonb: ours go at the end, after anything a handler wrote */
	result->len--;
	result->data[result->len] = '\0';
	empty = result->len == 1;
	appendStringInfoString(result, empty ? "\"resultType\":\"complete\"" : ",\"resultType\":\"complete\"");
	if (cacheable(method))
		appendStringInfo(result, ",\"ttlMs\":%d,\"cacheScope\":\"private\"",
						 strcmp(method, "resources/read") == 0 ? 0 : mtmcp_list_cache_ttl);
	appendStringInfoChar(result, '}');
}

/* The JSON text of v, or the string itself. */
static char *
value_text(JsonbValue *v)
{
	StringInfoData b;

	if (v->type == jbvString)
		return jsonb_value_cstring(v);
	initStringInfo(&b);
	json_append_value(&b, v);
	return b.data;
}

int
mtmcp_revision_check_param_headers(const MtmcpIdentity *id, Jsonb *headers, JsonbContainer *params,
								   const char **rpc_msg)
{
	char	   *name = jsonb_value_cstring(jsonb_object_get(params, "name"));
	JsonbValue *av = jsonb_object_get(params, "arguments");
	JsonbValue *hp;
	JsonbValue *props;
	MtmcpTool  *tools;
	MtmcpTool  *t;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *prop = NULL;

	if (headers == NULL || !JB_ROOT_IS_OBJECT(headers) || name == NULL || !jsonb_value_is_object(av))
		return 0;
	(void) mtmcp_catalog_tools(&tools);
	t = mtmcp_catalog_find(name);
	/* a tool outside the caller's catalog answers for itself, like a missing one */
	if (t == NULL || !mtmcp_tool_visible(id, t) || t->input_schema == NULL ||
		!JB_ROOT_IS_OBJECT(t->input_schema))
		return 0;
	props = jsonb_object_get(&t->input_schema->root, "properties");
	if (!jsonb_value_is_object(props))
		return 0;
	hp = jsonb_object_get(&headers->root, "mcp-param");
	it = JsonbIteratorInit(props->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *header;
		JsonbValue *arg;
		JsonbValue *sent;
		char	   *lower;

		if (tok == WJB_KEY)
		{
			prop = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE || !jsonb_value_is_object(&v))
			continue;
		header = jsonb_value_cstring(jsonb_object_get(v.val.binary.data, "x-mcp-header"));
		if (header == NULL)
			continue;
		arg = jsonb_object_get(av->val.binary.data, prop);
		if (arg == NULL || arg->type == jbvNull)
			continue;
		lower = asc_tolower(header, strlen(header));
		sent = jsonb_value_is_object(hp) ? jsonb_object_get(hp->val.binary.data, lower) : NULL;
		if (sent == NULL || sent->type != jbvString ||
			strcmp(jsonb_value_cstring(sent), value_text(arg)) != 0)
		{
			*rpc_msg = psprintf("Header mismatch: Mcp-Param-%s must carry the value of argument \"%s\"", header, prop);
			return MCP_HEADER_MISMATCH;
		}
	}
	return 0;
}
