/*
 * identity.c -- bearer token to verified tenant; the verified tenant setting
 *
 * Resolution at the request boundary, before any business logic:
 *
 *   1. the token is verified cryptographically (src/jwt.c) against the keys
 *      registered for the issuer it names, and its claims against that
 *      issuer's policy;
 *   2. the tenant it names must exist, must trust that issuer, and must be
 *      active.  Step 2 runs on every call, even for a token served from the
 *      verified-token cache, so a suspension takes effect on the next call.
 *
 * Every refusal carries a stable machine-readable reason and an HTTP status
 * (401: the token is not acceptable; 403: it is, but the tenant is not
 * served).  "Exists but does not trust this issuer" answers exactly like
 * "does not exist", so a foreign issuer learns nothing about other tenants.
 *
 * The verified identity lives in two settings, mtmcp.tenant_id and
 * mtmcp.subject.  They are defined here at preload time as PGC_SUSET with the
 * "mtmcp" prefix reserved, and a check hook refuses every value that does not
 * come from this file's verified path (superusers included), except the empty
 * value and the copy a parallel worker receives from its leader.  Being real
 * settings, they are shipped to parallel workers, where RLS policies read
 * them through the STABLE PARALLEL SAFE getters below.
 *
 * Caches (per backend, dropped when src/cache.c's generation moves):
 *   - issuers and their parsed keys;
 *   - verified tokens, keyed by the SHA-256 of the whole token, bounded,
 *     each entry valid until the token's exp (+ leeway).
 */
#include "postgres.h"

#include <time.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "cache.h"
#include "codec.h"
#include "identity.h"
#include "jsonutil.h"
#include "jwt.h"
#include "mtmcp.h"

/* settings */
static char *tenant_setting = NULL;
static char *subject_setting = NULL;
static int	max_token_bytes = JWT_DEFAULT_MAX_TOKEN_LEN;
static int	token_cache_size = 256;
static char *access_scope = NULL;

/* true only while this file sets the verified settings */
static bool in_verified_path = false;

/* ---- issuer and key cache ---- */

typedef struct CachedKey
{
	char	   *kid;			/* NULL: registered without a kid */
	jwt_key    *key;			/* malloc'd by jwt.c */
} CachedKey;

typedef struct CachedIssuer
{
	char	   *issuer;
	char	   *audience;
	char	   *tenant_claim;
	char	   *subject_claim;
	char	   *scope_claim;
	int64		leeway;
	int			nkeys;
	int			keycap;
	CachedKey  *keys;
} CachedIssuer;

static MemoryContext key_cxt = NULL;
static CachedIssuer *issuers = NULL;
static int	nissuers = 0;
static uint64 keys_generation = 0;

/* ---- verified-token cache ---- */

typedef struct TokenEntry
{
	bool		used;
	unsigned char digest[32];
	uint64		generation;
	int64		expires_at;		/* exp + leeway */
	char	   *tenant;
	char	   *subject;
	char	   *scopes;
	char	   *issuer;
} TokenEntry;

static MemoryContext token_cxt = NULL;
static TokenEntry *token_cache = NULL;

static SPIPlanPtr tenant_plan = NULL;

static bool tenant_id_is_valid(const char *t);

/* counters for mtmcp._identity_cache_stats() */
static int64 stat_verifications = 0;	/* full cryptographic verifications */
static int64 stat_cache_hits = 0;		/* tokens served from the cache */
static int64 stat_key_loads = 0;		/* key cache (re)loads */

/*
 * Check hook for mtmcp.tenant_id and mtmcp.subject: only the verified path
 * may set a value.  The empty value (no identity) is always allowed: it is
 * what RESET and a fresh session have, and it fails closed.
 */
static bool
check_verified_setting(const char *name, char **newval)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (in_verified_path || InitializingParallelWorker)
		return true;
	GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
	GUC_check_errmsg("parameter \"%s\" can only be set by verifying a token", name);
	GUC_check_errhint("Call mtmcp.authenticate(token); tools receive the identity from mtmcp.mcp_dispatch().");
	return false;
}

static bool
check_tenant_setting(char **newval, void **extra, GucSource source)
{
	return check_verified_setting("mtmcp.tenant_id", newval);
}

static bool
check_subject_setting(char **newval, void **extra, GucSource source)
{
	return check_verified_setting("mtmcp.subject", newval);
}

