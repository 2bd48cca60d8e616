/*
 * mtmcp.h -- declarations shared by the backend modules of mtmcp
 *
 * Module map (one home per concern):
 *   mtmcp.c     _PG_init, the preload requirement
 *   identity.c  token -> verified tenant; the mtmcp.tenant_id setting
 *   cache.c     invalidation of per-backend caches when configuration changes
 *   dispatch.c  the JSON-RPC envelope and method routing (mcp_dispatch)
 *   tools.c     tools/list, tools/call, handler safety
 *   audit.c     audit rows, redaction, the observability budget
 *   cost.c      charges: meters, per-call and bucketed ledger rows
 *   counters.c  per-tenant windowed counters in shared memory
 *   jsonutil.c  small helpers for reading jsonb and writing JSON text
 *   jwt.c       pure C: JWS parsing and verification (no PostgreSQL headers)
 */
#ifndef MTMCP_H
#define MTMCP_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/elog.h"
#include "utils/jsonb.h"

#define MTMCP_VERSION			"1.0.0"
#define MTMCP_TOOL_ROLE			"mtmcp_tool"
#define MTMCP_MAX_TENANT_LEN	64
#define MTMCP_MAX_SUBJECT_LEN	512

/* mtmcp.c */
extern bool mtmcp_preloaded;
extern void mtmcp_require_preloaded(void);
extern int	mtmcp_text_array(ArrayType *arr, char ***out);
extern struct _SPI_plan *mtmcp_keep_plan(const char *sql, int nargs, Oid *types);

/* cache.c */
extern void CacheInit(void);
extern uint64 mtmcp_config_generation(void);
extern void mtmcp_track_config_relation(const char *relname);

/*
 * identity.c
 *
 * An authentication outcome.  On failure, reason is a stable machine-readable
 * string, http_status 401 (who are you?) or 403 (known, but refused).
 */
typedef struct MtmcpIdentity
{
	char	   *tenant;
	char	   *subject;
	char	   *scopes;			/* space-separated, "" for none */
	char	   *issuer;
	char	   *plan;
	char	  **features;		/* the plan's features */
	int			nfeatures;
	Jsonb	   *settings;		/* plan settings overlaid with the tenant's own */
} MtmcpIdentity;

typedef struct MtmcpAuthError
{
	const char *reason;
	int			http_status;
	char	   *detail;			/* for logs and authenticate()'s errdetail; never sent to clients */
} MtmcpAuthError;

extern void IdentityInit(void);
extern bool mtmcp_verify_request(const char *token, MtmcpIdentity *id, MtmcpAuthError *err);
extern int	mtmcp_enter_identity(const MtmcpIdentity *id);
extern void mtmcp_leave_identity(int nestlevel);
extern bool mtmcp_has_scope(const MtmcpIdentity *id, const char *scope);
extern bool mtmcp_has_feature(const MtmcpIdentity *id, const char *feature);
extern const char *mtmcp_verified_tenant(void);
extern const char *mtmcp_verified_subject(void);
extern void mtmcp_append_b64url(StringInfo out, const void *data, size_t len);
extern uint8 *mtmcp_b64url_decode(const char *s, size_t len, size_t *outlen);

/* counters.c */
typedef enum MtmcpCounterResult
{
	MTMCP_COUNTER_OK,
	MTMCP_COUNTER_OVER,
	MTMCP_COUNTER_UNTRACKED
} MtmcpCounterResult;

#define MTMCP_COUNTER_AUDIT			1
#define MTMCP_COUNTER_AUTH_FAILURES	2
#define MTMCP_COUNTER_RATE			3

extern void CountersInit(void);
extern MtmcpCounterResult mtmcp_counter_take(int kind, const char *scope, int64 now,
											 int64 width_secs, int64 limit, int64 *window_start);

/* audit.c: one event per dispatched message */
typedef struct MtmcpAuditEvent
{
	TimestampTz start;
	char		event_id[37];
	char		trace_id[33];
	char		span_id[17];
	char		parent_span_id[17];	/* "" when the caller sent none */
	char	   *session_id;
	char	   *request_id;		/* the JSON-RPC id as text */
	char	   *method;
	char	   *target;			/* tool, resource or prompt name */
	const char *result_kind;	/* ok, tool_error, denied, invalid, not_found, ... */
	const char *severity;		/* info, warning, security */
	char	   *error_code;		/* JSON-RPC code or SQLSTATE */
	char	   *detail;			/* security event kind, for alerting */
	Jsonb	   *arguments;		/* redacted when written */
	char	  **redact_paths;
	int			nredact;
} MtmcpAuditEvent;

extern void AuditInit(void);
extern void mtmcp_audit_begin(MtmcpAuditEvent *ev, JsonbContainer *params);
extern bool mtmcp_audit_write(const MtmcpIdentity *id, MtmcpAuditEvent *ev);
extern void mtmcp_audit_auth_failure(MtmcpAuditEvent *ev, const MtmcpAuthError *err);
extern void mtmcp_random_hex(char *out, int nbytes);
extern Jsonb *mtmcp_redact(Jsonb *args, char **paths, int npaths);

/* cost.c */
extern void CostInit(void);
extern void mtmcp_cost_flush_calls(const char *event_id, const char *tool);
extern void mtmcp_cost_flush_buckets(void);

/*
 * jsonschema.c: JSON Schema 2020-12 (the subset tools need), over jsonb.
 * mtmcp_schema_check raises ERRCODE_INVALID_PARAMETER_VALUE for a malformed
 * schema.  mtmcp_schema_validate returns true, or false with *error set to
 * "<path>: <message>" (palloc'd) for the first violation found.
 */
