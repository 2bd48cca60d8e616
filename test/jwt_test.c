/*
 * jwt_test.c -- standalone unit tests for src/jwt.c
 *
 * Build/run: make check-jwt   (see test/jwt.mk)
 *
 * Every check asserts a specific jwt_status.  Keys for the per-algorithm
 * happy paths are generated at run time with OpenSSL; tokens are signed by
 * a small test-only signer below (jwt.c itself only verifies).
 */
#include "../src/jwt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

/* ------------------------------------------------------------------------
 * tiny assertion framework
 * ------------------------------------------------------------------------ */

static int n_passed;
static int n_failed;

#define CHECK(cond) \
	do { \
		if (cond) \
			n_passed++; \
		else \
		{ \
			n_failed++; \
			fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

#define CHECK_ST(expr, want) \
	do { \
		jwt_status got_ = (expr); \
		jwt_status want_ = (want); \
		if (got_ == want_) \
			n_passed++; \
		else \
		{ \
			n_failed++; \
			fprintf(stderr, "%s:%d: FAILED: %s: got %s (%d), want %s (%d)\n", \
					__FILE__, __LINE__, #expr, jwt_status_reason(got_), (int) got_, \
					jwt_status_reason(want_), (int) want_); \
		} \
	} while (0)

#define CHECK_STR(got, want) \
	do { \
		const char *g_ = (got); \
		const char *w_ = (want); \
		if (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0) \
			n_passed++; \
		else \
		{ \
			n_failed++; \
			fprintf(stderr, "%s:%d: FAILED: %s: got \"%s\", want \"%s\"\n", \
					__FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
		} \
	} while (0)

static void
die(const char *what)
{
	fprintf(stderr, "test setup failed: %s\n", what);
	exit(2);
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static char *
xstrdup(const char *s)
{
	size_t		n = strlen(s) + 1;
	char	   *p = xmalloc(n);

	memcpy(p, s, n);
	return p;
}

static char *
fmt(const char *f,...)
{
	va_list		ap;
	int			n;
	char	   *p;

	va_start(ap, f);
	n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	if (n < 0)
		die("vsnprintf");
	p = xmalloc((size_t) n + 1);
	va_start(ap, f);
	vsnprintf(p, (size_t) n + 1, f, ap);
	va_end(ap);
	return p;
}

/* ------------------------------------------------------------------------
 * base64url helpers (test side, deliberately independent of jwt.c)
 * ------------------------------------------------------------------------ */

static const char B64[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *
b64e(const void *data, size_t len)
{
	const unsigned char *d = data;
	char	   *out = xmalloc(len / 3 * 4 + 5);
	size_t		i,
				o = 0;

	for (i = 0; i + 2 < len; i += 3)
	{
		out[o++] = B64[d[i] >> 2];
		out[o++] = B64[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
		out[o++] = B64[((d[i + 1] & 15) << 2) | (d[i + 2] >> 6)];
		out[o++] = B64[d[i + 2] & 63];
	}
	if (len - i == 1)
	{
		out[o++] = B64[d[i] >> 2];
		out[o++] = B64[(d[i] & 3) << 4];
	}
	else if (len - i == 2)
	{
		out[o++] = B64[d[i] >> 2];
		out[o++] = B64[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
		out[o++] = B64[(d[i + 1] & 15) << 2];
	}
	out[o] = '\0';
	return out;
}

static int
b64idx(char c)
{
	const char *p = strchr(B64, c);

	return (p && c) ? (int) (p - B64) : -1;
}

/* lenient decoder for test vectors */
static unsigned char *
b64d(const char *s, size_t *outlen)
{
	size_t		len = strlen(s);
	unsigned char *out = xmalloc(len);
	unsigned int acc = 0;
	int			bits = 0;
	size_t		o = 0,
				i;

	for (i = 0; i < len; i++)
	{
		int			v = b64idx(s[i]);

		if (v < 0)
			die("bad base64 in test vector");
		acc = (acc << 6) | (unsigned int) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[o++] = (unsigned char) (acc >> bits);
		}
	}
	*outlen = o;
	return out;
}

/* flip the lowest bit of the base64url character at position pos */
static void
flip_b64_char(char *s, size_t pos)
{
	int			v = b64idx(s[pos]);

	if (v < 0)
		die("flip outside alphabet");
	s[pos] = B64[v ^ 1];
}

/* ------------------------------------------------------------------------
 * test-only signer
 * ------------------------------------------------------------------------ */

static const EVP_MD *
md_for(jwt_alg alg)
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

/* signature bytes over input; malloc'd */
static unsigned char *
sign_bytes(jwt_alg alg, const char *input, const void *secret, size_t slen,
		   EVP_PKEY *pkey, size_t *siglen)
{
	unsigned char *sig;

	if (jwt_alg_is_hmac(alg))
	{
		unsigned int l = 0;

		sig = xmalloc(EVP_MAX_MD_SIZE);
		if (HMAC(md_for(alg), secret, (int) slen, (const unsigned char *) input,
				 strlen(input), sig, &l) == NULL)
			die("HMAC");
		*siglen = l;
		return sig;
	}
	else
	{
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;
		size_t		l = 0;
		const EVP_MD *md = (alg == JWT_EDDSA) ? NULL : md_for(alg);

		if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, md, NULL, pkey) != 1)
			die("DigestSignInit");
		if (alg == JWT_PS256 || alg == JWT_PS384 || alg == JWT_PS512)
		{
			if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
				EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
				EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)
				die("pss params");
		}
		if (EVP_DigestSign(ctx, NULL, &l, (const unsigned char *) input, strlen(input)) != 1)
			die("DigestSign size");
		sig = xmalloc(l);
		if (EVP_DigestSign(ctx, sig, &l, (const unsigned char *) input, strlen(input)) != 1)
			die("DigestSign");
		EVP_MD_CTX_free(ctx);

		if (alg == JWT_ES256 || alg == JWT_ES384 || alg == JWT_ES512)
		{
			/* DER -> raw R||S */
			size_t		fb = alg == JWT_ES256 ? 32 : alg == JWT_ES384 ? 48 : 66;
			const unsigned char *p = sig;
			ECDSA_SIG  *es = d2i_ECDSA_SIG(NULL, &p, (long) l);
			const BIGNUM *r,
					   *s;
			unsigned char *raw = xmalloc(2 * fb);

			if (es == NULL)
				die("d2i_ECDSA_SIG");
			ECDSA_SIG_get0(es, &r, &s);
			if (BN_bn2binpad(r, raw, (int) fb) != (int) fb ||
				BN_bn2binpad(s, raw + fb, (int) fb) != (int) fb)
				die("bn2binpad");
			ECDSA_SIG_free(es);
			free(sig);
			sig = raw;
			l = 2 * fb;
		}
		*siglen = l;
		return sig;
	}
}

/* a complete compact JWS for header/payload JSON texts */
static char *
sign_token(jwt_alg alg, const char *header, const char *payload,
		   const void *secret, size_t slen, EVP_PKEY *pkey)
{
	char	   *h = b64e(header, strlen(header));
	char	   *p = b64e(payload, strlen(payload));
	char	   *input = fmt("%s.%s", h, p);
	size_t		siglen;
	unsigned char *sig = sign_bytes(alg, input, secret, slen, pkey, &siglen);
	char	   *s = b64e(sig, siglen);
	char	   *tok = fmt("%s.%s", input, s);

	free(h);
	free(p);
	free(input);
	free(sig);
	free(s);
	return tok;
}

/* token with an arbitrary (unsigned) signature */
static char *
raw_token(const char *header, const char *payload, const void *sig, size_t siglen)
{
	char	   *h = b64e(header, strlen(header));
	char	   *p = b64e(payload, strlen(payload));
	char	   *s = b64e(sig, siglen);
	char	   *tok = fmt("%s.%s.%s", h, p, s);

	free(h);
	free(p);
	free(s);
	return tok;
}

static char *
pem_of(EVP_PKEY *pkey)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	char	   *data;
	long		n;
	char	   *r;

	if (bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1)
		die("PEM_write_bio_PUBKEY");
	n = BIO_get_mem_data(bio, &data);
	r = xmalloc((size_t) n + 1);
	memcpy(r, data, (size_t) n);
	r[n] = '\0';
	BIO_free(bio);
	return r;
}

static char *
pkcs1_pem_of(EVP_PKEY *pkey)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	OSSL_ENCODER_CTX *ectx;
	char	   *data;
	long		n;
	char	   *r;

	ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_PUBLIC_KEY, "PEM",
										 "type-specific", NULL);
	if (bio == NULL || ectx == NULL || OSSL_ENCODER_to_bio(ectx, bio) != 1)
		die("PKCS#1 encoder");
	OSSL_ENCODER_CTX_free(ectx);
	n = BIO_get_mem_data(bio, &data);
	r = xmalloc((size_t) n + 1);
	memcpy(r, data, (size_t) n);
	r[n] = '\0';
	BIO_free(bio);
	return r;
}

static jwt_key *
key_pem(jwt_alg alg, const char *pem)
{
	jwt_key    *k = NULL;

	if (jwt_key_from_pem(alg, pem, strlen(pem), &k) != JWT_OK)
		die("jwt_key_from_pem");
	return k;
}

static jwt_key *
key_secret(jwt_alg alg, const void *secret, size_t len)
{
	jwt_key    *k = NULL;

	if (jwt_key_from_secret(alg, secret, len, &k) != JWT_OK)
		die("jwt_key_from_secret");
	return k;
}

/* ------------------------------------------------------------------------
 * pipeline helpers
 * ------------------------------------------------------------------------ */

#define NOW 1700000000LL

static jwt_policy
default_policy(void)
{
	jwt_policy	p;

	p.issuer = "https://issuer.example";
	p.audience = "mtmcp";
	p.tenant_claim = "tenant_id";
	p.subject_claim = "sub";
	p.scope_claim = "scope";
	p.leeway = 60;
	p.now = NOW;
	return p;
}

/* parse + verify + validate; frees nothing of the caller's */
static jwt_status
run_full(const char *token, const jwt_key *key, const jwt_policy *pol, jwt_identity *id)
{
	jwt_token  *t = NULL;
	jwt_status	st;
	jwt_identity dummy;

	if (id == NULL)
		id = &dummy;
	memset(id, 0, sizeof(*id));
	st = jwt_parse(token, strlen(token), 0, &t);
	if (st != JWT_OK)
	{
		if (t != NULL)
			return JWT_ERR_INTERNAL;	/* must stay NULL on failure */
		return st;
	}
	st = jwt_verify_signature(t, key);
	if (st == JWT_OK)
		st = jwt_validate_claims(t, pol, id);
	if (st != JWT_OK && (id->tenant || id->subject || id->scopes))
		st = JWT_ERR_INTERNAL;	/* identity must be empty on failure */
	jwt_free(t);
	if (id == &dummy)
		jwt_identity_clear(id);
	return st;
}

static jwt_status
parse_only(const char *token)
{
	jwt_token  *t = NULL;
	jwt_status	st = jwt_parse(token, strlen(token), 0, &t);

	if (st != JWT_OK && t != NULL)
		return JWT_ERR_INTERNAL;
	jwt_free(t);
	return st;
}

/* the HS256 fixture used by most claim tests */
static const char HS_SECRET[] = "unit-test-secret-0123456789abcdef";
static jwt_key *hs_key;

static jwt_status
hs_run(const char *header, const char *payload, const jwt_policy *pol, jwt_identity *id)
{
	char	   *tok = sign_token(JWT_HS256, header, payload, HS_SECRET, strlen(HS_SECRET), NULL);
	jwt_status	st = run_full(tok, hs_key, pol, id);

	free(tok);
	return st;
}

