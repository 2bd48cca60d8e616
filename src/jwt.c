/*
 * jwt.c -- compact JWS parsing and verification (see jwt.h for the contract)
 *
 * Pure C: no PostgreSQL headers, malloc/free only, no global mutable state.
 * JSON is parsed with json-c, crypto is OpenSSL 3.
 *
 * The module is four files around one contract (jwt.h): this one (names,
 * jwt_parse, signature verification, claim validation, SHA-256),
 * jwt_json.c (the strict JSON reader), jwt_keys.c (secret, PEM and JWK
 * import) and jwt_b64url.c (base64url); jwt_int.h is what they share.
 *
 * Decisions not spelled out in jwt.h:
 *   - header "alg" missing or not a string -> JWT_ERR_ALG_UNSUPPORTED;
 *     "kid" present but not a string (incl. null) -> JWT_ERR_JSON;
 *     strings containing \u0000 are treated as "not a string" for alg, kid,
 *     iss, aud, sub, tenant and scope.
 *   - jwt_parse order: size, segments, header (base64, JSON, alg/none,
 *     crit, kid), claims (base64, JSON), signature (base64).
 *   - jwt_validate_claims order: exp, nbf, iat, iss, tenant, aud, subject,
 *     scope; the first failure is returned.  Fractional times are rounded
 *     in the token's disfavour; huge values saturate.  A non-string "iss"
 *     is JWT_ERR_INVALID_CLAIM (per jwt.h), a missing/different one
 *     JWT_ERR_ISSUER.  policy->issuer/audience/tenant_claim must be set and
 *     leeway >= 0 (else JWT_ERR_INTERNAL); subject_claim NULL/"" means "sub".
 *   - keys: see jwt_keys.c.
 *
 * OpenSSL's error queue: every entry point that calls OpenSSL brackets its
 * work with ERR_set_mark()/ERR_pop_to_mark(), so no error entries leak into
 * the caller's (e.g. the backend's TLS code's) queue.
 */
#include "jwt_int.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

struct jwt_token
{
	char	   *signing_input;	/* b64(header) '.' b64(payload), NUL-terminated */
	size_t		signing_input_len;
	unsigned char *sig;
	size_t		sig_len;
	struct json_object *header;
	struct json_object *claims;
	const char *alg;			/* points into header */
	const char *kid;			/* points into header, or NULL */
	const char *iss;			/* points into claims, or NULL */
};

/* ------------------------------------------------------------------------
 * names
 * ------------------------------------------------------------------------ */

static const struct
{
	const char *name;
	jwt_alg		alg;
}			alg_table[] =
{
	{"HS256", JWT_HS256}, {"HS384", JWT_HS384}, {"HS512", JWT_HS512},
	{"RS256", JWT_RS256}, {"RS384", JWT_RS384}, {"RS512", JWT_RS512},
	{"PS256", JWT_PS256}, {"PS384", JWT_PS384}, {"PS512", JWT_PS512},
	{"ES256", JWT_ES256}, {"ES384", JWT_ES384}, {"ES512", JWT_ES512},
	{"EdDSA", JWT_EDDSA},
};

const char *
jwt_status_reason(jwt_status st)
{
	switch (st)
	{
		case JWT_OK:
			return "ok";
		case JWT_ERR_TOO_LARGE:
			return "token_too_large";
		case JWT_ERR_MALFORMED:
			return "malformed_token";
		case JWT_ERR_BASE64:
			return "invalid_base64url";
		case JWT_ERR_JSON:
			return "invalid_json";
		case JWT_ERR_DUPLICATE_KEY:
			return "duplicate_key";
		case JWT_ERR_ALG_NONE:
			return "alg_none";
		case JWT_ERR_ALG_UNSUPPORTED:
			return "unsupported_alg";
		case JWT_ERR_ALG_MISMATCH:
			return "alg_mismatch";
		case JWT_ERR_CRIT:
			return "unsupported_crit";
		case JWT_ERR_UNKNOWN_KEY:
			return "unknown_key";
		case JWT_ERR_SIGNATURE:
			return "invalid_signature";
		case JWT_ERR_MISSING_EXP:
			return "missing_exp";
		case JWT_ERR_EXPIRED:
			return "expired";
		case JWT_ERR_NOT_YET_VALID:
			return "not_yet_valid";
		case JWT_ERR_ISSUED_IN_FUTURE:
			return "issued_in_future";
		case JWT_ERR_INVALID_CLAIM:
			return "invalid_claim";
		case JWT_ERR_ISSUER:
			return "invalid_issuer";
		case JWT_ERR_AUDIENCE:
			return "invalid_audience";
		case JWT_ERR_MISSING_SUBJECT:
			return "missing_subject";
		case JWT_ERR_MISSING_TENANT:
			return "missing_tenant_claim";
		case JWT_ERR_AMBIGUOUS_TENANT:
			return "ambiguous_tenant_claim";
		case JWT_ERR_INVALID_SCOPE:
			return "invalid_scope_claim";
		case JWT_ERR_KEY:
			return "invalid_key";
		case JWT_ERR_NOMEM:
		case JWT_ERR_INTERNAL:
			return "internal_error";
	}
	return "internal_error";
}

