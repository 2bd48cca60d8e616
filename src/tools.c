/*
 * tools.c -- tools/list, tools/call and the safety of tool handlers
 *
 * A tool is an ordinary SQL function (args jsonb) RETURNS jsonb.  It runs:
 *   - as the role mtmcp_tool (no SUPERUSER, no BYPASSRLS), whoever called
 *     mcp_dispatch, with SECURITY_LOCAL_USERID_CHANGE so it cannot SET ROLE
 *     or SET SESSION AUTHORIZATION its way out;
 *   - with the verified tenant in mtmcp.tenant_id, so the RLS policy on every
 *     registered tenant table confines it;
 *   - in a subtransaction: a handler error rolls back the handler's writes
 *     and becomes a tool result with isError: true.
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
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "jsonutil.h"
#include "mtmcp.h"

/* PostgreSQL 16 folded the per-object ACL checks into object_aclcheck() */
#if PG_VERSION_NUM >= 160000
#define proc_aclcheck(fn, role, mode) object_aclcheck(ProcedureRelationId, (fn), (role), (mode))
#else
#define proc_aclcheck(fn, role, mode) pg_proc_aclcheck((fn), (role), (mode))
#endif

static SPIPlanPtr list_plan = NULL;
static SPIPlanPtr lookup_plan = NULL;

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
	char	   *fname = format_procedure(fn);

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
				 errmsg("tool handler %s must be a function taking (jsonb) and returning jsonb", fname)));
	}
	if (proc->prosecdef && role_escapes_rls(proc->proowner))
	{
		char	   *owner = GetUserNameFromId(proc->proowner, true);

		ReleaseSysCache(tup);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("tool handler %s would escape row-level security", fname),
				 errdetail("It is SECURITY DEFINER and owned by role \"%s\", which is a superuser or bypasses row-level security.",
						   owner ? owner : "?"),
				 errhint("Make it SECURITY INVOKER, or give it to an owner without SUPERUSER and BYPASSRLS.")));
	}
	ReleaseSysCache(tup);

	if (proc_aclcheck(fn, toolrole, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may not execute tool handler %s", MTMCP_TOOL_ROLE, fname),
				 errhint("GRANT EXECUTE ON FUNCTION %s TO %s;", fname, MTMCP_TOOL_ROLE)));
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

static bool
tool_visible(const MtmcpIdentity *id, const char *feature, const char *scope)
{
	if (feature != NULL && !mtmcp_has_feature(id, feature))
		return false;
	if (scope != NULL && !mtmcp_has_scope(id, scope))
		return false;
	return true;
}

static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

	if (p == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	SPI_keepplan(p);
	return p;
}

/*
 * tools/list: the caller's catalog, in name order, as {"tools": [...]}.
 * Each entry is assembled by SQL from the registration; destructiveHint
 * always reflects the registration's destructive flag.
 */
void
mtmcp_tools_list(const MtmcpIdentity *id, StringInfo result)
{
	uint64		r;
	int			ret;
	bool		first = true;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (list_plan == NULL)
		list_plan = keep_plan("SELECT required_feature, required_scope,"
							  "       jsonb_build_object('name', name, 'description', description,"
							  "                          'inputSchema', input_schema,"
							  "                          'annotations', coalesce(annotations, '{}')"
							  "                                         || jsonb_build_object('destructiveHint', destructive))"
							  "       || CASE WHEN output_schema IS NULL THEN '{}'::jsonb"
							  "               ELSE jsonb_build_object('outputSchema', output_schema) END"
							  "  FROM mtmcp.tools ORDER BY name COLLATE \"C\"", 0, NULL);
	ret = SPI_execute_plan(list_plan, NULL, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list tools: %s", SPI_result_code_string(ret));

	appendStringInfoString(result, "{\"tools\":[");
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		if (!tool_visible(id, SPI_getvalue(tup, desc, 1), SPI_getvalue(tup, desc, 2)))
			continue;
		if (!first)
			appendStringInfoChar(result, ',');
		appendStringInfoString(result, SPI_getvalue(tup, desc, 3));
		first = false;
	}
	appendStringInfoString(result, "]}");
	SPI_finish();
}

/*
 * Run a handler as mtmcp_tool in a subtransaction.  Returns true with the
 * result (NULL for SQL NULL) or false with the error, the handler's writes
 * rolled back.  Errors of class 57 (operator intervention: cancel, shutdown)
 * are not the tool's to swallow and are re-thrown.
 */
static bool
run_handler(Oid fn, Jsonb *args, Jsonb **result, ErrorData **error)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec;
	Oid			toolrole = tool_role_oid();
	volatile bool ok = false;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	*result = NULL;
	*error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		FmgrInfo	flinfo;
		LOCAL_FCINFO(fcinfo, 1);
		Datum		d;

		/* ownership or SECURITY DEFINER may have changed since registration */
		check_handler(fn);
		SetUserIdAndSecContext(toolrole, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		fmgr_info(fn, &flinfo);
		InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = JsonbPGetDatum(args);
		fcinfo->args[0].isnull = false;
		d = FunctionCallInvoke(fcinfo);
		if (!fcinfo->isnull)
			*result = DatumGetJsonbPCopy(d);
		SetUserIdAndSecContext(save_userid, save_sec);

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		SetUserIdAndSecContext(save_userid, save_sec);
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION)
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
static char *
tool_error_text(const char *tool, ErrorData *edata)
{
	int			category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);

	if (category == ERRCODE_TO_CATEGORY(ERRCODE_RAISE_EXCEPTION) ||
		category == ERRCODE_DATA_EXCEPTION)
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
 */
