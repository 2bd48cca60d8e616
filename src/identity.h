/*
 * identity.h -- bearer token to verified tenant (identity.c)
 *
 * The server side of authentication: issuers and their keys from the
 * configuration tables, tokens verified by the pure-C JWT module with the
 * key chosen here, a per-backend cache of verified tokens, the tenant's
 * status, plan and settings, and the mtmcp.tenant_id / mtmcp.subject
 * settings installed for one message at a time.  Nothing but this module
 * sets the verified tenant.
 */
#ifndef MTMCP_IDENTITY_H
#define MTMCP_IDENTITY_H

#include "utils/jsonb.h"

#define MTMCP_MAX_TENANT_LEN	64
#define MTMCP_MAX_SUBJECT_LEN	512

/*
 * An authentication outcome.  On failure, reason is a stable machine-readable
 * string, http_status 401 (who are you?) or 403 (known, but refused).
 *
 * source is what the refused message carried before anything was verified,
 * for refusal budgets (audit.c): the issuer it named when that issuer is
 * registered, else "(unregistered issuer)" or "(no issuer)" -- never an
 * attacker's free text, so the budgets stay few.  security is set for an
 * attack on a tenant that exists: a token naming a registered issuer and a
 * real tenant that trusts it, whose signature does not verify (the claimed
 * tenant is then in detail, never in a tenant column).
 */
typedef struct MtmcpIdentity
{
	char	   *tenant;
	char	   *subject;
	char	   *scopes;			/* space-separated, "" for none */
	char	   *issuer;
	char	   *plan;
	char	  **features;		/* the plan's features */
	int			nfeatures;
	Jsonb	   *settings;		/* plan settings overlaid with the tenant's own */
} MtmcpIdentity;

typedef struct MtmcpAuthError
{
	const char *reason;
	int			http_status;
	char	   *detail;			/* for logs and authenticate()'s errdetail; never sent to clients */
	const char *source;			/* what the message claimed to come from (see above) */
	bool		security;		/* a forged token against a real tenant */
} MtmcpAuthError;

extern void IdentityInit(void);
extern bool mtmcp_verify_request(const char *token, MtmcpIdentity *id, MtmcpAuthError *err);
extern int	mtmcp_enter_identity(const MtmcpIdentity *id);
extern void mtmcp_leave_identity(int nestlevel);
extern bool mtmcp_has_scope(const MtmcpIdentity *id, const char *scope);
extern bool mtmcp_plan_has_feature(const MtmcpIdentity *id, const char *feature);
extern const char *mtmcp_verified_tenant(void);
extern const char *mtmcp_verified_subject(void);

#endif							/* MTMCP_IDENTITY_H */