/* claim fragments */
#define HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define ISS "\"iss\":\"https://issuer.example\""
#define AUD "\"aud\":\"mtmcp\""
#define SUB "\"sub\":\"user-1\""
#define TEN "\"tenant_id\":\"acme\""
#define EXP "\"exp\":1700003600"
#define BASE ISS "," AUD "," SUB "," TEN "," EXP

/* ------------------------------------------------------------------------
 * 1-3: published vectors
 * ------------------------------------------------------------------------ */

static const char RFC_PAYLOAD_B64[] =
"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

static void
test_rfc7515_a1(void)
{
	const char *token =
	"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
	".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	const char *k_b64 =
	"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
	size_t		klen;
	unsigned char *k = b64d(k_b64, &klen);
	jwt_key    *key = NULL,
			   *key384 = NULL,
			   *wrong = NULL;
	jwt_token  *t = NULL;
	jwt_policy	pol = default_policy();
	jwt_identity id;

	CHECK(klen == 64);
	CHECK_ST(jwt_key_from_secret(JWT_HS256, k, klen, &key), JWT_OK);
	CHECK_ST(jwt_key_from_secret(JWT_HS384, k, klen, &key384), JWT_OK);
	CHECK_ST(jwt_key_from_secret(JWT_HS256, k, klen - 1, &wrong), JWT_OK);
	CHECK_ST(jwt_parse(token, strlen(token), 0, &t), JWT_OK);
	if (t == NULL)
		goto out;
	CHECK_STR(jwt_header_alg(t), "HS256");
	CHECK(jwt_header_kid(t) == NULL);
	CHECK_STR(jwt_claim_issuer(t), "joe");
	CHECK_ST(jwt_verify_signature(t, key), JWT_OK);
	CHECK_ST(jwt_verify_signature(t, wrong), JWT_ERR_SIGNATURE);
	CHECK_ST(jwt_verify_signature(t, key384), JWT_ERR_ALG_MISMATCH);

	/* claims: exp passes before 1300819380, iss "joe", tenant via "iss" */
	pol.issuer = "joe";
	pol.audience = "https://api.example";
	pol.tenant_claim = "iss";
	pol.leeway = 0;
	pol.now = 1300819370;
	CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_ERR_AUDIENCE);
	CHECK(id.tenant == NULL && id.subject == NULL && id.scopes == NULL);
	pol.now = 1300819380;		/* exactly exp: still valid */
	CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_ERR_AUDIENCE);
	pol.now = 1300819381;		/* one second after exp */
	CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_ERR_EXPIRED);
	pol.leeway = 1;				/* ... unless leeway covers it */
	CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_ERR_AUDIENCE);
	pol.leeway = 0;
	pol.now = 1300819370;
	pol.issuer = "not-joe";
	CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_ERR_ISSUER);
	pol.issuer = "joe";
	/* URL-named claim whose value is boolean true: resolves, but ambiguous */
	pol.tenant_claim = "http://example.com/is_root";
	CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_ERR_AMBIGUOUS_TENANT);
	pol.tenant_claim = "tenant_id";
	CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_ERR_MISSING_TENANT);

out:
	jwt_free(t);
	jwt_key_free(key);
	jwt_key_free(key384);
	jwt_key_free(wrong);
	free(k);
}

static void
test_rfc7515_a2_a3(void)
{
	const char *rs_jwk =
	"{\"kty\":\"RSA\","
	"\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"
	"HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\","
	"\"e\":\"AQAB\"}";
	const char *rs_token_fmt = "eyJhbGciOiJSUzI1NiJ9.%s."
	"cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
	"AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
	"BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
	"0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
	"hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
	"p0igcN_IoypGlUPQGe77Rw";
	const char *es_jwk =
	"{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"a3\","
	"\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
	"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
	const char *es_token_fmt = "eyJhbGciOiJFUzI1NiJ9.%s."
	"DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
	jwt_alg		alg;
	char	   *kid = NULL,
			   *pem = NULL;
	jwt_key    *key = NULL,
			   *pskey = NULL;
	jwt_token  *t = NULL;
	char	   *tok;
	jwt_policy	pol = default_policy();

	/* A.2: RS256 with the JWK imported through jwt_jwk_to_pem */
	CHECK_ST(jwt_jwk_to_pem(rs_jwk, strlen(rs_jwk), &alg, &kid, &pem), JWT_OK);
	CHECK(alg == JWT_RS256);
	CHECK(kid == NULL);
	CHECK(pem != NULL && strstr(pem, "-----BEGIN PUBLIC KEY-----") != NULL);
	if (pem)
	{
		CHECK_ST(jwt_key_from_pem(JWT_RS256, pem, strlen(pem), &key), JWT_OK);
		CHECK_ST(jwt_key_from_pem(JWT_PS256, pem, strlen(pem), &pskey), JWT_OK);
		{
			jwt_key    *tmp = NULL;

			CHECK_ST(jwt_key_from_pem(JWT_ES256, pem, strlen(pem), &tmp), JWT_ERR_KEY);
			CHECK(tmp == NULL);
		}
	}
	tok = fmt(rs_token_fmt, RFC_PAYLOAD_B64);
	CHECK_ST(jwt_parse(tok, strlen(tok), 0, &t), JWT_OK);
	if (t && key)
	{
		CHECK_ST(jwt_verify_signature(t, key), JWT_OK);
		CHECK_ST(jwt_verify_signature(t, pskey), JWT_ERR_ALG_MISMATCH);
		pol.issuer = "joe";
		pol.tenant_claim = "iss";
		pol.leeway = 0;
		pol.now = 1300819300;
		CHECK_ST(jwt_validate_claims(t, &pol, &(jwt_identity) {0}), JWT_ERR_AUDIENCE);
	}
	jwt_free(t);
	t = NULL;
	flip_b64_char(tok, strlen(tok) - 30);	/* bit-flipped signature */
	CHECK_ST(jwt_parse(tok, strlen(tok), 0, &t), JWT_OK);
	if (t && key)
		CHECK_ST(jwt_verify_signature(t, key), JWT_ERR_SIGNATURE);
	jwt_free(t);
	t = NULL;
	tok[strlen(tok) - 2] = '\0';	/* truncated signature (254 bytes) */
	CHECK_ST(jwt_parse(tok, strlen(tok), 0, &t), JWT_OK);
	if (t && key)
		CHECK_ST(jwt_verify_signature(t, key), JWT_ERR_SIGNATURE);
	jwt_free(t);
	t = NULL;
	free(tok);
	jwt_key_free(key);
	jwt_key_free(pskey);
	key = pskey = NULL;
	free(pem);
	free(kid);
	pem = kid = NULL;

	/* A.3: ES256 */
	CHECK_ST(jwt_jwk_to_pem(es_jwk, strlen(es_jwk), &alg, &kid, &pem), JWT_OK);
	CHECK(alg == JWT_ES256);
	CHECK_STR(kid, "a3");
	if (pem)
		CHECK_ST(jwt_key_from_pem(JWT_ES256, pem, strlen(pem), &key), JWT_OK);
	tok = fmt(es_token_fmt, RFC_PAYLOAD_B64);
	CHECK_ST(jwt_parse(tok, strlen(tok), 0, &t), JWT_OK);
	if (t && key)
		CHECK_ST(jwt_verify_signature(t, key), JWT_OK);
	jwt_free(t);
	t = NULL;
	flip_b64_char(tok, strlen(tok) - 20);
	CHECK_ST(jwt_parse(tok, strlen(tok), 0, &t), JWT_OK);
	if (t && key)
		CHECK_ST(jwt_verify_signature(t, key), JWT_ERR_SIGNATURE);
	jwt_free(t);
	t = NULL;
	free(tok);
	jwt_key_free(key);
	key = NULL;
	free(pem);
	free(kid);
	pem = kid = NULL;
}

static void
test_pgjwt_readme(void)
{
	const char *token =
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
	".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9"
	".TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ";
	jwt_key    *key = key_secret(JWT_HS256, "secret", 6);
	jwt_token  *t = NULL;
	jwt_policy	pol = default_policy();
	jwt_identity id;

	CHECK_ST(jwt_parse(token, strlen(token), 0, &t), JWT_OK);
	if (t)
	{
		CHECK_STR(jwt_header_alg(t), "HS256");
		CHECK(jwt_claim_issuer(t) == NULL);
		CHECK_ST(jwt_verify_signature(t, key), JWT_OK);
		CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_ERR_MISSING_EXP);
	}
	jwt_free(t);
	jwt_key_free(key);
}

/* ------------------------------------------------------------------------
 * 4: generated keys, every algorithm
 * ------------------------------------------------------------------------ */

static EVP_PKEY *rsa2048,
		   *rsa1024,
		   *ec256,
		   *ec256b,
		   *ec384,
		   *ec521,
		   *ed25519,
		   *ed25519b;

static void
gen_keys(void)
{
	rsa2048 = EVP_RSA_gen(2048);
	rsa1024 = EVP_RSA_gen(1024);
	ec256 = EVP_EC_gen("P-256");
	ec256b = EVP_EC_gen("P-256");
	ec384 = EVP_EC_gen("P-384");
	ec521 = EVP_EC_gen("P-521");
	ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ed25519b = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!rsa2048 || !rsa1024 || !ec256 || !ec256b || !ec384 || !ec521 || !ed25519 || !ed25519b)
		die("key generation");
}

static void
free_keys(void)
{
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(ec256);
	EVP_PKEY_free(ec256b);
	EVP_PKEY_free(ec384);
	EVP_PKEY_free(ec521);
	EVP_PKEY_free(ed25519);
	EVP_PKEY_free(ed25519b);
}

static EVP_PKEY *
pkey_for(jwt_alg alg)
{
	switch (alg)
	{
		case JWT_RS256:
		case JWT_RS384:
		case JWT_RS512:
		case JWT_PS256:
		case JWT_PS384:
		case JWT_PS512:
			return rsa2048;
		case JWT_ES256:
			return ec256;
		case JWT_ES384:
			return ec384;
		case JWT_ES512:
			return ec521;
		case JWT_EDDSA:
			return ed25519;
		default:
			return NULL;
	}
}

