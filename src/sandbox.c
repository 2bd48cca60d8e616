/*
 * sandbox.c -- the fence around handlers and tenant SQL sessions
 *
 * Row-level security confines rows of registered tables and nothing else.
 * Everything else a handler (a tool, resource reader, prompt renderer,
 * completer) or a tenant's own SQL session can reach is a channel to other
 * tenants: planner statistics through EXPLAIN, large objects (one role owns
 * them all), TRUNCATE (ignores RLS), triggers, NOTIFY, catalogs and
 * statistics views, session state that outlives a call.  This file closes
 * them with three hooks, deny by default:
 *
 *   ExecutorCheckPerms_hook   which relations a query may touch
 *   ProcessUtility_hook       which utility statements may run
 *   object_access_hook        which functions may execute (OAT_FUNCTION_EXECUTE)
 *
 * Two fences use them:
 *   - the handler fence, while mtmcp_sandbox_enter() .. _leave() brackets a
 *     handler call (tools.c): relations = registered tenant tables (and their
 *     partitions, which carry the same policy) + registered shared tables
 *     (read-only unless registered writable); no utility statement beyond
 *     SET/SHOW/CALL/DO; no function from the deny list;
 *   - the tenant fence, for sessions of a member of mtmcp_tenant that is not
 *     also mtmcp_admin: relations = what mtmcp grants mtmcp_tenant (the
 *     tenant views) + registered tenant tables + a few harmless catalogs; no
 *     EXPLAIN, LISTEN, NOTIFY or DDL-ish statement; the same function list.
 * Queries that run as a superuser inside either fence are mtmcp's own
 * SECURITY DEFINER API (charge, notify_*, ...) and pass: a handler cannot
 * become a superuser (it runs as mtmcp_tool in a security-restricted
 * operation).  The planner's own catalog reads do not go through these hooks,
 * so legitimate queries plan as before.
 *
 * Every tenant or shared table a fenced query touches is also re-checked
 * against what RLS cannot guard (TRUNCATE/TRIGGER/REFERENCES granted to
 * mtmcp_tool, unique indexes without the tenant column, RLS not forced): an
 * admin may widen grants after registration.  Results are cached per
 * relation and dropped on its relcache invalidation (GRANT and CREATE INDEX
 * both send one).
 *
 * The whole policy is the three tables below (relations, statements,
 * functions); each rule says why.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_authid.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "cache.h"
#include "mtmcp.h"
#include "sandbox.h"

/* ---------------------------------------------------------------------------
 * The policy
 * ------------------------------------------------------------------------ */

/* Statements a fenced query may run; every other utility statement is refused. */
typedef struct StatementRule
{
	NodeTag		tag;
	bool		in_handler;
	bool		in_tenant_session;
	const char *why;
} StatementRule;

static const StatementRule statement_rules[] = {
	{T_VariableSetStmt, true, true,
	"settings: the handler's are rolled back after the call (tools.c); SET ROLE and SESSION AUTHORIZATION are refused by PostgreSQL in a security-restricted operation"},
	{T_VariableShowStmt, true, true, "reading a setting reveals nothing of another tenant"},
	{T_CallStmt, true, true, "a procedure's body runs inside the same fence; privileges decide who may call it"},
	{T_DoStmt, true, true, "an anonymous block's body runs inside the same fence"},
	{T_TransactionStmt, false, true, "a tenant session commits its own reads"},
	{T_CopyStmt, false, true, "tenants export their audit with COPY (SELECT ... FROM mtmcp.tenant_audit) TO STDOUT; the query is fenced like any other, and server files need privileges tenants lack"},
};

/*
 * Functions refused in both fences.  A rule matches a pg_catalog function by
 * exact name or by prefix ("name*"); functions of the listed extensions are
 * refused whatever their name.
 */
typedef struct FunctionRule
{
	const char *name;
	const char *why;
} FunctionRule;