extern void mtmcp_schema_check(Jsonb *schema);
extern bool mtmcp_schema_validate(Jsonb *schema, Jsonb *instance, char **error);

/* catalog.c: registered tools, and what each tenant and caller may see */
typedef struct MtmcpTool
{
	int			index;
	char	   *name;
	char	   *description;
	Oid			handler;
	char	   *feature;
	char	   *scope;
	bool		destructive;
	Jsonb	   *input_schema;
	Jsonb	   *output_schema;	/* NULL when none */
	char	  **redact_paths;
	int			nredact;
	char	   *listing_tail;	/* the listing after the description */
	char	   *listing;		/* the tools/list entry with the registered description */
} MtmcpTool;

extern void CatalogInit(void);
extern int	mtmcp_catalog_tools(MtmcpTool **out);
extern MtmcpTool *mtmcp_catalog_find(const char *name);
extern bool mtmcp_tenant_has_feature(const MtmcpIdentity *id, const char *feature);
extern bool mtmcp_tool_visible(const MtmcpIdentity *id, const MtmcpTool *t);
extern const char *mtmcp_tool_listing(const MtmcpIdentity *id, const MtmcpTool *t);
extern Jsonb *mtmcp_tool_defaults(const MtmcpIdentity *id, const MtmcpTool *t);
extern char *mtmcp_apply_tenant_terms(const MtmcpIdentity *id, const char *text);
extern char *mtmcp_reserved_argument(JsonbContainer *c);

/* cursor.c: opaque, caller-bound pagination cursors */
extern char *mtmcp_cursor_make(const char *kind, const MtmcpIdentity *id, const char *position);
extern bool mtmcp_cursor_read(const char *cursor, const char *kind, const MtmcpIdentity *id, char **position);
extern int	mtmcp_page_size;
extern void CursorInit(void);

typedef struct MtmcpPager
{
	const char *kind;
	const MtmcpIdentity *id;
	StringInfo	out;
	char	   *after;			/* the cursor's position, or NULL */
	const char *last;
	int			emitted;
	bool		more;
} MtmcpPager;

extern int	mtmcp_pager_begin(MtmcpPager *pg, const char *kind, const MtmcpIdentity *id, JsonbContainer *params,
							  StringInfo out, const char *key, const char **rpc_msg);
extern bool mtmcp_pager_skip(MtmcpPager *pg, const char *name);
extern bool mtmcp_pager_next(MtmcpPager *pg, const char *name);
extern void mtmcp_pager_end(MtmcpPager *pg);

/* tools.c */
extern bool mtmcp_run_as_tool(Oid fn, Jsonb *args, Jsonb *output_schema, Jsonb **result,
							  ErrorData **error, char **output_error);
extern char *mtmcp_tool_error_text(const char *tool, ErrorData *edata);

/* resources.c */
extern int	mtmcp_resources_read(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
								 const char **rpc_msg, char **rpc_data, MtmcpAuditEvent *ev);
extern int	mtmcp_resources_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
								 const char **rpc_msg, MtmcpAuditEvent *ev);
extern int	mtmcp_resource_templates_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
										  const char **rpc_msg);
extern int	mtmcp_resources_subscribe(const MtmcpIdentity *id, JsonbContainer *params, bool subscribe,
									  const char *session_id, StringInfo result, const char **rpc_msg,
									  char **rpc_data, MtmcpAuditEvent *ev);
extern int	mtmcp_complete_resource(const MtmcpIdentity *id, const char *uri_template, const char *arg,
									const char *value, Jsonb *request, StringInfo result, const char **rpc_msg);

/* prompts.c */
extern int	mtmcp_prompts_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
							   const char **rpc_msg);
extern int	mtmcp_prompts_get(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
							  const char **rpc_msg, MtmcpAuditEvent *ev);
extern int	mtmcp_complete_prompt(const MtmcpIdentity *id, const char *prompt, const char *arg,
								  const char *value, Jsonb *request, StringInfo result, const char **rpc_msg,
								  MtmcpAuditEvent *ev);
extern void mtmcp_append_completion(StringInfo result, Jsonb *res, const char *prefix_only);
#define MCP_RESOURCE_NOT_FOUND		(-32002)
extern int	mtmcp_tools_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
							 const char **rpc_msg);
extern int	mtmcp_tools_call(const MtmcpIdentity *id, const char *name, Jsonb *args,
							 StringInfo result, const char **rpc_msg, MtmcpAuditEvent *ev);

/* dispatch.c: JSON-RPC error codes */
#define JSONRPC_PARSE_ERROR			(-32700)
#define JSONRPC_INVALID_REQUEST		(-32600)
#define JSONRPC_METHOD_NOT_FOUND	(-32601)
#define JSONRPC_INVALID_PARAMS		(-32602)
#define JSONRPC_INTERNAL_ERROR		(-32603)
#define MCP_AUTH_ERROR				(-32001)
#define MCP_SESSION_NOT_FOUND		(-32000)
#define MCP_RATE_LIMITED			(-32029)

extern int	mtmcp_session_idle_timeout;
extern void DispatchInit(void);

/* notify.c: live progress and log notifications */
extern void NotifyInit(void);
extern void mtmcp_call_begin(const char *key, JsonbContainer *params, const char *log_level);
extern void mtmcp_call_end(void);
extern int	mtmcp_log_level_rank(const char *level);

#endif							/* MTMCP_H */
