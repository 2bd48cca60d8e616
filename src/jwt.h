/*
 * jwt.h -- compact JWS parsing and verification (pure C, no PostgreSQL headers)
 *
 * This module owns everything that can be decided about a bearer token
 * without the database: strict base64url, the JOSE header and claim set
 * (parsed with json-c, duplicate keys refused), signature verification
 * through OpenSSL, and claim validation against an issuer policy with an
 * injected clock.  It allocates with malloc/free only and never longjmps, so
 * it can be unit-tested and fuzzed outside the server; callers inside the
 * backend copy what they need into palloc'd memory and free the rest.
 *
 * Verification is split in three steps so the caller can choose the key
 * from its own registry between them:
 *
 *   jwt_parse()             -> header alg/kid, claims iss (unverified!)
 *   jwt_verify_signature()  -> with a key the caller looked up by (iss, kid)
 *   jwt_validate_claims()   -> exp/nbf/iat/aud/sub/tenant against a policy
 *
 * The algorithm always comes from the registered key: a header "alg" that
 * differs from the key's algorithm is JWT_ALG_MISMATCH, "none" is always
 * JWT_ALG_NONE.
 */
#ifndef MTMCP_JWT_H
#define MTMCP_JWT_H

#include <stddef.h>
#include <stdint.h>

#define JWT_DEFAULT_MAX_TOKEN_LEN	8192

typedef enum jwt_alg
{
	JWT_ALG_INVALID = 0,
	JWT_HS256, JWT_HS384, JWT_HS512,
	JWT_RS256, JWT_RS384, JWT_RS512,
	JWT_PS256, JWT_PS384, JWT_PS512,
	JWT_ES256, JWT_ES384, JWT_ES512,
	JWT_EDDSA
} jwt_alg;

/*
 * Every distinct refusal has its own status and a stable machine-readable
 * reason string (jwt_status_reason), used as data.reason by the dispatcher.
 */
typedef enum jwt_status
{
	JWT_OK = 0,
	JWT_ERR_TOO_LARGE,			/* "token_too_large" */
	JWT_ERR_MALFORMED,			/* "malformed_token": not three non-empty segments */
	JWT_ERR_BASE64,				/* "invalid_base64url" */
	JWT_ERR_JSON,				/* "invalid_json": header/claims not a JSON object */
	JWT_ERR_DUPLICATE_KEY,		/* "duplicate_key" in header or claims */
	JWT_ERR_ALG_NONE,			/* "alg_none" */
	JWT_ERR_ALG_UNSUPPORTED,	/* "unsupported_alg" */
	JWT_ERR_ALG_MISMATCH,		/* "alg_mismatch": header alg != key alg */
	JWT_ERR_CRIT,				/* "unsupported_crit": header has "crit" */
	JWT_ERR_UNKNOWN_KEY,		/* "unknown_key": used by callers */
	JWT_ERR_SIGNATURE,			/* "invalid_signature" */
	JWT_ERR_MISSING_EXP,		/* "missing_exp" */
	JWT_ERR_EXPIRED,			/* "expired" */
	JWT_ERR_NOT_YET_VALID,		/* "not_yet_valid" (nbf) */
	JWT_ERR_ISSUED_IN_FUTURE,	/* "issued_in_future" (iat) */
	JWT_ERR_INVALID_CLAIM,		/* "invalid_claim": exp/nbf/iat not numeric, iss not a string ... */
	JWT_ERR_ISSUER,				/* "invalid_issuer": missing or not the policy's issuer */
	JWT_ERR_AUDIENCE,			/* "invalid_audience" */
	JWT_ERR_MISSING_SUBJECT,	/* "missing_subject": absent, empty or not a string */
	JWT_ERR_MISSING_TENANT,		/* "missing_tenant_claim" */
	JWT_ERR_AMBIGUOUS_TENANT,	/* "ambiguous_tenant_claim": not one non-empty string */
	JWT_ERR_INVALID_SCOPE,		/* "invalid_scope_claim" */
	JWT_ERR_KEY,				/* "invalid_key": key unusable for its alg */
	JWT_ERR_NOMEM,				/* "internal_error" */
	JWT_ERR_INTERNAL			/* "internal_error" */
} jwt_status;

typedef struct jwt_token jwt_token;		/* parsed, NOT yet verified */
typedef struct jwt_key jwt_key;			/* a key ready for verification */