static const FunctionRule function_rules[] = {
	{"lo_*", "large objects belong to their owning role, one for every handler: they would cross tenants"},
	{"loread", "large objects"}, {"lowrite", "large objects"},
	{"be_lo_*", "large objects"},
	{"pg_notify", "notifications reach every listener: they could forge security alerts or signal another tenant"},
	{"pg_advisory_lock*", "session-level advisory locks outlive the call on a pooled connection"},
	{"pg_advisory_unlock*", "session-level advisory locks"},
	{"pg_try_advisory_lock*", "session-level advisory locks"},
	{"pg_read_file*", "file access"}, {"pg_read_binary_file*", "file access"},
	{"pg_ls_*", "file access"}, {"pg_stat_file", "file access"},
	{"pg_file_*", "file access"}, {"pg_logdir_ls", "file access"},
	{"pg_terminate_backend", "signalling other backends"}, {"pg_cancel_backend", "signalling other backends"},
	{"pg_reload_conf", "server control"}, {"pg_rotate_logfile*", "server control"},
	{"pg_promote", "server control"}, {"pg_log_backend_memory_contexts", "server control"},
	{"pg_stat_*", "activity statistics show other tenants' reads and writes"},
	{"pg_relation_size", "sizes reveal other tenants' row counts"},
	{"pg_total_relation_size", "sizes"}, {"pg_table_size", "sizes"}, {"pg_indexes_size", "sizes"},
	{"pg_database_size", "sizes"}, {"pg_tablespace_size", "sizes"},
	{"pg_sequence_last_value", "sequence positions reveal other tenants' activity"},
	{"currval", "sequence positions"}, {"lastval", "sequence positions"}, {"setval", "sequence positions"},
	{"txid_current*", "the transaction counter reveals other tenants' activity"},
	{"pg_current_xact_id*", "the transaction counter"}, {"pg_current_snapshot", "the transaction counter"},
	{"txid_status", "the transaction counter"}, {"pg_xact_status", "the transaction counter"},
	{"pg_import_system_collations", "catalog changes"},
	{"pg_lock_status", "other sessions' locks show other tenants' activity"},
	{"pg_blocking_pids", "other sessions' locks"}, {"pg_safe_snapshot_blocking_pids", "other sessions' locks"},
	{"pg_current_wal*", "the write-ahead log position moves with other tenants' writes"},
	{"pg_last_wal*", "the write-ahead log position"}, {"pg_walfile_name*", "the write-ahead log position"},
	{"pg_control_*", "checkpoint and WAL state moves with other tenants' writes"},
	{"pg_notification_queue_usage", "the notification queue fills with other sessions' notifications"},
	{"pg_xact_commit_timestamp*", "commit times of other tenants' transactions"},
	{"pg_last_committed_xact", "commit times of other tenants' transactions"},
	{"pg_get_replication_slots", "replication state"}, {"pg_get_shmem_allocations", "server internals"},
	{"pg_get_backend_memory_contexts", "server internals"},
	{"mxid_age", "the multixact counter moves with other tenants' activity"},
	{"dblink*", "connections to other databases escape RLS"},
};

static const char *const denied_extensions[] = {
	"dblink", "postgres_fdw", "file_fdw", "adminpack", "pg_stat_statements", "pg_buffercache",
	"pgstattuple", "pageinspect", "pg_visibility", "pg_freespacemap", "pg_walinspect", "lo",
};

/* Catalogs a tenant session may read (client libraries look up types). */
static const char *const tenant_catalogs[] = {
	"pg_type", "pg_namespace", "pg_enum", "pg_range", "pg_collation", "pg_settings",
};

/* ---------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------ */

typedef enum RelKind
{
	REL_UNKNOWN = 0,			/* not looked up since the last invalidation */
	REL_DENIED,
	REL_TENANT,					/* a registered tenant table or a partition of one */
	REL_SHARED,					/* registered shared reference data, read-only */
	REL_SHARED_WRITABLE,
	REL_TENANT_VIEW,			/* a relation mtmcp grants mtmcp_tenant */
	REL_CATALOG_OK,				/* an allowed catalog for tenant sessions */
} RelKind;

typedef struct RelEntry
{
	Oid			relid;			/* hash key */
	RelKind		kind;
	bool		checked;		/* guard check done since the last invalidation */
	char	   *problem;		/* in SandboxContext; NULL when safe */
} RelEntry;

typedef struct FuncEntry
{
	Oid			funcid;			/* hash key */
	const char *why;			/* NULL: allowed */
} FuncEntry;

