/*
 * worker.h -- maintenance on a schedule (worker.c)
 *
 * CALL mtmcp.maintain_partitions() creates the ledgers' coming partitions,
 * drops expired ones, purges expired counters and reaps idle sessions, one
 * step per transaction.  A background worker runs the same steps in every
 * database that has mtmcp installed, every mtmcp.worker_interval, unless
 * mtmcp.worker_enabled is off; mtmcp.worker_databases narrows it to a list.
 */
#ifndef MTMCP_WORKER_H
#define MTMCP_WORKER_H

extern void WorkerInit(void);

#endif							/* MTMCP_WORKER_H */
