/*
 * cost.c -- charges, attributed to the verified tenant
 *
 * A handler calls mtmcp.charge(meter, quantity) where it spends money (an
 * external API call, tokens, a search).  The charge is attributed to the
 * verified tenant and subject -- never to anything in the arguments -- and
 * priced at the meter's unit price in integer micro-units at charge time.
 *
 * A charge whose amount would not fit a ledger row (bigint micro-units) is
 * refused by charge() itself with 22003, before anything is queued, so
 * writing the ledger later cannot overflow.
 *
 * Charges are held in backend memory that survives the handler's
 * subtransaction, because a call that was paid for stays paid for even when
 * the tool fails afterwards:
 *   - per_call meters: one ledger row per charge, written by mcp_dispatch
 *     right after the handler ends (either way), linked to the audit event;
 *   - bucketed meters: summed per (tenant, meter) and written as one row per
 *     transaction, just before it commits (XACT_EVENT_PRE_COMMIT).
 * Anything still pending at pre-commit (charges made outside a dispatch) is
 * written then.  If the transaction aborts, the work and its charges go
 * together.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"

#include "cost.h"
#include "identity.h"
#include "mtmcp.h"

typedef struct PendingCharge
{
	char	   *tenant;
	char	   *subject;
	char	   *meter;
	char	   *tool;
	Datum		quantity;		/* numeric, summed for bucketed meters */
	int64		price;			/* micro-units per unit */
	bool		bucketed;
	struct PendingCharge *next;
} PendingCharge;

/* all in TopTransactionContext: gone, with the pointers reset, at xact end */
static PendingCharge *pending = NULL;

static SPIPlanPtr meter_plan = NULL;
static SPIPlanPtr ledger_plan = NULL;

static void
cost_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (pending != NULL)
			{
				/* the statement's snapshot is gone by now; writes need one */
				PushActiveSnapshot(GetTransactionSnapshot());
				mtmcp_cost_flush_calls(NULL, NULL);
				mtmcp_cost_flush_buckets();
				PopActiveSnapshot();
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			pending = NULL;
			break;
		default:
			break;
	}
}

void
CostInit(void)
{
	RegisterXactCallback(cost_xact_callback, NULL);
}

static void
insert_ledger_row(PendingCharge *c, const char *mode, const char *event_id)
{
	Datum		vals[8];
	char		nulls[8];
	int			ret;

	memset(nulls, ' ', sizeof(nulls));
	if (ledger_plan == NULL)
	{
		Oid			types[8] = {TEXTOID, TEXTOID, TEXTOID, NUMERICOID, INT8OID, TEXTOID, TEXTOID, TEXTOID};

		ledger_plan = mtmcp_keep_plan("INSERT INTO mtmcp.cost_ledger (tenant_id, subject, meter, quantity,"
								   " unit_price_micros, amount_micros, mode, tool, event_id)"
								   " VALUES ($1, $2, $3, $4, $5, round($4 * $5)::bigint, $6, $7, $8::uuid)",
								   8, types);
	}
	vals[0] = CStringGetTextDatum(c->tenant);
	vals[1] = CStringGetTextDatum(c->subject);
	vals[2] = CStringGetTextDatum(c->meter);
	vals[3] = c->quantity;
	vals[4] = Int64GetDatum(c->price);
	vals[5] = CStringGetTextDatum(mode);
	if (c->tool)
		vals[6] = CStringGetTextDatum(c->tool);
	else
		nulls[6] = 'n';
	if (event_id)
		vals[7] = CStringGetTextDatum(event_id);
	else
		nulls[7] = 'n';
	ret = SPI_execute_plan(ledger_plan, vals, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not write a cost ledger row: %s", SPI_result_code_string(ret));
}

/*
 * Write the pending per-call charges (one row each), linked to the audit
 * event and tool when given.  Bucketed charges stay pending until commit.
 */
void
mtmcp_cost_flush_calls(const char *event_id, const char *tool)
{
	PendingCharge **link;
	PendingCharge *c;
	bool		connected = false;

	for (c = pending; c != NULL; c = c->next)
	{
		if (c->bucketed)
			continue;
		if (!connected)
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			connected = true;
		}
		if (tool != NULL && c->tool == NULL)
			c->tool = MemoryContextStrdup(TopTransactionContext, tool);
		insert_ledger_row(c, "per_call", event_id);
	}
	if (!connected)
		return;
	SPI_finish();

	/*
	 * Only now, with every row in, are they no longer pending: a failure
	 * above leaves them all pending, so the caller that rolls the rows back
	 * can write them again.
	 */
	link = &pending;
	while ((c = *link) != NULL)
	{
		if (c->bucketed)
			link = &c->next;
		else
			*link = c->next;
	}
}

/*
 * Forget the pending per-call charges without writing them (after they
 * could not be written); returns how many there were.
 */
