/*
 * worker.c -- maintenance on a schedule: the procedure and its background worker
 *
 * One maintenance run is a list of statements that mtmcp._maintenance_plan()
 * writes: create today's and the coming days' ledger partitions (moving any
 * rows that landed in a default partition), drop whole days past retention,
 * purge expired counters, reap idle sessions.  Each statement is meant to
 * run in a transaction of its own, so that the brief strong locks a step
 * takes (see src/sql/partitions.sql) are released as soon as it is done.
 *
 * CALL mtmcp.maintain_partitions() runs the list here, committing after each
 * step when it is CALLed on its own (the procedure is therefore neither
 * SECURITY DEFINER nor has a SET clause: either would make it atomic; the
 * steps it runs are the SECURITY DEFINER functions).  CALLed inside a
 * transaction block it cannot commit, and runs the steps in the caller's
 * transaction.
 *
 * The background worker, so that an install that never configures pg_cron
 * stays healthy: a launcher (registered at preload, connected to no
 * database, reading only the shared catalog pg_database) wakes every
 * mtmcp.worker_interval and, for each database that accepts connections
 * (or each one named in mtmcp.worker_databases), starts a short-lived
 * worker connected to it and waits for it to end -- one database at a time,
 * one worker slot at a time.  That worker leaves at once when mtmcp is not
 * installed there (or predates the maintenance plan), and otherwise runs
 * each step in its own transaction; a failing step is logged and the next
 * one runs; the next round retries.  Nothing a step does can take the
 * postmaster down: an error ends a transaction, at worst the worker.
 *
 * Bucketed charges need no flush here: cost.c writes them, one row per
 * (tenant, meter), before the transaction that made them commits.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "mtmcp.h"
#include "worker.h"

/* how many days ahead the worker keeps partitions (the procedure's default) */
#define WORKER_DAYS_AHEAD 7

static bool worker_enabled = true;
static int	worker_interval = 60;
static char *worker_databases = NULL;

/* the database a per-database worker serves (for messages outside transactions) */
static char *db_name = "?";

PGDLLEXPORT void mtmcp_worker_launcher_main(Datum arg);
PGDLLEXPORT void mtmcp_worker_db_main(Datum arg);

static bool
check_worker_databases(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *names;
	bool		ok = SplitIdentifierString(raw, ',', &names);

	if (!ok)
		GUC_check_errdetail("List syntax is invalid.");
	list_free(names);
	pfree(raw);
	return ok;
}

void
WorkerInit(void)
{
	BackgroundWorker bgw;

	DefineCustomBoolVariable("mtmcp.worker_enabled",
							 gettext_noop("Runs partition maintenance and session reaping in a background worker."),
							 gettext_noop("Turn it off when pg_cron or another scheduler calls mtmcp.maintain_partitions()."),
							 &worker_enabled,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("mtmcp.worker_interval",
							gettext_noop("Time between two runs of the background maintenance worker."),
							NULL,
							&worker_interval,
							60, 1, 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomStringVariable("mtmcp.worker_databases",
							   gettext_noop("Databases the background maintenance worker visits."),
							   gettext_noop("A comma-separated list of names, quoted like identifiers when they have capitals; empty means every database that accepts connections. Only those with mtmcp installed are maintained."),
							   &worker_databases,
							   "",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   check_worker_databases, NULL, NULL);

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 10;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "mtmcp");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "mtmcp_worker_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "mtmcp maintenance launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "mtmcp maintenance launcher");
	RegisterBackgroundWorker(&bgw);
}

/* ---------------------------------------------------------------------------
 * The plan and the procedure
 * ---------------------------------------------------------------------------
 */

/*
 * The statements of one run, copied into cxt (inside SPI).  days_ahead null
 * is refused by the plan function like any out-of-range value.
 */
