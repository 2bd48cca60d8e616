/*
 * ratelimit.h -- the tenant's request budget (ratelimit.c)
 *
 * mtmcp_rate_limited takes one request from the verified tenant's budget
 * (its plan's "rate_limit" setting, overridden by its own), counted across
 * every backend; it returns 0, or the seconds until the window ends when
 * the budget is spent.
 */
#ifndef MTMCP_RATELIMIT_H
#define MTMCP_RATELIMIT_H

#include "identity.h"

extern int	mtmcp_rate_limited(const MtmcpIdentity *id);

#endif							/* MTMCP_RATELIMIT_H */
