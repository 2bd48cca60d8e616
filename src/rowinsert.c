/*
 * rowinsert.c -- one row into a range-partitioned table, without the executor
 *
 * See rowinsert.h for what it does and when it declines.  The steps follow
 * what an INSERT through the partitioned table does (ExecInitModifyTable,
 * ExecFindPartition, ExecInsert), minus the machinery for what the checks
 * below rule out:
 *
 *   parent    RowExclusiveLock; INSERT privilege of the current user; no
 *             triggers (statement triggers would fire on it); no row
 *             security in force for the current user
 *   routing   RANGE on one plain column, looked up in the partition
 *             descriptor's bounds as get_partition_for_tuple does (the
 *             default partition when no range holds the value, whose
 *             constraint is then checked as ExecFindPartition does)
 *   partition RowExclusiveLock; a plain table with no triggers; every
 *             column one of the caller's, of the caller's type (the map from
 *             the caller's columns to the partition's is kept per partition
 *             until its relcache entry is invalidated)
 *   row       ExecConstraints (NOT NULL, CHECK), table_tuple_insert,
 *             ExecInsertIndexTuples (unique checks, partial and expression
 *             indexes, indexes not yet ready), CommandCounterIncrement
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "rowinsert.h"

#define MAX_COLS	64

/* The caller's column i is the partition's attribute map[i] (1-based). */
typedef struct ColumnMap
{
	Oid			relid;			/* InvalidOid: empty */
	int			ncols;
	const char *const *names;	/* the caller's (static) column names */
	AttrNumber	map[MAX_COLS];
} ColumnMap;

static ColumnMap maps[4];
static bool callback_registered = false;

static void
forget_maps(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < lengthof(maps); i++)
		if (relid == InvalidOid || maps[i].relid == relid)
			maps[i].relid = InvalidOid;
}

/*
 * The map of the caller's columns onto rel's attributes, or NULL when rel
 * has a column the caller does not supply, lacks one it does, or types one
 * differently.
 */
static const AttrNumber *
column_map(Relation rel, int ncols, const char *const *names, const Oid *types)
{
	TupleDesc	desc = RelationGetDescr(rel);
	ColumnMap  *m = NULL;
	int			i,
				live = 0;

	for (i = 0; i < lengthof(maps); i++)
		if (maps[i].relid == RelationGetRelid(rel) && maps[i].names == names && maps[i].ncols == ncols)
			return maps[i].map;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_maps, (Datum) 0);
		callback_registered = true;
	}
	for (i = 0; i < lengthof(maps) && m == NULL; i++)
		if (maps[i].relid == InvalidOid)
			m = &maps[i];
	if (m == NULL)
		m = &maps[RelationGetRelid(rel) % lengthof(maps)];
	m->relid = InvalidOid;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			c;

		if (att->attisdropped)
			continue;
		live++;
		for (c = 0; c < ncols; c++)
			if (strcmp(NameStr(att->attname), names[c]) == 0)
				break;
		if (c == ncols || att->atttypid != types[c] || att->attgenerated)
			return NULL;
		m->map[c] = att->attnum;
	}
	if (live != ncols)
		return NULL;
	m->ncols = ncols;
	m->names = names;
	m->relid = RelationGetRelid(rel);
	return m->map;
}

