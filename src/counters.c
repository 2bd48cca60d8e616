/*
 * counters.c -- per-tenant windowed counters in shared memory
 *
 * Budgets that must hold across every backend (the per-tenant observability
 * budget, the refusal budgets per source and reason, the rate limits) count here: one fixed-size shared hash keyed
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
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "counters.h"
#include "jsonutil.h"

/* a whole number in int64 range, without raising an error */
static bool
numeric_setting(JsonbValue *v, int64 *out)
{
	Numeric		n;

	if (v == NULL || v->type != jbvNumeric)
		return false;
	n = v->val.numeric;
	if (numeric_is_nan(n) || numeric_is_inf(n))
		return false;
	if (!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(n),
										  DirectFunctionCall2(numeric_round, NumericGetDatum(n), Int32GetDatum(0)))))
		return false;
	if (DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(n),
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MAX)))) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(n),
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MIN)))))
		return false;
	*out = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(n)));
	return true;
}

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
	int64		over;			/* events refused in this window */
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
 * A budget from settings: key: {count_field: N, "window_seconds": S}.  False
 * when there is none, or when N or S is not a whole number in range (an
 * unusable budget is no budget: nothing is dropped or refused for it, and
 * nothing fails).  S defaults to 60.
 */
bool
mtmcp_budget_setting(Jsonb *settings, const char *key, const char *count_field,
					 int64 *count, int64 *window)
{
	JsonbValue *b;

	if (settings == NULL)
		return false;
	b = jsonb_object_get(&settings->root, key);
	if (!jsonb_value_is_object(b))
		return false;
	if (!numeric_setting(jsonb_object_get(b->val.binary.data, count_field), count) || *count < 0)
		return false;
	if (jsonb_object_get(b->val.binary.data, "window_seconds") == NULL)
		*window = 60;
	else if (!numeric_setting(jsonb_object_get(b->val.binary.data, "window_seconds"), window))
		return false;
	if (*window <= 0)
		*window = 60;
	return true;
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
	int64		over;

	return mtmcp_counter_take_over(kind, scope, now, width_secs, limit, window_start, &over);
}

/*
 * As mtmcp_counter_take, and *over receives how many events of the current
 * window, this one included, found the limit reached (0 when counted): the
 * caller that sees 1 is the first one refused in this window, exactly once
 * across every backend.
 */
MtmcpCounterResult
mtmcp_counter_take_over(int kind, const char *scope, int64 now, int64 width_secs, int64 limit,
						int64 *window_start, int64 *over)
{
	CounterKey	key;
	CounterEntry *e;
	bool		found;
	int64		start;
	MtmcpCounterResult res;

	*over = 0;
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
			e->over = 0;
		}
		if (e->count >= limit)
		{
			if (e->over < PG_INT64_MAX)
				e->over++;
			*over = e->over;
			res = MTMCP_COUNTER_OVER;
		}
		else
		{
			e->count++;
			res = MTMCP_COUNTER_OK;
		}
	}
	LWLockRelease(shared->lock);
	return res;
}
