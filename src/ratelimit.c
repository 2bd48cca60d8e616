/*
 * ratelimit.c -- the tenant's request budget
 *
 * A request (a message with an id) over its tenant's rate limit is refused
 * with -32029 and HTTP 429 before any work.  The budget is the settings
 * "rate_limit": {"requests": N, "window_seconds": S} of the tenant's plan,
 * overridden by its own settings; it is counted per tenant across every
 * backend in a fixed window (counters.c).  A tenant without one is not
 * limited.
 */
#include "postgres.h"

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
	JsonbValue *rl;
	JsonbValue *v;
	int64		limit,
				window = 60,
				start,
				now = (int64) time(NULL);

	if (id->settings == NULL)
		return 0;
	rl = jsonb_object_get(&id->settings->root, "rate_limit");
	if (!jsonb_value_is_object(rl))
		return 0;
	v = jsonb_object_get(rl->val.binary.data, "requests");
	if (v == NULL || v->type != jbvNumeric)
		return 0;
	limit = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
	v = jsonb_object_get(rl->val.binary.data, "window_seconds");
	if (v != NULL && v->type == jbvNumeric)
		window = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
	if (window <= 0)
		window = 60;
	if (mtmcp_counter_take(MTMCP_COUNTER_RATE, id->tenant, now, window, limit, &start) != MTMCP_COUNTER_OVER)
		return 0;
	return (int) Max(1, start + window - now);
}
