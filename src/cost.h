/*
 * cost.h -- charges, attributed to the verified tenant (cost.c)
 *
 * Handlers call mtmcp.charge(meter, quantity); the charge goes to the
 * verified tenant and subject, priced at charge time, and survives the
 * handler's failure.  Per-call charges are flushed by the dispatcher right
 * after the handler, linked to the audit event; bucketed ones once per
 * transaction, before commit.
 */
#ifndef MTMCP_COST_H
#define MTMCP_COST_H

extern void CostInit(void);
extern void mtmcp_cost_flush_calls(const char *event_id, const char *tool);
extern int	mtmcp_cost_discard_calls(void);
extern void mtmcp_cost_flush_buckets(void);

#endif							/* MTMCP_COST_H */
