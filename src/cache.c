/*
 * cache.c -- invalidation of per-backend configuration caches
 *
 * Backends cache parsed signing keys, verified tokens and (later) tool
 * catalogs.  Every cached value is stamped with the configuration generation
 * current when it was built; a cached value from an older generation is
 * never used.
 *
 * The generation moves when a tracked configuration table changes.  A
 * statement trigger on each such table (mtmcp._config_changed) queues a
 * relcache invalidation for it; PostgreSQL delivers that to every backend
 * only after the changing transaction commits (and to the changing backend
 * at its next command), so no backend can rebuild a cache from data that is
 * about to be rolled back, or keep one built before the change.  A full
 * invalidation (InvalidOid, e.g. after a sinval queue overflow) also moves it.
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/rel.h"

#include "cache.h"
#include "mtmcp.h"

#define MAX_TRACKED 16

static const char *tracked_names[MAX_TRACKED];
static Oid	tracked_oids[MAX_TRACKED];
static int	ntracked = 0;
static bool tracked_resolved = false;
static uint64 generation = 1;

static void
config_relcache_callback(Datum arg, Oid relid)
{
	int			i;

	if (!OidIsValid(relid))
	{
		generation++;
		tracked_resolved = false;
		return;
	}
	for (i = 0; i < ntracked; i++)
	{
		if (tracked_oids[i] == relid)
		{
			generation++;
			/* the relation may have been dropped and re-created */
			tracked_resolved = false;
			return;
		}
	}
}

void
CacheInit(void)
{
	CacheRegisterRelcacheCallback(config_relcache_callback, (Datum) 0);
}

/* Called from _PG_init by each module that caches a configuration table. */
void
mtmcp_track_config_relation(const char *relname)
{
	if (ntracked >= MAX_TRACKED)
		elog(ERROR, "too many tracked configuration relations");
	tracked_names[ntracked++] = relname;
}

/*
 * The current configuration generation.  Must be called inside a
 * transaction: it resolves the tracked tables' OIDs when needed.
 */
uint64
mtmcp_config_generation(void)
{
	if (!tracked_resolved)
	{
		int			i;

		for (i = 0; i < ntracked; i++)
			tracked_oids[i] = mtmcp_relid(tracked_names[i]);
		tracked_resolved = true;
		/* anything cached before we knew the OIDs may predate a change */
		generation++;
	}
	return generation;
}

PG_FUNCTION_INFO_V1(mtmcp_config_changed);

/*
 * Statement trigger on configuration tables: queue an invalidation that every
 * backend (this one included) sees once the change is committed.
 */
Datum
mtmcp_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mtmcp._config_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
