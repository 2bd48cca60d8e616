/*
 * fuzz_jwt.c -- libFuzzer harness for the JWT module (src/jwt*.c)
 *
 * The input is used as
 *   - a compact JWS: parsed; on success verified against fixed HS256, RS256,
 *     ES256 and EdDSA keys (whichever matches the header alg gets the real
 *     work, the others exercise ALG_MISMATCH) and validated against fixed
 *     policies regardless of the signature result;
 *   - raw JSON: "header JSON \0 claims JSON" (or, without a NUL byte, the
 *     claims JSON under a fixed {"alg":"HS256"} header) is base64url-encoded
 *     and HS256-signed here with the fixed key, then goes through the same
 *     path, so the mutator reaches the JSON validator, duplicate-key check
 *     and claim validation directly instead of through base64;
 *   - a JWK (jwt_jwk_to_pem), and the resulting PEM is imported again;
 *   - a PEM public key for each asymmetric algorithm family.
 * Everything allocated per input is freed (LeakSanitizer is on).  The keys
 * are created once and stay reachable from statics.
 *
 * Keys are the published ones from RFC 7515 Appendix A.1-A.3 and RFC 8037
 * Appendix A, so the RFC example tokens in fuzz/corpus verify.
 */
#include "../src/jwt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static jwt_key *fz_keys[4];
static int	fz_nkeys;

static const unsigned char rfc7515_a1_k[64] = {
	3, 35, 53, 75, 43, 15, 165, 188, 131, 126, 6, 101, 119, 123, 166, 143,
	90, 179, 40, 230, 240, 84, 201, 40, 169, 15, 132, 178, 210, 80, 46, 191,
	211, 251, 90, 146, 210, 6, 71, 239, 150, 138, 180, 195, 119, 98, 61, 34,
	61, 46, 33, 114, 5, 46, 79, 8, 192, 205, 154, 245, 103, 208, 128, 163
};

static const char *const fz_jwks[] = {
	/* RFC 7515 A.2 */
	"{\"kty\":\"RSA\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"
	"HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\","
	"\"e\":\"AQAB\"}",
	/* RFC 7515 A.3 */
	"{\"kty\":\"EC\",\"crv\":\"P-256\","
	"\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
	"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
	/* RFC 8037 A.2 */
	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
};

static void
fz_init(void)
{
	jwt_key    *k = NULL;
	size_t		i;

	if (jwt_key_from_secret(JWT_HS256, rfc7515_a1_k, sizeof(rfc7515_a1_k), &k) != JWT_OK)
	{
		fprintf(stderr, "fuzz init: HS256 key\n");
		abort();
	}
	fz_keys[fz_nkeys++] = k;
	for (i = 0; i < sizeof(fz_jwks) / sizeof(fz_jwks[0]); i++)
	{
		jwt_alg		alg;
		char	   *kid = NULL,
				   *pem = NULL;

		if (jwt_jwk_to_pem(fz_jwks[i], strlen(fz_jwks[i]), &alg, &kid, &pem) != JWT_OK ||
			jwt_key_from_pem(alg, pem, strlen(pem), &k) != JWT_OK)
		{
			fprintf(stderr, "fuzz init: key %zu\n", i);
			abort();
		}
		free(kid);
		free(pem);
		fz_keys[fz_nkeys++] = k;
	}
}

static size_t
fz_touch(const char *s)
{
	return s ? strlen(s) : 0;
}

static void
fz_token(const uint8_t *data, size_t size)
{
	jwt_token  *t = NULL;
	jwt_policy	pol;
	jwt_identity id;
	int			i;
	volatile size_t sink = 0;

	if (jwt_parse((const char *) data, size, 0, &t) != JWT_OK)
	{
		if (t != NULL)
			abort();			/* contract: *out stays NULL on failure */
		return;
	}
	sink += fz_touch(jwt_header_alg(t));
	sink += fz_touch(jwt_header_kid(t));
	sink += fz_touch(jwt_claim_issuer(t));
	if (jwt_alg_from_name(jwt_header_alg(t)) == JWT_ALG_INVALID)
		abort();				/* contract: alg is a supported one */

	for (i = 0; i < fz_nkeys; i++)
	{
		jwt_status	st = jwt_verify_signature(t, fz_keys[i]);

		if (st != JWT_OK && st != JWT_ERR_SIGNATURE && st != JWT_ERR_ALG_MISMATCH)
			abort();
	}

	pol.issuer = "https://issuer.example";
	pol.audience = "mtmcp";
	pol.tenant_claim = "tenant_id";
	pol.subject_claim = "sub";
	pol.scope_claim = "scope";
	pol.leeway = 60;
	pol.now = 1700000000;
	if (jwt_validate_claims(t, &pol, &id) == JWT_OK)
	{
		if (!id.tenant || !id.subject || !id.scopes || !id.tenant[0] || !id.subject[0])
			abort();
		sink += strlen(id.tenant) + strlen(id.subject) + strlen(id.scopes);
	}
	else if (id.tenant || id.subject || id.scopes)
		abort();
	jwt_identity_clear(&id);

	pol.issuer = "joe";
	pol.audience = "https://api.example";
	pol.tenant_claim = "org.id";
	pol.subject_claim = "";
	pol.scope_claim = "scp";
	pol.leeway = 0;
	pol.now = 1300819370;
	if (jwt_validate_claims(t, &pol, &id) == JWT_OK)
		sink += strlen(id.tenant) + strlen(id.subject) + strlen(id.scopes);
	jwt_identity_clear(&id);

	pol.tenant_claim = "https://example.com/tenant";
	pol.scope_claim = NULL;
	pol.leeway = INT64_MAX;
	pol.now = INT64_MIN;
	if (jwt_validate_claims(t, &pol, &id) == JWT_OK)
		sink += strlen(id.tenant);
	jwt_identity_clear(&id);

	jwt_free(t);
	(void) sink;
}

