/*
 * ratelimit.c -- the tenant's request budget
 *
 * A request (a message with an id) over its tenant's rate limit is refused
 * with -32029 and HTTP 429 before any work.  The budget is the settings
 * "rate_limit": {"requests": N, "window_seconds": S} of the tenant's plan,
 * overridden by its own settings; it is counted per tenant across every
 * backend in a fixed window (counters.c).  A tenant without one, or with
 * one that is not whole numbers in range, is not limited.
 */
#include "postgres.h"

#include <limits.h>
#include <time.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "counters.h"
#include "identity.h"
#include "jsonutil.h"
#include "ratelimit.h"

/*
 * The tenant's request budget: settings "rate_limit": {"requests": N,
 * "window_seconds": S} from its plan, overridden by its own settings.
 * Counted per tenant across all backends (src/counters.c).  Returns 0, or
 * the seconds until the window ends when the budget is spent.
 */
int
mtmcp_rate_limited(const MtmcpIdentity *id)
{
	int64		limit,
				window,
				start,
				now = (int64) time(NULL);

	if (!mtmcp_budget_setting(id->settings, "rate_limit", "requests", &limit, &window))
		return 0;
	if (mtmcp_counter_take(MTMCP_COUNTER_RATE, id->tenant, now, window, limit, &start) != MTMCP_COUNTER_OVER)
		return 0;
	return (int) Max(1, Min(start + window - now, INT_MAX));
}