/* Issuer policy for claim validation. All strings NUL-terminated. */
typedef struct jwt_policy
{
	const char *issuer;			/* required "iss" value */
	const char *audience;		/* must be "aud" or an element of it */
	const char *tenant_claim;	/* e.g. "tenant_id", "org.id", "https://x.example/tenant" */
	const char *subject_claim;	/* usually "sub" */
	const char *scope_claim;	/* usually "scope"; string (space-separated) or array; may be absent */
	int64_t		leeway;			/* seconds, >= 0 */
	int64_t		now;			/* seconds since the epoch (injected clock) */
} jwt_policy;

/* The verified identity; free with jwt_identity_clear(). */
typedef struct jwt_identity
{
	char	   *tenant;			/* malloc'd */
	char	   *subject;		/* malloc'd */
	char	   *scopes;			/* malloc'd, space-separated, "" when absent */
	int64_t		exp;			/* the token's exp claim */
} jwt_identity;

/*
 * Unpadded base64url (RFC 4648 section 5).  jwt_b64url_encode writes
 * JWT_B64URL_ENCODED_LEN(len) characters and a NUL into out and returns the
 * length.  jwt_b64url_decode accepts only the canonical form (no padding, no
 * other alphabet, unused trailing bits zero); *out is malloc'd with one spare
 * byte, NUL-terminated.
 */
#define JWT_B64URL_ENCODED_LEN(len)	(((len) * 4 + 2) / 3)
size_t		jwt_b64url_encode(const unsigned char *in, size_t len, char *out);
jwt_status	jwt_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

/* names and reasons */
const char *jwt_status_reason(jwt_status st);
const char *jwt_alg_name(jwt_alg alg);			/* "HS256" ... "EdDSA"; NULL for INVALID */
jwt_alg		jwt_alg_from_name(const char *name);	/* JWT_ALG_INVALID if unknown (and for "none") */
int			jwt_alg_is_hmac(jwt_alg alg);

/* parsing: strict compact JWS; max_len 0 means JWT_DEFAULT_MAX_TOKEN_LEN */
jwt_status	jwt_parse(const char *token, size_t len, size_t max_len, jwt_token **out);
void		jwt_free(jwt_token *tok);
const char *jwt_header_alg(const jwt_token *tok);	/* never NULL after a successful parse */
const char *jwt_header_kid(const jwt_token *tok);	/* NULL when absent */
const char *jwt_claim_issuer(const jwt_token *tok);	/* NULL when absent or not a string */

/* keys */
jwt_status	jwt_key_from_secret(jwt_alg alg, const unsigned char *secret, size_t len, jwt_key **out);
jwt_status	jwt_key_from_pem(jwt_alg alg, const char *pem, size_t len, jwt_key **out);	/* public key PEM; RSA >= 2048 bits; EC curve must match ES alg; Ed25519 for EdDSA */
void		jwt_key_free(jwt_key *key);
jwt_alg		jwt_key_alg(const jwt_key *key);

/*
 * Convert one JWK (RFC 7517 JSON object text) to a public-key PEM.
 * kty RSA (n, e), EC (crv P-256/P-384/P-521, x, y), OKP (crv Ed25519, x).
 * *alg_out: the JWK's "alg" when present (must be consistent with kty/crv),
 * otherwise ES256/ES384/ES512 from crv, EdDSA for Ed25519, RS256 for RSA.
 * *kid_out: malloc'd "kid" or NULL.  *pem_out: malloc'd PEM text.
 * A private key (d, p, q, ...) is refused with JWT_ERR_KEY: only public keys are imported.
 * A JWK with "use" other than "sig" is refused with JWT_ERR_KEY.
 */
jwt_status	jwt_jwk_to_pem(const char *jwk_json, size_t len, jwt_alg *alg_out, char **kid_out, char **pem_out);

/* verification */
jwt_status	jwt_verify_signature(const jwt_token *tok, const jwt_key *key);
jwt_status	jwt_validate_claims(const jwt_token *tok, const jwt_policy *policy, jwt_identity *out);
void		jwt_identity_clear(jwt_identity *id);

/* SHA-256 of arbitrary bytes (token cache keys) */
void		jwt_sha256(const void *data, size_t len, unsigned char out[32]);

#endif							/* MTMCP_JWT_H */