static char *
fz_b64(const uint8_t *d, size_t len, char *o)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t		i;

	for (i = 0; i + 2 < len; i += 3)
	{
		*o++ = a[d[i] >> 2];
		*o++ = a[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
		*o++ = a[((d[i + 1] & 15) << 2) | (d[i + 2] >> 6)];
		*o++ = a[d[i + 2] & 63];
	}
	if (len - i == 1)
	{
		*o++ = a[d[i] >> 2];
		*o++ = a[(d[i] & 3) << 4];
	}
	else if (len - i == 2)
	{
		*o++ = a[d[i] >> 2];
		*o++ = a[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
		*o++ = a[(d[i + 1] & 15) << 2];
	}
	return o;
}

/* "header \0 claims" (or just claims) -> signed compact JWS -> fz_token */
static void
fz_json(const uint8_t *data, size_t size)
{
	static const uint8_t default_header[] = "{\"alg\":\"HS256\"}";
	const uint8_t *nul = memchr(data, 0, size);
	const uint8_t *h,
			   *p;
	size_t		hlen,
				plen;
	char	   *tok,
			   *o;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (nul)
	{
		h = data;
		hlen = (size_t) (nul - data);
		p = nul + 1;
		plen = size - hlen - 1;
	}
	else
	{
		h = default_header;
		hlen = sizeof(default_header) - 1;
		p = data;
		plen = size;
	}
	tok = malloc((hlen + plen) / 3 * 4 + 16 + 2 + 88);
	if (tok == NULL)
		return;
	o = fz_b64(h, hlen, tok);
	*o++ = '.';
	o = fz_b64(p, plen, o);
	if (HMAC(EVP_sha256(), rfc7515_a1_k, (int) sizeof(rfc7515_a1_k),
			 (const unsigned char *) tok, (size_t) (o - tok), mac, &maclen) == NULL)
		abort();
	*o++ = '.';
	o = fz_b64(mac, maclen, o);
	fz_token((const uint8_t *) tok, (size_t) (o - tok));
	free(tok);
}

static void
fz_jwk(const uint8_t *data, size_t size)
{
	jwt_alg		alg;
	char	   *kid = NULL,
			   *pem = NULL;
	jwt_status	st = jwt_jwk_to_pem((const char *) data, size, &alg, &kid, &pem);

	if (st == JWT_OK)
	{
		jwt_key    *k = NULL;

		if (pem == NULL || jwt_alg_name(alg) == NULL)
			abort();
		if (jwt_key_from_pem(alg, pem, strlen(pem), &k) != JWT_OK)
			abort();			/* what jwt_jwk_to_pem returns must import */
		jwt_key_free(k);
	}
	else if (kid != NULL || pem != NULL)
		abort();
	free(kid);
	free(pem);
}

static void
fz_pem(const uint8_t *data, size_t size)
{
	static const jwt_alg algs[] = {JWT_RS256, JWT_ES256, JWT_EDDSA, JWT_HS256};
	size_t		i;

	/* OpenSSL's PEM/DER parsing is not ours to fuzz; only PEM-looking inputs */
	if (size < 11 || memcmp(data, "-----BEGIN ", 11) != 0)
		return;
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
	{
		jwt_key    *k = NULL;

		if (jwt_key_from_pem(algs[i], (const char *) data, size, &k) == JWT_OK)
		{
			if (jwt_key_alg(k) != algs[i])
				abort();
		}
		jwt_key_free(k);
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char h[32];

	if (fz_nkeys == 0)
		fz_init();

	fz_token(data, size);
	fz_json(data, size);
	fz_jwk(data, size);
	fz_pem(data, size);
	jwt_sha256(data, size, h);
	return 0;
}
