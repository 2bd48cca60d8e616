/*
 * counters.h -- per-tenant windowed counters in shared memory (counters.c)
 *
 * Budgets that must hold across every backend count here: the audit
 * observability budget, the refusal budgets (per source and reason) and the
 * request rate limit.  One fixed-size shared hash keyed by (kind, scope), each entry a
 * fixed window and a count within it; counts are not transactional.
 */
#ifndef MTMCP_COUNTERS_H
#define MTMCP_COUNTERS_H

#include "utils/jsonb.h"

typedef enum MtmcpCounterResult
{
	MTMCP_COUNTER_OK,
	MTMCP_COUNTER_OVER,
	MTMCP_COUNTER_UNTRACKED
} MtmcpCounterResult;

#define MTMCP_COUNTER_AUDIT			1
#define MTMCP_COUNTER_AUTH_FAILURES	2
#define MTMCP_COUNTER_RATE			3

extern void CountersInit(void);
extern MtmcpCounterResult mtmcp_counter_take(int kind, const char *scope, int64 now,
											 int64 width_secs, int64 limit, int64 *window_start);
extern MtmcpCounterResult mtmcp_counter_take_over(int kind, const char *scope, int64 now,
												  int64 width_secs, int64 limit, int64 *window_start,
												  int64 *over);
extern bool mtmcp_budget_setting(Jsonb *settings, const char *key, const char *count_field,
								 int64 *count, int64 *window);

#endif							/* MTMCP_COUNTERS_H */