static void
test_all_algorithms(void)
{
	jwt_alg		alg;
	const char *payload =
	"{" BASE ",\"iat\":1699999990,\"nbf\":1699999990,\"scope\":\"read write\"}";

	for (alg = JWT_HS256; alg <= JWT_EDDSA; alg++)
	{
		const char *name = jwt_alg_name(alg);
		char	   *hdr = fmt("{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"k-%s\"}", name, name);
		EVP_PKEY   *pk = pkey_for(alg);
		char	   *pem = pk ? pem_of(pk) : NULL;
		jwt_key    *key = NULL;
		char	   *tok;
		jwt_token  *t = NULL;
		jwt_policy	pol = default_policy();
		jwt_identity id;

		if (jwt_alg_is_hmac(alg))
			CHECK_ST(jwt_key_from_secret(alg, (const unsigned char *) HS_SECRET, strlen(HS_SECRET), &key), JWT_OK);
		else
			CHECK_ST(jwt_key_from_pem(alg, pem, strlen(pem), &key), JWT_OK);
		CHECK(jwt_key_alg(key) == alg);
		tok = sign_token(alg, hdr, payload, HS_SECRET, strlen(HS_SECRET), pk);
		CHECK_ST(jwt_parse(tok, strlen(tok), 0, &t), JWT_OK);
		if (t && key)
		{
			char	   *want_kid = fmt("k-%s", name);

			CHECK_STR(jwt_header_alg(t), name);
			CHECK_STR(jwt_header_kid(t), want_kid);
			CHECK_STR(jwt_claim_issuer(t), "https://issuer.example");
			free(want_kid);
			CHECK_ST(jwt_verify_signature(t, key), JWT_OK);
			CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_OK);
			CHECK_STR(id.tenant, "acme");
			CHECK_STR(id.subject, "user-1");
			CHECK_STR(id.scopes, "read write");
			CHECK(id.exp == 1700003600);
			jwt_identity_clear(&id);
			CHECK(id.tenant == NULL && id.subject == NULL && id.scopes == NULL);
		}
		jwt_free(t);
		t = NULL;

		/* a bit-flipped signature is refused for every algorithm */
		{
			char	   *sigpart = strrchr(tok, '.') + 1;

			flip_b64_char(sigpart, 5);
			CHECK_ST(run_full(tok, key, &pol, NULL), JWT_ERR_SIGNATURE);
		}
		free(tok);
		free(hdr);
		free(pem);
		jwt_key_free(key);
	}

	/* wrong key of the right type */
	{
		const char *hdr = "{\"alg\":\"ES256\"}";
		char	   *tok = sign_token(JWT_ES256, hdr, "{" BASE "}", NULL, 0, ec256);
		char	   *pem = pem_of(ec256b);
		jwt_key    *other = key_pem(JWT_ES256, pem);
		jwt_policy	pol = default_policy();

		CHECK_ST(run_full(tok, other, &pol, NULL), JWT_ERR_SIGNATURE);
		free(tok);
		free(pem);
		jwt_key_free(other);
	}
	{
		const char *hdr = "{\"alg\":\"EdDSA\"}";
		char	   *tok = sign_token(JWT_EDDSA, hdr, "{" BASE "}", NULL, 0, ed25519);
		char	   *pem = pem_of(ed25519b);
		jwt_key    *other = key_pem(JWT_EDDSA, pem);
		jwt_policy	pol = default_policy();

		CHECK_ST(run_full(tok, other, &pol, NULL), JWT_ERR_SIGNATURE);
		free(tok);
		free(pem);
		jwt_key_free(other);
	}

	/* non-UTF-8 HMAC secret containing NUL */
	{
		static const unsigned char secret[] = {0x00, 0xff, 0xfe, 'a', 0x00, 0x80, 0xc3, 0x28, 0x01};
		jwt_key    *key = key_secret(JWT_HS512, secret, sizeof(secret));
		jwt_key    *trunc = key_secret(JWT_HS512, secret, 4);
		char	   *tok = sign_token(JWT_HS512, "{\"alg\":\"HS512\"}", "{" BASE "}",
									 secret, sizeof(secret), NULL);
		jwt_policy	pol = default_policy();
		jwt_identity id;

		CHECK_ST(run_full(tok, key, &pol, &id), JWT_OK);
		CHECK_STR(id.tenant, "acme");
		CHECK_STR(id.scopes, "");
		jwt_identity_clear(&id);
		CHECK_ST(run_full(tok, trunc, &pol, NULL), JWT_ERR_SIGNATURE);
		free(tok);
		jwt_key_free(key);
		jwt_key_free(trunc);
	}

	/* one-byte secret (pgjwt compatibility: any length >= 1) */
	{
		jwt_key    *key = NULL;

		CHECK_ST(jwt_key_from_secret(JWT_HS256, (const unsigned char *) "x", 1, &key), JWT_OK);
		jwt_key_free(key);
	}

	/* "BEGIN RSA PUBLIC KEY" (PKCS#1) PEM is accepted too */
	{
		char	   *pem = pkcs1_pem_of(rsa2048);
		jwt_key    *key = NULL;
		char	   *tok = sign_token(JWT_RS256, "{\"alg\":\"RS256\"}", "{" BASE "}", NULL, 0, rsa2048);
		jwt_policy	pol = default_policy();

		CHECK(strstr(pem, "-----BEGIN RSA PUBLIC KEY-----") != NULL);
		CHECK_ST(jwt_key_from_pem(JWT_RS256, pem, strlen(pem), &key), JWT_OK);
		if (key)
			CHECK_ST(run_full(tok, key, &pol, NULL), JWT_OK);
		jwt_key_free(key);
		free(tok);
		free(pem);
	}

	/* JWKs built from generated keys round-trip through jwt_jwk_to_pem */
	{
		unsigned char raw[32];
		size_t		rawlen = sizeof(raw);
		char	   *x,
				   *jwk,
				   *pem = NULL,
				   *kid = NULL;
		jwt_alg		alg;
		jwt_key    *key = NULL;
		char	   *tok = sign_token(JWT_EDDSA, "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", "{" BASE "}",
									 NULL, 0, ed25519);
		jwt_policy	pol = default_policy();

		if (EVP_PKEY_get_raw_public_key(ed25519, raw, &rawlen) != 1)
			die("raw ed25519");
		x = b64e(raw, rawlen);
		jwk = fmt("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"use\":\"sig\",\"alg\":\"EdDSA\",\"kid\":\"ed\",\"x\":\"%s\"}", x);
		CHECK_ST(jwt_jwk_to_pem(jwk, strlen(jwk), &alg, &kid, &pem), JWT_OK);
		CHECK(alg == JWT_EDDSA);
		CHECK_STR(kid, "ed");
		if (pem)
		{
			CHECK_ST(jwt_key_from_pem(JWT_EDDSA, pem, strlen(pem), &key), JWT_OK);
			if (key)
				CHECK_ST(run_full(tok, key, &pol, NULL), JWT_OK);
		}
		jwt_key_free(key);
		free(tok);
		free(jwk);
		free(x);
		free(pem);
		free(kid);
	}
	{
		BIGNUM	   *bx = NULL,
				   *by = NULL;
		unsigned char bufx[66],
					bufy[66];
		char	   *x,
				   *y,
				   *jwk,
				   *pem = NULL,
				   *kid = NULL;
		jwt_alg		alg;
		jwt_key    *key = NULL;
		char	   *tok = sign_token(JWT_ES512, "{\"alg\":\"ES512\"}", "{" BASE "}", NULL, 0, ec521);
		jwt_policy	pol = default_policy();

		if (EVP_PKEY_get_bn_param(ec521, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
			EVP_PKEY_get_bn_param(ec521, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
			BN_bn2binpad(bx, bufx, 66) != 66 || BN_bn2binpad(by, bufy, 66) != 66)
			die("ec coords");
		x = b64e(bufx, 66);
		y = b64e(bufy, 66);
		jwk = fmt("{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
		CHECK_ST(jwt_jwk_to_pem(jwk, strlen(jwk), &alg, &kid, &pem), JWT_OK);
		CHECK(alg == JWT_ES512);
		CHECK(kid == NULL);
		if (pem)
		{
			CHECK_ST(jwt_key_from_pem(JWT_ES512, pem, strlen(pem), &key), JWT_OK);
			if (key)
				CHECK_ST(run_full(tok, key, &pol, NULL), JWT_OK);
		}
		free(jwk);

		/* a point not on the curve is refused */
		bufy[65] ^= 1;
		free(y);
		y = b64e(bufy, 66);
		jwk = fmt("{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
		{
			char	   *p2 = NULL,
					   *k2 = NULL;

			CHECK_ST(jwt_jwk_to_pem(jwk, strlen(jwk), &alg, &k2, &p2), JWT_ERR_KEY);
			CHECK(p2 == NULL && k2 == NULL && alg == JWT_ALG_INVALID);
		}
		/* coordinates of the wrong length for the curve */
		free(jwk);
		jwk = fmt("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
		{
			char	   *p2 = NULL,
					   *k2 = NULL;

			CHECK_ST(jwt_jwk_to_pem(jwk, strlen(jwk), &alg, &k2, &p2), JWT_ERR_KEY);
		}
		jwt_key_free(key);
		BN_free(bx);
		BN_free(by);
		free(tok);
		free(jwk);
		free(x);
		free(y);
		free(pem);
		free(kid);
	}
}

/* ------------------------------------------------------------------------
 * 5: attacks and refusals
 * ------------------------------------------------------------------------ */

static void
test_alg_attacks(void)
{
	jwt_policy	pol = default_policy();
	static const unsigned char junk[] = "not-a-signature";

	/* alg none, any case; an empty signature segment is malformed anyway */
	{
		const char *hdrs[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}",
		"{\"alg\":\"nOnE\",\"typ\":\"JWT\"}"};
		size_t		i;

		for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
		{
			char	   *tok = raw_token(hdrs[i], "{" BASE "}", junk, sizeof(junk) - 1);

			CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_ALG_NONE);
			free(tok);
		}
	}
	{
		char	   *tok = raw_token("{\"alg\":\"none\"}", "{" BASE "}", "", 0);

		CHECK(tok[strlen(tok) - 1] == '.');
		CHECK_ST(parse_only(tok), JWT_ERR_MALFORMED);
		free(tok);
	}

	/* unsupported / missing / non-string alg */
	{
		const char *hdrs[] = {"{\"alg\":\"HS1024\"}", "{\"alg\":\"hs256\"}", "{\"typ\":\"JWT\"}",
			"{\"alg\":256}", "{\"alg\":null}", "{\"alg\":[\"HS256\"]}", "{\"alg\":\"\"}",
		"{\"alg\":\"RSA-OAEP\"}", "{\"alg\":\"HS256\\u0000\"}"};
		size_t		i;

		for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
		{
			char	   *tok = raw_token(hdrs[i], "{" BASE "}", junk, sizeof(junk) - 1);

			CHECK_ST(parse_only(tok), JWT_ERR_ALG_UNSUPPORTED);
			free(tok);
		}
	}

	/* algorithm confusion: HS256 "signed" with the RSA public key's PEM */
	{
		char	   *pem = pem_of(rsa2048);
		jwt_key    *rs = key_pem(JWT_RS256, pem);
		jwt_key    *hs_pem = key_secret(JWT_HS256, pem, strlen(pem));
		char	   *tok = sign_token(JWT_HS256, "{\"alg\":\"HS256\"}", "{" BASE "}",
									 pem, strlen(pem), NULL);

		CHECK_ST(run_full(tok, rs, &pol, NULL), JWT_ERR_ALG_MISMATCH);
		/* (what a naive verifier would accept:) */
		CHECK_ST(run_full(tok, hs_pem, &pol, NULL), JWT_OK);
		/* and the registry cannot be tricked into an HMAC key from a PEM */
		{
			jwt_key    *k = NULL;

			CHECK_ST(jwt_key_from_pem(JWT_HS256, pem, strlen(pem), &k), JWT_ERR_KEY);
			CHECK(k == NULL);
		}
		free(tok);
		free(pem);
		jwt_key_free(rs);
		jwt_key_free(hs_pem);
	}

	/* header alg != key alg */
	{
		char	   *pem = pem_of(ec256);
		jwt_key    *k384 = NULL;
		char	   *pem384 = pem_of(ec384);
		char	   *tok = sign_token(JWT_ES256, "{\"alg\":\"ES256\"}", "{" BASE "}", NULL, 0, ec256);
		char	   *rsapem = pem_of(rsa2048);
		jwt_key    *ps = key_pem(JWT_PS256, rsapem);
		char	   *rstok = sign_token(JWT_RS256, "{\"alg\":\"RS256\"}", "{" BASE "}", NULL, 0, rsa2048);
		jwt_key    *hs384 = key_secret(JWT_HS384, HS_SECRET, strlen(HS_SECRET));
		char	   *hstok = sign_token(JWT_HS256, HDR, "{" BASE "}", HS_SECRET, strlen(HS_SECRET), NULL);

		k384 = key_pem(JWT_ES384, pem384);
		CHECK_ST(run_full(tok, k384, &pol, NULL), JWT_ERR_ALG_MISMATCH);
		CHECK_ST(run_full(rstok, ps, &pol, NULL), JWT_ERR_ALG_MISMATCH);
		CHECK_ST(run_full(hstok, hs384, &pol, NULL), JWT_ERR_ALG_MISMATCH);
		free(pem);
		free(pem384);
		free(tok);
		free(rsapem);
		free(rstok);
		free(hstok);
		jwt_key_free(k384);
		jwt_key_free(ps);
		jwt_key_free(hs384);
	}

	/* crit */
	{
		char	   *tok = raw_token("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", "{" BASE "}",
									junk, sizeof(junk) - 1);

		CHECK_ST(parse_only(tok), JWT_ERR_CRIT);
		free(tok);
		tok = raw_token("{\"alg\":\"HS256\",\"b64\":false,\"crit\":[\"b64\"]}", "{" BASE "}",
						junk, sizeof(junk) - 1);
		CHECK_ST(parse_only(tok), JWT_ERR_CRIT);
		free(tok);
	}

	/* kid must be a string (non-string kid -> JWT_ERR_JSON) */
	{
		char	   *tok = raw_token("{\"alg\":\"HS256\",\"kid\":42}", "{" BASE "}", junk, sizeof(junk) - 1);

		CHECK_ST(parse_only(tok), JWT_ERR_JSON);
		free(tok);
		tok = raw_token("{\"alg\":\"HS256\",\"kid\":null}", "{" BASE "}", junk, sizeof(junk) - 1);
		CHECK_ST(parse_only(tok), JWT_ERR_JSON);
		free(tok);
	}

	/* PS256 must use salt length = hash length */
	{
		char	   *rpem = pem_of(rsa2048);
		jwt_key    *pk = key_pem(JWT_PS256, rpem);
		char	   *h = b64e("{\"alg\":\"PS256\"}", 15);
		char	   *p = b64e("{" BASE "}", strlen("{" BASE "}"));
		char	   *input = fmt("%s.%s", h, p);
		int			saltlens[] = {RSA_PSS_SALTLEN_MAX, 0, 31, 33, RSA_PSS_SALTLEN_DIGEST};
		size_t		i;

		for (i = 0; i < sizeof(saltlens) / sizeof(saltlens[0]); i++)
		{
			EVP_MD_CTX *ctx = EVP_MD_CTX_new();
			EVP_PKEY_CTX *pctx = NULL;
			unsigned char sig[256];
			size_t		sl = sizeof(sig);
			char	   *s,
					   *tok;

			if (!ctx || EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, rsa2048) != 1 ||
				EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
				EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlens[i]) != 1 ||
				EVP_DigestSign(ctx, sig, &sl, (unsigned char *) input, strlen(input)) != 1)
				die("pss sign");
			EVP_MD_CTX_free(ctx);
			s = b64e(sig, sl);
			tok = fmt("%s.%s", input, s);
			CHECK_ST(run_full(tok, pk, &pol, NULL),
					 saltlens[i] == RSA_PSS_SALTLEN_DIGEST ? JWT_OK : JWT_ERR_SIGNATURE);
			free(s);
			free(tok);
		}
		free(h);
		free(p);
		free(input);
		free(rpem);
		jwt_key_free(pk);
	}

	/* EdDSA and RSA signatures of the wrong length */
	{
		char	   *pem = pem_of(ed25519);
		jwt_key    *k = key_pem(JWT_EDDSA, pem);
		char	   *rpem = pem_of(rsa2048);
		jwt_key    *rk = key_pem(JWT_RS256, rpem);
		unsigned char sig[300];
		char	   *tok;

		memset(sig, 0x5a, sizeof(sig));
		tok = raw_token("{\"alg\":\"EdDSA\"}", "{" BASE "}", sig, 63);
		CHECK_ST(run_full(tok, k, &pol, NULL), JWT_ERR_SIGNATURE);
		free(tok);
		tok = raw_token("{\"alg\":\"EdDSA\"}", "{" BASE "}", sig, 64);
		CHECK_ST(run_full(tok, k, &pol, NULL), JWT_ERR_SIGNATURE);
		free(tok);
		tok = raw_token("{\"alg\":\"RS256\"}", "{" BASE "}", sig, 257);
		CHECK_ST(run_full(tok, rk, &pol, NULL), JWT_ERR_SIGNATURE);
		free(tok);
		tok = raw_token("{\"alg\":\"RS256\"}", "{" BASE "}", sig, 256);
		CHECK_ST(run_full(tok, rk, &pol, NULL), JWT_ERR_SIGNATURE);
		free(tok);
		jwt_key_free(k);
		jwt_key_free(rk);
		free(pem);
		free(rpem);
	}

	/* ES256 signatures of the wrong length */
	{
		char	   *pem = pem_of(ec256);
		jwt_key    *k = key_pem(JWT_ES256, pem);
		unsigned char sig[140];
		size_t		lens[] = {0, 63, 65, 70, 72, 96, 132};
		size_t		i;

		memset(sig, 0x41, sizeof(sig));
		for (i = 1; i < sizeof(lens) / sizeof(lens[0]); i++)
		{
			char	   *tok = raw_token("{\"alg\":\"ES256\"}", "{" BASE "}", sig, lens[i]);

			CHECK_ST(run_full(tok, k, &pol, NULL), JWT_ERR_SIGNATURE);
			free(tok);
		}
		/* right length, all zero (r = s = 0) */
		memset(sig, 0, sizeof(sig));
		{
			char	   *tok = raw_token("{\"alg\":\"ES256\"}", "{" BASE "}", sig, 64);

			CHECK_ST(run_full(tok, k, &pol, NULL), JWT_ERR_SIGNATURE);
			free(tok);
		}
		/* a DER-encoded (OpenSSL-native) signature is not a JWS signature */
		{
			char	   *h = b64e("{\"alg\":\"ES256\"}", 15);
			char	   *p = b64e("{" BASE "}", strlen("{" BASE "}"));
			char	   *input = fmt("%s.%s", h, p);
			EVP_MD_CTX *ctx = EVP_MD_CTX_new();
			unsigned char der[80];
			size_t		dl = sizeof(der);
			char	   *s,
					   *tok;

			if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, ec256) != 1 ||
				EVP_DigestSign(ctx, der, &dl, (unsigned char *) input, strlen(input)) != 1)
				die("der sign");
			EVP_MD_CTX_free(ctx);
			s = b64e(der, dl);
			tok = fmt("%s.%s", input, s);
			CHECK_ST(run_full(tok, k, &pol, NULL), JWT_ERR_SIGNATURE);
			free(h);
			free(p);
			free(input);
			free(s);
			free(tok);
		}
		jwt_key_free(k);
		free(pem);
	}
}

