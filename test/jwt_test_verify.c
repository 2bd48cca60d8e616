/*
 * jwt_test_verify.c -- refusals: algorithm attacks, time and identity claims, scopes, tampering, token structure
 *
 * Part of the JWT unit tests (make check-jwt); see jwt_test.h.
 */
#include "jwt_test.h"

/* ------------------------------------------------------------------------
 * 5: attacks and refusals
 * ------------------------------------------------------------------------ */

void
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

void
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

void
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

void
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

void
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

void
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
