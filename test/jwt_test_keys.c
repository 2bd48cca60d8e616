/*
 * jwt_test_keys.c -- key import: HMAC secrets, PEM, JWK
 *
 * Part of the JWT unit tests (make check-jwt); see jwt_test.h.
 */
#include "jwt_test.h"

void
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
