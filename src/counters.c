/*
 * counters.c -- per-tenant windowed counters in shared memory
 *
 * Budgets that must hold across every backend (the per-tenant observability
 * budget, and later rate limits) count here: one fixed-size shared hash keyed
 * by (kind, scope), each entry a fixed window [start, start + width) and a
 * count within it.  The table lives in shared memory requested at preload
 * (shmem_request_hook) and built in shmem_startup_hook under
 * AddinShmemInitLock, as contrib/pg_stat_statements does.
 *
 * Locking: one LWLock guards the whole table; every operation is a short
 * lookup-and-increment under it in exclusive mode.
 *
 * Counts are not transactional: a request that rolls back has still been
 * counted.  When the table is full a new scope cannot be tracked; the
 * caller is told (MTMCP_COUNTER_UNTRACKED) and decides -- audit writes the
 * row (an audit record is never lost for lack of counter space).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/hsearch.h"

#include "counters.h"

#define COUNTER_SCOPE_LEN	80

typedef struct CounterKey
{
	Oid			dbid;			/* tenants are per database */
	int			kind;
	char		scope[COUNTER_SCOPE_LEN];
} CounterKey;

typedef struct CounterEntry
{
	CounterKey	key;
	int64		window_start;	/* seconds since the epoch */
	int64		width;			/* seconds */
	int64		count;
} CounterEntry;

typedef struct CounterShared
{
	LWLock	   *lock;
} CounterShared;

static int	max_counters = 10000;
static CounterShared *shared = NULL;
static HTAB *counters = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
counters_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(CounterShared)));
	RequestAddinShmemSpace(hash_estimate_size(max_counters, sizeof(CounterEntry)));
	RequestNamedLWLockTranche("mtmcp_counters", 1);
}

static void
counters_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("mtmcp counters", sizeof(CounterShared), &found);
	if (!found)
		shared->lock = &(GetNamedLWLockTranche("mtmcp_counters"))->lock;
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(CounterKey);
	info.entrysize = sizeof(CounterEntry);
	counters = ShmemInitHash("mtmcp counters hash", max_counters, max_counters,
							 &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

void
CountersInit(void)
{
	DefineCustomIntVariable("mtmcp.max_tracked_counters",
							gettext_noop("Tenants whose budgets and rate limits can be tracked at once."),
							NULL,
							&max_counters,
							10000, 100, 10000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = counters_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = counters_shmem_startup;
}

/*
 * Count one event for (kind, scope) in the window of width_secs containing
 * now, unless the window already holds limit events.
 *
 * Returns MTMCP_COUNTER_OK (counted), MTMCP_COUNTER_OVER (not counted: the
 * limit is reached) or MTMCP_COUNTER_UNTRACKED (no room to track the scope).
 * *window_start receives the start of the current window.
 */
MtmcpCounterResult
mtmcp_counter_take(int kind, const char *scope, int64 now, int64 width_secs, int64 limit,
				   int64 *window_start)
{
	CounterKey	key;
	CounterEntry *e;
	bool		found;
	int64		start;
	MtmcpCounterResult res;

	if (shared == NULL || counters == NULL)
		elog(ERROR, "mtmcp shared memory is not initialized");
	if (width_secs <= 0)
		width_secs = 1;
	start = now - (now % width_secs);
	*window_start = start;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.kind = kind;
	strlcpy(key.scope, scope, sizeof(key.scope));

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	e = hash_search(counters, &key, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		/* full: forget scopes whose window ended, then try once more */
		HASH_SEQ_STATUS seq;
		CounterEntry *old;

		hash_seq_init(&seq, counters);
		while ((old = hash_seq_search(&seq)) != NULL)
			if (old->window_start + old->width <= now)
				hash_search(counters, &old->key, HASH_REMOVE, NULL);
		e = hash_search(counters, &key, HASH_ENTER_NULL, &found);
	}
	if (e == NULL)
		res = MTMCP_COUNTER_UNTRACKED;
	else
	{
		if (!found || e->window_start != start)
		{
			e->window_start = start;
			e->width = width_secs;
			e->count = 0;
		}
		if (e->count >= limit)
			res = MTMCP_COUNTER_OVER;
		else
		{
			e->count++;
			res = MTMCP_COUNTER_OK;
		}
	}
	LWLockRelease(shared->lock);
	return res;
}
