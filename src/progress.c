/*
 * progress.c -- progress of long tenant operations in shared memory
 *
 * One slot per backend (MaxBackends), each written only by its own backend
 * under a spinlock and read by anyone through mtmcp._progress_rows().  SQL:
 *
 *   mtmcp._progress(operation, tenant, phase, table, done, total)
 *       report; operation NULL clears the slot
 *   mtmcp._progress_rows()  the live slots (the view mtmcp.operation_progress)
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "mtmcp.h"
#include "progress.h"

#define PROGRESS_TEXT 64
#define PROGRESS_TABLE 128

typedef struct ProgressSlot
{
	slock_t		mutex;
	int			pid;			/* 0: free */
	char		operation[PROGRESS_TEXT];
	char		tenant[PROGRESS_TEXT];
	char		phase[PROGRESS_TEXT];
	char		table[PROGRESS_TABLE];
	int64		done;
	int64		total;
	TimestampTz started;
	TimestampTz updated;
} ProgressSlot;

static ProgressSlot *slots = NULL;
static int	nslots = 0;
static bool callbacks_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(mul_size(MaxBackends, sizeof(ProgressSlot)));
}

static void
progress_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	nslots = MaxBackends;
	slots = ShmemInitStruct("mtmcp progress", mul_size(nslots, sizeof(ProgressSlot)), &found);
	if (!found)
	{
		int			i;

		memset(slots, 0, mul_size(nslots, sizeof(ProgressSlot)));
		for (i = 0; i < nslots; i++)
			SpinLockInit(&slots[i].mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
ProgressInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;
}

static ProgressSlot *
my_slot(void)
{
	int			i = MyBackendId - 1;

	if (slots == NULL || i < 0 || i >= nslots)
		return NULL;
	return &slots[i];
}

static void
clear_slot(void)
{
	ProgressSlot *s = my_slot();

	if (s == NULL || s->pid != MyProcPid)
		return;
	SpinLockAcquire(&s->mutex);
	s->pid = 0;
	SpinLockRelease(&s->mutex);
}

static void
progress_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT)
		clear_slot();
}

static void
progress_exit(int code, Datum arg)
{
	clear_slot();
}

static void
copy_text(char *dst, int size, FunctionCallInfo fcinfo, int n)
{
	if (PG_ARGISNULL(n))
		dst[0] = '\0';
	else
	{
		char	   *v = text_to_cstring(PG_GETARG_TEXT_PP(n));

		strlcpy(dst, v, size);
	}
}

PG_FUNCTION_INFO_V1(mtmcp_progress);

/* SQL: mtmcp._progress(operation, tenant, phase, table, done, total) */
Datum
mtmcp_progress(PG_FUNCTION_ARGS)
{
	ProgressSlot *s;
	TimestampTz now = GetCurrentTimestamp();

	mtmcp_require_preloaded();
	s = my_slot();
	if (s == NULL)
		PG_RETURN_VOID();
	if (!callbacks_registered)
	{
		RegisterXactCallback(progress_xact_callback, NULL);
		before_shmem_exit(progress_exit, (Datum) 0);
		callbacks_registered = true;
	}
	if (PG_ARGISNULL(0))
	{
		clear_slot();
		PG_RETURN_VOID();
	}
	{
		char		op[PROGRESS_TEXT];
		char		tenant[PROGRESS_TEXT];
		char		phase[PROGRESS_TEXT];
		char		table[PROGRESS_TABLE];
		int64		done = PG_ARGISNULL(4) ? -1 : PG_GETARG_INT64(4);
		int64		total = PG_ARGISNULL(5) ? -1 : PG_GETARG_INT64(5);

		/* copied before the spinlock: nothing may allocate under it */
		copy_text(op, sizeof(op), fcinfo, 0);
		copy_text(tenant, sizeof(tenant), fcinfo, 1);
		copy_text(phase, sizeof(phase), fcinfo, 2);
		copy_text(table, sizeof(table), fcinfo, 3);
		SpinLockAcquire(&s->mutex);
		/* a new operation (or another tenant) starts its clock */
		if (s->pid != MyProcPid || strcmp(op, s->operation) != 0 || strcmp(tenant, s->tenant) != 0)
			s->started = now;
		memcpy(s->operation, op, sizeof(op));
		memcpy(s->tenant, tenant, sizeof(tenant));
		memcpy(s->phase, phase, sizeof(phase));
		memcpy(s->table, table, sizeof(table));
		s->done = done;
		s->total = total;
		s->updated = now;
		s->pid = MyProcPid;
		SpinLockRelease(&s->mutex);
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(mtmcp_progress_rows);

/*
 * SQL: mtmcp._progress_rows() RETURNS TABLE (pid, operation, tenant_id,
 * phase, table_name, rows_done, rows_total, started_at, updated_at)
 */
Datum
mtmcp_progress_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	mtmcp_require_preloaded();
	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; slots != NULL && i < nslots; i++)
	{
		ProgressSlot copy;
		Datum		values[9];
		bool		nulls[9] = {0};

		SpinLockAcquire(&slots[i].mutex);
		memcpy(&copy, &slots[i], sizeof(copy));
		SpinLockRelease(&slots[i].mutex);
		if (copy.pid == 0)
			continue;
		values[0] = Int32GetDatum(copy.pid);
		values[1] = CStringGetTextDatum(copy.operation);
		values[2] = CStringGetTextDatum(copy.tenant);
		values[3] = CStringGetTextDatum(copy.phase);
		if (copy.table[0])
			values[4] = CStringGetTextDatum(copy.table);
		else
			nulls[4] = true;
		values[5] = Int64GetDatum(copy.done);
		nulls[5] = copy.done < 0;
		values[6] = Int64GetDatum(copy.total);
		nulls[6] = copy.total < 0;
		values[7] = TimestampTzGetDatum(copy.started);
		values[8] = TimestampTzGetDatum(copy.updated);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
