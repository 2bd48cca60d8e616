/*
 * tools.c -- tools/list, tools/call and the safety of tool handlers
 *
 * A tool is an ordinary SQL function (args jsonb) RETURNS jsonb.  It runs:
 *   - as the role mtmcp_tool (no SUPERUSER, no BYPASSRLS), whoever called
 *     mcp_dispatch, with SECURITY_LOCAL_USERID_CHANGE so it cannot SET ROLE
 *     or SET SESSION AUTHORIZATION its way out;
 *   - as a security-restricted operation, and with every setting it changes
 *     (session-level ones included) discarded when it returns: the gateway's
 *     connections are pooled, so a call must leave nothing -- no setting, temp
 *     table, held cursor or LISTEN -- for the next call, which may be another
 *     tenant's;
 *   - with the verified tenant in mtmcp.tenant_id, so the RLS policy on every
 *     registered tenant table confines it;
 *   - in a subtransaction: a handler error rolls back the handler's writes
 *     and becomes a tool result with isError: true;
 *   - under a time limit and a lock timeout (inflight.c): a handler stopped
 *     by either, or cancelled, is answered and audited as such.
 *
 * A handler that would escape RLS -- SECURITY DEFINER owned by a superuser or
 * a BYPASSRLS role -- is refused at registration and again at every call
 * (ownership and SECURITY DEFINER can change after registration).
 *
 * Visibility: a tool is in the caller's catalog when the tenant's plan has
 * its required feature and the token carries its required scope.  A call to
 * a tool outside the catalog gets exactly the answer a tool that does not
 * exist gets.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "audit.h"
#include "catalog.h"
#include "cursor.h"
#include "identity.h"
#include "inflight.h"
#include "inspect.h"
#include "jsonschema.h"
#include "jsonutil.h"
#include "mrtr.h"
#include "mtmcp.h"
#include "sandbox.h"
#include "tools.h"

/* PostgreSQL 16 folded the per-object ACL checks into object_aclcheck() */
#if PG_VERSION_NUM >= 160000
#define proc_aclcheck(fn, role, mode) object_aclcheck(ProcedureRelationId, (fn), (role), (mode))
#else
#define proc_aclcheck(fn, role, mode) pg_proc_aclcheck((fn), (role), (mode))
#endif

static bool
role_escapes_rls(Oid roleid)
{
	return superuser_arg(roleid) || has_bypassrls_privilege(roleid);
}

static Oid
tool_role_oid(void)
{
	Oid			role = get_role_oid(MTMCP_TOOL_ROLE, true);

	if (!OidIsValid(role))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", MTMCP_TOOL_ROLE),
				 errhint("Reinstall the mtmcp extension.")));
	if (role_escapes_rls(role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" must not be a superuser or bypass row-level security", MTMCP_TOOL_ROLE),
				 errhint("ALTER ROLE %s NOSUPERUSER NOBYPASSRLS;", MTMCP_TOOL_ROLE)));
	return role;
}

/*
 * Raise an error unless fn can serve as a tool handler run by mtmcp_tool
 * without escaping row-level security.
 */
static void
check_handler(Oid fn)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	Oid			toolrole = tool_role_oid();

	/* (its name, format_procedure(fn), only for the errors: it runs on every call) */
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("tool handler with OID %u does not exist", fn)));
	proc = (Form_pg_proc) GETSTRUCT(tup);

	if (proc->prokind != PROKIND_FUNCTION || proc->proretset ||
		proc->pronargs != 1 || proc->proargtypes.values[0] != JSONBOID ||
		proc->prorettype != JSONBOID)
	{
		ReleaseSysCache(tup);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("tool handler %s must be a function taking (jsonb) and returning jsonb",
						format_procedure(fn))));
	}
	if (proc->prosecdef && role_escapes_rls(proc->proowner))
	{
		char	   *owner = GetUserNameFromId(proc->proowner, true);

		ReleaseSysCache(tup);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("tool handler %s would escape row-level security", format_procedure(fn)),
				 errdetail("It is SECURITY DEFINER and owned by role \"%s\", which is a superuser or bypasses row-level security.",
						   owner ? owner : "?"),
				 errhint("Make it SECURITY INVOKER, or give it to an owner without SUPERUSER and BYPASSRLS.")));
	}
	ReleaseSysCache(tup);

	if (proc_aclcheck(fn, toolrole, ACL_EXECUTE) != ACLCHECK_OK)
	{
		char	   *fname = format_procedure(fn);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may not execute tool handler %s", MTMCP_TOOL_ROLE, fname),
				 errhint("GRANT EXECUTE ON FUNCTION %s TO %s;", fname, MTMCP_TOOL_ROLE)));
	}
}