static List *
fetch_plan(Datum days_ahead, bool isnull, MemoryContext cxt)
{
	Oid			types[1] = {INT4OID};
	char		nulls[1] = {isnull ? 'n' : ' '};
	List	   *steps = NIL;
	uint64		i;

	if (SPI_execute_with_args("SELECT s FROM mtmcp._maintenance_plan($1) s",
							  1, types, &days_ahead, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not plan partition maintenance");
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		steps = lappend(steps, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		MemoryContextSwitchTo(old);
	}
	return steps;
}

PG_FUNCTION_INFO_V1(mtmcp_maintain_partitions);

/*
 * SQL: CALL mtmcp.maintain_partitions(days_ahead integer DEFAULT 7).  Runs
 * the plan's steps, committing after each one when the CALL allows it.
 */
Datum
mtmcp_maintain_partitions(PG_FUNCTION_ARGS)
{
	bool		nonatomic = fcinfo->context != NULL && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic;
	/* the plan outlives the commits: not in any transaction's memory */
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "mtmcp maintain_partitions",
											  ALLOCSET_SMALL_SIZES);

	mtmcp_require_preloaded();
	PG_TRY();
	{
		List	   *steps;
		ListCell   *lc;

		if (SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0) != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		steps = fetch_plan(PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0), PG_ARGISNULL(0), cxt);
		if (nonatomic)
			SPI_commit();
		foreach(lc, steps)
		{
			const char *sql = lfirst(lc);
			int			ret = SPI_execute(sql, false, 0);

			if (ret < 0)
				elog(ERROR, "could not run maintenance step \"%s\": %s", sql, SPI_result_code_string(ret));
			if (nonatomic)
				SPI_commit();
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		MemoryContextDelete(cxt);
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------------
 * The worker of one database
 * ---------------------------------------------------------------------------
 */

/*
 * The plan, in a transaction of its own; NIL when mtmcp is not installed
 * here or is too old to have a plan.  An error (say, an invalid retention
 * setting) ends the worker: logged, and retried next round.
 */
static List *
worker_plan(MemoryContext cxt)
{
	List	   *steps = NIL;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "mtmcp maintenance: planning");
	db_name = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
	if (SPI_execute("SELECT e.extversion, to_regprocedure('mtmcp._maintenance_plan(integer)') IS NOT NULL"
					"  FROM pg_catalog.pg_extension e WHERE e.extname = 'mtmcp'", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up the mtmcp extension");
	if (SPI_processed == 0)
		elog(DEBUG1, "mtmcp maintenance: mtmcp is not installed in database \"%s\"", db_name);
	else
	{
		bool		isnull;
		bool		has_plan = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

		if (!has_plan)
			ereport(LOG,
					(errmsg("mtmcp maintenance skips database \"%s\": mtmcp %s has no background maintenance",
							db_name,
							SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
					 errhint("Run ALTER EXTENSION mtmcp UPDATE in that database.")));
		else
			steps = fetch_plan(Int32GetDatum(WORKER_DAYS_AHEAD), false, cxt);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return steps;
}

/* One step in a transaction of its own; an error is logged, not raised. */
static void
worker_step(const char *sql)
{
	MemoryContext cxt = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, sql);
		if (SPI_execute(sql, false, 0) < 0)
			elog(ERROR, "could not run the step");
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("mtmcp maintenance step failed in database \"%s\": %s",
						db_name, edata->message),
				 errdetail("The step was: %s", sql),
				 errhint("The next run retries it.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* Says which database's maintenance an error comes from. */
static void
worker_error_context(void *arg)
{
	errcontext("mtmcp maintenance of database \"%s\"", db_name);
}

/* Entry point of the worker started for one database (the argument). */
void
mtmcp_worker_db_main(Datum arg)
{
	MemoryContext cxt;
	List	   *steps;
	ListCell   *lc;
	ErrorContextCallback errcb;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
	pgstat_report_appname("mtmcp maintenance");
	errcb.callback = worker_error_context;
	errcb.arg = NULL;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	cxt = AllocSetContextCreate(TopMemoryContext, "mtmcp maintenance", ALLOCSET_DEFAULT_SIZES);
	steps = worker_plan(cxt);
	foreach(lc, steps)
	{
		CHECK_FOR_INTERRUPTS();
		worker_step(lfirst(lc));
	}
	proc_exit(0);
}

/* ---------------------------------------------------------------------------
 * The launcher
 * ---------------------------------------------------------------------------
 */

static bool
database_wanted(const char *name)
{
	char	   *raw;
	List	   *names;
	ListCell   *lc;
	bool		found = false;

	if (worker_databases == NULL || worker_databases[0] == '\0')
		return true;
	raw = pstrdup(worker_databases);
	if (!SplitIdentifierString(raw, ',', &names))
		return false;			/* the check hook keeps this from happening */
	foreach(lc, names)
		if (strcmp((const char *) lfirst(lc), name) == 0)
			found = true;
	list_free(names);
	pfree(raw);
	return found;
}

/* The databases to visit this round: connectable, not templates, wanted. */
static List *
databases_to_visit(void)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext caller = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (!db->datallowconn || db->datistemplate || db->datconnlimit == DATCONNLIMIT_INVALID_DB)
			continue;
		if (!database_wanted(NameStr(db->datname)))
			continue;
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			dbs = lappend_oid(dbs, db->oid);
			MemoryContextSwitchTo(old);
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dbs;
}

/* Run one database's worker and wait for it to end. */
static void
visit_database(Oid dboid)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;
	pid_t		pid;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "mtmcp");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "mtmcp_worker_db_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "mtmcp maintenance of database %u", dboid);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "mtmcp maintenance");
	bgw.bgw_main_arg = ObjectIdGetDatum(dboid);
	bgw.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
	{
		ereport(LOG,
				(errmsg("mtmcp maintenance could not start a worker for database %u", dboid),
				 errhint("Raise max_worker_processes; the next round tries again.")));
		return;
	}
	if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_POSTMASTER_DIED ||
		WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
		proc_exit(1);
	pfree(handle);
}

/* Entry point of the launcher, registered at preload. */
void
mtmcp_worker_launcher_main(Datum arg)
{
	TimestampTz last_round = 0;
	MemoryContext round_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	/* no database: pg_database is a shared catalog */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	round_cxt = AllocSetContextCreate(TopMemoryContext, "mtmcp maintenance launcher", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (worker_enabled &&
			TimestampDifferenceExceeds(last_round, GetCurrentTimestamp(), worker_interval * 1000))
		{
			MemoryContext old = MemoryContextSwitchTo(round_cxt);
			List	   *dbs;
			ListCell   *lc;

			last_round = GetCurrentTimestamp();
			dbs = databases_to_visit();
			foreach(lc, dbs)
			{
				CHECK_FOR_INTERRUPTS();
				visit_database(lfirst_oid(lc));
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(round_cxt);
		}
		if (!worker_enabled)
			wait_ms = worker_interval * 1000L;
		else
		{
			TimestampTz next = TimestampTzPlusMilliseconds(last_round, worker_interval * 1000L);

			wait_ms = Max(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next), 1);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
