/*
 * rowinsert.h -- one row into a range-partitioned table, without the executor (rowinsert.c)
 *
 * Every audited call writes one audit row.  Through SPI, each execution of
 * the INSERT sets up the executor, partition routing and the partition's
 * result relation again: about a fifth of a whole call's instructions.  This
 * writes the row the way COPY does: the partition found from the relcache's
 * bounds, the partition's NOT NULL and CHECK constraints (ExecConstraints),
 * the tuple, every index (ExecInsertIndexTuples), the same locks, and a
 * command counter increment as SPI makes.
 *
 * It writes only what it can write exactly as the INSERT would.  When the
 * target has anything more -- triggers (foreign keys, deferred unique
 * checks), row security in force, a column the caller does not supply
 * (defaults, generated columns), a type other than the caller's, another
 * partitioning scheme, a sub-partitioned partition, a privilege missing --
 * it writes nothing and returns false, and the caller runs its INSERT.
 */
#ifndef MTMCP_ROWINSERT_H
#define MTMCP_ROWINSERT_H

/*
 * Insert one row into the partitioned table parent: ncols columns named
 * names[i], of type types[i], with values[i] / nulls[i].  The columns must
 * be every column of the table.  True when written; false when the row must
 * go through SQL instead (nothing written).
 */
extern bool mtmcp_row_insert(Oid parent, int ncols, const char *const *names, const Oid *types,
							 Datum *values, bool *nulls);

#endif							/* MTMCP_ROWINSERT_H */