static ExecutorCheckPerms_hook_type prev_check_perms = NULL;
static ProcessUtility_hook_type prev_utility = NULL;
static object_access_hook_type prev_object_access = NULL;

static int	handler_depth = 0;
static bool refused = false;		/* a fence refused something since the last take */
static uint64 loaded_generation = 0;	/* mtmcp_config_generation() of the load */
static Oid	loaded_registry = InvalidOid;	/* mtmcp.tenant_tables when loaded */

/* The OID of mtmcp.tenant_tables: it changes when the extension is re-created. */
static Oid
registry_oid(void)
{
	return mtmcp_relid("tenant_tables");
}

static bool
registrations_loaded(void)
{
	return loaded_generation != 0 && loaded_generation == mtmcp_config_generation() &&
		loaded_registry == registry_oid();
}
static HTAB *rel_cache = NULL;		/* registrations, by relid */
static HTAB *func_cache = NULL;
static MemoryContext SandboxContext = NULL;
static bool loading = false;
static Oid	tool_role = InvalidOid;
static Oid	tenant_role = InvalidOid;
static Oid	admin_role = InvalidOid;

static void
forget_relation(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS st;
	RelEntry   *e;

	if (rel_cache == NULL)
		return;
	if (!OidIsValid(relid))
	{
		hash_seq_init(&st, rel_cache);
		while ((e = hash_seq_search(&st)) != NULL)
			e->checked = false;
		return;
	}
	e = hash_search(rel_cache, &relid, HASH_FIND, NULL);
	if (e != NULL)
		e->checked = false;
}

static void
forget_roles(Datum arg, int cacheid, uint32 hashvalue)
{
	tool_role = tenant_role = admin_role = InvalidOid;
}

