/*
 * progress.h -- progress of long tenant operations, visible to other sessions (progress.c)
 *
 * A move, an import, an export and a hard delete report what they are doing
 * (phase, table, rows done of rows total) into one slot per backend in
 * shared memory, so that a DBA can watch them from another session
 * (mtmcp.operation_progress) while their own transaction is still open.
 * Reports are not transactional; a slot is cleared when its operation ends,
 * when its transaction aborts, and when its backend exits.
 */
#ifndef MTMCP_PROGRESS_H
#define MTMCP_PROGRESS_H

extern void ProgressInit(void);

#endif							/* MTMCP_PROGRESS_H */