static void
test_time_claims(void)
{
	jwt_policy	pol = default_policy();
	char	   *p;

#define TIME_BASE ISS "," AUD "," SUB "," TEN
	/* expired (leeway 60) */
	p = fmt("{" TIME_BASE ",\"exp\":%lld}", NOW - 61);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_ERR_EXPIRED);
	free(p);
	/* boundary: exp = now - leeway passes, now - leeway - 1 fails */
	p = fmt("{" TIME_BASE ",\"exp\":%lld}", NOW - 60);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_OK);
	free(p);
	p = fmt("{" TIME_BASE ",\"exp\":%lld}", NOW - 60 - 1);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_ERR_EXPIRED);
	free(p);
	pol.leeway = 0;
	p = fmt("{" TIME_BASE ",\"exp\":%lld}", NOW);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_OK);
	free(p);
	p = fmt("{" TIME_BASE ",\"exp\":%lld}", NOW - 1);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_ERR_EXPIRED);
	free(p);
	/* fractional exp */
	p = fmt("{" TIME_BASE ",\"exp\":%lld.5}", NOW - 1);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_ERR_EXPIRED);
	free(p);
	p = fmt("{" TIME_BASE ",\"exp\":%lld.5}", NOW);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_OK);
	free(p);
	p = fmt("{" TIME_BASE ",\"exp\":1.7000036e9}");
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_OK);
	free(p);
	pol.leeway = 60;

	/* exp missing / not numeric / not finite / huge */
	CHECK_ST(hs_run(HDR, "{" TIME_BASE "}", &pol, NULL), JWT_ERR_MISSING_EXP);
	CHECK_ST(hs_run(HDR, "{" TIME_BASE ",\"exp\":\"1700003600\"}", &pol, NULL), JWT_ERR_INVALID_CLAIM);
	CHECK_ST(hs_run(HDR, "{" TIME_BASE ",\"exp\":null}", &pol, NULL), JWT_ERR_INVALID_CLAIM);
	CHECK_ST(hs_run(HDR, "{" TIME_BASE ",\"exp\":true}", &pol, NULL), JWT_ERR_INVALID_CLAIM);
	CHECK_ST(hs_run(HDR, "{" TIME_BASE ",\"exp\":[1700003600]}", &pol, NULL), JWT_ERR_INVALID_CLAIM);
	CHECK_ST(hs_run(HDR, "{" TIME_BASE ",\"exp\":1e400}", &pol, NULL), JWT_ERR_INVALID_CLAIM);
	CHECK_ST(hs_run(HDR, "{" TIME_BASE ",\"exp\":99999999999999999999999}", &pol, NULL), JWT_OK);
	CHECK_ST(hs_run(HDR, "{" TIME_BASE ",\"exp\":-99999999999999999999999}", &pol, NULL), JWT_ERR_EXPIRED);
	CHECK_ST(hs_run(HDR, "{" TIME_BASE ",\"exp\":-1e300}", &pol, NULL), JWT_ERR_EXPIRED);
	{
		jwt_policy	p2 = pol;

		p2.leeway = INT64_MAX;	/* saturating arithmetic, no overflow */
		p2.now = INT64_MAX;
		CHECK_ST(hs_run(HDR, "{" TIME_BASE ",\"exp\":1}", &p2, NULL), JWT_OK);
	}

	/* nbf */
	p = fmt("{" BASE ",\"nbf\":%lld}", NOW + 61);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_ERR_NOT_YET_VALID);
	free(p);
	p = fmt("{" BASE ",\"nbf\":%lld}", NOW + 60);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_OK);
	free(p);
	p = fmt("{" BASE ",\"nbf\":%lld.5}", NOW + 60);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_ERR_NOT_YET_VALID);
	free(p);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"nbf\":\"soon\"}", &pol, NULL), JWT_ERR_INVALID_CLAIM);

	/* iat */
	p = fmt("{" BASE ",\"iat\":%lld}", NOW + 61);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_ERR_ISSUED_IN_FUTURE);
	free(p);
	p = fmt("{" BASE ",\"iat\":%lld}", NOW + 60);
	CHECK_ST(hs_run(HDR, p, &pol, NULL), JWT_OK);
	free(p);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"iat\":{}}", &pol, NULL), JWT_ERR_INVALID_CLAIM);
#undef TIME_BASE
}