PG_FUNCTION_INFO_V1(mtmcp_check_handler);

/* SQL: mtmcp._check_handler(regprocedure), register_tool's gate. */
Datum
mtmcp_check_handler(PG_FUNCTION_ARGS)
{
	mtmcp_require_preloaded();
	check_handler(PG_GETARG_OID(0));
	PG_RETURN_VOID();
}

/*
 * tools/list: the caller's catalog in name order, a page at a time.  Returns
 * 0, or -32602 for a cursor that is not one we gave this caller.
 */
int
mtmcp_tools_list(const MtmcpIdentity *id, JsonbContainer *params, StringInfo result,
				 const char **rpc_msg)
{
	MtmcpTool  *tools;
	int			n = mtmcp_catalog_tools(&tools);
	MtmcpPager	pg;
	int			i,
				rc;

	if ((rc = mtmcp_pager_begin(&pg, "tools/list", id, params, result, "tools", rpc_msg)) != 0)
		return rc;
	for (i = 0; i < n; i++)
	{
		if (mtmcp_pager_skip(&pg, tools[i].name) || !mtmcp_tool_visible(id, &tools[i]))
			continue;
		if (!mtmcp_pager_next(&pg, tools[i].name))
			break;
		appendStringInfoString(result, mtmcp_tool_listing(id, &tools[i]));
	}
	mtmcp_pager_end(&pg);
	return 0;
}

/*
 * Why a handler's result breaks the tool's output schema, or NULL.  The
 * structured result is the handler's object, or the structuredContent of a
 * CallToolResult it built itself.
 */
static char *
output_mismatch(Jsonb *schema, Jsonb *res)
{
	Jsonb	   *structured = res;
	char	   *err = NULL;

	if (res != NULL && JB_ROOT_IS_OBJECT(res) && jsonb_value_is_array(jsonb_object_get(&res->root, "content")))
	{
		JsonbValue *sc = jsonb_object_get(&res->root, "structuredContent");

		structured = sc != NULL ? jsonb_value_to_jsonb(sc) : NULL;
	}
	if (structured == NULL || !JB_ROOT_IS_OBJECT(structured))
		return pstrdup("$: the tool declares an output schema but returned no JSON object");
	if (!mtmcp_schema_validate(schema, structured, &err))
		return err;
	return NULL;
}

/*
 * Run a handler (a tool, or a resource reader, lister, prompt renderer or
 * completer) as mtmcp_tool in a subtransaction.  Returns true with the
 * result (NULL for SQL NULL) or false with the error, the handler's writes
 * rolled back.  The handler runs under its time limit and lock timeout
 * (inflight.c); a time limit or a cancel ends it with false and the error,
 * and mtmcp_handler_interrupted has recorded which for the call's audit
 * row.  Other errors of class 57 (operator intervention: shutdown) are not
 * the tool's to swallow and are re-thrown.
 */
bool
mtmcp_run_as_tool(Oid fn, Jsonb *args, Jsonb *output_schema, Jsonb **result, ErrorData **error,
				  char **output_error)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec;
	Oid			toolrole = tool_role_oid();
	volatile bool ok = false;
	int			gucnest;
	int			fence;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	*result = NULL;
	*error = NULL;
	*output_error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		FmgrInfo	flinfo;
		LOCAL_FCINFO(fcinfo, 1);
		Datum		d;

		/* ownership or SECURITY DEFINER may have changed since registration */
		check_handler(fn);
		SetUserIdAndSecContext(toolrole,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		gucnest = NewGUCNestLevel();
		fence = mtmcp_sandbox_enter();
		fmgr_info(fn, &flinfo);
		InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = JsonbPGetDatum(args);
		fcinfo->args[0].isnull = false;
		mtmcp_handler_begin();
		d = FunctionCallInvoke(fcinfo);
		mtmcp_handler_end();
		/* a cancel or the time limit that arrived as the handler returned ends it now */
		CHECK_FOR_INTERRUPTS();
		/* it asked the client for input (mrtr.c): this round's writes go */
		mtmcp_mrtr_check_pending();
		mtmcp_sandbox_leave(fence);
		if (!fcinfo->isnull)
			*result = DatumGetJsonbPCopy(d);
		/* as if the handler had never touched a setting, SET (not LOCAL) included */
		AtEOXact_GUC(false, gucnest);
		SetUserIdAndSecContext(save_userid, save_sec);

		/* a result that breaks the output schema is not passed through */
		if (output_schema != NULL)
			*output_error = output_mismatch(output_schema, *result);
		if (*output_error == NULL)
		{
			ReleaseCurrentSubTransaction();
			ok = true;
		}
		else
			RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		mtmcp_handler_end();
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		SetUserIdAndSecContext(save_userid, save_sec);
		mtmcp_sandbox_leave(fence);
		if (mtmcp_handler_interrupted(edata) == MTMCP_INTERRUPT_NONE &&
			ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION)
			ReThrowError(edata);
		*error = edata;
	}
	PG_END_TRY();
	return ok;
}