static void
append_tool_result(StringInfo out, Jsonb *res, bool has_output_schema)
{
	if (res != NULL && JB_ROOT_IS_OBJECT(res))
	{
		JsonbValue *content = jsonb_object_get(&res->root, "content");

		if (jsonb_value_is_array(content))
		{
			json_append_jsonb(out, res);
			return;
		}
	}

	appendStringInfoString(out, "{\"content\":");
	if (res == NULL)
		append_text_content(out, "null");
	else if (JB_ROOT_IS_SCALAR(res))
	{
		JsonbValue	v;

		if (JsonbExtractScalar(&res->root, &v) && v.type == jbvString)
		{
			char	   *s = jsonb_value_cstring(&v);

			append_text_content(out, s);
		}
		else
		{
			StringInfoData t;

			initStringInfo(&t);
			json_append_jsonb(&t, res);
			append_text_content(out, t.data);
		}
	}
	else
	{
		StringInfoData t;

		initStringInfo(&t);
		json_append_jsonb(&t, res);
		append_text_content(out, t.data);
		if (has_output_schema && JB_ROOT_IS_OBJECT(res))
		{
			appendStringInfoString(out, ",\"structuredContent\":");
			appendStringInfoString(out, t.data);
		}
	}
	appendStringInfoString(out, ",\"isError\":false}");
}

/*
 * tools/call.  Returns 0 with a CallToolResult in result, or a JSON-RPC
 * error code with *errmsg set (a tool outside the caller's catalog answers
 * exactly like one that does not exist).
 */
int
mtmcp_tools_call(const MtmcpIdentity *id, const char *name, Jsonb *args,
				 StringInfo result, const char **rpc_msg, MtmcpAuditEvent *ev)
{
	MemoryContext outer = CurrentMemoryContext;
	Oid			types[1] = {TEXTOID};
	Datum		vals[1];
	int			ret;
	bool		isnull;
	Oid			handler;
	char	   *feature;
	char	   *scope;
	bool		has_output_schema;
	Jsonb	   *res;
	ErrorData  *edata;
	HeapTuple	tup;
	TupleDesc	desc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (lookup_plan == NULL)
		lookup_plan = keep_plan("SELECT handler::oid, required_feature, required_scope, output_schema IS NOT NULL,"
								"       redact_paths"
								"  FROM mtmcp.tools WHERE name = $1", 1, types);
	vals[0] = CStringGetTextDatum(name);
	ret = SPI_execute_plan(lookup_plan, vals, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up tool: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		SPI_finish();
		*rpc_msg = psprintf("Unknown tool: %s", name);
		ev->result_kind = "not_found";
		ev->severity = "warning";
		return JSONRPC_INVALID_PARAMS;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	handler = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
	feature = SPI_getvalue(tup, desc, 2);
	scope = SPI_getvalue(tup, desc, 3);
	has_output_schema = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	{
		Datum		paths = SPI_getbinval(tup, desc, 5, &isnull);

		if (!isnull)
		{
			MemoryContext spicxt = MemoryContextSwitchTo(outer);

			ev->nredact = mtmcp_text_array(DatumGetArrayTypeP(paths), &ev->redact_paths);
			MemoryContextSwitchTo(spicxt);
		}
	}
	if (!tool_visible(id, feature, scope))
	{
		SPI_finish();
		/* answered like a missing tool; recorded as what it is */
		*rpc_msg = psprintf("Unknown tool: %s", name);
		ev->result_kind = "denied";
		ev->severity = "security";
		ev->detail = "tool_not_in_catalog";
		return JSONRPC_INVALID_PARAMS;
	}

	if (run_handler(handler, args, &res, &edata))
	{
		MemoryContext spicxt = MemoryContextSwitchTo(outer);

		append_tool_result(result, res, has_output_schema);
		ev->result_kind = "ok";
		ev->severity = "info";
		MemoryContextSwitchTo(spicxt);
	}
	else
	{
		MemoryContext spicxt = MemoryContextSwitchTo(outer);
		char	   *text = tool_error_text(name, edata);

		ereport(LOG,
				(errmsg("tool \"%s\" failed for tenant \"%s\": %s", name, id->tenant,
						edata->message ? edata->message : "?"),
				 errhidestmt(true)));
		appendStringInfoString(result, "{\"content\":");
		append_text_content(result, text);
		appendStringInfoString(result, ",\"isError\":true}");
		ev->result_kind = "tool_error";
		ev->severity = "warning";
		ev->error_code = pstrdup(unpack_sql_state(edata->sqlerrcode));
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	return 0;
}