static void
test_identity_claims(void)
{
	jwt_policy	pol = default_policy();
	jwt_identity id;

	/* issuer */
	CHECK_ST(hs_run(HDR, "{\"iss\":\"https://evil.example\"," AUD "," SUB "," TEN "," EXP "}", &pol, NULL),
			 JWT_ERR_ISSUER);
	CHECK_ST(hs_run(HDR, "{" AUD "," SUB "," TEN "," EXP "}", &pol, NULL), JWT_ERR_ISSUER);
	CHECK_ST(hs_run(HDR, "{\"iss\":\"https://issuer.example/\"," AUD "," SUB "," TEN "," EXP "}", &pol, NULL),
			 JWT_ERR_ISSUER);
	CHECK_ST(hs_run(HDR, "{\"iss\":\"https://issuer.example\\u0000x\"," AUD "," SUB "," TEN "," EXP "}", &pol, NULL),
			 JWT_ERR_ISSUER);
	/* iss not a string: invalid_claim (see jwt.h) */
	CHECK_ST(hs_run(HDR, "{\"iss\":42," AUD "," SUB "," TEN "," EXP "}", &pol, NULL), JWT_ERR_INVALID_CLAIM);

	/* audience */
	CHECK_ST(hs_run(HDR, "{" ISS ",\"aud\":\"other\"," SUB "," TEN "," EXP "}", &pol, NULL), JWT_ERR_AUDIENCE);
	CHECK_ST(hs_run(HDR, "{" ISS ",\"aud\":[\"a\",\"b\"]," SUB "," TEN "," EXP "}", &pol, NULL), JWT_ERR_AUDIENCE);
	CHECK_ST(hs_run(HDR, "{" ISS ",\"aud\":[]," SUB "," TEN "," EXP "}", &pol, NULL), JWT_ERR_AUDIENCE);
	CHECK_ST(hs_run(HDR, "{" ISS ",\"aud\":[\"mtmcp\",1]," SUB "," TEN "," EXP "}", &pol, NULL), JWT_ERR_AUDIENCE);
	CHECK_ST(hs_run(HDR, "{" ISS ",\"aud\":{\"mtmcp\":1}," SUB "," TEN "," EXP "}", &pol, NULL), JWT_ERR_AUDIENCE);
	CHECK_ST(hs_run(HDR, "{" ISS "," SUB "," TEN "," EXP "}", &pol, NULL), JWT_ERR_AUDIENCE);
	CHECK_ST(hs_run(HDR, "{" ISS ",\"aud\":[\"a\",\"mtmcp\"]," SUB "," TEN "," EXP "}", &pol, NULL), JWT_OK);

	/* subject */
	CHECK_ST(hs_run(HDR, "{" ISS "," AUD "," TEN "," EXP "}", &pol, NULL), JWT_ERR_MISSING_SUBJECT);
	CHECK_ST(hs_run(HDR, "{" ISS "," AUD ",\"sub\":\"\"," TEN "," EXP "}", &pol, NULL), JWT_ERR_MISSING_SUBJECT);
	CHECK_ST(hs_run(HDR, "{" ISS "," AUD ",\"sub\":12345," TEN "," EXP "}", &pol, NULL), JWT_ERR_MISSING_SUBJECT);
	CHECK_ST(hs_run(HDR, "{" ISS "," AUD ",\"sub\":null," TEN "," EXP "}", &pol, NULL), JWT_ERR_MISSING_SUBJECT);
	{
		jwt_policy	p2 = pol;

		p2.subject_claim = "email";
		CHECK_ST(hs_run(HDR, "{" BASE ",\"email\":\"a@b.example\"}", &p2, &id), JWT_OK);
		CHECK_STR(id.subject, "a@b.example");
		jwt_identity_clear(&id);
		CHECK_ST(hs_run(HDR, "{" BASE "}", &p2, NULL), JWT_ERR_MISSING_SUBJECT);
	}

	/* tenant */
#define NOTEN ISS "," AUD "," SUB "," EXP
	CHECK_ST(hs_run(HDR, "{" NOTEN "}", &pol, NULL), JWT_ERR_MISSING_TENANT);
	CHECK_ST(hs_run(HDR, "{" NOTEN ",\"tenant_id\":[\"acme\"]}", &pol, NULL), JWT_ERR_AMBIGUOUS_TENANT);
	CHECK_ST(hs_run(HDR, "{" NOTEN ",\"tenant_id\":[\"a\",\"b\"]}", &pol, NULL), JWT_ERR_AMBIGUOUS_TENANT);
	CHECK_ST(hs_run(HDR, "{" NOTEN ",\"tenant_id\":{\"id\":\"acme\"}}", &pol, NULL), JWT_ERR_AMBIGUOUS_TENANT);
	CHECK_ST(hs_run(HDR, "{" NOTEN ",\"tenant_id\":42}", &pol, NULL), JWT_ERR_AMBIGUOUS_TENANT);
	CHECK_ST(hs_run(HDR, "{" NOTEN ",\"tenant_id\":\"\"}", &pol, NULL), JWT_ERR_AMBIGUOUS_TENANT);
	CHECK_ST(hs_run(HDR, "{" NOTEN ",\"tenant_id\":null}", &pol, NULL), JWT_ERR_AMBIGUOUS_TENANT);
	CHECK_ST(hs_run(HDR, "{" NOTEN ",\"tenant_id\":true}", &pol, NULL), JWT_ERR_AMBIGUOUS_TENANT);
	CHECK_ST(hs_run(HDR, "{" NOTEN ",\"tenant_id\":\"ac\\u0000me\"}", &pol, NULL), JWT_ERR_AMBIGUOUS_TENANT);
	/* the character set is not this module's business */
	CHECK_ST(hs_run(HDR, "{" NOTEN ",\"tenant_id\":\"Ac me/\\u00e9\"}", &pol, &id), JWT_OK);
	CHECK_STR(id.tenant, "Ac me/\xc3\xa9");
	jwt_identity_clear(&id);
	{
		jwt_policy	p2 = pol;

		/* dotted path */
		p2.tenant_claim = "org.id";
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"org\":{\"id\":\"acme\",\"name\":\"Acme\"}}", &p2, &id), JWT_OK);
		CHECK_STR(id.tenant, "acme");
		jwt_identity_clear(&id);
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"org\":{\"name\":\"Acme\"}}", &p2, NULL), JWT_ERR_MISSING_TENANT);
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"org\":\"acme\"}", &p2, NULL), JWT_ERR_MISSING_TENANT);
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"org\":{\"id\":[\"acme\"]}}", &p2, NULL), JWT_ERR_AMBIGUOUS_TENANT);
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"org\":{\"id\":7}}", &p2, NULL), JWT_ERR_AMBIGUOUS_TENANT);
		/* exact top-level key with a dot in its name */
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"org.id\":\"acme2\"}", &p2, &id), JWT_OK);
		CHECK_STR(id.tenant, "acme2");
		jwt_identity_clear(&id);
		/* both present, same value: fine; different: ambiguous */
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"org.id\":\"acme\",\"org\":{\"id\":\"acme\"}}", &p2, &id), JWT_OK);
		CHECK_STR(id.tenant, "acme");
		jwt_identity_clear(&id);
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"org.id\":\"acme\",\"org\":{\"id\":\"evil\"}}", &p2, NULL),
				 JWT_ERR_AMBIGUOUS_TENANT);
		/* deeper path */
		p2.tenant_claim = "a.b.c";
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"a\":{\"b\":{\"c\":\"deep\"}}}", &p2, &id), JWT_OK);
		CHECK_STR(id.tenant, "deep");
		jwt_identity_clear(&id);
		p2.tenant_claim = "a..c";
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"a\":{\"\":{\"c\":\"x\"}}}", &p2, NULL), JWT_ERR_MISSING_TENANT);
		/* URL-named claim (contains dots and slashes) */
		p2.tenant_claim = "https://example.com/tenant";
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"https://example.com/tenant\":\"t-42\"}", &p2, &id), JWT_OK);
		CHECK_STR(id.tenant, "t-42");
		jwt_identity_clear(&id);
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"https://example.com/tenant\":[\"t-42\"]}", &p2, NULL),
				 JWT_ERR_AMBIGUOUS_TENANT);
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"https://example\":{\"com/tenant\":\"x\"}}", &p2, &id), JWT_OK);
		CHECK_STR(id.tenant, "x");
		jwt_identity_clear(&id);
		CHECK_ST(hs_run(HDR, "{" NOTEN ",\"https://example.com/tenant\":\"t-42\","
						"\"https://example\":{\"com/tenant\":\"x\"}}", &p2, NULL),
				 JWT_ERR_AMBIGUOUS_TENANT);
	}
#undef NOTEN
}

static void
test_scopes(void)
{
	jwt_policy	pol = default_policy();
	jwt_identity id;

	CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":\"  read   write\\tadmin \\n\"}", &pol, &id), JWT_OK);
	CHECK_STR(id.scopes, "read write admin");
	jwt_identity_clear(&id);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":\"   \"}", &pol, &id), JWT_OK);
	CHECK_STR(id.scopes, "");
	jwt_identity_clear(&id);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":[\"read\",\"write\"]}", &pol, &id), JWT_OK);
	CHECK_STR(id.scopes, "read write");
	jwt_identity_clear(&id);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":[]}", &pol, &id), JWT_OK);
	CHECK_STR(id.scopes, "");
	jwt_identity_clear(&id);
	CHECK_ST(hs_run(HDR, "{" BASE "}", &pol, &id), JWT_OK);
	CHECK_STR(id.scopes, "");
	jwt_identity_clear(&id);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":42}", &pol, NULL), JWT_ERR_INVALID_SCOPE);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":null}", &pol, NULL), JWT_ERR_INVALID_SCOPE);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":{\"read\":true}}", &pol, NULL), JWT_ERR_INVALID_SCOPE);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":[\"read write\"]}", &pol, NULL), JWT_ERR_INVALID_SCOPE);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":[\"read\",\"\"]}", &pol, NULL), JWT_ERR_INVALID_SCOPE);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":[\"read\",1]}", &pol, NULL), JWT_ERR_INVALID_SCOPE);
	CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":\"a\\u0000b\"}", &pol, NULL), JWT_ERR_INVALID_SCOPE);
	{
		jwt_policy	p2 = pol;

		p2.scope_claim = "scp";
		CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":42,\"scp\":[\"x\"]}", &p2, &id), JWT_OK);
		CHECK_STR(id.scopes, "x");
		jwt_identity_clear(&id);
		p2.scope_claim = NULL;
		CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":42}", &p2, &id), JWT_OK);
		CHECK_STR(id.scopes, "");
		jwt_identity_clear(&id);
		p2.scope_claim = "";
		CHECK_ST(hs_run(HDR, "{" BASE ",\"scope\":42}", &p2, &id), JWT_OK);
		CHECK_STR(id.scopes, "");
		jwt_identity_clear(&id);
	}
}