/* The partition of parent whose range holds value; InvalidOid when there is none to use. */
static Oid
find_partition(Relation parent, int ncols, const char *const *names, Datum *values, bool *nulls,
			   bool *is_default)
{
	PartitionKey key = RelationGetPartitionKey(parent);
	PartitionDesc pd = RelationGetPartitionDesc(parent, false);
	PartitionBoundInfo bounds;
	const char *keyname;
	int			c,
				idx = -1;

	if (key == NULL || pd == NULL || key->strategy != PARTITION_STRATEGY_RANGE ||
		key->partnatts != 1 || key->partattrs[0] == 0)
		return InvalidOid;
	keyname = NameStr(TupleDescAttr(RelationGetDescr(parent), key->partattrs[0] - 1)->attname);
	for (c = 0; c < ncols; c++)
		if (strcmp(names[c], keyname) == 0)
			break;
	if (c == ncols || nulls[c])
		return InvalidOid;		/* a NULL key goes to the default partition: leave it to the INSERT */

	bounds = pd->boundinfo;
	if (bounds != NULL && bounds->ndatums > 0)
	{
		bool		equal;
		int			off = partition_range_datum_bsearch(key->partsupfunc, key->partcollation, bounds, 1,
														&values[c], &equal);

		/* the bound at off is <= the value, so off + 1 is the upper bound of its range */
		idx = bounds->indexes[off + 1];
	}
	*is_default = idx < 0;
	if (idx < 0 && bounds != NULL)
		idx = bounds->default_index;
	if (idx < 0 || !pd->is_leaf[idx])
		return InvalidOid;
	return pd->oids[idx];
}

bool
mtmcp_row_insert(Oid parent_oid, int ncols, const char *const *names, const Oid *types,
				 Datum *values, bool *nulls)
{
	Relation	parent,
				part;
	Oid			part_oid;
	const AttrNumber *map;
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	bool		is_default;
	int			c;

	if (ncols > MAX_COLS)
		return false;
	parent = table_open(parent_oid, RowExclusiveLock);
	if (parent->rd_rel->relkind != RELKIND_PARTITIONED_TABLE || parent->trigdesc != NULL ||
		pg_class_aclcheck(parent_oid, GetUserId(), ACL_INSERT) != ACLCHECK_OK ||
		check_enable_rls(parent_oid, InvalidOid, true) == RLS_ENABLED ||
		!OidIsValid(part_oid = find_partition(parent, ncols, names, values, nulls, &is_default)))
	{
		table_close(parent, NoLock);
		return false;
	}
	part = table_open(part_oid, RowExclusiveLock);
	if (part->rd_rel->relkind != RELKIND_RELATION || part->trigdesc != NULL ||
		(map = column_map(part, ncols, names, types)) == NULL)
	{
		table_close(part, NoLock);
		table_close(parent, NoLock);
		return false;
	}

	/* the partition as range table entry 1, for what ExecConstraints reports on a violation */
	estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = part_oid;
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	for (c = 0; c < ncols; c++)
		rte->insertedCols = bms_add_member(rte->insertedCols, map[c] - FirstLowInvalidHeapAttributeNumber);
	ExecInitRangeTable(estate, list_make1(rte));
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, part, 1, NULL, 0);
	ExecOpenIndices(rri, false);

	slot = table_slot_create(part, NULL);
	ExecClearTuple(slot);
	for (c = 0; c < RelationGetDescr(part)->natts; c++)
	{
		slot->tts_values[c] = (Datum) 0;
		slot->tts_isnull[c] = true;		/* dropped columns */
	}
	for (c = 0; c < ncols; c++)
	{
		slot->tts_values[map[c] - 1] = values[c];
		slot->tts_isnull[map[c] - 1] = nulls[c];
	}
	ExecStoreVirtualTuple(slot);

	if (part->rd_att->constr != NULL)
		ExecConstraints(rri, slot, estate);
	/*
	 * As ExecFindPartition does: the default partition's constraint may have
	 * changed since the descriptor was read (a partition attached meanwhile
	 * now holds this row's range), so check it rather than misplace the row.
	 */
	if (is_default)
		(void) ExecPartitionCheck(rri, slot, estate, true);
	table_tuple_insert(part, slot, GetCurrentCommandId(true), 0, NULL);
	if (rri->ri_NumIndices > 0)
		(void) ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);

	ExecDropSingleTupleTableSlot(slot);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	table_close(part, NoLock);
	table_close(parent, NoLock);
	/* as SPI does after a statement: what follows in the transaction sees the row */
	CommandCounterIncrement();
	return true;
}