void
IdentityInit(void)
{
	DefineCustomStringVariable("mtmcp.tenant_id",
							   gettext_noop("The verified tenant of the current transaction."),
							   gettext_noop("Readable by anyone; set only by mtmcp.authenticate() and mtmcp.mcp_dispatch() after verifying a token."),
							   &tenant_setting,
							   "",
							   PGC_SUSET,
							   GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE | GUC_DISALLOW_IN_AUTO_FILE,
							   check_tenant_setting, NULL, NULL);
	DefineCustomStringVariable("mtmcp.subject",
							   gettext_noop("The verified caller (token subject) of the current transaction."),
							   gettext_noop("Readable by anyone; set only by mtmcp.authenticate() and mtmcp.mcp_dispatch() after verifying a token."),
							   &subject_setting,
							   "",
							   PGC_SUSET,
							   GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE | GUC_DISALLOW_IN_AUTO_FILE,
							   check_subject_setting, NULL, NULL);
	DefineCustomIntVariable("mtmcp.max_token_bytes",
							gettext_noop("Longest bearer token accepted, in bytes."),
							NULL,
							&max_token_bytes,
							JWT_DEFAULT_MAX_TOKEN_LEN, 1024, 65536,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mtmcp.token_cache_size",
							gettext_noop("Verified tokens remembered per backend (0 disables the cache)."),
							NULL,
							&token_cache_size,
							256, 0, 65536,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("mtmcp.access_scope",
							   gettext_noop("A scope every token must carry to use the server at all (empty: none)."),
							   gettext_noop("A token without it is refused with reason insufficient_scope (HTTP 403)."),
							   &access_scope,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	mtmcp_track_config_relation("issuers");
	mtmcp_track_config_relation("signing_keys");
	/* the tenant cache (tenants and plans are tracked by catalog.c) */
	mtmcp_track_config_relation("tenant_issuers");
}

/* ---------------------------------------------------------------------------
 * Issuer and key cache
 * ------------------------------------------------------------------------- */

static void
free_key_cache(void)
{
	int			i,
				j;

	for (i = 0; i < nissuers; i++)
		for (j = 0; j < issuers[i].nkeys; j++)
			jwt_key_free(issuers[i].keys[j].key);
	issuers = NULL;
	nissuers = 0;
	if (key_cxt)
		MemoryContextReset(key_cxt);
}

/*
 * Build a jwt_key from a registered key.  A key that does not parse is
 * skipped with a warning (add_key validates, so this means tampering).
 */
static jwt_key *
parse_registered_key(const char *issuer, const char *alg_name, bytea *raw)
{
	jwt_alg		alg = jwt_alg_from_name(alg_name);
	jwt_key    *key = NULL;
	jwt_status	st;

	if (jwt_alg_is_hmac(alg))
		st = jwt_key_from_secret(alg, (unsigned char *) VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &key);
	else
		st = jwt_key_from_pem(alg, VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &key);
	if (st != JWT_OK)
	{
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ignoring unusable %s key of issuer \"%s\"", alg_name, issuer),
				 errdetail("The key was refused with reason \"%s\".", jwt_status_reason(st))));
		return NULL;
	}
	return key;
}