static void
test_tampering(void)
{
	jwt_policy	pol = default_policy();
	const char *payload = "{" BASE ",\"note\":\"abcdefghijklmnopqrstuvwxyz\"}";
	char	   *good = sign_token(JWT_HS256, HDR, payload, HS_SECRET, strlen(HS_SECRET), NULL);
	char	   *tok;
	char	   *d1 = strchr(good, '.');
	char	   *d2 = strchr(d1 + 1, '.');
	size_t		hlen = (size_t) (d1 - good);
	size_t		sigoff = (size_t) (d2 + 1 - good);
	size_t		siglen = strlen(d2 + 1);

	CHECK_ST(run_full(good, hs_key, &pol, NULL), JWT_OK);
	CHECK(siglen == 43);

	/* truncated signature (40 chars = 30 bytes: decodes, wrong length) */
	tok = xstrdup(good);
	tok[strlen(tok) - 3] = '\0';
	CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_SIGNATURE);
	free(tok);
	/* extended signature */
	tok = fmt("%sAAAA", good);
	CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_SIGNATURE);
	free(tok);
	/* bit-flipped signature */
	tok = xstrdup(good);
	flip_b64_char(tok, sigoff + 10);
	CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_SIGNATURE);
	free(tok);

	/* bit-flipped payload: flip bit 0 of a letter inside "note" */
	{
		const char *at = strstr(payload, "abcdefgh");
		size_t		off = (size_t) (at - payload);
		size_t		pos;

		while (off % 3 != 2)
			off++;
		/* the 4th character of a group carries the low 6 bits of byte 3 */
		pos = hlen + 1 + off / 3 * 4 + 3;
		tok = xstrdup(good);
		flip_b64_char(tok, pos);
		CHECK(strcmp(tok, good) != 0);
		CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_SIGNATURE);
		free(tok);
	}
	/* re-encoded, modified payload with the original signature */
	{
		char	   *h = b64e(HDR, strlen(HDR));
		const char *evil = "{" ISS "," AUD ",\"sub\":\"admin\"," TEN "," EXP "}";
		char	   *p = b64e(evil, strlen(evil));

		tok = fmt("%s.%s.%s", h, p, d2 + 1);
		CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_SIGNATURE);
		free(tok);
		free(h);
		free(p);
	}

	/* invalid base64url characters, padding, whitespace */
	{
		const char bad[] = {'+', '/', '=', ' ', '\t', '\n', '*', '.', '\0'};
		size_t		i;

		for (i = 0; bad[i]; i++)
		{
			if (bad[i] == '.')
				continue;
			tok = xstrdup(good);
			tok[hlen + 5] = bad[i];	/* in the payload */
			CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_BASE64);
			free(tok);
			tok = xstrdup(good);
			tok[sigoff + 7] = bad[i];	/* in the signature */
			CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_BASE64);
			free(tok);
			tok = xstrdup(good);
			tok[3] = bad[i];	/* in the header */
			CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_BASE64);
			free(tok);
		}
		tok = fmt("%s=", good);		/* padding on the signature */
		CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_BASE64);
		free(tok);
		tok = fmt("%s ", good);		/* trailing whitespace */
		CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_BASE64);
		free(tok);
		tok = fmt(" %s", good);		/* leading whitespace */
		CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_BASE64);
		free(tok);
		/* a NUL byte inside the token (explicit length) */
		tok = xstrdup(good);
		tok[sigoff + 2] = '\0';
		{
			jwt_token  *t = NULL;

			CHECK_ST(jwt_parse(tok, strlen(good), 0, &t), JWT_ERR_BASE64);
			CHECK(t == NULL);
		}
		free(tok);
		/* segment length % 4 == 1 */
		tok = fmt("%sA", good);
		CHECK(strlen(d2 + 1) % 4 == 3);
		CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_SIGNATURE);	/* 44 chars: 33 bytes */
		free(tok);
		tok = fmt("%sAA", good);	/* 45 chars */
		CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_BASE64);
		free(tok);
	}

	/* non-canonical trailing bits: 43 chars -> low 2 bits of the last char must be 0 */
	{
		int			v;

		tok = xstrdup(good);
		v = b64idx(tok[strlen(tok) - 1]);
		CHECK((v & 3) == 0);
		tok[strlen(tok) - 1] = B64[v | 1];
		CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_BASE64);
		tok[strlen(tok) - 1] = B64[v | 2];
		CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_BASE64);
		free(tok);
		/* and a 2-char tail ("QQ" = 'A' with non-zero bits; "QQ" is canonical, "QR" is not) */
		tok = raw_token(HDR, "{" BASE "}", "A", 1);
		CHECK_STR(strrchr(tok, '.') + 1, "QQ");
		CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_SIGNATURE);
		tok[strlen(tok) - 1] = 'R';
		CHECK_ST(run_full(tok, hs_key, &pol, NULL), JWT_ERR_BASE64);
		free(tok);
	}
	free(good);
}

static void
test_structure(void)
{
	jwt_policy	pol = default_policy();
	char	   *good = sign_token(JWT_HS256, HDR, "{" BASE "}", HS_SECRET, strlen(HS_SECRET), NULL);
	char	   *tok;
	jwt_token  *t = NULL;

	CHECK_ST(run_full(good, hs_key, &pol, NULL), JWT_OK);

	/* segments */
	tok = fmt("%s.", good);
	CHECK_ST(parse_only(tok), JWT_ERR_MALFORMED);
	free(tok);
	tok = fmt("%s.AAAA", good);
	CHECK_ST(parse_only(tok), JWT_ERR_MALFORMED);
	free(tok);
	tok = xstrdup(good);
	*strrchr(tok, '.') = '\0';	/* two segments */
	CHECK_ST(parse_only(tok), JWT_ERR_MALFORMED);
	free(tok);
	tok = fmt(".%s", strchr(good, '.') + 1);	/* empty header */
	CHECK_ST(parse_only(tok), JWT_ERR_MALFORMED);
	free(tok);
	{
		char	   *h = b64e(HDR, strlen(HDR));

		tok = fmt("%s..abcd", h);	/* empty payload */
		CHECK_ST(parse_only(tok), JWT_ERR_MALFORMED);
		free(tok);
		free(h);
	}
	CHECK_ST(parse_only(""), JWT_ERR_MALFORMED);
	CHECK_ST(parse_only(".."), JWT_ERR_MALFORMED);
	CHECK_ST(parse_only("abc"), JWT_ERR_MALFORMED);
	CHECK_ST(jwt_parse(NULL, 0, 0, &t), JWT_ERR_MALFORMED);
	CHECK_ST(jwt_parse(good, strlen(good), 0, NULL), JWT_ERR_INTERNAL);

	/* size limit: checked first, no decoding */
	{
		size_t		big = 1024 * 1024;
		char	   *huge = xmalloc(big + 1);

		memset(huge, '!', big);
		huge[big] = '\0';
		CHECK_ST(jwt_parse(huge, big, 0, &t), JWT_ERR_TOO_LARGE);
		CHECK(t == NULL);
		CHECK_ST(jwt_parse(huge, 8193, 0, &t), JWT_ERR_TOO_LARGE);
		CHECK_ST(jwt_parse(huge, 8192, 0, &t), JWT_ERR_MALFORMED);
		CHECK_ST(jwt_parse(huge, big, big, &t), JWT_ERR_MALFORMED);
		free(huge);
		CHECK_ST(jwt_parse(good, strlen(good), strlen(good) - 1, &t), JWT_ERR_TOO_LARGE);
		CHECK_ST(jwt_parse(good, strlen(good), strlen(good), &t), JWT_OK);
		jwt_free(t);
		t = NULL;
	}
	/* a large but allowed token still works with a raised max_len */
	{
		size_t		n = 20000;
		char	   *pad = xmalloc(n + 1);
		char	   *payload;

		memset(pad, 'x', n);
		pad[n] = '\0';
		payload = fmt("{" BASE ",\"pad\":\"%s\"}", pad);
		tok = sign_token(JWT_HS256, HDR, payload, HS_SECRET, strlen(HS_SECRET), NULL);
		CHECK_ST(parse_only(tok), JWT_ERR_TOO_LARGE);
		CHECK_ST(jwt_parse(tok, strlen(tok), 65536, &t), JWT_OK);
		jwt_free(t);
		t = NULL;
		free(tok);
		free(payload);
		free(pad);
	}

	free(good);
}

static void
test_json(void)
{
	jwt_policy	pol = default_policy();
	static const unsigned char junk[] = "sig";
	struct
	{
		const char *header;
		const char *payload;
		jwt_status	want;
	}			cases[] =
	{
		/* not an object */
		{"[\"HS256\"]", "{" BASE "}", JWT_ERR_JSON},
		{"\"HS256\"", "{" BASE "}", JWT_ERR_JSON},
		{"42", "{" BASE "}", JWT_ERR_JSON},
		{"null", "{" BASE "}", JWT_ERR_JSON},
		{HDR, "[1,2,3]", JWT_ERR_JSON},
		{HDR, "\"claims\"", JWT_ERR_JSON},
		/* not JSON, or not strict JSON */
		{"{\"alg\":\"HS256\"", "{" BASE "}", JWT_ERR_JSON},
		{"{'alg':'HS256'}", "{" BASE "}", JWT_ERR_JSON},
		{"{alg:\"HS256\"}", "{" BASE "}", JWT_ERR_JSON},
		{"{\"alg\":\"HS256\",}", "{" BASE "}", JWT_ERR_JSON},
		{"{\"alg\":\"HS256\"}{}", "{" BASE "}", JWT_ERR_JSON},
		{"{\"alg\":\"HS256\"} x", "{" BASE "}", JWT_ERR_JSON},
		{"{/*c*/\"alg\":\"HS256\"}", "{" BASE "}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"n\":NaN}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"n\":Infinity}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"n\":01}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"n\":1.}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"n\":.5}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"n\":+1}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"n\":0x10}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"n\":tRue}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"s\":\"\\ud800\"}", JWT_ERR_JSON},	/* lone surrogate */
		{HDR, "{" BASE ",\"s\":\"\\udc00\\ud800\"}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"s\":\"\\x41\"}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"s\":\"tab\there\"}", JWT_ERR_JSON},	/* raw control char */
		{HDR, "{" BASE ",\"s\":\"\xc0\xaf\"}", JWT_ERR_JSON},	/* overlong UTF-8 */
		{HDR, "{" BASE ",\"s\":\"\xed\xa0\x80\"}", JWT_ERR_JSON},	/* UTF-8 surrogate */
		{HDR, "{" BASE ",\"s\":\"\xff\"}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"s\":\"\xe0\x80\xaf\"}", JWT_ERR_JSON},	/* overlong 3-byte */
		{HDR, "{" BASE ",\"s\":\"\xf0\x80\x80\xaf\"}", JWT_ERR_JSON},	/* overlong 4-byte */
		{HDR, "{" BASE ",\"s\":\"\\u00G9\"}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"s\":\"\\u00e\"}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"s\":\"\\ud800\\u0041\"}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"s\":\"\\ud800x\"}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"s\":\"abc}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"s\":\"abc\\", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"n\":1e}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"n\":-}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"a\":[1,]}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"a\":[1 2]}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"a\":[1", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"a\" 1}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"a\":1 \"b\":2}", JWT_ERR_JSON},
		{HDR, "{" BASE ",}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"a\":fals}", JWT_ERR_JSON},
		{HDR, "{" BASE ",\"s\":\"\xe2\x82\"}", JWT_ERR_JSON},	/* truncated sequence */
		{HDR, "{" BASE ",\"s\":\"\xf4\x90\x80\x80\"}", JWT_ERR_JSON},	/* > U+10FFFF */
		{HDR, "\f{" BASE "}", JWT_ERR_JSON},
		{HDR, "{" BASE "}\f", JWT_ERR_JSON},
		/* fine */
		{HDR, " \r\n\t{" BASE "} \n", JWT_OK},
		{HDR, "{" BASE ",\"s\":\"\\ud83d\\ude00 \xf0\x9f\x98\x80 \xc3\xa9\",\"n\":-0.5e-3,\"z\":[{},[],null]}", JWT_OK},
		{HDR, "{" BASE ",\"s\":\"\\u00E9\\uD83D\\uDE00 \xe0\xa0\x80 \xef\xbf\xbd \xf4\x8f\xbf\xbf \\\"\\\\\\/\\b\\f\\n\\r\\t\",\"n\":[0,-0,1E+2,1e-2,0.0,true,false]}", JWT_OK},
		/* duplicate keys */
		{HDR, "{" BASE ",\"sub\":\"admin\"}", JWT_ERR_DUPLICATE_KEY},
		{HDR, "{" BASE ",\"\\u0073ub\":\"admin\"}", JWT_ERR_DUPLICATE_KEY},
		{HDR, "{" BASE ",\"s\\u0075b\":\"admin\"}", JWT_ERR_DUPLICATE_KEY},
		{HDR, "{" BASE ",\"org\":{\"id\":\"a\",\"id\":\"b\"}}", JWT_ERR_DUPLICATE_KEY},
		{HDR, "{" BASE ",\"x\":[1,{\"a\":{\"b\":1,\"b\":1}}]}", JWT_ERR_DUPLICATE_KEY},
		{HDR, "{" BASE ",\"x\":{\"a\":1},\"x\":{\"a\":1}}", JWT_ERR_DUPLICATE_KEY},
		{"{\"alg\":\"HS256\",\"alg\":\"HS256\"}", "{" BASE "}", JWT_ERR_DUPLICATE_KEY},
		{"{\"alg\":\"none\",\"alg\":\"HS256\"}", "{" BASE "}", JWT_ERR_DUPLICATE_KEY},
		{"{\"alg\":\"HS256\",\"kid\":\"a\",\"k\\u0069d\":\"b\"}", "{" BASE "}", JWT_ERR_DUPLICATE_KEY},
		{HDR, "{" BASE ",\"k\":{},\"K\":{}}", JWT_OK},	/* case differs: distinct keys */
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *tok;
		jwt_status	st;

		if (cases[i].want == JWT_OK)
		{
			tok = sign_token(JWT_HS256, cases[i].header, cases[i].payload,
							 HS_SECRET, strlen(HS_SECRET), NULL);
			st = run_full(tok, hs_key, &pol, NULL);
		}
		else
		{
			tok = raw_token(cases[i].header, cases[i].payload, junk, 3);
			st = parse_only(tok);
		}
		if (st != cases[i].want)
			fprintf(stderr, "  json case %zu: %s / %s\n", i, cases[i].header, cases[i].payload);
		CHECK_ST(st, cases[i].want);
		free(tok);
	}

	/* an empty claim set is a valid object, it just lacks everything */
	CHECK_ST(hs_run(HDR, "{}", &pol, NULL), JWT_ERR_MISSING_EXP);
	CHECK_ST(hs_run(HDR, "{ }", &pol, NULL), JWT_ERR_MISSING_EXP);

	/* nesting depth */
	{
		char		deep[200];
		char	   *p;
		int			d;

		for (d = 30; d <= 34; d++)
		{
			int			k;
			char	   *tok;
			jwt_status	st;

			p = deep;
			for (k = 0; k < d; k++)
				*p++ = '[';
			for (k = 0; k < d; k++)
				*p++ = ']';
			*p = '\0';
			p = fmt("{" BASE ",\"d\":%s}", deep);
			tok = raw_token(HDR, p, junk, 3);
			st = parse_only(tok);
			/* object (1) + d arrays: limit 32 levels */
			CHECK_ST(st, d + 1 <= 32 ? JWT_OK : JWT_ERR_JSON);
			free(tok);
			free(p);
		}
	}
}