/*
 * What a model may read of a handler's error: messages the handler raised on
 * purpose (PL/pgSQL RAISE, class P0) and data errors (class 22) pass; the
 * rest (permissions, RLS violations, missing objects, internals) could
 * describe the schema or other tenants and are replaced by a generic text.
 */
char *
mtmcp_tool_error_text(const char *tool, ErrorData *edata)
{
	int			category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);

	if (category == ERRCODE_TO_CATEGORY(ERRCODE_RAISE_EXCEPTION) ||
		category == ERRCODE_DATA_EXCEPTION || edata->sqlerrcode == ERRCODE_MTMCP_INPUT_REFUSED)
		return pstrdup(edata->message ? edata->message : "tool failed");
	return psprintf("Tool \"%s\" failed (SQLSTATE %s).", tool, unpack_sql_state(edata->sqlerrcode));
}

static void
append_text_content(StringInfo buf, const char *text)
{
	appendStringInfoString(buf, "[{\"type\":\"text\",\"text\":");
	json_append_string(buf, text);
	appendStringInfoString(buf, "}]");
}

/*
 * Shape a handler's jsonb as a CallToolResult.  An object with a "content"
 * array is taken as a CallToolResult already; anything else becomes one
 * text block (a string as itself, other JSON as its text), plus
 * structuredContent when the tool declares an output schema.
 *
 * An object or array is wrapped in jsonb's text form -- keys in jsonb's
 * order, ", " and ": " -- so that the text is already the canonical result
 * the response carries and the audit row hashes: *wrapped is then set to
 * res, and inspect.c takes it from there (MtmcpAuditEvent.tool_result).
 */
static void
append_tool_result(StringInfo out, Jsonb *res, bool has_output_schema, Jsonb **wrapped)
{
	*wrapped = NULL;
	/* a CallToolResult already */
	if (res != NULL && JB_ROOT_IS_OBJECT(res) &&
		jsonb_value_is_array(jsonb_object_get(&res->root, "content")))
	{
		json_append_jsonb(out, res);
		return;
	}
	if (res != NULL && !JB_ROOT_IS_SCALAR(res))
	{
		StringInfoData t;

		initStringInfo(&t);
		json_append_jsonb(&t, res);
		appendStringInfoString(out, "{\"content\": [{\"text\": ");
		json_append_string(out, t.data);
		appendStringInfoString(out, ", \"type\": \"text\"}], \"isError\": false");
		if (has_output_schema && JB_ROOT_IS_OBJECT(res))
		{
			appendStringInfoString(out, ", \"structuredContent\": ");
			appendBinaryStringInfo(out, t.data, t.len);
		}
		appendStringInfoChar(out, '}');
		*wrapped = res;
		return;
	}

	appendStringInfoString(out, "{\"content\":");
	if (res == NULL)
		append_text_content(out, "null");
	else
	{
		/* a scalar: a string as itself, anything else as its JSON text */
		JsonbValue	v;

		if (JsonbExtractScalar(&res->root, &v) && v.type == jbvString)
			append_text_content(out, jsonb_value_cstring(&v));
		else
		{
			StringInfoData t;

			initStringInfo(&t);
			json_append_jsonb(&t, res);
			append_text_content(out, t.data);
		}
	}
	appendStringInfoString(out, ",\"isError\":false}");
}

static void
append_tool_error(StringInfo result, const char *text)
{
	appendStringInfoString(result, "{\"content\":");
	append_text_content(result, text);
	appendStringInfoString(result, ",\"isError\":true}");
}

/*
 * tools/call.  Returns 0 with a CallToolResult in result, or a JSON-RPC
 * error code with *rpc_msg set (a tool outside the caller's catalog answers
 * exactly like one that does not exist).  Records the outcome in ev.
 */