const char *
jwt_alg_name(jwt_alg alg)
{
	size_t		i;

	for (i = 0; i < sizeof(alg_table) / sizeof(alg_table[0]); i++)
		if (alg_table[i].alg == alg)
			return alg_table[i].name;
	return NULL;
}

jwt_alg
jwt_alg_from_name(const char *name)
{
	size_t		i;

	if (name == NULL)
		return JWT_ALG_INVALID;
	for (i = 0; i < sizeof(alg_table) / sizeof(alg_table[0]); i++)
		if (strcmp(alg_table[i].name, name) == 0)
			return alg_table[i].alg;
	return JWT_ALG_INVALID;
}

int
jwt_alg_is_hmac(jwt_alg alg)
{
	return alg == JWT_HS256 || alg == JWT_HS384 || alg == JWT_HS512;
}


static int
alg_is_pss(jwt_alg alg)
{
	return alg == JWT_PS256 || alg == JWT_PS384 || alg == JWT_PS512;
}


static const EVP_MD *
alg_md(jwt_alg alg)
{
	switch (alg)
	{
		case JWT_HS256:
		case JWT_RS256:
		case JWT_PS256:
		case JWT_ES256:
			return EVP_sha256();
		case JWT_HS384:
		case JWT_RS384:
		case JWT_PS384:
		case JWT_ES384:
			return EVP_sha384();
		case JWT_HS512:
		case JWT_RS512:
		case JWT_PS512:
		case JWT_ES512:
			return EVP_sha512();
		default:
			return NULL;
	}
}