int
mtmcp_cost_discard_calls(void)
{
	PendingCharge **link = &pending;
	PendingCharge *c;
	int			n = 0;

	while ((c = *link) != NULL)
	{
		if (c->bucketed)
			link = &c->next;
		else
		{
			ereport(WARNING,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("charge of %s units of meter \"%s\" to tenant \"%s\" could not be recorded",
							DatumGetCString(DirectFunctionCall1(numeric_out, c->quantity)),
							c->meter, c->tenant),
					 errhidestmt(true)));
			*link = c->next;
			n++;
		}
	}
	return n;
}

/* Write one row per (tenant, meter) of this transaction's bucketed charges. */
void
mtmcp_cost_flush_buckets(void)
{
	PendingCharge *c;

	if (pending == NULL)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (c = pending; c != NULL; c = c->next)
		if (c->bucketed)
		{
			c->tool = NULL;		/* a bucket spans calls */
			insert_ledger_row(c, "bucketed", NULL);
		}
	SPI_finish();
	pending = NULL;
}

/*
 * Raise 22003 unless quantity units at price micro-units each make an amount
 * a ledger row can hold: a charge that cannot be written is refused when it
 * is made, in the handler, never later when the ledger is written.
 */
static void
check_amount(const char *meter, Datum quantity, int64 price)
{
	Datum		amount = DirectFunctionCall2(numeric_round,
											 DirectFunctionCall2(numeric_mul, quantity,
																 DirectFunctionCall1(int8_numeric, Int64GetDatum(price))),
											 Int32GetDatum(0));

	if (DatumGetBool(DirectFunctionCall2(numeric_gt, amount,
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MAX)))))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("charge amount out of range"),
				 errdetail("%s units of meter \"%s\" at %lld micro-units each exceed the largest amount a ledger row holds (%lld micro-units).",
						   DatumGetCString(DirectFunctionCall1(numeric_out, quantity)), meter,
						   (long long) price, (long long) PG_INT64_MAX)));
}

PG_FUNCTION_INFO_V1(mtmcp_charge);

/*
 * SQL: mtmcp.charge(meter text, quantity numeric).  Called by handlers; the
 * tenant is the verified one, there is no way to name another.
 */
Datum
mtmcp_charge(PG_FUNCTION_ARGS)
{
	const char *tenant = mtmcp_verified_tenant();
	char	   *meter;
	Datum		quantity;
	Datum		args[1];
	Oid			types[1] = {TEXTOID};
	int			ret;
	bool		isnull;
	int64		price;
	bool		bucketed;
	PendingCharge *c;
	MemoryContext old;

	mtmcp_require_preloaded();
	if (tenant == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no verified tenant to charge"),
				 errhint("mtmcp.charge() is for tool handlers; use mtmcp.charge_background() for other costs.")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("meter and quantity must not be null")));
	meter = text_to_cstring(PG_GETARG_TEXT_PP(0));
	quantity = PG_GETARG_DATUM(1);
	if (numeric_is_nan(DatumGetNumeric(quantity)) || numeric_is_inf(DatumGetNumeric(quantity)) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, quantity,
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid charge quantity"),
				 errdetail("A quantity must be a finite number of at least zero.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (meter_plan == NULL)
		meter_plan = mtmcp_keep_plan("SELECT unit_price_micros, mode = 'bucketed' FROM mtmcp.meters WHERE meter = $1",
								  1, types);
	args[0] = CStringGetTextDatum(meter);
	ret = SPI_execute_plan(meter_plan, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up meter: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		SPI_finish();
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("meter \"%s\" does not exist", meter),
				 errhint("Create it with mtmcp.create_meter().")));
	}
	price = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	bucketed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();

	/* checked before anything is queued: the charge alone, then its bucket's sum */
	check_amount(meter, quantity, price);
	if (bucketed)
	{
		for (c = pending; c != NULL; c = c->next)
			if (c->bucketed && strcmp(c->tenant, tenant) == 0 && strcmp(c->meter, meter) == 0 &&
				c->price == price)
			{
				Datum		sum = DirectFunctionCall2(numeric_add, c->quantity, quantity);

				check_amount(meter, sum, price);
				old = MemoryContextSwitchTo(TopTransactionContext);
				c->quantity = DirectFunctionCall1(numeric_uplus, sum);
				MemoryContextSwitchTo(old);
				PG_RETURN_VOID();
			}
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	c = palloc0(sizeof(PendingCharge));
	c->tenant = pstrdup(tenant);
	c->subject = pstrdup(mtmcp_verified_subject());
	c->meter = pstrdup(meter);
	c->quantity = DirectFunctionCall1(numeric_uplus, quantity);	/* a copy in this context */
	c->price = price;
	c->bucketed = bucketed;
	{
		PendingCharge **tail = &pending;

		while (*tail != NULL)
			tail = &(*tail)->next;
		*tail = c;				/* keep the order the charges were made in */
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_VOID();
}