static void
ensure_state(void)
{
	HASHCTL		ctl;

	if (SandboxContext != NULL)
		return;
	SandboxContext = AllocSetContextCreate(TopMemoryContext, "mtmcp sandbox", ALLOCSET_SMALL_SIZES);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(RelEntry);
	ctl.hcxt = SandboxContext;
	rel_cache = hash_create("mtmcp sandbox relations", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.entrysize = sizeof(FuncEntry);
	func_cache = hash_create("mtmcp sandbox functions", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static Oid
role_oid(Oid *cache, const char *name)
{
	if (!OidIsValid(*cache))
		*cache = get_role_oid(name, true);
	return *cache;
}

/*
 * (Re)load the registrations: tenant tables with their partitions, shared
 * tables, and what mtmcp grants mtmcp_tenant.  Runs as the bootstrap
 * superuser (a handler could not read mtmcp's tables), outside the fence.
 */
static void
load_registrations(void)
{
	Oid			save_userid;
	int			save_sec;
	HASH_SEQ_STATUS st;
	RelEntry   *e;
	uint64		i;
	int			ret;

	if (loading || (registrations_loaded() && rel_cache != NULL))
		return;
	ensure_state();
	hash_seq_init(&st, rel_cache);
	while ((e = hash_seq_search(&st)) != NULL)
		e->kind = REL_UNKNOWN;
	/* no extension (yet): nothing is registered */
	if (!OidIsValid(mtmcp_relid("shared_tables")))
	{
		loaded_generation = mtmcp_config_generation();
		loaded_registry = InvalidOid;
		return;
	}
	loading = true;
	GetUserIdAndSecContext(&save_userid, &save_sec);
	PG_TRY();
	{
		SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute(
						  "SELECT t.tbl::oid, 2 FROM mtmcp.tenant_tables t "
						  "UNION ALL SELECT p.relid::oid, 2 FROM mtmcp.tenant_tables t, pg_catalog.pg_partition_tree(t.tbl) p "
						  " WHERE p.relid <> t.tbl "
						  "UNION ALL SELECT s.tbl::oid, CASE WHEN s.writable THEN 4 ELSE 3 END FROM mtmcp.shared_tables s "
						  "UNION ALL SELECT c.oid, 5 FROM pg_catalog.pg_class c "
						  " WHERE c.relnamespace = 'mtmcp'::regnamespace AND c.relkind IN ('v', 'r', 'p', 'm') "
						  "   AND pg_catalog.has_table_privilege('mtmcp_tenant', c.oid, 'SELECT')",
						  true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not load the sandbox's registrations: %s", SPI_result_code_string(ret));
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
			int			kind = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
			bool		found;

			e = hash_search(rel_cache, &relid, HASH_ENTER, &found);
			if (!found)
			{
				e->kind = REL_UNKNOWN;
				e->checked = false;
				e->problem = NULL;
			}
			/* a tenant table also granted to mtmcp_tenant stays a tenant table */
			if (e->kind == REL_UNKNOWN || e->kind == REL_TENANT_VIEW)
				e->kind = (RelKind) kind;
		}
		SPI_finish();
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_FINALLY();
	{
		loading = false;
	}
	PG_END_TRY();
	loaded_generation = mtmcp_config_generation();
	loaded_registry = registry_oid();
}

/* ---------------------------------------------------------------------------
 * What RLS cannot guard
 * ------------------------------------------------------------------------ */

/*
 * Why a tenant or shared table is unsafe for handlers, or NULL.  A table is
 * unsafe when mtmcp_tool may TRUNCATE it (ignores RLS), put triggers on it
 * (code that runs on the next tenant's writes) or reference it (a foreign key
 * is an existence oracle); a tenant table also when RLS is not forced or a
 * unique index leaves out the tenant column (an existence oracle for other
 * tenants' values).
 */
char *
mtmcp_sandbox_table_problem(Oid relid, const char *tenant_column)
{
	Oid			tool = role_oid(&tool_role, "mtmcp_tool");
	Relation	rel;
	char	   *problem = NULL;
	char	   *relname;
	AclMode		wide;

	if (!OidIsValid(tool))
		return NULL;
	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		return NULL;
	relname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)), RelationGetRelationName(rel));
	wide = pg_class_aclmask(relid, tool, ACL_TRUNCATE | ACL_TRIGGER | ACL_REFERENCES, ACLMASK_ALL);
	if (wide != 0)
	{
		StringInfoData privs;

		initStringInfo(&privs);
		if (wide & ACL_TRUNCATE)
			appendStringInfoString(&privs, "TRUNCATE");
		if (wide & ACL_TRIGGER)
			appendStringInfo(&privs, "%sTRIGGER", privs.len ? ", " : "");
		if (wide & ACL_REFERENCES)
			appendStringInfo(&privs, "%sREFERENCES", privs.len ? ", " : "");
		problem = psprintf("mtmcp_tool holds %s on %s, which row-level security does not confine; "
						   "run REVOKE %s ON %s FROM mtmcp_tool",
						   privs.data, relname, privs.data, relname);
	}
	else if (tenant_column != NULL && rel->rd_rel->relkind == RELKIND_RELATION &&
			 !(rel->rd_rel->relrowsecurity && rel->rd_rel->relforcerowsecurity))
		problem = psprintf("row-level security is not enabled and forced on %s; "
						   "run SELECT mtmcp.register_tenant_table('%s') again", relname, relname);
	else if (tenant_column != NULL)
	{
		AttrNumber	tattno = get_attnum(relid, tenant_column);
		List	   *indexes = RelationGetIndexList(rel);
		ListCell   *lc;

		foreach(lc, indexes)
		{
			Oid			indexoid = lfirst_oid(lc);
			HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
			Form_pg_index idx;
			bool		has_tenant = false;
			int			k;

			if (!HeapTupleIsValid(tup))
				continue;
			idx = (Form_pg_index) GETSTRUCT(tup);
			if (idx->indisunique || idx->indisexclusion)
			{
				for (k = 0; k < idx->indnkeyatts; k++)
					if (idx->indkey.values[k] == tattno)
						has_tenant = true;
				if (!has_tenant)
					problem = psprintf("the %s index %s on %s does not include the tenant column \"%s\": "
									   "it tells one tenant which values another tenant has; "
									   "replace it with one that leads with \"%s\"",
									   idx->indisexclusion ? "exclusion" : "unique",
									   quote_identifier(get_rel_name(indexoid)), relname,
									   tenant_column, tenant_column);
			}
			ReleaseSysCache(tup);
			if (problem != NULL)
				break;
		}
		list_free(indexes);
	}
	relation_close(rel, AccessShareLock);
	return problem;
}

/* The tenant column of a registered tenant table (or its partition root). */
static char *
tenant_column_of(Oid relid)
{
	Oid			save_userid;
	int			save_sec;
	char	   *col = NULL;
	Datum		arg = ObjectIdGetDatum(relid);
	Oid			argtype = OIDOID;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	loading = true;
	PG_TRY();
	{
		SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args("SELECT t.tenant_column::text FROM mtmcp.tenant_tables t "
								  "WHERE t.tbl::oid = $1 OR t.tbl::oid = pg_catalog.pg_partition_root($1::regclass)::oid",
								  1, &argtype, &arg, NULL, true, 1) == SPI_OK_SELECT && SPI_processed > 0)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			if (v != NULL)
				col = MemoryContextStrdup(SandboxContext, v);
		}
		SPI_finish();
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_FINALLY();
	{
		loading = false;
	}
	PG_END_TRY();
	return col;
}

