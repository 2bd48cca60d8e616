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
 *   row       NOT NULL and CHECK as ExecConstraints checks them (the CHECKs
 *             kept compiled when they are C functions of columns; see
 *             ColumnMap), table_tuple_insert,
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
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "optimizer/optimizer.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "rowinsert.h"

#define MAX_COLS	64

/*
 * What is kept of one partition until its relcache entry is invalidated: the
 * caller's column i is the partition's attribute map[i] (1-based); its NOT
 * NULL columns; and its CHECK constraints ready to evaluate.  ExecConstraints
 * re-reads, plans and compiles every CHECK expression for each row it checks
 * -- for an audit row, a twentieth of the call.  Kept only for constraints
 * of the plainest form, a C function of columns (mtmcp's own are); any other
 * makes the partition's rows go through ExecConstraints as before.
 */
typedef struct ColumnMap
{
	Oid			relid;			/* InvalidOid: empty */
	int			ncols;
	const char *const *names;	/* the caller's (static) column names */
	AttrNumber	map[MAX_COLS];
	int			nnotnull;
	AttrNumber	notnull[MAX_COLS + 1];
	int			nchecks;		/* -1: check with ExecConstraints */
	ExprState **checks;
	MemoryContext cxt;			/* the checks' states, freed when the entry is rebuilt */
} ColumnMap;

static ColumnMap maps[4];
static bool callback_registered = false;
static int	in_checks = 0;		/* evaluating kept checks: do not rebuild under them */

/* Relcache invalidation: the entry is no longer used (its memory goes when it is rebuilt). */
static void
forget_maps(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < lengthof(maps); i++)
		if (relid == InvalidOid || maps[i].relid == relid)
			maps[i].relid = InvalidOid;
}

/* A CHECK expression kept compiled: a C function, not returning a set, of columns only. */
static bool
plain_check(Node *e)
{
	FuncExpr   *f;
	HeapTuple	tup;
	bool		c_lang;
	ListCell   *lc;

	if (!IsA(e, FuncExpr))
		return false;
	f = (FuncExpr *) e;
	if (f->funcretset)
		return false;
	foreach(lc, f->args)
		if (!IsA(lfirst(lc), Var))
			return false;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(f->funcid));
	if (!HeapTupleIsValid(tup))
		return false;
	c_lang = ((Form_pg_proc) GETSTRUCT(tup))->prolang == ClanguageId;
	ReleaseSysCache(tup);
	return c_lang;
}

static void
prepare_checks(ColumnMap *m, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleConstr *constr = desc->constr;
	MemoryContext old;
	int			i;

	if (m->cxt != NULL)
		MemoryContextDelete(m->cxt);
	m->cxt = NULL;
	m->nchecks = 0;
	m->nnotnull = 0;
	for (i = 0; i < desc->natts && m->nnotnull < MAX_COLS; i++)
		if (TupleDescAttr(desc, i)->attnotnull && !TupleDescAttr(desc, i)->attisdropped)
			m->notnull[m->nnotnull++] = TupleDescAttr(desc, i)->attnum;
	if (constr == NULL || constr->num_check == 0)
		return;

	m->cxt = AllocSetContextCreate(CacheMemoryContext, "mtmcp rowinsert checks", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(m->cxt);
	m->checks = palloc(sizeof(ExprState *) * constr->num_check);
	for (i = 0; i < constr->num_check; i++)
	{
		Node	   *e = stringToNode(constr->check[i].ccbin);

		if (!plain_check(e))
			break;
		/* as ExecRelCheck prepares it (ExecPrepareExpr) */
		m->checks[i] = ExecInitExpr(expression_planner((Expr *) e), NULL);
	}
	m->nchecks = i == constr->num_check ? i : -1;
	MemoryContextSwitchTo(old);
}

/* Do the row's NOT NULL columns and the kept CHECKs hold?  (false: let ExecConstraints say why) */
static bool
constraints_hold(ColumnMap *m, TupleTableSlot *slot, EState *estate)
{
	ExprContext *econtext;
	volatile bool ok = true;
	int			i;

	for (i = 0; i < m->nnotnull; i++)
		if (slot->tts_isnull[m->notnull[i] - 1])
			return false;
	if (m->nchecks == 0)
		return true;
	econtext = GetPerTupleExprContext(estate);
	econtext->ecxt_scantuple = slot;
	in_checks++;
	PG_TRY();
	{
		for (i = 0; i < m->nchecks && ok; i++)
			ok = ExecCheck(m->checks[i], econtext);
	}
	PG_FINALLY();
	{
		in_checks--;
	}
	PG_END_TRY();
	return ok;
}

/*
 * The map of the caller's columns onto rel's attributes, or NULL when rel
 * has a column the caller does not supply, lacks one it does, or types one
 * differently.
 */
static ColumnMap *
column_map(Relation rel, int ncols, const char *const *names, const Oid *types)
{
	TupleDesc	desc = RelationGetDescr(rel);
	ColumnMap  *m = NULL;
	int			i,
				live = 0;

	for (i = 0; i < lengthof(maps); i++)
		if (maps[i].relid == RelationGetRelid(rel) && maps[i].names == names && maps[i].ncols == ncols)
			return &maps[i];
	if (in_checks > 0)
		return NULL;			/* inside a kept check's evaluation: never rebuild under it */

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
	prepare_checks(m, rel);
	m->ncols = ncols;
	m->names = names;
	m->relid = RelationGetRelid(rel);
	return m;
}

/* The partition of parent whose range holds value; InvalidOid when there is none to use. */
static Oid
find_partition(Relation parent, int ncols, const char *const *names, Datum *values, bool *nulls,
			   bool *is_default)
{
	PartitionKey key = RelationGetPartitionKey(parent);
	/*
	 * As ExecInitPartitionDispatchInfo reads it for data modification: a
	 * partition being detached concurrently is left out, except under
	 * snapshot isolation, where the transaction may still use it.
	 */
	PartitionDesc pd = RelationGetPartitionDesc(parent, !IsolationUsesXactSnapshot());
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
	ColumnMap  *m;
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
		(m = column_map(part, ncols, names, types)) == NULL)
	{
		table_close(part, NoLock);
		table_close(parent, NoLock);
		return false;
	}

	/* the partition as range table entry 1, for what ExecConstraints reports on a violation */
	map = m->map;
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

	if (part->rd_att->constr != NULL &&
		(m->nchecks < 0 || in_checks > 0 || !constraints_hold(m, slot, estate)))
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