/* locale-independent ASCII case-insensitive equality */
static int
ascii_caseeq(const char *a, const char *b)
{
	for (;; a++, b++)
	{
		unsigned char ca = (unsigned char) *a;
		unsigned char cb = (unsigned char) *b;

		if (ca >= 'A' && ca <= 'Z')
			ca = (unsigned char) (ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (unsigned char) (cb - 'A' + 'a');
		if (ca != cb)
			return 0;
		if (ca == '\0')
			return 1;
	}
}



/* ------------------------------------------------------------------------
 * parsing
 * ------------------------------------------------------------------------ */

void
jwt_free(jwt_token *tok)
{
	if (tok == NULL)
		return;
	free(tok->signing_input);
	free(tok->sig);
	json_object_put(tok->header);
	json_object_put(tok->claims);
	free(tok);
}

static jwt_status
check_header(jwt_token *t)
{
	struct json_object *v;
	const char *alg;

	if (!json_object_object_get_ex(t->header, "alg", &v))
		return JWT_ERR_ALG_UNSUPPORTED;
	alg = jwt_plain_string(v, NULL);
	if (alg == NULL)
		return JWT_ERR_ALG_UNSUPPORTED;
	if (ascii_caseeq(alg, "none"))
		return JWT_ERR_ALG_NONE;
	if (jwt_alg_from_name(alg) == JWT_ALG_INVALID)
		return JWT_ERR_ALG_UNSUPPORTED;
	t->alg = alg;

	/* we implement no extensions, so any "crit" is unsatisfiable */
	if (json_object_object_get_ex(t->header, "crit", NULL))
		return JWT_ERR_CRIT;

	if (json_object_object_get_ex(t->header, "kid", &v))
	{
		t->kid = jwt_plain_string(v, NULL);
		if (t->kid == NULL)
			return JWT_ERR_JSON;	/* kid present but not a (NUL-free) string */
	}
	return JWT_OK;
}

jwt_status
jwt_parse(const char *token, size_t len, size_t max_len, jwt_token **out)
{
	const char *d1,
			   *d2;
	size_t		hlen,
				plen,
				slen;
	jwt_token  *t;
	unsigned char *buf = NULL;
	size_t		blen;
	jwt_status	st;

	if (out == NULL)
		return JWT_ERR_INTERNAL;
	*out = NULL;
	if (max_len == 0)
		max_len = JWT_DEFAULT_MAX_TOKEN_LEN;
	if (len > max_len)
		return JWT_ERR_TOO_LARGE;
	if (token == NULL || len == 0)
		return JWT_ERR_MALFORMED;

	d1 = memchr(token, '.', len);
	if (d1 == NULL)
		return JWT_ERR_MALFORMED;
	d2 = memchr(d1 + 1, '.', len - (size_t) (d1 + 1 - token));
	if (d2 == NULL)
		return JWT_ERR_MALFORMED;
	if (memchr(d2 + 1, '.', len - (size_t) (d2 + 1 - token)) != NULL)
		return JWT_ERR_MALFORMED;
	hlen = (size_t) (d1 - token);
	plen = (size_t) (d2 - d1 - 1);
	slen = len - (size_t) (d2 + 1 - token);
	if (hlen == 0 || plen == 0 || slen == 0)
		return JWT_ERR_MALFORMED;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return JWT_ERR_NOMEM;

	/* header */
	st = jwt_b64url_decode(token, hlen, &buf, &blen);
	if (st != JWT_OK)
		goto fail;
	st = jwt_parse_json_object(buf, blen, &t->header);
	free(buf);
	buf = NULL;
	if (st != JWT_OK)
		goto fail;
	st = check_header(t);
	if (st != JWT_OK)
		goto fail;

	/* claims */
	st = jwt_b64url_decode(d1 + 1, plen, &buf, &blen);
	if (st != JWT_OK)
		goto fail;
	st = jwt_parse_json_object(buf, blen, &t->claims);
	free(buf);
	buf = NULL;
	if (st != JWT_OK)
		goto fail;
	{
		struct json_object *v;

		if (json_object_object_get_ex(t->claims, "iss", &v))
			t->iss = jwt_plain_string(v, NULL);
	}

	/* signature */
	st = jwt_b64url_decode(d2 + 1, slen, &t->sig, &t->sig_len);
	if (st != JWT_OK)
		goto fail;

	t->signing_input_len = hlen + 1 + plen;
	t->signing_input = dup_str(token, t->signing_input_len);
	if (t->signing_input == NULL)
	{
		st = JWT_ERR_NOMEM;
		goto fail;
	}
	*out = t;
	return JWT_OK;

fail:
	jwt_free(t);
	return st;
}

const char *
jwt_header_alg(const jwt_token *tok)
{
	return tok ? tok->alg : NULL;
}

const char *
jwt_header_kid(const jwt_token *tok)
{
	return tok ? tok->kid : NULL;
}

const char *
jwt_claim_issuer(const jwt_token *tok)
{
	return tok ? tok->iss : NULL;
}

/* ------------------------------------------------------------------------
 * signature verification
 * ------------------------------------------------------------------------ */

static jwt_status
verify_hmac(const jwt_token *tok, const jwt_key *key)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	jwt_status	st;

	if (HMAC(alg_md(key->alg), key->secret, (int) key->secret_len,
			 (const unsigned char *) tok->signing_input, tok->signing_input_len,
			 mac, &maclen) == NULL)
		return JWT_ERR_INTERNAL;
	if (tok->sig_len != maclen)
		st = JWT_ERR_SIGNATURE;
	else if (CRYPTO_memcmp(mac, tok->sig, maclen) != 0)
		st = JWT_ERR_SIGNATURE;
	else
		st = JWT_OK;
	OPENSSL_cleanse(mac, sizeof(mac));
	return st;
}

/* raw R||S (JWS) -> DER ECDSA-Sig-Value (OpenSSL) */
static jwt_status
ec_raw_to_der(const unsigned char *sig, size_t fb, unsigned char **der, int *derlen)
{
	ECDSA_SIG  *es;
	BIGNUM	   *r,
			   *s;

	*der = NULL;
	*derlen = 0;
	r = BN_bin2bn(sig, (int) fb, NULL);
	s = BN_bin2bn(sig + fb, (int) fb, NULL);
	es = ECDSA_SIG_new();
	if (r == NULL || s == NULL || es == NULL)
		goto nomem;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto nomem;
	/* es owns r and s now */
	r = s = NULL;
	*derlen = i2d_ECDSA_SIG(es, der);
	ECDSA_SIG_free(es);
	if (*derlen <= 0 || *der == NULL)
	{
		*der = NULL;
		return JWT_ERR_NOMEM;
	}
	return JWT_OK;

nomem:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return JWT_ERR_NOMEM;
}