static void
guard_table(RelEntry *e)
{
	if (!e->checked)
	{
		char	   *col = e->kind == REL_TENANT ? tenant_column_of(e->relid) : NULL;
		char	   *p = mtmcp_sandbox_table_problem(e->relid, col);

		e->problem = p ? MemoryContextStrdup(SandboxContext, p) : NULL;
		e->checked = true;
	}
	if (e->problem != NULL)
	{
		refused = true;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("mtmcp sandbox: table %s is not safe for handlers", get_rel_name(e->relid)),
				 errdetail("%s.", e->problem)));
	}
}

/* ---------------------------------------------------------------------------
 * Which fence applies
 * ------------------------------------------------------------------------ */

typedef enum Fence
{
	FENCE_NONE,
	FENCE_HANDLER,
	FENCE_TENANT,
} Fence;

static Fence
current_fence(void)
{
	Oid			user;
	Oid			tr;

	if (loading || IsParallelWorker())	/* the leader checked the same plan */
		return FENCE_NONE;
	user = GetUserId();
	if (handler_depth > 0)
		return superuser_arg(user) ? FENCE_NONE : FENCE_HANDLER;
	if (!IsTransactionState() || superuser_arg(user))
		return FENCE_NONE;
	tr = role_oid(&tenant_role, "mtmcp_tenant");
	if (!OidIsValid(tr) || !is_member_of_role(user, tr))
		return FENCE_NONE;
	if (OidIsValid(role_oid(&admin_role, "mtmcp_admin")) && is_member_of_role(user, admin_role))
		return FENCE_NONE;
	return FENCE_TENANT;
}

static const char *
fence_name(Fence f)
{
	return f == FENCE_HANDLER ? "handlers" : "tenant sessions";
}

/* ---------------------------------------------------------------------------
 * Relations
 * ------------------------------------------------------------------------ */

static bool
is_tenant_catalog(Oid relid)
{
	int			i;
	const char *name;

	if (get_rel_namespace(relid) != PG_CATALOG_NAMESPACE)
		return false;
	name = get_rel_name(relid);
	for (i = 0; i < lengthof(tenant_catalogs); i++)
		if (name && strcmp(name, tenant_catalogs[i]) == 0)
			return true;
	return false;
}

