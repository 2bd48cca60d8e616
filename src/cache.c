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

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "cache.h"
#include "mtmcp.h"

#define MAX_TRACKED 16

static const char *tracked_names[MAX_TRACKED];
static Oid	tracked_oids[MAX_TRACKED];
static int	ntracked = 0;
static bool tracked_resolved = false;
static uint64 generation = 1;

/*
 * mtmcp_relid's answers: the names are the callers' string constants.  An
 * entry goes with any invalidation of its relation (dropped, renamed, the
 * extension re-created) and all go with a full one.
 */
#define MAX_RELIDS 32			/* the tracked tables and a few more */

static struct
{
	const char *name;
	Oid			oid;
}			relids[MAX_RELIDS];
static int	nrelids = 0;

static void
forget_relid(Oid relid)
{
	int			i;

	for (i = 0; i < nrelids; i++)
	{
		if (!OidIsValid(relid) || relids[i].oid == relid)
		{
			relids[i] = relids[--nrelids];
			i--;
		}
	}
}

static void
config_relcache_callback(Datum arg, Oid relid)
{
	int			i;

	forget_relid(relid);
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

/*
 * The OID of the extension's relation mtmcp.name, or InvalidOid when the
 * schema or the relation does not exist (not installed, being re-created):
 * two syscache lookups the first time, then kept until an invalidation of
 * the relation (a missing one is looked up again every time).
 */
Oid
mtmcp_relid(const char *name)
{
	Oid			nsp;
	Oid			oid;
	int			i;

	for (i = 0; i < nrelids; i++)
		if (relids[i].name == name || strcmp(relids[i].name, name) == 0)
			return relids[i].oid;
	nsp = get_namespace_oid("mtmcp", true);
	oid = OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
	if (OidIsValid(oid) && nrelids < MAX_RELIDS)
	{
		relids[nrelids].name = name;
		relids[nrelids].oid = oid;
		nrelids++;
	}
	return oid;
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