static void
test_keys(void)
{
	jwt_key    *k = NULL;
	char	   *pem;

	/* RSA smaller than 2048 bits */
	pem = pem_of(rsa1024);
	CHECK_ST(jwt_key_from_pem(JWT_RS256, pem, strlen(pem), &k), JWT_ERR_KEY);
	CHECK(k == NULL);
	CHECK_ST(jwt_key_from_pem(JWT_PS256, pem, strlen(pem), &k), JWT_ERR_KEY);
	free(pem);
	pem = pkcs1_pem_of(rsa1024);
	CHECK_ST(jwt_key_from_pem(JWT_RS256, pem, strlen(pem), &k), JWT_ERR_KEY);
	free(pem);

	/* EC curve must match the ES alg; key type must match the family */
	pem = pem_of(ec384);
	CHECK_ST(jwt_key_from_pem(JWT_ES256, pem, strlen(pem), &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_pem(JWT_ES512, pem, strlen(pem), &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_pem(JWT_RS256, pem, strlen(pem), &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_pem(JWT_EDDSA, pem, strlen(pem), &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_pem(JWT_ES384, pem, strlen(pem), &k), JWT_OK);
	jwt_key_free(k);
	k = NULL;
	free(pem);
	pem = pem_of(ec256);
	CHECK_ST(jwt_key_from_pem(JWT_ES384, pem, strlen(pem), &k), JWT_ERR_KEY);
	free(pem);
	pem = pem_of(ed25519);
	CHECK_ST(jwt_key_from_pem(JWT_ES256, pem, strlen(pem), &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_pem(JWT_RS256, pem, strlen(pem), &k), JWT_ERR_KEY);
	free(pem);
	pem = pem_of(rsa2048);
	CHECK_ST(jwt_key_from_pem(JWT_ES256, pem, strlen(pem), &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_pem(JWT_EDDSA, pem, strlen(pem), &k), JWT_ERR_KEY);
	/* HMAC algs never take a PEM */
	CHECK_ST(jwt_key_from_pem(JWT_HS256, pem, strlen(pem), &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_pem(JWT_HS512, pem, strlen(pem), &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_pem(JWT_ALG_INVALID, pem, strlen(pem), &k), JWT_ERR_KEY);
	/* truncated / garbage PEM, two PEM blocks */
	CHECK_ST(jwt_key_from_pem(JWT_RS256, pem, strlen(pem) / 2, &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_pem(JWT_RS256, "hello", 5, &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_pem(JWT_RS256, "", 0, &k), JWT_ERR_KEY);
	{
		char	   *two = fmt("%s%s", pem, pem);

		CHECK_ST(jwt_key_from_pem(JWT_RS256, two, strlen(two), &k), JWT_ERR_KEY);
		free(two);
	}
	free(pem);

	/* EC keys with explicit parameters (even P-256's) and other curves are refused */
	{
		static const char explicit_p256[] =
		"-----BEGIN PUBLIC KEY-----\n"
		"MIIBSzCCAQMGByqGSM49AgEwgfcCAQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAA\n"
		"AAAAAAAAAAAA////////////////MFsEIP////8AAAABAAAAAAAAAAAAAAAA////\n"
		"///////////8BCBaxjXYqjqT57PrvVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSd\n"
		"NgiG5wSTamZ44ROdJreBn36QBEEEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5\n"
		"RdiYwpZP40Li/hp/m47n60p8D54WK84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA\n"
		"//////////+85vqtpxeehPO5ysL8YyVRAgEBA0IABFgE46nnFNndzJjoOwV7Ii+O\n"
		"X3prq0PoPLE2eQiUwFG2MAtsQzgx88PPybBrj8VewLVkeOOUz1GvkbuBw2caDnY=\n"
		"-----END PUBLIC KEY-----\n";
		static const char secp256k1[] =
		"-----BEGIN PUBLIC KEY-----\n"
		"MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEW3Jf051+e/oc+u6I+JiyHBSpLCQgtPTc\n"
		"YLJv5SvClIdbwIsucqqq7aw/gEYkN5nLsT+hj7BAYLn6GPn4dKRTZQ==\n"
		"-----END PUBLIC KEY-----\n";

		CHECK_ST(jwt_key_from_pem(JWT_ES256, explicit_p256, strlen(explicit_p256), &k), JWT_ERR_KEY);
		CHECK_ST(jwt_key_from_pem(JWT_ES256, secp256k1, strlen(secp256k1), &k), JWT_ERR_KEY);
		CHECK(k == NULL);
	}

	/* private keys in PEM are refused */
	{
		BIO		   *bio = BIO_new(BIO_s_mem());
		char	   *data;
		long		n;

		if (bio == NULL || PEM_write_bio_PrivateKey(bio, ec256, NULL, NULL, 0, NULL, NULL) != 1)
			die("private pem");
		n = BIO_get_mem_data(bio, &data);
		CHECK_ST(jwt_key_from_pem(JWT_ES256, data, (size_t) n, &k), JWT_ERR_KEY);
		BIO_free(bio);
	}

	/* secrets */
	CHECK_ST(jwt_key_from_secret(JWT_HS256, (const unsigned char *) "", 0, &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_secret(JWT_HS256, NULL, 5, &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_secret(JWT_RS256, (const unsigned char *) "secret", 6, &k), JWT_ERR_KEY);
	CHECK_ST(jwt_key_from_secret(JWT_EDDSA, (const unsigned char *) "secret", 6, &k), JWT_ERR_KEY);
	CHECK(k == NULL);
	CHECK(jwt_key_alg(NULL) == JWT_ALG_INVALID);

	/* JWK refusals */
	{
		const char *es_pub =
		"\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
		"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"";
		struct
		{
			const char *jwk;
			jwt_status	want;
		}			cases[] =
		{
			/* private JWK (RFC 7515 A.3 d) */
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}", JWT_ERR_KEY},
			{"{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ\"}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"use\":\"enc\"}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"use\":1}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"use\":\"sig\"}", JWT_OK},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"alg\":\"ES384\"}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"alg\":\"RS256\"}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"alg\":\"HS256\"}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"alg\":\"ES256\"}", JWT_OK},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"kid\":7}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"secp256k1\",%s}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",%s}", JWT_ERR_KEY},
			{"{\"kty\":\"RSA\",%s}", JWT_ERR_KEY},
			{"{\"kty\":\"OKP\",\"crv\":\"Ed448\",%s}", JWT_ERR_KEY},
			{"{\"crv\":\"P-256\",%s}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}", JWT_ERR_BASE64},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU=\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}", JWT_ERR_BASE64},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEUA\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"crv\":\"P-256\"}", JWT_ERR_DUPLICATE_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s", JWT_ERR_JSON},
			{"[{\"kty\":\"EC\",\"crv\":\"P-256\",%s}]", JWT_ERR_JSON},
			{"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}", JWT_OK},
			{"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR\"}", JWT_ERR_BASE64},
			{"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcH\"}", JWT_ERR_KEY},
			{"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}", JWT_ERR_KEY},
			{"{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", JWT_ERR_KEY},
			{"{\"kty\":\"foo\",%s}", JWT_ERR_KEY},
			{"{\"kty\":7,%s}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":256,%s}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"alg\":null}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"alg\":\"none\"}", JWT_ERR_KEY},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",%s,\"key_ops\":[\"verify\"],\"x5c\":[]}", JWT_OK},
			{"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":7,\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}", JWT_ERR_KEY},
			{"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}", JWT_ERR_KEY},
			{"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}", JWT_OK},
			{"{\"kty\":\"OKP\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}", JWT_ERR_KEY},
			{"{\"kty\":\"RSA\",\"n\":\"\",\"e\":\"AQAB\"}", JWT_ERR_KEY},
		};
		size_t		i;

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		{
			char	   *jwk = fmt(cases[i].jwk, es_pub);
			jwt_alg		alg = JWT_HS256;
			char	   *kid = (char *) 1,
					   *p = (char *) 1;
			jwt_status	st = jwt_jwk_to_pem(jwk, strlen(jwk), &alg, &kid, &p);

			if (st != cases[i].want)
				fprintf(stderr, "  jwk case %zu: %s\n", i, jwk);
			CHECK_ST(st, cases[i].want);
			if (st != JWT_OK)
				CHECK(alg == JWT_ALG_INVALID && kid == NULL && p == NULL);
			else
				CHECK(p != NULL && alg != JWT_ALG_INVALID);
			free(kid);
			free(p);
			free(jwk);
		}
	}

	/* a 1024-bit RSA JWK is refused like the PEM */
	{
		BIGNUM	   *n = NULL;
		unsigned char buf[128];
		char	   *nb,
				   *jwk,
				   *kid = NULL,
				   *p = NULL;
		jwt_alg		alg;

		if (EVP_PKEY_get_bn_param(rsa1024, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
			BN_bn2binpad(n, buf, 128) != 128)
			die("rsa n");
		nb = b64e(buf, 128);
		jwk = fmt("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}", nb);
		CHECK_ST(jwt_jwk_to_pem(jwk, strlen(jwk), &alg, &kid, &p), JWT_ERR_KEY);
		BN_free(n);
		free(nb);
		free(jwk);
	}
	/* RSA JWK alg PS384 is honoured */
	{
		BIGNUM	   *n = NULL;
		unsigned char buf[256];
		char	   *nb,
				   *jwk,
				   *kid = NULL,
				   *p = NULL;
		jwt_alg		alg;

		if (EVP_PKEY_get_bn_param(rsa2048, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
			BN_bn2binpad(n, buf, 256) != 256)
			die("rsa n");
		nb = b64e(buf, 256);
		jwk = fmt("{\"kty\":\"RSA\",\"alg\":\"PS384\",\"kid\":\"r1\",\"n\":\"%s\",\"e\":\"AQAB\"}", nb);
		CHECK_ST(jwt_jwk_to_pem(jwk, strlen(jwk), &alg, &kid, &p), JWT_OK);
		CHECK(alg == JWT_PS384);
		CHECK_STR(kid, "r1");
		free(kid);
		free(p);
		kid = p = NULL;
		free(jwk);
		jwk = fmt("{\"kty\":\"RSA\",\"alg\":\"ES256\",\"n\":\"%s\",\"e\":\"AQAB\"}", nb);
		CHECK_ST(jwt_jwk_to_pem(jwk, strlen(jwk), &alg, &kid, &p), JWT_ERR_KEY);
		free(jwk);
		jwk = fmt("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\",\"p\":\"AQAB\"}", nb);
		CHECK_ST(jwt_jwk_to_pem(jwk, strlen(jwk), &alg, &kid, &p), JWT_ERR_KEY);
		free(jwk);
		/* exponent: zero, even, too long, not base64url */
		{
			const char *es[] = {"AA", "AAAA", "AQAA", "AQIDBAUGBwgJ", "AQ=B", "", "Ag", "AQ", "Aw", "AQAB"};
			const jwt_status want[] = {JWT_ERR_KEY, JWT_ERR_KEY, JWT_ERR_KEY, JWT_ERR_KEY,
			JWT_ERR_BASE64, JWT_ERR_KEY, JWT_ERR_KEY, JWT_ERR_KEY, JWT_OK, JWT_OK};
			size_t		i;

			for (i = 0; i < sizeof(es) / sizeof(es[0]); i++)
			{
				jwk = fmt("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", nb, es[i]);
				CHECK_ST(jwt_jwk_to_pem(jwk, strlen(jwk), &alg, &kid, &p), want[i]);
				CHECK((p == NULL) == (want[i] != JWT_OK));
				free(p);
				p = NULL;
				free(jwk);
			}
		}
		/* a leading zero octet in n is tolerated */
		{
			unsigned char buf0[257];
			char	   *nb0;

			buf0[0] = 0;
			memcpy(buf0 + 1, buf, 256);
			nb0 = b64e(buf0, 257);
			jwk = fmt("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}", nb0);
			CHECK_ST(jwt_jwk_to_pem(jwk, strlen(jwk), &alg, &kid, &p), JWT_OK);
			CHECK(alg == JWT_RS256);
			free(p);
			p = NULL;
			free(jwk);
			free(nb0);
		}
		BN_free(n);
		free(nb);
	}
	CHECK_ST(jwt_jwk_to_pem("{}", 2, NULL, NULL, NULL), JWT_ERR_INTERNAL);
	{
		jwt_alg		alg;
		char	   *kid = NULL,
				   *p = NULL;
		size_t		big = 70000;
		char	   *huge = xmalloc(big + 1);

		CHECK_ST(jwt_jwk_to_pem(NULL, 0, &alg, &kid, &p), JWT_ERR_JSON);
		CHECK_ST(jwt_jwk_to_pem("", 0, &alg, &kid, &p), JWT_ERR_JSON);
		memset(huge, ' ', big);
		huge[0] = '{';
		huge[big - 1] = '}';
		huge[big] = '\0';
		CHECK_ST(jwt_jwk_to_pem(huge, big, &alg, &kid, &p), JWT_ERR_TOO_LARGE);
		CHECK_ST(jwt_jwk_to_pem(huge, 1000, &alg, &kid, &p), JWT_ERR_JSON);
		free(huge);
	}
}

/* ------------------------------------------------------------------------
 * 6: names, reasons, misc
 * ------------------------------------------------------------------------ */

static void
test_names(void)
{
	jwt_alg		a;
	int			s,
				s2;
	static const char *const reasons[] = {
		"ok", "token_too_large", "malformed_token", "invalid_base64url", "invalid_json",
		"duplicate_key", "alg_none", "unsupported_alg", "alg_mismatch", "unsupported_crit",
		"unknown_key", "invalid_signature", "missing_exp", "expired", "not_yet_valid",
		"issued_in_future", "invalid_claim", "invalid_issuer", "invalid_audience",
		"missing_subject", "missing_tenant_claim", "ambiguous_tenant_claim",
		"invalid_scope_claim", "invalid_key", "internal_error", "internal_error"
	};

	for (a = JWT_HS256; a <= JWT_EDDSA; a++)
	{
		const char *n = jwt_alg_name(a);

		CHECK(n != NULL);
		if (n)
			CHECK(jwt_alg_from_name(n) == a);
		CHECK(jwt_alg_is_hmac(a) == (a <= JWT_HS512));
	}
	CHECK_STR(jwt_alg_name(JWT_HS256), "HS256");
	CHECK_STR(jwt_alg_name(JWT_PS384), "PS384");
	CHECK_STR(jwt_alg_name(JWT_ES512), "ES512");
	CHECK_STR(jwt_alg_name(JWT_EDDSA), "EdDSA");
	CHECK(jwt_alg_name(JWT_ALG_INVALID) == NULL);
	CHECK(jwt_alg_from_name("none") == JWT_ALG_INVALID);
	CHECK(jwt_alg_from_name("NONE") == JWT_ALG_INVALID);
	CHECK(jwt_alg_from_name("hs256") == JWT_ALG_INVALID);
	CHECK(jwt_alg_from_name("EDDSA") == JWT_ALG_INVALID);
	CHECK(jwt_alg_from_name("") == JWT_ALG_INVALID);
	CHECK(jwt_alg_from_name(NULL) == JWT_ALG_INVALID);
	CHECK(!jwt_alg_is_hmac(JWT_ALG_INVALID));

	for (s = JWT_OK; s <= JWT_ERR_INTERNAL; s++)
	{
		CHECK_STR(jwt_status_reason((jwt_status) s), reasons[s]);
		for (s2 = s + 1; s2 <= JWT_ERR_INTERNAL; s2++)
		{
			int			same = strcmp(jwt_status_reason((jwt_status) s),
									  jwt_status_reason((jwt_status) s2)) == 0;

			if (s == JWT_ERR_NOMEM && s2 == JWT_ERR_INTERNAL)
				CHECK(same);
			else if (same)
			{
				fprintf(stderr, "  statuses %d and %d share a reason\n", s, s2);
				CHECK(!same);
			}
		}
	}
	CHECK(sizeof(reasons) / sizeof(reasons[0]) == (size_t) JWT_ERR_INTERNAL + 1);

	/* sha256 */
	{
		unsigned char h[32];
		static const unsigned char abc[32] = {
			0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
			0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad
		};
		static const unsigned char empty[32] = {
			0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
			0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55
		};

		jwt_sha256("abc", 3, h);
		CHECK(memcmp(h, abc, 32) == 0);
		jwt_sha256("", 0, h);
		CHECK(memcmp(h, empty, 32) == 0);
	}

	/* NULL-safety of accessors and destructors */
	CHECK(jwt_header_alg(NULL) == NULL);
	CHECK(jwt_header_kid(NULL) == NULL);
	CHECK(jwt_claim_issuer(NULL) == NULL);
	jwt_free(NULL);
	jwt_key_free(NULL);
	jwt_identity_clear(NULL);
	CHECK_ST(jwt_verify_signature(NULL, hs_key), JWT_ERR_INTERNAL);
	CHECK_ST(jwt_validate_claims(NULL, NULL, NULL), JWT_ERR_INTERNAL);
	{
		jwt_policy	pol = default_policy();
		jwt_identity id;
		char	   *tok = sign_token(JWT_HS256, HDR, "{" BASE "}", HS_SECRET, strlen(HS_SECRET), NULL);
		jwt_token  *t = NULL;

		CHECK_ST(jwt_parse(tok, strlen(tok), 0, &t), JWT_OK);
		pol.issuer = NULL;
		CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_ERR_INTERNAL);
		pol = default_policy();
		pol.tenant_claim = "";
		CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_ERR_INTERNAL);
		pol = default_policy();
		pol.leeway = -1;
		CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_ERR_INTERNAL);
		pol = default_policy();
		pol.subject_claim = NULL;	/* defaults to "sub" */
		CHECK_ST(jwt_validate_claims(t, &pol, &id), JWT_OK);
		CHECK_STR(id.subject, "user-1");
		jwt_identity_clear(&id);
		jwt_free(t);
		free(tok);
	}
}

/* the exported codec: RFC 4648 vectors, the independent encoder, strictness */
static void
test_b64url(void)
{
	static const char *const vec[][2] = {
		{"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"},
		{"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
	};
	static const char *const bad[] = {
		"Zm9vY", "Zg==", "Zm8=", "Zm+v", "Zm/v", "Zm9 v", "Zh", "Zm9", "Z",
	};
	unsigned char bytes[64];
	char		enc[JWT_B64URL_ENCODED_LEN(sizeof(bytes)) + 1];
	unsigned char *dec;
	size_t		i,
				n,
				declen;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++)
	{
		n = jwt_b64url_encode((const unsigned char *) vec[i][0], strlen(vec[i][0]), enc);
		CHECK_STR(enc, vec[i][1]);
		CHECK(n == strlen(vec[i][1]) && n == JWT_B64URL_ENCODED_LEN(strlen(vec[i][0])));
		CHECK_ST(jwt_b64url_decode(vec[i][1], strlen(vec[i][1]), &dec, &declen), JWT_OK);
		if (dec != NULL)
		{
			CHECK(declen == strlen(vec[i][0]) && dec[declen] == '\0');
			CHECK_STR((char *) dec, vec[i][0]);
			free(dec);
		}
	}
	/* every byte value at every length up to 64, against the test's own encoder */
	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char) (i * 37 + 251);
	for (n = 0; n <= sizeof(bytes); n++)
	{
		char	   *want = b64e(bytes, n);

		jwt_b64url_encode(bytes, n, enc);
		CHECK_STR(enc, want);
		CHECK_ST(jwt_b64url_decode(enc, strlen(enc), &dec, &declen), JWT_OK);
		CHECK(dec != NULL && declen == n && memcmp(dec, bytes, n) == 0);
		free(dec);
		free(want);
	}
	/* padding, the other alphabet, whitespace, a lone char, non-zero trailing bits */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		CHECK_ST(jwt_b64url_decode(bad[i], strlen(bad[i]), &dec, &declen), JWT_ERR_BASE64);
		CHECK(dec == NULL);
	}
}

int
main(void)
{
	gen_keys();
	hs_key = key_secret(JWT_HS256, HS_SECRET, strlen(HS_SECRET));

	test_rfc7515_a1();
	test_rfc7515_a2_a3();
	test_pgjwt_readme();
	test_all_algorithms();
	test_alg_attacks();
	test_time_claims();
	test_identity_claims();
	test_scopes();
	test_tampering();
	test_structure();
	test_json();
	test_keys();
	test_names();
	test_b64url();

	jwt_key_free(hs_key);
	free_keys();

	printf("%d passed, %d failed\n", n_passed, n_failed);
	return n_failed == 0 ? 0 : 1;
}