static void
check_relation(Fence fence, Oid relid, AclMode required)
{
	RelEntry   *e;
	bool		writes = (required & (ACL_INSERT | ACL_UPDATE | ACL_DELETE)) != 0;
	char	   *name;

	load_registrations();
	e = hash_search(rel_cache, &relid, HASH_FIND, NULL);
	if (e != NULL && e->kind == REL_TENANT)
	{
		guard_table(e);
		return;
	}
	if (fence == FENCE_HANDLER && e != NULL && (e->kind == REL_SHARED || e->kind == REL_SHARED_WRITABLE))
	{
		guard_table(e);
		if (writes && e->kind != REL_SHARED_WRITABLE)
		{
			refused = true;
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("mtmcp sandbox: shared table %s is read-only for handlers", get_rel_name(relid)),
					 errdetail("Shared reference data is the same for every tenant; a write would reach all of them."),
					 errhint("An administrator can allow writes with mtmcp.register_shared_table('%s', writable => true).",
							 get_rel_name(relid))));
		}
		return;
	}
	if (fence == FENCE_TENANT && e != NULL && e->kind == REL_TENANT_VIEW && !writes)
		return;
	if (fence == FENCE_TENANT && !writes && is_tenant_catalog(relid))
		return;
	name = get_rel_name(relid);
	if (name != NULL && OidIsValid(get_rel_namespace(relid)))
		name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), name);
	refused = true;
	if (fence == FENCE_HANDLER)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("mtmcp sandbox: handlers may not access relation %s", name ? name : "(unknown)"),
				 errdetail("Handlers reach registered tenant tables, registered shared tables and mtmcp's handler API only."),
				 errhint("An administrator can allow it with mtmcp.register_tenant_table('%s') (per-tenant rows) "
						 "or mtmcp.register_shared_table('%s') (reference data).", name ? name : "", name ? name : "")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("mtmcp sandbox: tenant sessions may not access relation %s", name ? name : "(unknown)"),
			 errdetail("A tenant's session reads the tenant views (mtmcp.tenant_audit, mtmcp.tenant_costs, ...) and its own rows only.")));
}

#if PG_VERSION_NUM >= 160000
static bool
sandbox_check_perms(List *rangeTable, List *rteperminfos, bool ereport_on_violation)
{
	Fence		fence = current_fence();
	ListCell   *lc;

	if (fence != FENCE_NONE)
		foreach(lc, rteperminfos)
		{
			RTEPermissionInfo *pi = lfirst_node(RTEPermissionInfo, lc);

			/* a view's own relations are checked as its owner: mtmcp's views pass */
			if (pi->requiredPerms != 0 &&
				!(OidIsValid(pi->checkAsUser) && superuser_arg(pi->checkAsUser)))
				check_relation(fence, pi->relid, pi->requiredPerms);
		}
	if (prev_check_perms)
		return prev_check_perms(rangeTable, rteperminfos, ereport_on_violation);
	return true;
}
#else
static bool
sandbox_check_perms(List *rangeTable, bool ereport_on_violation)
{
	Fence		fence = current_fence();
	ListCell   *lc;

	if (fence != FENCE_NONE)
		foreach(lc, rangeTable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			/* a view's own relations are checked as its owner: mtmcp's views pass */
			if (rte->rtekind == RTE_RELATION && rte->requiredPerms != 0 &&
				!(OidIsValid(rte->checkAsUser) && superuser_arg(rte->checkAsUser)))
				check_relation(fence, rte->relid, rte->requiredPerms);
		}
	if (prev_check_perms)
		return prev_check_perms(rangeTable, ereport_on_violation);
	return true;
}
#endif

/* ---------------------------------------------------------------------------
 * Utility statements
 * ------------------------------------------------------------------------ */

static void
sandbox_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				ProcessUtilityContext context, ParamListInfo params,
				QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Fence		fence = current_fence();

	if (fence != FENCE_NONE)
	{
		NodeTag		tag = nodeTag(pstmt->utilityStmt);
		bool		allowed = false;
		int			i;

		for (i = 0; i < lengthof(statement_rules); i++)
			if (statement_rules[i].tag == tag)
				allowed = fence == FENCE_HANDLER ? statement_rules[i].in_handler : statement_rules[i].in_tenant_session;
		if (!allowed)
		{
			refused = true;
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("mtmcp sandbox: %s is not allowed in %s", GetCommandTagName(CreateCommandTag(pstmt->utilityStmt)),
							fence_name(fence)),
					 errdetail(fence == FENCE_HANDLER
							   ? "A handler reads and writes its tenant's rows; statements that reach past them (EXPLAIN, TRUNCATE, DDL, LISTEN/NOTIFY, LOCK, COPY, PREPARE, LOAD, VACUUM, ANALYZE, cursors) are refused."
							   : "A tenant session reads the tenant views; statements that could reveal other tenants (EXPLAIN, LISTEN, NOTIFY, DDL, ...) are refused.")));
		}
	}
	if (prev_utility)
		prev_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

/* ---------------------------------------------------------------------------
 * Functions
 * ------------------------------------------------------------------------ */

