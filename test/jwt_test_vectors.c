/*
 * jwt_test_vectors.c -- published test vectors and a happy path for every algorithm
 *
 * Part of the JWT unit tests (make check-jwt); see jwt_test.h.
 */
#include "jwt_test.h"

/* ------------------------------------------------------------------------
 * 1-3: published vectors
 * ------------------------------------------------------------------------ */

static const char RFC_PAYLOAD_B64[] =
"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

void
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

void
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

void
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


void
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
