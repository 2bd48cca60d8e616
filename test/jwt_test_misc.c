/*
 * jwt_test_misc.c -- names, reasons and the base64url codec
 *
 * Part of the JWT unit tests (make check-jwt); see jwt_test.h.
 */
#include "jwt_test.h"

/* ------------------------------------------------------------------------
 * 6: names, reasons, misc
 * ------------------------------------------------------------------------ */

void
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
void
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
