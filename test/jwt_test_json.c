/*
 * jwt_test_json.c -- the strict JSON reader: RFC 8259 violations, duplicate keys, nesting
 *
 * Part of the JWT unit tests (make check-jwt); see jwt_test.h.
 */
#include "jwt_test.h"

void
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