static bool
name_matches(const char *name, const char *rule)
{
	size_t		n = strlen(rule);

	if (n > 0 && rule[n - 1] == '*')
		return strncmp(name, rule, n - 1) == 0;
	return strcmp(name, rule) == 0;
}

static const char *
function_denial(Oid funcid)
{
	FuncEntry  *e;
	bool		found;
	HeapTuple	tup;

	ensure_state();
	e = hash_search(func_cache, &funcid, HASH_ENTER, &found);
	if (found)
		return e->why;
	e->why = NULL;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_proc p = (Form_pg_proc) GETSTRUCT(tup);
		const char *name = NameStr(p->proname);
		int			i;

		if (p->pronamespace == PG_CATALOG_NAMESPACE)
		{
			for (i = 0; i < lengthof(function_rules) && e->why == NULL; i++)
				if (name_matches(name, function_rules[i].name))
					e->why = function_rules[i].why;
			/* age(xid) reads the transaction counter; age(timestamp) is harmless */
			if (e->why == NULL && strcmp(name, "age") == 0 && p->pronargs >= 1 &&
				p->proargtypes.values[0] == XIDOID)
				e->why = "the transaction counter reveals other tenants' activity (age of an xid)";
		}
		if (e->why == NULL)
		{
			Oid			ext = getExtensionOfObject(ProcedureRelationId, funcid);

			if (OidIsValid(ext))
			{
				char	   *extname = get_extension_name(ext);

				for (i = 0; extname && i < lengthof(denied_extensions); i++)
					if (strcmp(extname, denied_extensions[i]) == 0)
						e->why = "functions of this extension reach past the tenant boundary";
			}
		}
		ReleaseSysCache(tup);
	}
	return e->why;
}

static void
sandbox_object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);
	if (access == OAT_FUNCTION_EXECUTE)
	{
		Fence		fence = current_fence();
		const char *why;

		if (fence != FENCE_NONE && (why = function_denial(objectId)) != NULL)
		{
			refused = true;
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("mtmcp sandbox: function %s is not allowed in %s", format_procedure(objectId), fence_name(fence)),
					 errdetail("%s.", why)));
		}
	}
}

/* ---------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------ */

static void
sandbox_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		handler_depth = 0;
}

void
SandboxInit(void)
{
#ifdef MTMCP_NO_SANDBOX
	/* bench/sandbox.sh's yardstick build only: never ship this */
	return;
#endif
	prev_check_perms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = sandbox_check_perms;
	prev_utility = ProcessUtility_hook;
	ProcessUtility_hook = sandbox_utility;
	prev_object_access = object_access_hook;
	object_access_hook = sandbox_object_access;
	CacheRegisterRelcacheCallback(forget_relation, (Datum) 0);
	mtmcp_track_config_relation("tenant_tables");
	mtmcp_track_config_relation("shared_tables");
	CacheRegisterSyscacheCallback(AUTHOID, forget_roles, (Datum) 0);
	RegisterXactCallback(sandbox_xact_callback, NULL);
}

/* Called by tools.c before a handler runs, as the dispatching user. */
int
mtmcp_sandbox_enter(void)
{
	load_registrations();
	refused = false;
	return handler_depth++;
}

void
mtmcp_sandbox_leave(int saved)
{
	handler_depth = saved;
}

bool
mtmcp_sandbox_active(void)
{
	return handler_depth > 0;
}

/*
 * Whether a fence refused something since the last call (and forget it):
 * a handler that hits the fence is an attack or a misconfiguration, audited
 * as a security event.
 */
bool
mtmcp_sandbox_take_refusal(void)
{
	bool		r = refused;

	refused = false;
	return r;
}

PG_FUNCTION_INFO_V1(mtmcp_sandbox_table_check);

/*
 * SQL: mtmcp._sandbox_table_check(tbl regclass, tenant_column name) RETURNS
 * text: why the table is unsafe for handlers, or NULL.  Registration refuses
 * such a table; the drill reports it as a hazard.
 */
Datum
mtmcp_sandbox_table_check(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *col = PG_ARGISNULL(1) ? NULL : NameStr(*PG_GETARG_NAME(1));
	char	   *p = mtmcp_sandbox_table_problem(relid, col);

	if (p == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(p));
}

PG_FUNCTION_INFO_V1(mtmcp_sandbox_policy);