static jwt_status
verify_pkey(const jwt_token *tok, const jwt_key *key)
{
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = alg_md(key->alg);
	const unsigned char *sig = tok->sig;
	size_t		siglen = tok->sig_len;
	unsigned char *der = NULL;
	jwt_status	st;
	int			rc;

	if (key->pkey == NULL)
		return JWT_ERR_KEY;

	if (alg_is_rsa(key->alg))
	{
		int			ksize = EVP_PKEY_get_size(key->pkey);

		if (ksize <= 0 || siglen != (size_t) ksize)
			return JWT_ERR_SIGNATURE;
	}
	else if (alg_is_ec(key->alg))
	{
		size_t		fb = ec_field_bytes(key->alg);
		int			derlen;

		if (siglen != 2 * fb)
			return JWT_ERR_SIGNATURE;
		st = ec_raw_to_der(tok->sig, fb, &der, &derlen);
		if (st != JWT_OK)
			return st;
		sig = der;
		siglen = (size_t) derlen;
	}
	else if (key->alg == JWT_EDDSA)
	{
		if (siglen != 64)
			return JWT_ERR_SIGNATURE;
		md = NULL;
	}
	else
		return JWT_ERR_KEY;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
	{
		st = JWT_ERR_NOMEM;
		goto done;
	}
	if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key->pkey) != 1)
	{
		st = JWT_ERR_INTERNAL;
		goto done;
	}
	if (alg_is_rsa(key->alg))
	{
		if (alg_is_pss(key->alg))
		{
			if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
				EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
				EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)
			{
				st = JWT_ERR_INTERNAL;
				goto done;
			}
		}
		else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		{
			st = JWT_ERR_INTERNAL;
			goto done;
		}
	}
	rc = EVP_DigestVerify(ctx, sig, siglen,
						  (const unsigned char *) tok->signing_input,
						  tok->signing_input_len);
	st = (rc == 1) ? JWT_OK : JWT_ERR_SIGNATURE;

done:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return st;
}

jwt_status
jwt_verify_signature(const jwt_token *tok, const jwt_key *key)
{
	jwt_status	st;

	if (tok == NULL || key == NULL || tok->alg == NULL)
		return JWT_ERR_INTERNAL;
	if (jwt_alg_from_name(tok->alg) != key->alg)
		return JWT_ERR_ALG_MISMATCH;

	ERR_set_mark();
	if (jwt_alg_is_hmac(key->alg))
		st = key->secret ? verify_hmac(tok, key) : JWT_ERR_KEY;
	else
		st = verify_pkey(tok, key);
	ERR_pop_to_mark();
	return st;
}

/* ------------------------------------------------------------------------
 * claim validation
 * ------------------------------------------------------------------------ */

void
jwt_identity_clear(jwt_identity *id)
{
	if (id == NULL)
		return;
	free(id->tenant);
	free(id->subject);
	free(id->scopes);
	memset(id, 0, sizeof(*id));
}

static int64_t
sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/*
 * A NumericDate claim.  Returns 0 absent, 1 present (value in *out, rounded
 * down or up as asked, saturated to int64), -1 present but not numeric.
 */
static int
numeric_date(struct json_object *claims, const char *name, int round_up, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(claims, name, &v))
		return 0;
	if (v == NULL)
		return -1;
	if (json_object_is_type(v, json_type_int))
	{
		*out = json_object_get_int64(v);	/* saturates */
		return 1;
	}
	if (json_object_is_type(v, json_type_double))
	{
		double		d = json_object_get_double(v);

		if (!isfinite(d))
			return -1;
		d = round_up ? ceil(d) : floor(d);
		if (d >= 9223372036854775808.0)
			*out = INT64_MAX;
		else if (d <= -9223372036854775808.0)
			*out = INT64_MIN;
		else
			*out = (int64_t) d;
		return 1;
	}
	return -1;
}