int
mtmcp_tools_call(const MtmcpIdentity *id, const char *name, Jsonb *args,
				 StringInfo result, const char **rpc_msg, MtmcpAuditEvent *ev)
{
	MtmcpTool  *tools;
	MtmcpTool  *t;
	Jsonb	   *defaults;
	char	   *bad;
	char	   *err = NULL;
	Jsonb	   *res;
	ErrorData  *edata;
	char	   *output_error;
	MtmcpInterrupt stop;

	(void) mtmcp_catalog_tools(&tools);
	t = mtmcp_catalog_find(name);
	if (t == NULL)
	{
		*rpc_msg = psprintf("Unknown tool: %s", name);
		ev->result_kind = "not_found";
		ev->severity = "warning";
		return JSONRPC_INVALID_PARAMS;
	}
	ev->redact_paths = t->redact_paths;
	ev->nredact = t->nredact;
	if (!mtmcp_tool_visible(id, t))
	{
		/* answered like a missing tool; recorded as what it is */
		*rpc_msg = psprintf("Unknown tool: %s", name);
		ev->result_kind = "denied";
		ev->severity = "security";
		ev->detail = "tool_not_in_catalog";
		return JSONRPC_INVALID_PARAMS;
	}

	/* the tenant never travels in arguments, whatever the schema allows */
	bad = mtmcp_reserved_argument(&args->root);
	if (bad != NULL)
	{
		append_tool_error(result, psprintf("Argument \"%s\" is not accepted: the tenant and the session come from the verified token.", bad));
		ev->result_kind = "denied";
		ev->severity = "security";
		ev->detail = "reserved_argument";
		ev->error_code = "reserved_argument";
		return 0;
	}

	/* defaults for what the caller left out: plan, then tenant, then the call */
	defaults = mtmcp_tool_defaults(id, t);
	if (defaults != NULL)
		args = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(defaults), JsonbPGetDatum(args)));
	ev->arguments = args;

	if (!mtmcp_schema_validate(t->input_schema, args, &err))
	{
		append_tool_error(result, psprintf("Invalid arguments: %s", err));
		ev->result_kind = "invalid";
		ev->severity = "warning";
		ev->error_code = "input_schema";
		return 0;
	}

	/* what the caller sent, against the tenant's prompt-injection policy */
	if (mtmcp_inspect_arguments(id, name, args, ev))
	{
		append_tool_error(result, mtmcp_inspect_refusal(ev));
		return 0;
	}

	mtmcp_call_limits(t->timeout_ms, t->lock_timeout_ms);
	if (mtmcp_run_as_tool(t->handler, args, t->output_schema, &res, &edata, &output_error))
	{
		append_tool_result(result, res, t->output_schema != NULL, &ev->tool_result);
		ev->result_kind = "ok";
		ev->severity = "info";
	}
	else if (mtmcp_mrtr_interrupted())
		return 0;				/* it stopped to ask the client: the dispatcher answers */
	else if (output_error != NULL)
	{
		append_tool_error(result, psprintf("Tool \"%s\" returned a result that does not match its output schema: %s",
										   name, output_error));
		ev->result_kind = "tool_error";
		ev->severity = "warning";
		ev->error_code = "output_schema";
	}
	else if ((stop = mtmcp_handler_interrupted(edata)) != MTMCP_INTERRUPT_NONE)
	{
		/* a time limit or a cancel: said plainly (inflight.c records it) */
		if (stop == MTMCP_INTERRUPT_TIMEOUT)
			append_tool_error(result, psprintf("Tool \"%s\" timed out after %d ms.", name, mtmcp_call_timeout_ms()));
		else if (stop == MTMCP_INTERRUPT_LOCK_TIMEOUT)
			append_tool_error(result, psprintf("Tool \"%s\" timed out waiting for a lock (%d ms).", name,
											   mtmcp_call_lock_timeout_ms()));
		else
			append_tool_error(result, psprintf("Tool \"%s\" was cancelled.", name));
		ev->result_kind = stop == MTMCP_INTERRUPT_TIMEOUT || stop == MTMCP_INTERRUPT_LOCK_TIMEOUT
			? "timeout" : "cancelled";
		ev->severity = "warning";
		ev->error_code = pstrdup(unpack_sql_state(edata->sqlerrcode));
	}
	else
	{
		ereport(LOG,
				(errmsg("tool \"%s\" failed for tenant \"%s\": %s", name, id->tenant,
						edata->message ? edata->message : "?"),
				 errhidestmt(true)));
		append_tool_error(result, mtmcp_tool_error_text(name, edata));
		ev->result_kind = "tool_error";
		ev->severity = "warning";
		ev->error_code = pstrdup(unpack_sql_state(edata->sqlerrcode));
		/* the handler reached for something outside its tenant: alert */
		if (mtmcp_sandbox_take_refusal())
		{
			ev->severity = "security";
			ev->detail = "sandbox_refused";
		}
		else if (edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
		{
			ev->severity = "security";
			ev->detail = "permission_denied";
		}
	}
	return 0;
}