/* SQL: mtmcp.sandbox_policy(): the policy tables above, as rows. */
Datum
mtmcp_sandbox_policy(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < lengthof(statement_rules); i++)
	{
		Datum		v[5];
		bool		n[5] = {0};

		v[0] = CStringGetTextDatum("statement");
		v[1] = CStringGetTextDatum(GetCommandTagName(CMDTAG_UNKNOWN));
		/* a readable name for the node tag */
		switch (statement_rules[i].tag)
		{
			case T_VariableSetStmt:
				v[1] = CStringGetTextDatum("SET / RESET");
				break;
			case T_VariableShowStmt:
				v[1] = CStringGetTextDatum("SHOW");
				break;
			case T_CallStmt:
				v[1] = CStringGetTextDatum("CALL");
				break;
			case T_DoStmt:
				v[1] = CStringGetTextDatum("DO");
				break;
			case T_TransactionStmt:
				v[1] = CStringGetTextDatum("BEGIN / COMMIT / ROLLBACK");
				break;
			case T_CopyStmt:
				v[1] = CStringGetTextDatum("COPY");
				break;
			default:
				break;
		}
		v[2] = BoolGetDatum(statement_rules[i].in_handler);
		v[3] = BoolGetDatum(statement_rules[i].in_tenant_session);
		v[4] = CStringGetTextDatum(statement_rules[i].why);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	{
		Datum		v[5];
		bool		n[5] = {0};

		v[0] = CStringGetTextDatum("statement");
		v[1] = CStringGetTextDatum("every other utility statement");
		v[2] = BoolGetDatum(false);
		v[3] = BoolGetDatum(false);
		v[4] = CStringGetTextDatum("EXPLAIN reveals planner statistics of other tenants' rows; TRUNCATE ignores RLS; DDL plants code or state; LISTEN/NOTIFY cross sessions; LOCK, COPY, PREPARE, LOAD, VACUUM, ANALYZE, cursors reach past the call");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	for (i = 0; i < lengthof(function_rules); i++)
	{
		Datum		v[5];
		bool		n[5] = {0};

		v[0] = CStringGetTextDatum("function");
		v[1] = CStringGetTextDatum(psprintf("pg_catalog.%s", function_rules[i].name));
		v[2] = BoolGetDatum(false);
		v[3] = BoolGetDatum(false);
		v[4] = CStringGetTextDatum(function_rules[i].why);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	for (i = 0; i < lengthof(denied_extensions); i++)
	{
		Datum		v[5];
		bool		n[5] = {0};

		v[0] = CStringGetTextDatum("function");
		v[1] = CStringGetTextDatum(psprintf("every function of extension %s", denied_extensions[i]));
		v[2] = BoolGetDatum(false);
		v[3] = BoolGetDatum(false);
		v[4] = CStringGetTextDatum("reaches past the tenant boundary (other databases, files, server statistics)");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	{
		static const char *const rel_rules[][4] = {
			{"registered tenant tables and their partitions", "t", "t", "row-level security (forced) confines every row to the verified tenant"},
			{"registered shared tables", "t", "f", "reference data the same for every tenant; read-only unless registered writable"},
			{"relations mtmcp grants mtmcp_tenant (tenant views)", "f", "t", "each filters by the verified tenant"},
			{"pg_type, pg_namespace, pg_enum, pg_range, pg_collation, pg_settings", "f", "t", "client libraries look up types; nothing in them belongs to a tenant"},
			{"every other relation (tables, views, sequences, system catalogs, statistics views, large objects)", "f", "f", "not confined by row-level security: pg_stat_*, pg_class.reltuples, sequences and pg_largeobject show or hold other tenants' data"},
		};

		for (i = 0; i < lengthof(rel_rules); i++)
		{
			Datum		v[5];
			bool		n[5] = {0};

			v[0] = CStringGetTextDatum("relation");
			v[1] = CStringGetTextDatum(rel_rules[i][0]);
			v[2] = BoolGetDatum(rel_rules[i][1][0] == 't');
			v[3] = BoolGetDatum(rel_rules[i][2][0] == 't');
			v[4] = CStringGetTextDatum(rel_rules[i][3]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
		}
	}
	return (Datum) 0;
}