static void
load_key_cache(void)
{
	uint64		gen = mtmcp_config_generation();
	int			ret;
	uint64		r;
	MemoryContext oldcxt;

	if (key_cxt != NULL && keys_generation == gen)
		return;

	if (key_cxt == NULL)
		key_cxt = AllocSetContextCreate(TopMemoryContext, "mtmcp key cache", ALLOCSET_SMALL_SIZES);
	free_key_cache();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute("SELECT i.issuer, i.audience, i.tenant_claim, i.subject_claim, i.scope_claim,"
					  "       extract(epoch FROM i.leeway)::bigint, k.kid, k.alg, k.key"
					  "  FROM mtmcp.issuers i LEFT JOIN mtmcp.signing_keys k ON k.issuer = i.issuer"
					  " ORDER BY i.issuer, k.key_id", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read issuers: %s", SPI_result_code_string(ret));

	oldcxt = MemoryContextSwitchTo(key_cxt);
	issuers = palloc0(sizeof(CachedIssuer) * Max(SPI_processed, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *iss = SPI_getvalue(tup, desc, 1);
		CachedIssuer *ci;
		bool		isnull;
		Datum		keyd;

		if (nissuers == 0 || strcmp(issuers[nissuers - 1].issuer, iss) != 0)
		{
			ci = &issuers[nissuers++];
			ci->issuer = iss;
			ci->audience = SPI_getvalue(tup, desc, 2);
			ci->tenant_claim = SPI_getvalue(tup, desc, 3);
			ci->subject_claim = SPI_getvalue(tup, desc, 4);
			ci->scope_claim = SPI_getvalue(tup, desc, 5);
			ci->leeway = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
			ci->keycap = 2;
			ci->keys = palloc0(sizeof(CachedKey) * ci->keycap);
			ci->nkeys = 0;
		}
		else
			ci = &issuers[nissuers - 1];

		keyd = SPI_getbinval(tup, desc, 9, &isnull);
		if (!isnull)
		{
			char	   *alg = SPI_getvalue(tup, desc, 8);
			jwt_key    *key = parse_registered_key(iss, alg, DatumGetByteaPP(keyd));

			if (key != NULL && ci->nkeys == ci->keycap)
			{
				ci->keycap *= 2;
				ci->keys = repalloc(ci->keys, sizeof(CachedKey) * ci->keycap);
			}
			if (key != NULL)
			{
				ci->keys[ci->nkeys].kid = SPI_getvalue(tup, desc, 7);
				ci->keys[ci->nkeys].key = key;
				ci->nkeys++;
			}
		}
	}
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
	keys_generation = gen;
	stat_key_loads++;
}

static CachedIssuer *
find_issuer(const char *iss)
{
	int			i;

	for (i = 0; i < nissuers; i++)
		if (strcmp(issuers[i].issuer, iss) == 0)
			return &issuers[i];
	return NULL;
}

/* ---------------------------------------------------------------------------
 * Verified-token cache
 * ------------------------------------------------------------------------- */

static TokenEntry *
token_slot(const unsigned char *digest)
{
	uint32		h;

	if (token_cache_size <= 0)
		return NULL;
	if (token_cache == NULL)
	{
		token_cxt = AllocSetContextCreate(TopMemoryContext, "mtmcp token cache", ALLOCSET_SMALL_SIZES);
		token_cache = MemoryContextAllocZero(token_cxt, sizeof(TokenEntry) * token_cache_size);
	}
	memcpy(&h, digest, sizeof(h));
	return &token_cache[h % (uint32) token_cache_size];
}

static void
token_entry_clear(TokenEntry *e)
{
	if (!e->used)
		return;
	pfree(e->tenant);
	pfree(e->subject);
	pfree(e->scopes);
	pfree(e->issuer);
	memset(e, 0, sizeof(*e));
}

static bool
token_cache_lookup(const unsigned char *digest, uint64 gen, int64 now, MtmcpIdentity *id)
{
	TokenEntry *e = token_slot(digest);

	if (e == NULL || !e->used || memcmp(e->digest, digest, 32) != 0)
		return false;
	if (e->generation != gen || now > e->expires_at)
	{
		token_entry_clear(e);
		return false;
	}
	id->tenant = pstrdup(e->tenant);
	id->subject = pstrdup(e->subject);
	id->scopes = pstrdup(e->scopes);
	id->issuer = pstrdup(e->issuer);
	return true;
}

static void
token_cache_store(const unsigned char *digest, uint64 gen, int64 expires_at, const MtmcpIdentity *id)
{
	TokenEntry *e = token_slot(digest);

	if (e == NULL)
		return;
	token_entry_clear(e);
	e->tenant = MemoryContextStrdup(token_cxt, id->tenant);
	e->subject = MemoryContextStrdup(token_cxt, id->subject);
	e->scopes = MemoryContextStrdup(token_cxt, id->scopes);
	e->issuer = MemoryContextStrdup(token_cxt, id->issuer);
	memcpy(e->digest, digest, 32);
	e->generation = gen;
	e->expires_at = expires_at;
	e->used = true;
}

/* ---------------------------------------------------------------------------
 * Verification
 * ------------------------------------------------------------------------- */

static bool
auth_fail(MtmcpAuthError *err, const char *reason, int http_status, char *detail)
{
	err->reason = reason;
	err->http_status = http_status;
	err->detail = detail;
	if (err->source == NULL)
		err->source = "(no issuer)";
	return false;
}

/*
 * Refusal budgets: is the tenant a forged token claims real, and does it
 * trust the issuer the token names?  Then the refusal is an attack on that
 * tenant, a security event that is always recorded.
 */
static bool
tenant_trusts_issuer(const char *tenant, const char *issuer)
{
	Datum		args[2];
	Oid			types[2] = {TEXTOID, TEXTOID};
	bool		found;

	if (!tenant_id_is_valid(tenant))
		return false;
	args[0] = CStringGetTextDatum(tenant);
	args[1] = CStringGetTextDatum(issuer);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT 1 FROM mtmcp.tenant_issuers ti WHERE ti.tenant_id = $1 AND ti.issuer = $2",
							  2, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up tenant issuers");
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * Cryptographic verification and claim validation.  No ereport may happen
 * while jwt.c objects are alive (they are malloc'd), so everything read from
 * the database is loaded first.
 */
static bool
verify_token(const char *token, size_t len, int64 now, MtmcpIdentity *id,
			 int64 *expires_at, MtmcpAuthError *err)
{
	jwt_token  *tok = NULL;
	jwt_status	st;
	const char *iss;
	const char *kid;
	CachedIssuer *ci;
	jwt_policy	policy;
	jwt_identity ji;
	int			i;

	load_key_cache();

	st = jwt_parse(token, len, (size_t) max_token_bytes, &tok);
	if (st != JWT_OK)
		return auth_fail(err, jwt_status_reason(st), 401, NULL);

	iss = jwt_claim_issuer(tok);
	if (iss == NULL)
	{
		jwt_free(tok);
		return auth_fail(err, jwt_status_reason(JWT_ERR_ISSUER), 401, pstrdup("The token has no \"iss\" claim."));
	}
	ci = find_issuer(iss);
	if (ci == NULL)
	{
		char	   *detail = psprintf("Issuer \"%s\" is not registered.", iss);

		jwt_free(tok);
		err->source = "(unregistered issuer)";
		return auth_fail(err, "unknown_issuer", 401, detail);
	}
	err->source = pstrdup(ci->issuer);	/* the key cache may be rebuilt before it is read */

	/*
	 * A token naming a kid is checked against that key of its issuer only; a
	 * token without one against each of its issuer's keys.  A kid belonging to
	 * another issuer is simply not found.
	 */
	kid = jwt_header_kid(tok);
	st = JWT_ERR_UNKNOWN_KEY;
	for (i = 0; i < ci->nkeys; i++)
	{
		jwt_status	s;

		if (kid != NULL && (ci->keys[i].kid == NULL || strcmp(ci->keys[i].kid, kid) != 0))
			continue;
		s = jwt_verify_signature(tok, ci->keys[i].key);
		if (s == JWT_OK)
		{
			st = JWT_OK;
			break;
		}
		if (st == JWT_ERR_UNKNOWN_KEY || s == JWT_ERR_SIGNATURE)
			st = s;
	}
	policy.issuer = ci->issuer;
	policy.audience = ci->audience;
	policy.tenant_claim = ci->tenant_claim;
	policy.subject_claim = ci->subject_claim;
	policy.scope_claim = ci->scope_claim;
	policy.leeway = ci->leeway;
	policy.now = now;
	memset(&ji, 0, sizeof(ji));
	if (st != JWT_OK)
	{
		char	   *claimed = NULL;

		/*
		 * Unverified, but well-formed claims for this issuer: whom does the
		 * token pretend to be?  (Read only to classify the refusal.)
		 */
		jwt_status	cs = jwt_validate_claims(tok, &policy, &ji);

		jwt_free(tok);
		if (cs == JWT_OK)
			claimed = pstrdup(ji.tenant);
		jwt_identity_clear(&ji);
		if (claimed != NULL && tenant_trusts_issuer(claimed, ci->issuer))
		{
			err->security = true;
			return auth_fail(err, jwt_status_reason(st), 401,
							 psprintf("The token claims tenant \"%s\" of issuer \"%s\" but does not verify with its keys.",
									  claimed, ci->issuer));
		}
		return auth_fail(err, jwt_status_reason(st), 401, NULL);
	}

	st = jwt_validate_claims(tok, &policy, &ji);
	jwt_free(tok);
	if (st != JWT_OK)
		return auth_fail(err, jwt_status_reason(st), 401, NULL);

	id->tenant = pstrdup(ji.tenant);
	id->subject = pstrdup(ji.subject);
	id->scopes = pstrdup(ji.scopes ? ji.scopes : "");
	id->issuer = pstrdup(ci->issuer);
	*expires_at = ji.exp + ci->leeway;
	jwt_identity_clear(&ji);
	return true;
}

static bool
tenant_id_is_valid(const char *t)
{
	size_t		n = strlen(t);
	size_t		i;

	if (n == 0 || n > MTMCP_MAX_TENANT_LEN)
		return false;
	for (i = 0; i < n; i++)
	{
		char		c = t[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  (i > 0 && (c == '.' || c == '_' || c == '-'))))
			return false;
	}
	return true;
}

/*
 * Step 2, on every call: the tenant must exist, trust the issuer, be active.
 *
 * What that takes (the tenant's row, its plan's, whether it trusts the
 * issuer) is configuration: it is cached per backend by (tenant, issuer),
 * stamped with the configuration generation, which moves when tenants,
 * plans or tenant_issuers change (their statement triggers; cache.c).  Only
 * tenants that exist and trust the issuer are cached, at most
 * TENANT_CACHE_MAX of them: a refusal always asks the tables.
 */
#define TENANT_CACHE_MAX 1024
#define TENANT_KEY_LEN 512

typedef struct TenantRow
{
	char		key[TENANT_KEY_LEN];	/* tenant '\n' issuer (hash key) */
	bool		found;			/* the tenant exists */
	bool		trusted;		/* and trusts the issuer */
	char	   *status;
	char	   *plan;
	char	  **features;
	int			nfeatures;
	Jsonb	   *settings;		/* NULL when none */
} TenantRow;

static MemoryContext tenant_cxt = NULL;
static HTAB *tenant_cache = NULL;
static uint64 tenant_generation = 0;

/* Read the row from the tables into *row, allocating in cxt. */
static void
load_tenant_row(const MtmcpIdentity *id, TenantRow *row, MemoryContext cxt)
{
	Datum		args[2];
	int			ret;
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		d;
	MemoryContext spicxt;

	row->found = row->trusted = false;
	row->status = row->plan = NULL;
	row->features = NULL;
	row->nfeatures = 0;
	row->settings = NULL;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (tenant_plan == NULL)
	{
		Oid			types[2] = {TEXTOID, TEXTOID};

		tenant_plan = mtmcp_keep_plan("SELECT t.status, t.plan, p.features,"
									"       EXISTS (SELECT 1 FROM mtmcp.tenant_issuers ti"
									"                WHERE ti.tenant_id = t.tenant_id AND ti.issuer = $2),"
									"       p.settings || t.settings"
									"  FROM mtmcp.tenants t JOIN mtmcp.plans p ON p.plan = t.plan"
									" WHERE t.tenant_id = $1", 2, types);
	}
	args[0] = CStringGetTextDatum(id->tenant);
	args[1] = CStringGetTextDatum(id->issuer);
	ret = SPI_execute_plan(tenant_plan, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up tenant: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		SPI_finish();
		return;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	row->found = true;
	row->trusted = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	row->status = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 1));
	row->plan = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 2));
	d = SPI_getbinval(tup, desc, 3, &isnull);
	if (!isnull)
	{
		ArrayType  *arr = DatumGetArrayTypeP(d);
		Datum	   *elems;
		bool	   *nulls;
		int			n,
					i;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		row->features = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
		for (i = 0; i < n; i++)
			if (!nulls[i])
				row->features[row->nfeatures++] = MemoryContextStrdup(cxt, TextDatumGetCString(elems[i]));
	}
	d = SPI_getbinval(tup, desc, 5, &isnull);
	if (!isnull)
	{
		spicxt = MemoryContextSwitchTo(cxt);
		row->settings = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
}

/* The (tenant, issuer) row: from the cache, or read (and cached when it may be). */
static TenantRow *
tenant_row(const MtmcpIdentity *id)
{
	uint64		gen = mtmcp_config_generation();
	char		key[TENANT_KEY_LEN];
	TenantRow  *row;
	bool		found;
	HASHCTL		ctl;

	if (strlen(id->tenant) + strlen(id->issuer) + 2 > TENANT_KEY_LEN)
	{
		row = palloc0(sizeof(TenantRow));
		load_tenant_row(id, row, CurrentMemoryContext);
		return row;
	}
	if (tenant_cxt == NULL)
		tenant_cxt = AllocSetContextCreate(TopMemoryContext, "mtmcp tenant cache", ALLOCSET_DEFAULT_SIZES);
	if (tenant_cache != NULL && (tenant_generation != gen || hash_get_num_entries(tenant_cache) >= TENANT_CACHE_MAX))
	{
		MemoryContextReset(tenant_cxt);
		tenant_cache = NULL;
	}
	if (tenant_cache == NULL)
	{
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = TENANT_KEY_LEN;
		ctl.entrysize = sizeof(TenantRow);
		ctl.hcxt = tenant_cxt;
		tenant_cache = hash_create("mtmcp tenant cache", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		tenant_generation = gen;
	}
	memset(key, 0, sizeof(key));
	snprintf(key, sizeof(key), "%s\n%s", id->tenant, id->issuer);
	row = hash_search(tenant_cache, key, HASH_FIND, NULL);
	if (row != NULL)
		return row;
	/* read it outside the cache; keep it only when the tenant exists and trusts the issuer */
	{
		TenantRow  *fresh = palloc0(sizeof(TenantRow));
		int			i;

		load_tenant_row(id, fresh, CurrentMemoryContext);
		if (!fresh->found || !fresh->trusted || tenant_cache == NULL ||
			tenant_generation != mtmcp_config_generation())
			return fresh;
		row = hash_search(tenant_cache, key, HASH_ENTER, &found);
		row->found = fresh->found;
		row->trusted = fresh->trusted;
		row->status = MemoryContextStrdup(tenant_cxt, fresh->status);
		row->plan = MemoryContextStrdup(tenant_cxt, fresh->plan);
		row->nfeatures = fresh->nfeatures;
		row->features = NULL;
		if (fresh->features != NULL)
		{
			row->features = MemoryContextAlloc(tenant_cxt, sizeof(char *) * Max(fresh->nfeatures, 1));
			for (i = 0; i < fresh->nfeatures; i++)
				row->features[i] = MemoryContextStrdup(tenant_cxt, fresh->features[i]);
		}
		row->settings = NULL;
		if (fresh->settings != NULL)
		{
			row->settings = MemoryContextAlloc(tenant_cxt, VARSIZE(fresh->settings));
			memcpy(row->settings, fresh->settings, VARSIZE(fresh->settings));
		}
		return row;
	}
}

static bool
resolve_tenant(MtmcpIdentity *id, MtmcpAuthError *err)
{
	MemoryContext outer = CurrentMemoryContext;
	TenantRow  *row;
	int			i;

	if (!tenant_id_is_valid(id->tenant))
		return auth_fail(err, "invalid_tenant_claim", 403,
						 pstrdup("The tenant claim is not a valid tenant id."));
	if (strlen(id->subject) > MTMCP_MAX_SUBJECT_LEN)
		return auth_fail(err, "invalid_subject", 401, pstrdup("The subject claim is too long."));

	row = tenant_row(id);
	if (!row->found)
		return auth_fail(err, "unknown_tenant", 403,
						 psprintf("Tenant \"%s\" does not exist.", id->tenant));
	if (!row->trusted)
	{
		/* deliberately the same answer as a tenant that does not exist */
		return auth_fail(err, "unknown_tenant", 403,
						 psprintf("Issuer \"%s\" is not trusted for tenant \"%s\".", id->issuer, id->tenant));
	}
	if (strcmp(row->status, "active") != 0)
	{
		const char *status = row->status;
		const char *reason = strcmp(status, "suspended") == 0 ? "tenant_suspended" :
			strcmp(status, "provisioning") == 0 ? "tenant_provisioning" :
			(strcmp(status, "deleted") == 0 || strcmp(status, "purged") == 0) ? "tenant_deleted" : "tenant_inactive";

		return auth_fail(err, reason, 403, psprintf("Tenant \"%s\" is %s.", id->tenant, status));
	}

	if (access_scope != NULL && access_scope[0] != '\0' && !mtmcp_has_scope(id, access_scope))
		return auth_fail(err, "insufficient_scope", 403,
						 psprintf("The token lacks the scope \"%s\".", access_scope));

	/* the caller's own copies: the cache may be rebuilt during the call */
	id->plan = MemoryContextStrdup(outer, row->plan);
	id->nfeatures = 0;
	id->features = NULL;
	if (row->features != NULL)
	{
		id->features = MemoryContextAlloc(outer, sizeof(char *) * Max(row->nfeatures, 1));
		for (i = 0; i < row->nfeatures; i++)
			id->features[id->nfeatures++] = MemoryContextStrdup(outer, row->features[i]);
	}
	id->settings = row->settings ? (Jsonb *) MemoryContextAllocZero(outer, VARSIZE(row->settings)) : NULL;
	if (id->settings != NULL)
		memcpy(id->settings, row->settings, VARSIZE(row->settings));
	return true;
}

/*
 * The boundary: token in, verified identity out, or a refusal with a reason.
 * Nothing else about the request may run before this returns true.
 */
bool
mtmcp_verify_request(const char *token, MtmcpIdentity *id, MtmcpAuthError *err)
{
	size_t		len;
	unsigned char digest[32];
	uint64		gen;
	int64		now;

	memset(id, 0, sizeof(*id));
	memset(err, 0, sizeof(*err));

	if (token == NULL || token[0] == '\0')
		return auth_fail(err, "missing_token", 401, NULL);
	len = strlen(token);
	if (len > (size_t) max_token_bytes)
		return auth_fail(err, jwt_status_reason(JWT_ERR_TOO_LARGE), 401, NULL);

	mtmcp_sha256(token, len, digest);
	gen = mtmcp_config_generation();
	now = (int64) time(NULL);
	if (token_cache_lookup(digest, gen, now, id))
		stat_cache_hits++;
	else
	{
		int64		expires_at;

		stat_verifications++;
		if (!verify_token(token, len, now, id, &expires_at, err))
			return false;
		token_cache_store(digest, gen, expires_at, id);
	}
	err->source = id->issuer;
	return resolve_tenant(id, err);
}

bool
mtmcp_has_scope(const MtmcpIdentity *id, const char *scope)
{
	const char *p = id->scopes;
	size_t		n = strlen(scope);

	while (p && *p)
	{
		const char *end = strchr(p, ' ');
		size_t		len = end ? (size_t) (end - p) : strlen(p);

		if (len == n && strncmp(p, scope, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

bool
mtmcp_plan_has_feature(const MtmcpIdentity *id, const char *feature)
{
	int			i;

	for (i = 0; i < id->nfeatures; i++)
		if (strcmp(id->features[i], feature) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------------------
 * The verified settings
 * ------------------------------------------------------------------------- */

/* The verified tenant of this transaction, or NULL. */
const char *
mtmcp_verified_tenant(void)
{
	return (tenant_setting != NULL && tenant_setting[0] != '\0') ? tenant_setting : NULL;
}

const char *
mtmcp_verified_subject(void)
{
	return (subject_setting != NULL && subject_setting[0] != '\0') ? subject_setting : "";
}

static void
set_verified_settings(const char *tenant, const char *subject, GucAction action)
{
	in_verified_path = true;
	PG_TRY();
	{
		(void) set_config_option("mtmcp.tenant_id", tenant, PGC_SUSET, PGC_S_SESSION,
								 action, true, ERROR, false);
		(void) set_config_option("mtmcp.subject", subject, PGC_SUSET, PGC_S_SESSION,
								 action, true, ERROR, false);
	}
	PG_FINALLY();
	{
		in_verified_path = false;
	}
	PG_END_TRY();
}

/*
 * Install the identity for the duration of one dispatched request.  The
 * values are saved at a new GUC nesting level, so mtmcp_leave_identity (or
 * an error unwinding the transaction) restores whatever was there before:
 * after mcp_dispatch returns no verified tenant remains, even inside an
 * enclosing transaction.
 */
int
mtmcp_enter_identity(const MtmcpIdentity *id)
{
	int			nestlevel = NewGUCNestLevel();

	set_verified_settings(id->tenant, id->subject, GUC_ACTION_SAVE);
	return nestlevel;
}

void
mtmcp_leave_identity(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
}

/* ---------------------------------------------------------------------------
 * SQL-callable functions
 * ------------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(mtmcp_authenticate);

/*
 * mtmcp.authenticate(token): verify, then set the verified tenant for the rest
 * of the transaction (for tenants reading their views).  Refuses to switch to
 * a different tenant inside one transaction.
 */
Datum
mtmcp_authenticate(PG_FUNCTION_ARGS)
{
	char	   *token = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	MtmcpIdentity id;
	MtmcpAuthError err;

	mtmcp_require_preloaded();
	if (!mtmcp_verify_request(token, &id, &err))
		ereport(ERROR,
				(errcode(err.http_status == 401 ? ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION
						 : ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("bearer token refused: %s", err.reason),
				 err.detail ? errdetail_internal("%s", err.detail) : 0));

	if (tenant_setting != NULL && tenant_setting[0] != '\0' && strcmp(tenant_setting, id.tenant) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a different tenant is already verified in this transaction"),
				 errhint("Start a new transaction to act for another tenant.")));

	set_verified_settings(id.tenant, id.subject, GUC_ACTION_LOCAL);
	PG_RETURN_TEXT_P(cstring_to_text(id.tenant));
}

static Datum
verified_setting_or_error(const char *value, const char *what)
{
	if (!mtmcp_preloaded)
		mtmcp_require_preloaded();
	if (value == NULL || value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no verified %s in this transaction", what),
				 errhint("Verify a token first with mtmcp.authenticate(token); tools receive it from mtmcp.mcp_dispatch().")));
	return CStringGetTextDatum(value);
}

PG_FUNCTION_INFO_V1(mtmcp_current_tenant);

/* mtmcp.current_tenant(): what RLS policies compare with. */
Datum
mtmcp_current_tenant(PG_FUNCTION_ARGS)
{
	return verified_setting_or_error(tenant_setting, "tenant");
}

PG_FUNCTION_INFO_V1(mtmcp_current_subject);

Datum
mtmcp_current_subject(PG_FUNCTION_ARGS)
{
	return verified_setting_or_error(subject_setting, "subject");
}

PG_FUNCTION_INFO_V1(mtmcp_validate_key);

/* mtmcp._validate_key(alg, key): add_key's gate. */
Datum
mtmcp_validate_key(PG_FUNCTION_ARGS)
{
	char	   *alg_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *raw = PG_GETARG_BYTEA_PP(1);
	jwt_alg		alg = jwt_alg_from_name(alg_name);
	jwt_key    *key = NULL;
	jwt_status	st;

	if (alg == JWT_ALG_INVALID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported signing algorithm \"%s\"", alg_name),
				 errhint("Use one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA.")));
	if (VARSIZE_ANY_EXHDR(raw) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a signing key must not be empty")));
	if (jwt_alg_is_hmac(alg))
		st = jwt_key_from_secret(alg, (unsigned char *) VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &key);
	else
		st = jwt_key_from_pem(alg, VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &key);
	if (st != JWT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s key", alg_name),
				 errdetail("The key was refused with reason \"%s\".", jwt_status_reason(st)),
				 jwt_alg_is_hmac(alg) ? 0 :
				 errhint("Pass a PEM public key: RSA of at least 2048 bits for RS/PS, the matching EC curve for ES, Ed25519 for EdDSA.")));
	jwt_key_free(key);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(mtmcp_jwk_to_pem);

/* mtmcp._jwk_to_pem(jwk) -> (kid, alg, pem): import_jwks's converter. */
Datum
mtmcp_jwk_to_pem(PG_FUNCTION_ARGS)
{
	Jsonb	   *jwk = PG_GETARG_JSONB_P(0);
	StringInfoData buf;
	jwt_alg		alg = JWT_ALG_INVALID;
	char	   *kid = NULL;
	char	   *pem = NULL;
	jwt_status	st;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	initStringInfo(&buf);
	json_append_jsonb(&buf, jwk);
	st = jwt_jwk_to_pem(buf.data, buf.len, &alg, &kid, &pem);
	if (st != JWT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JWK"),
				 errdetail("The key was refused with reason \"%s\".", jwt_status_reason(st)),
				 errhint("Only public RSA, EC (P-256, P-384, P-521) and OKP (Ed25519) signing keys can be imported.")));

	if (kid != NULL)
		values[0] = CStringGetTextDatum(kid);
	else
		nulls[0] = true;
	values[1] = CStringGetTextDatum(jwt_alg_name(alg));
	values[2] = CStringGetTextDatum(pem);
	free(kid);
	free(pem);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

PG_FUNCTION_INFO_V1(mtmcp_identity_cache_stats);

/*
 * mtmcp._identity_cache_stats(): this backend's verification counters, so
 * tests and benchmarks can see the caches work rather than assume it.
 */
Datum
mtmcp_identity_cache_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	mtmcp_require_preloaded();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int64GetDatum(stat_verifications);
	values[1] = Int64GetDatum(stat_cache_hits);
	values[2] = Int64GetDatum(stat_key_loads);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

PG_FUNCTION_INFO_V1(mtmcp_hs256_token);

/*
 * SQL: mtmcp._hs256_token(claims jsonb, secret bytea) -- an HS256 JWS.
 * For the blast-radius drill, which attacks through the real verification
 * path with tokens of its own throwaway issuer.  Administrators only.
 */
Datum
mtmcp_hs256_token(PG_FUNCTION_ARGS)
{
	Jsonb	   *claims = PG_GETARG_JSONB_P(0);
	bytea	   *secret = PG_GETARG_BYTEA_PP(1);
	StringInfoData tok;
	StringInfoData payload;
	unsigned char mac[MTMCP_SHA256_LEN];
	const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

	initStringInfo(&payload);
	json_append_jsonb(&payload, claims);
	initStringInfo(&tok);
	mtmcp_append_b64url(&tok, (const unsigned char *) header, strlen(header));
	appendStringInfoChar(&tok, '.');
	mtmcp_append_b64url(&tok, (const unsigned char *) payload.data, payload.len);
	mtmcp_hmac_sha256(VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret), tok.data, tok.len, mac);
	appendStringInfoChar(&tok, '.');
	mtmcp_append_b64url(&tok, mac, sizeof(mac));
	PG_RETURN_TEXT_P(cstring_to_text(tok.data));
}
