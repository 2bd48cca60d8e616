/*
 * cache.h -- invalidation of per-backend configuration caches (cache.c)
 *
 * Backends cache what they parse from configuration tables (issuers and
 * keys, verified tokens, the tool catalog, the cursor secret).  Every cached
 * value is stamped with the configuration generation current when it was
 * built and is never used once the generation has moved; the generation
 * moves when a tracked table's change commits.  Also the OIDs of the
 * extension's own relations by name (mtmcp_relid), kept until invalidated.
 */
#ifndef MTMCP_CACHE_H
#define MTMCP_CACHE_H

extern void CacheInit(void);
extern uint64 mtmcp_config_generation(void);
extern void mtmcp_track_config_relation(const char *relname);
extern Oid	mtmcp_relid(const char *name);

#endif							/* MTMCP_CACHE_H */
