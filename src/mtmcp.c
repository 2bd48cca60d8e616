/*
 * mtmcp.c -- module entry point
 *
 * mtmcp must be loaded through shared_preload_libraries: it defines the
 * verified-tenant settings before any session exists, so no session can plant
 * a placeholder value for them, and reserves the "mtmcp" prefix.  Loaded any
 * other way (CREATE EXTENSION, LOAD), _PG_init defines nothing and every SQL
 * entry point refuses to run with a clear error instead of running degraded.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "audit.h"
#include "cache.h"
#include "catalog.h"
#include "cost.h"
#include "counters.h"
#include "cursor.h"
#include "identity.h"
#include "inflight.h"
#include "inspect.h"
#include "mrtr.h"
#include "mtmcp.h"
#include "notify.h"
#include "revision.h"
#include "progress.h"
#include "router.h"
#include "sandbox.h"
#include "sessions.h"
#include "worker.h"

PG_MODULE_MAGIC;

bool		mtmcp_preloaded = false;

void		_PG_init(void);

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	IdentityInit();
	CacheInit();
	CountersInit();
	AuditInit();
	CostInit();
	CatalogInit();
	CursorInit();
	SessionsInit();
	InflightInit();
	NotifyInit();
	SandboxInit();
	MrtrInit();
	RevisionInit();
	RouterInit();
	ProgressInit();
	WorkerInit();
	InspectInit();

	/*
	 * Last, once every module has defined its settings: reserving the prefix
	 * drops the placeholders postgresql.conf made for names not defined yet,
	 * so a setting defined afterwards would silently lose its configured
	 * value.  Still before any session exists, so none can plant a value.
	 */
	MarkGUCPrefixReserved("mtmcp");
	mtmcp_preloaded = true;
}

/*
 * Every SQL-callable function starts here: fail closed when the library was
 * not preloaded (the settings it relies on would not be protected).
 */
void
mtmcp_require_preloaded(void)
{
	if (!mtmcp_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mtmcp must be loaded via \"shared_preload_libraries\""),
				 errdetail("Without the preload, any session could plant a value for the verified tenant setting."),
				 errhint("Add mtmcp to shared_preload_libraries in postgresql.conf and restart the server.")));
}

PG_FUNCTION_INFO_V1(mtmcp_require_preload);

/* SQL: mtmcp._require_preload(), called by the install script. */
Datum
mtmcp_require_preload(PG_FUNCTION_ARGS)
{
	mtmcp_require_preloaded();
	PG_RETURN_VOID();
}

/* The non-null elements of a text[] as palloc'd C strings; returns the count. */
int
mtmcp_text_array(ArrayType *arr, char ***out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i,
				k = 0;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	*out = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
		if (!nulls[i])
			(*out)[k++] = TextDatumGetCString(elems[i]);
	return k;
}

/* A prepared statement kept for the backend's lifetime (call inside SPI). */
SPIPlanPtr
mtmcp_keep_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

	if (p == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	SPI_keepplan(p);
	return p;
}