static int
audience_ok(struct json_object *claims, const char *audience)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(claims, "aud", &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_string))
	{
		s = jwt_plain_string(v, NULL);
		return s != NULL && strcmp(s, audience) == 0;
	}
	if (json_object_is_type(v, json_type_array))
	{
		size_t		i,
					n = json_object_array_length(v);
		int			found = 0;

		for (i = 0; i < n; i++)
		{
			s = jwt_plain_string(json_object_array_get_idx(v, i), NULL);
			if (s == NULL)
				return 0;		/* non-string element: refuse the lot */
			if (strcmp(s, audience) == 0)
				found = 1;
		}
		return found;
	}
	return 0;
}

/*
 * Tenant claim resolution: exact top-level key, and (if the name has dots)
 * the dotted path through nested objects.
 */
static jwt_status
resolve_tenant(struct json_object *claims, const char *name, char **out)
{
	struct json_object *exact = NULL;
	struct json_object *path = NULL;
	struct json_object *chosen;
	int			has_exact,
				has_path = 0;
	const char *s;
	size_t		slen;

	*out = NULL;
	has_exact = json_object_object_get_ex(claims, name, &exact);

	if (strchr(name, '.') != NULL)
	{
		char	   *copy = dup_str(name, strlen(name));
		char	   *seg,
				   *dot;
		struct json_object *cur = claims;

		if (copy == NULL)
			return JWT_ERR_NOMEM;
		seg = copy;
		has_path = 1;
		for (;;)
		{
			dot = strchr(seg, '.');
			if (dot)
				*dot = '\0';
			if (*seg == '\0' || cur == NULL ||
				!json_object_is_type(cur, json_type_object) ||
				!json_object_object_get_ex(cur, seg, &cur))
			{
				has_path = 0;
				break;
			}
			if (dot == NULL)
				break;
			seg = dot + 1;
		}
		free(copy);
		if (has_path)
			path = cur;
	}

	if (!has_exact && !has_path)
		return JWT_ERR_MISSING_TENANT;
	if (has_exact && has_path && !json_object_equal(exact, path))
		return JWT_ERR_AMBIGUOUS_TENANT;
	chosen = has_exact ? exact : path;
	s = jwt_plain_string(chosen, &slen);
	if (s == NULL || slen == 0)
		return JWT_ERR_AMBIGUOUS_TENANT;
	*out = dup_str(s, slen);
	return *out ? JWT_OK : JWT_ERR_NOMEM;
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static jwt_status
resolve_scopes(struct json_object *claims, const char *name, char **out)
{
	struct json_object *v;

	*out = NULL;
	if (name == NULL || *name == '\0' ||
		!json_object_object_get_ex(claims, name, &v))
	{
		*out = dup_str("", 0);
		return *out ? JWT_OK : JWT_ERR_NOMEM;
	}
	if (v != NULL && json_object_is_type(v, json_type_string))
	{
		size_t		slen,
					i,
					o = 0;
		const char *s = jwt_plain_string(v, &slen);
		char	   *r;
		int			pending = 0;

		if (s == NULL)
			return JWT_ERR_INVALID_SCOPE;
		r = malloc(slen + 1);
		if (r == NULL)
			return JWT_ERR_NOMEM;
		for (i = 0; i < slen; i++)
		{
			if (is_space((unsigned char) s[i]))
			{
				pending = (o > 0);
				continue;
			}
			if (pending)
			{
				r[o++] = ' ';
				pending = 0;
			}
			r[o++] = s[i];
		}
		r[o] = '\0';
		*out = r;
		return JWT_OK;
	}
	if (v != NULL && json_object_is_type(v, json_type_array))
	{
		size_t		n = json_object_array_length(v);
		size_t		i,
					total = 0,
					o = 0;
		char	   *r;

		for (i = 0; i < n; i++)
		{
			size_t		slen,
						j;
			const char *s = jwt_plain_string(json_object_array_get_idx(v, i), &slen);

			if (s == NULL || slen == 0)
				return JWT_ERR_INVALID_SCOPE;
			for (j = 0; j < slen; j++)
				if (is_space((unsigned char) s[j]))
					return JWT_ERR_INVALID_SCOPE;
			total += slen + 1;
		}
		r = malloc(total + 1);
		if (r == NULL)
			return JWT_ERR_NOMEM;
		for (i = 0; i < n; i++)
		{
			size_t		slen;
			const char *s = jwt_plain_string(json_object_array_get_idx(v, i), &slen);

			if (o > 0)
				r[o++] = ' ';
			memcpy(r + o, s, slen);
			o += slen;
		}
		r[o] = '\0';
		*out = r;
		return JWT_OK;
	}
	return JWT_ERR_INVALID_SCOPE;
}

jwt_status
jwt_validate_claims(const jwt_token *tok, const jwt_policy *policy, jwt_identity *out)
{
	struct json_object *claims;
	struct json_object *v;
	const char *subject_claim;
	int64_t		exp = 0,
				nbf = 0,
				iat = 0;
	int64_t		now_plus;
	int			r;
	jwt_status	st;
	const char *s;
	size_t		slen;

	if (out == NULL)
		return JWT_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (tok == NULL || tok->claims == NULL || policy == NULL ||
		policy->issuer == NULL || policy->audience == NULL ||
		policy->tenant_claim == NULL || policy->tenant_claim[0] == '\0' ||
		policy->leeway < 0)
		return JWT_ERR_INTERNAL;
	claims = tok->claims;
	subject_claim = (policy->subject_claim && policy->subject_claim[0])
		? policy->subject_claim : "sub";
	now_plus = sat_add(policy->now, policy->leeway);

	/* time */
	r = numeric_date(claims, "exp", 0, &exp);
	if (r == 0)
		return JWT_ERR_MISSING_EXP;
	if (r < 0)
		return JWT_ERR_INVALID_CLAIM;
	if (policy->now > sat_add(exp, policy->leeway))
		return JWT_ERR_EXPIRED;

	r = numeric_date(claims, "nbf", 1, &nbf);
	if (r < 0)
		return JWT_ERR_INVALID_CLAIM;
	if (r > 0 && now_plus < nbf)
		return JWT_ERR_NOT_YET_VALID;

	r = numeric_date(claims, "iat", 1, &iat);
	if (r < 0)
		return JWT_ERR_INVALID_CLAIM;
	if (r > 0 && iat > now_plus)
		return JWT_ERR_ISSUED_IN_FUTURE;

	/* issuer */
	if (!json_object_object_get_ex(claims, "iss", &v))
		return JWT_ERR_ISSUER;
	if (v == NULL || !json_object_is_type(v, json_type_string))
		return JWT_ERR_INVALID_CLAIM;
	s = jwt_plain_string(v, NULL);
	if (s == NULL || strcmp(s, policy->issuer) != 0)
		return JWT_ERR_ISSUER;

	/* tenant */
	st = resolve_tenant(claims, policy->tenant_claim, &out->tenant);
	if (st != JWT_OK)
		goto fail;

	/* audience */
	if (!audience_ok(claims, policy->audience))
	{
		st = JWT_ERR_AUDIENCE;
		goto fail;
	}

	/* subject */
	if (!json_object_object_get_ex(claims, subject_claim, &v) ||
		(s = jwt_plain_string(v, &slen)) == NULL || slen == 0)
	{
		st = JWT_ERR_MISSING_SUBJECT;
		goto fail;
	}
	out->subject = dup_str(s, slen);
	if (out->subject == NULL)
	{
		st = JWT_ERR_NOMEM;
		goto fail;
	}

	/* scopes */
	st = resolve_scopes(claims, policy->scope_claim, &out->scopes);
	if (st != JWT_OK)
		goto fail;

	out->exp = exp;
	return JWT_OK;

fail:
	jwt_identity_clear(out);
	return st;
}

/* ------------------------------------------------------------------------
 * misc
 * ------------------------------------------------------------------------ */

static EVP_MD *sha256_md;		/* stays NULL before OpenSSL 3: EVP_sha256() */

void
jwt_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int olen = 0;

	if (data == NULL)
	{
		data = "";
		len = 0;
	}
	/*
	 * The implementation fetched once: EVP_sha256() makes EVP_Digest look
	 * it up in the provider tables on every call, which costs more than
	 * hashing a token.  (A process-wide constant once fetched.)
	 */
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	if (sha256_md == NULL)
		sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
#endif
	if (EVP_Digest(data, len, out, &olen, sha256_md ? sha256_md : EVP_sha256(), NULL) != 1 || olen != 32)
	{
		/* cannot happen short of OOM; never return an unkeyed constant */
		if (SHA256((const unsigned char *) data, len, out) == NULL)
			memset(out, 0xff, 32);
	}
}
