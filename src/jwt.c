/*
 * jwt.c -- compact JWS parsing and verification (see jwt.h for the contract)
 *
 * Pure C: no PostgreSQL headers, malloc/free only, no global mutable state.
 * JSON is parsed with json-c, crypto is OpenSSL 3.
 *
 * JSON handling.  json-c's "strict" mode still accepts single-quoted strings,
 * NaN/Infinity, raw control characters and lone surrogate escapes, and it
 * silently keeps the last of duplicate keys.  So every JSON text (JOSE
 * header, claim set, JWK) is first checked by a small RFC 8259 validator
 * (json_scan below) that also enforces strict UTF-8 and a nesting limit and
 * counts the object members it sees.  json-c then builds the tree; if the
 * tree holds fewer members than the text (a recursive sum of object lengths),
 * some key was repeated at some depth -> JWT_ERR_DUPLICATE_KEY.  Because the
 * count is taken on json-c's decoded keys, "a" and "\u0061" collide as they
 * should; keys containing \u0000 are truncated by json-c and therefore may
 * also be reported as duplicates (conservative).
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
 *   - keys: RSA keys are plain rsaEncryption (not RSA-PSS-restricted SPKI),
 *     2048..16384 bits, odd e with 1 < e < 2^64; EC keys must use a named
 *     curve (explicit parameters refused); the PEM text must hold exactly one
 *     "PUBLIC KEY" or "RSA PUBLIC KEY" block.  JWK: max 64 KiB
 *     (JWT_ERR_TOO_LARGE), "key_ops"/"x5c" etc. are ignored, a leading zero
 *     octet in "n" is tolerated.
 *
 * OpenSSL's error queue: every entry point that calls OpenSSL brackets its
 * work with ERR_set_mark()/ERR_pop_to_mark(), so no error entries leak into
 * the caller's (e.g. the backend's TLS code's) queue.
 */
#include "jwt.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

/* nesting limit enforced by our validator; json-c gets some headroom */
#define JWT_JSON_MAX_DEPTH		32
/* largest JWK text / PEM text we look at */
#define JWT_JWK_MAX_LEN			65536
#define JWT_PEM_MAX_LEN			65536
#define JWT_RSA_MIN_BITS		2048
#define JWT_RSA_MAX_BITS		16384
#define JWT_RSA_MAX_E_BITS		64

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

struct jwt_key
{
	jwt_alg		alg;
	unsigned char *secret;		/* HS* only */
	size_t		secret_len;
	EVP_PKEY   *pkey;			/* everything else */
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
alg_is_rsa(jwt_alg alg)
{
	return alg >= JWT_RS256 && alg <= JWT_PS512;
}

static int
alg_is_pss(jwt_alg alg)
{
	return alg == JWT_PS256 || alg == JWT_PS384 || alg == JWT_PS512;
}

static int
alg_is_ec(jwt_alg alg)
{
	return alg == JWT_ES256 || alg == JWT_ES384 || alg == JWT_ES512;
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

/* EC field size in bytes for ES* */
static size_t
ec_field_bytes(jwt_alg alg)
{
	switch (alg)
	{
		case JWT_ES256:
			return 32;
		case JWT_ES384:
			return 48;
		case JWT_ES512:
			return 66;
		default:
			return 0;
	}
}

static int
ec_alg_nid(jwt_alg alg)
{
	switch (alg)
	{
		case JWT_ES256:
			return NID_X9_62_prime256v1;
		case JWT_ES384:
			return NID_secp384r1;
		case JWT_ES512:
			return NID_secp521r1;
		default:
			return NID_undef;
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

static char *
dup_str(const char *s, size_t len)
{
	char	   *r = malloc(len + 1);

	if (r == NULL)
		return NULL;
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

/* memmem replacement (no _GNU_SOURCE needed) */
static const char *
find_bytes(const char *hay, size_t hlen, const char *needle)
{
	size_t		nlen = strlen(needle);
	size_t		i;

	if (nlen == 0 || hlen < nlen)
		return NULL;
	for (i = 0; i + nlen <= hlen; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

/* ------------------------------------------------------------------------
 * strict base64url
 * ------------------------------------------------------------------------ */

static int
b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t
jwt_b64url_encode(const unsigned char *in, size_t len, char *out)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t		i,
				o = 0;

	for (i = 0; i + 2 < len; i += 3)
	{
		out[o++] = tbl[in[i] >> 2];
		out[o++] = tbl[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = tbl[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		out[o++] = tbl[in[i + 2] & 63];
	}
	if (len - i == 1)
	{
		out[o++] = tbl[in[i] >> 2];
		out[o++] = tbl[(in[i] & 3) << 4];
	}
	else if (len - i == 2)
	{
		out[o++] = tbl[in[i] >> 2];
		out[o++] = tbl[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = tbl[(in[i + 1] & 15) << 2];
	}
	out[o] = '\0';
	return o;
}

/* Canonical unpadded base64url only (see jwt.h). */
jwt_status
jwt_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	size_t		full = len / 4;
	size_t		rem = len % 4;
	size_t		olen;
	unsigned char *buf;
	size_t		i,
				o = 0;
	int			v[4];

	*out = NULL;
	*outlen = 0;
	if (rem == 1)
		return JWT_ERR_BASE64;
	olen = full * 3 + (rem ? rem - 1 : 0);
	buf = malloc(olen + 1);
	if (buf == NULL)
		return JWT_ERR_NOMEM;

	for (i = 0; i < full; i++)
	{
		int			k;

		for (k = 0; k < 4; k++)
		{
			v[k] = b64url_val((unsigned char) in[i * 4 + k]);
			if (v[k] < 0)
				goto bad;
		}
		buf[o++] = (unsigned char) ((v[0] << 2) | (v[1] >> 4));
		buf[o++] = (unsigned char) (((v[1] & 0x0f) << 4) | (v[2] >> 2));
		buf[o++] = (unsigned char) (((v[2] & 0x03) << 6) | v[3]);
	}
	if (rem)
	{
		size_t		k;

		for (k = 0; k < rem; k++)
		{
			v[k] = b64url_val((unsigned char) in[full * 4 + k]);
			if (v[k] < 0)
				goto bad;
		}
		buf[o++] = (unsigned char) ((v[0] << 2) | (v[1] >> 4));
		if (rem == 2)
		{
			if (v[1] & 0x0f)
				goto bad;		/* non-canonical trailing bits */
		}
		else
		{
			buf[o++] = (unsigned char) (((v[1] & 0x0f) << 4) | (v[2] >> 2));
			if (v[2] & 0x03)
				goto bad;
		}
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return JWT_OK;

bad:
	free(buf);
	return JWT_ERR_BASE64;
}

/* ------------------------------------------------------------------------
 * strict JSON validator (RFC 8259 + strict UTF-8), counting object members
 * ------------------------------------------------------------------------ */

typedef struct json_scan
{
	const unsigned char *p;
	const unsigned char *end;
	size_t		members;
} json_scan;

static void
js_ws(json_scan *s)
{
	while (s->p < s->end &&
		   (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
js_hex4(json_scan *s, unsigned int *val)
{
	unsigned int v = 0;
	int			i;

	if (s->end - s->p < 4)
		return 0;
	for (i = 0; i < 4; i++)
	{
		unsigned char c = s->p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int) (c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int) (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int) (c - 'A' + 10);
		else
			return 0;
	}
	s->p += 4;
	*val = v;
	return 1;
}

/* one UTF-8 multi-byte sequence starting at s->p (lead byte >= 0x80) */
static int
js_utf8(json_scan *s)
{
	const unsigned char *p = s->p;
	size_t		avail = (size_t) (s->end - p);
	unsigned char c = p[0];
	size_t		n,
				i;
	unsigned char lo = 0x80,
				hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
	{
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;			/* no overlongs */
		else if (c == 0xed)
			hi = 0x9f;			/* no UTF-16 surrogates */
	}
	else if (c >= 0xf0 && c <= 0xf4)
	{
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;			/* <= U+10FFFF */
	}
	else
		return 0;
	if (avail < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	s->p += n;
	return 1;
}

static int
js_string(json_scan *s)
{
	/* caller checked *s->p == '"' */
	s->p++;
	while (s->p < s->end)
	{
		unsigned char c = *s->p;

		if (c == '"')
		{
			s->p++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c == '\\')
		{
			s->p++;
			if (s->p >= s->end)
				return 0;
			c = *s->p++;
			switch (c)
			{
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					break;
				case 'u':
					{
						unsigned int u,
									u2;

						if (!js_hex4(s, &u))
							return 0;
						if (u >= 0xdc00 && u <= 0xdfff)
							return 0;	/* lone low surrogate */
						if (u >= 0xd800 && u <= 0xdbff)
						{
							if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u')
								return 0;
							s->p += 2;
							if (!js_hex4(s, &u2))
								return 0;
							if (u2 < 0xdc00 || u2 > 0xdfff)
								return 0;
						}
						break;
					}
				default:
					return 0;
			}
			continue;
		}
		if (c >= 0x80)
		{
			if (!js_utf8(s))
				return 0;
			continue;
		}
		s->p++;
	}
	return 0;
}

static int
js_digits(json_scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static int
js_number(json_scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return 0;
	if (*s->p == '0')
		s->p++;
	else if (*s->p >= '1' && *s->p <= '9')
		js_digits(s);
	else
		return 0;
	if (s->p < s->end && *s->p == '.')
	{
		s->p++;
		if (!js_digits(s))
			return 0;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
	{
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!js_digits(s))
			return 0;
	}
	return 1;
}

static int
js_literal(json_scan *s, const char *lit)
{
	size_t		n = strlen(lit);

	if ((size_t) (s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return 0;
	s->p += n;
	return 1;
}

static int	js_value(json_scan *s, int depth);

static int
js_object(json_scan *s, int depth)
{
	if (depth >= JWT_JSON_MAX_DEPTH)
		return 0;
	s->p++;						/* '{' */
	js_ws(s);
	if (s->p < s->end && *s->p == '}')
	{
		s->p++;
		return 1;
	}
	for (;;)
	{
		if (s->p >= s->end || *s->p != '"' || !js_string(s))
			return 0;
		s->members++;
		js_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return 0;
		s->p++;
		js_ws(s);
		if (!js_value(s, depth + 1))
			return 0;
		js_ws(s);
		if (s->p >= s->end)
			return 0;
		if (*s->p == '}')
		{
			s->p++;
			return 1;
		}
		if (*s->p != ',')
			return 0;
		s->p++;
		js_ws(s);
	}
}

static int
js_array(json_scan *s, int depth)
{
	if (depth >= JWT_JSON_MAX_DEPTH)
		return 0;
	s->p++;						/* '[' */
	js_ws(s);
	if (s->p < s->end && *s->p == ']')
	{
		s->p++;
		return 1;
	}
	for (;;)
	{
		if (!js_value(s, depth + 1))
			return 0;
		js_ws(s);
		if (s->p >= s->end)
			return 0;
		if (*s->p == ']')
		{
			s->p++;
			return 1;
		}
		if (*s->p != ',')
			return 0;
		s->p++;
		js_ws(s);
	}
}

static int
js_value(json_scan *s, int depth)
{
	if (s->p >= s->end)
		return 0;
	switch (*s->p)
	{
		case '{':
			return js_object(s, depth);
		case '[':
			return js_array(s, depth);
		case '"':
			return js_string(s);
		case 't':
			return js_literal(s, "true");
		case 'f':
			return js_literal(s, "false");
		case 'n':
			return js_literal(s, "null");
		default:
			return js_number(s);
	}
}

/* number of object members in a json-c tree (duplicates already collapsed) */
static size_t
tree_members(struct json_object *o, int depth)
{
	size_t		n = 0;

	if (o == NULL || depth > JWT_JSON_MAX_DEPTH + 1)
		return 0;
	if (json_object_is_type(o, json_type_object))
	{
		struct json_object_iterator it = json_object_iter_begin(o);
		struct json_object_iterator e = json_object_iter_end(o);

		n += (size_t) json_object_object_length(o);
		while (!json_object_iter_equal(&it, &e))
		{
			n += tree_members(json_object_iter_peek_value(&it), depth + 1);
			json_object_iter_next(&it);
		}
	}
	else if (json_object_is_type(o, json_type_array))
	{
		size_t		i,
					len = json_object_array_length(o);

		for (i = 0; i < len; i++)
			n += tree_members(json_object_array_get_idx(o, i), depth + 1);
	}
	return n;
}

/* Parse a JSON text that must be one object; duplicates refused. */
static jwt_status
parse_json_object(const unsigned char *buf, size_t len, struct json_object **out)
{
	json_scan	s;
	json_tokener *tok;
	struct json_object *obj;

	*out = NULL;
	if (len > INT_MAX)
		return JWT_ERR_JSON;

	s.p = buf;
	s.end = buf + len;
	s.members = 0;
	js_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return JWT_ERR_JSON;
	if (!js_value(&s, 0))
		return JWT_ERR_JSON;
	js_ws(&s);
	if (s.p != s.end)
		return JWT_ERR_JSON;

	tok = json_tokener_new_ex(JWT_JSON_MAX_DEPTH + 8);
	if (tok == NULL)
		return JWT_ERR_NOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, (const char *) buf, (int) len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success)
	{
		json_tokener_free(tok);
		json_object_put(obj);
		return JWT_ERR_JSON;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(obj, json_type_object))
	{
		json_object_put(obj);
		return JWT_ERR_JSON;
	}
	if (tree_members(obj, 0) != s.members)
	{
		/* fewer in the tree than in the text: a key was repeated */
		json_object_put(obj);
		return JWT_ERR_DUPLICATE_KEY;
	}
	*out = obj;
	return JWT_OK;
}

/* a JSON string without embedded NUL; returns its C string or NULL */
static const char *
plain_string(struct json_object *o, size_t *lenp)
{
	const char *str;
	int			len;

	if (o == NULL || !json_object_is_type(o, json_type_string))
		return NULL;
	str = json_object_get_string(o);
	len = json_object_get_string_len(o);
	if (str == NULL || len < 0 || strlen(str) != (size_t) len)
		return NULL;
	if (lenp)
		*lenp = (size_t) len;
	return str;
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
	alg = plain_string(v, NULL);
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
		t->kid = plain_string(v, NULL);
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
	st = parse_json_object(buf, blen, &t->header);
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
	st = parse_json_object(buf, blen, &t->claims);
	free(buf);
	buf = NULL;
	if (st != JWT_OK)
		goto fail;
	{
		struct json_object *v;

		if (json_object_object_get_ex(t->claims, "iss", &v))
			t->iss = plain_string(v, NULL);
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
 * keys
 * ------------------------------------------------------------------------ */

void
jwt_key_free(jwt_key *key)
{
	if (key == NULL)
		return;
	if (key->secret)
	{
		OPENSSL_cleanse(key->secret, key->secret_len);
		free(key->secret);
	}
	EVP_PKEY_free(key->pkey);
	free(key);
}

jwt_alg
jwt_key_alg(const jwt_key *key)
{
	return key ? key->alg : JWT_ALG_INVALID;
}

jwt_status
jwt_key_from_secret(jwt_alg alg, const unsigned char *secret, size_t len, jwt_key **out)
{
	jwt_key    *k;

	if (out == NULL)
		return JWT_ERR_INTERNAL;
	*out = NULL;
	if (!jwt_alg_is_hmac(alg) || secret == NULL || len == 0 || len > INT_MAX)
		return JWT_ERR_KEY;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return JWT_ERR_NOMEM;
	k->secret = malloc(len);
	if (k->secret == NULL)
	{
		free(k);
		return JWT_ERR_NOMEM;
	}
	memcpy(k->secret, secret, len);
	k->secret_len = len;
	k->alg = alg;
	*out = k;
	return JWT_OK;
}

/* never prompt for a passphrase (a backend has no terminal) */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void) buf;
	(void) size;
	(void) rwflag;
	(void) u;
	return -1;
}

/* Does pkey suit alg?  JWT_OK or JWT_ERR_KEY. */
static jwt_status
check_pkey_for_alg(EVP_PKEY *pkey, jwt_alg alg)
{
	EVP_PKEY_CTX *pctx;
	int			ok;

	if (alg_is_rsa(alg))
	{
		int			bits;
		BIGNUM	   *n = NULL,
				   *e = NULL;
		jwt_status	st = JWT_OK;

		if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
			return JWT_ERR_KEY;
		bits = EVP_PKEY_get_bits(pkey);
		if (bits < JWT_RSA_MIN_BITS || bits > JWT_RSA_MAX_BITS)
			return JWT_ERR_KEY;

		/*
		 * Cheap sanity checks instead of EVP_PKEY_public_check(), whose
		 * SP 800-56B test runs Miller-Rabin on n (~0.1 s at 4096 bits,
		 * seconds beyond): n odd, e odd, 1 < e < 2^64.
		 */
		if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
			EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
			st = JWT_ERR_KEY;
		else if (!BN_is_odd(n) || !BN_is_odd(e) || BN_is_one(e) ||
				 BN_num_bits(e) > JWT_RSA_MAX_E_BITS)
			st = JWT_ERR_KEY;
		BN_free(n);
		BN_free(e);
		return st;
	}
	else if (alg_is_ec(alg))
	{
		char		name[80];
		size_t		nlen = 0;
		int			nid;

		if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
			return JWT_ERR_KEY;
		/* named curves only: no explicit (possibly custom) parameters */
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING,
										   name, sizeof(name), &nlen) != 1 ||
			strcmp(name, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
			return JWT_ERR_KEY;
		if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &nlen) != 1)
			return JWT_ERR_KEY;
		name[sizeof(name) - 1] = '\0';
		nid = OBJ_sn2nid(name);
		if (nid == NID_undef)
			nid = EC_curve_nist2nid(name);
		if (nid == NID_undef || nid != ec_alg_nid(alg))
			return JWT_ERR_KEY;
	}
	else if (alg == JWT_EDDSA)
	{
		if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519)
			return JWT_ERR_KEY;
	}
	else
		return JWT_ERR_KEY;

	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (pctx == NULL)
		return JWT_ERR_NOMEM;
	ok = EVP_PKEY_public_check(pctx);
	EVP_PKEY_CTX_free(pctx);
	return ok == 1 ? JWT_OK : JWT_ERR_KEY;
}

static jwt_status
key_from_pem_inner(jwt_alg alg, const char *pem, size_t len, jwt_key **out)
{
	const char *begin;
	const char *structure;
	const char *keytype;
	BIO		   *bio;
	OSSL_DECODER_CTX *dctx;
	EVP_PKEY   *pkey = NULL;
	jwt_key    *k;
	jwt_status	st;

	if (jwt_alg_name(alg) == NULL || jwt_alg_is_hmac(alg))
		return JWT_ERR_KEY;
	if (pem == NULL || len == 0 || len > JWT_PEM_MAX_LEN)
		return JWT_ERR_KEY;

	/* exactly one PEM block, and it must be a public key */
	begin = find_bytes(pem, len, "-----BEGIN ");
	if (begin == NULL)
		return JWT_ERR_KEY;
	if (find_bytes(begin + 1, len - (size_t) (begin + 1 - pem), "-----BEGIN ") != NULL)
		return JWT_ERR_KEY;
	if (find_bytes(begin, len - (size_t) (begin - pem), "-----BEGIN PUBLIC KEY-----") == begin)
	{
		structure = "SubjectPublicKeyInfo";
		keytype = NULL;
	}
	else if (find_bytes(begin, len - (size_t) (begin - pem), "-----BEGIN RSA PUBLIC KEY-----") == begin)
	{
		structure = "type-specific";
		keytype = "RSA";
	}
	else
		return JWT_ERR_KEY;

	bio = BIO_new_mem_buf(pem, (int) len);
	if (bio == NULL)
		return JWT_ERR_NOMEM;
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", structure, keytype,
										 EVP_PKEY_PUBLIC_KEY, NULL, NULL);
	if (dctx == NULL)
	{
		BIO_free(bio);
		return JWT_ERR_KEY;
	}
	OSSL_DECODER_CTX_set_pem_password_cb(dctx, no_passphrase, NULL);
	if (OSSL_DECODER_from_bio(dctx, bio) != 1 || pkey == NULL)
	{
		OSSL_DECODER_CTX_free(dctx);
		BIO_free(bio);
		EVP_PKEY_free(pkey);
		return JWT_ERR_KEY;
	}
	OSSL_DECODER_CTX_free(dctx);
	BIO_free(bio);

	st = check_pkey_for_alg(pkey, alg);
	if (st != JWT_OK)
	{
		EVP_PKEY_free(pkey);
		return st;
	}
	k = calloc(1, sizeof(*k));
	if (k == NULL)
	{
		EVP_PKEY_free(pkey);
		return JWT_ERR_NOMEM;
	}
	k->alg = alg;
	k->pkey = pkey;
	*out = k;
	return JWT_OK;
}

jwt_status
jwt_key_from_pem(jwt_alg alg, const char *pem, size_t len, jwt_key **out)
{
	jwt_status	st;

	if (out == NULL)
		return JWT_ERR_INTERNAL;
	*out = NULL;
	ERR_set_mark();
	st = key_from_pem_inner(alg, pem, len, out);
	ERR_pop_to_mark();
	return st;
}

/* ------------------------------------------------------------------------
 * JWK -> PEM
 * ------------------------------------------------------------------------ */

/* base64url member of a JWK: JWT_ERR_KEY if absent/not a string */
static jwt_status
jwk_b64_member(struct json_object *jwk, const char *name,
			   unsigned char **out, size_t *outlen)
{
	struct json_object *v;
	const char *s;
	size_t		slen;
	jwt_status	st;

	*out = NULL;
	*outlen = 0;
	if (!json_object_object_get_ex(jwk, name, &v))
		return JWT_ERR_KEY;
	s = plain_string(v, &slen);
	if (s == NULL || slen == 0)
		return JWT_ERR_KEY;
	st = jwt_b64url_decode(s, slen, out, outlen);
	return st;
}

static jwt_status
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **pkey)
{
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx;
	jwt_status	st = JWT_ERR_KEY;

	*pkey = NULL;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (params == NULL)
		return JWT_ERR_NOMEM;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (ctx == NULL)
	{
		OSSL_PARAM_free(params);
		return JWT_ERR_INTERNAL;
	}
	if (EVP_PKEY_fromdata_init(ctx) == 1 &&
		EVP_PKEY_fromdata(ctx, pkey, EVP_PKEY_PUBLIC_KEY, params) == 1 &&
		*pkey != NULL)
		st = JWT_OK;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return st;
}

static jwt_status
jwk_rsa(struct json_object *jwk, EVP_PKEY **pkey)
{
	unsigned char *n = NULL,
			   *e = NULL;
	size_t		nlen,
				elen;
	BIGNUM	   *bn_n = NULL,
			   *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	jwt_status	st;

	st = jwk_b64_member(jwk, "n", &n, &nlen);
	if (st != JWT_OK)
		goto done;
	st = jwk_b64_member(jwk, "e", &e, &elen);
	if (st != JWT_OK)
		goto done;
	if (nlen > JWT_RSA_MAX_BITS / 8 + 1 || elen > 8)
	{
		st = JWT_ERR_KEY;
		goto done;
	}
	bn_n = BN_bin2bn(n, (int) nlen, NULL);
	bn_e = BN_bin2bn(e, (int) elen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn_n == NULL || bn_e == NULL || bld == NULL)
	{
		st = JWT_ERR_NOMEM;
		goto done;
	}
	if (BN_is_zero(bn_n) || BN_is_zero(bn_e))
	{
		st = JWT_ERR_KEY;
		goto done;
	}
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
		!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
	{
		st = JWT_ERR_NOMEM;
		goto done;
	}
	st = pkey_fromdata("RSA", bld, pkey);

done:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return st;
}

static jwt_status
jwk_ec(struct json_object *jwk, jwt_alg alg, EVP_PKEY **pkey)
{
	unsigned char *x = NULL,
			   *y = NULL,
			   *pt = NULL;
	size_t		xlen,
				ylen,
				fb = ec_field_bytes(alg);
	OSSL_PARAM_BLD *bld = NULL;
	const char *group;
	jwt_status	st;

	group = (alg == JWT_ES256) ? "P-256" : (alg == JWT_ES384) ? "P-384" : "P-521";
	st = jwk_b64_member(jwk, "x", &x, &xlen);
	if (st != JWT_OK)
		goto done;
	st = jwk_b64_member(jwk, "y", &y, &ylen);
	if (st != JWT_OK)
		goto done;
	if (xlen != fb || ylen != fb)
	{
		st = JWT_ERR_KEY;
		goto done;
	}
	pt = malloc(1 + 2 * fb);
	bld = OSSL_PARAM_BLD_new();
	if (pt == NULL || bld == NULL)
	{
		st = JWT_ERR_NOMEM;
		goto done;
	}
	pt[0] = 0x04;				/* uncompressed point */
	memcpy(pt + 1, x, fb);
	memcpy(pt + 1 + fb, y, fb);
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
		!OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * fb))
	{
		st = JWT_ERR_NOMEM;
		goto done;
	}
	st = pkey_fromdata("EC", bld, pkey);

done:
	OSSL_PARAM_BLD_free(bld);
	free(pt);
	free(x);
	free(y);
	return st;
}

static jwt_status
jwk_okp(struct json_object *jwk, EVP_PKEY **pkey)
{
	unsigned char *x = NULL;
	size_t		xlen;
	jwt_status	st;

	*pkey = NULL;
	st = jwk_b64_member(jwk, "x", &x, &xlen);
	if (st != JWT_OK)
		goto done;
	if (xlen != 32)
	{
		st = JWT_ERR_KEY;
		goto done;
	}
	*pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xlen);
	st = *pkey ? JWT_OK : JWT_ERR_KEY;

done:
	free(x);
	return st;
}

static jwt_status
pkey_to_pem(EVP_PKEY *pkey, char **pem_out)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	char	   *data = NULL;
	long		dlen;
	jwt_status	st;

	*pem_out = NULL;
	if (bio == NULL)
		return JWT_ERR_NOMEM;
	if (PEM_write_bio_PUBKEY(bio, pkey) != 1)
	{
		BIO_free(bio);
		return JWT_ERR_INTERNAL;
	}
	dlen = BIO_get_mem_data(bio, &data);
	if (dlen <= 0 || data == NULL)
		st = JWT_ERR_INTERNAL;
	else
	{
		*pem_out = dup_str(data, (size_t) dlen);
		st = *pem_out ? JWT_OK : JWT_ERR_NOMEM;
	}
	BIO_free(bio);
	return st;
}

static jwt_status
jwk_to_pem_inner(const char *jwk_json, size_t len, jwt_alg *alg_out,
				 char **kid_out, char **pem_out)
{
	static const char *const private_members[] = {
		"d", "p", "q", "dp", "dq", "qi", "oth", "k"
	};
	struct json_object *jwk = NULL;
	struct json_object *v;
	const char *kty;
	const char *crv = NULL;
	jwt_alg		alg = JWT_ALG_INVALID;
	jwt_alg		declared = JWT_ALG_INVALID;
	char	   *kid = NULL;
	char	   *pem = NULL;
	EVP_PKEY   *pkey = NULL;
	jwt_key    *check = NULL;
	jwt_status	st;
	size_t		i;

	if (len > JWT_JWK_MAX_LEN)
		return JWT_ERR_TOO_LARGE;
	st = parse_json_object((const unsigned char *) jwk_json, len, &jwk);
	if (st != JWT_OK)
		return st;

	st = JWT_ERR_KEY;
	if (!json_object_object_get_ex(jwk, "kty", &v) ||
		(kty = plain_string(v, NULL)) == NULL)
		goto done;
	for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
		if (json_object_object_get_ex(jwk, private_members[i], NULL))
			goto done;
	if (json_object_object_get_ex(jwk, "use", &v))
	{
		const char *use = plain_string(v, NULL);

		if (use == NULL || strcmp(use, "sig") != 0)
			goto done;
	}
	if (json_object_object_get_ex(jwk, "alg", &v))
	{
		const char *a = plain_string(v, NULL);

		if (a == NULL)
			goto done;
		declared = jwt_alg_from_name(a);
		if (declared == JWT_ALG_INVALID || jwt_alg_is_hmac(declared))
			goto done;
	}
	if (json_object_object_get_ex(jwk, "kid", &v))
	{
		size_t		klen;
		const char *k = plain_string(v, &klen);

		if (k == NULL)
			goto done;
		kid = dup_str(k, klen);
		if (kid == NULL)
		{
			st = JWT_ERR_NOMEM;
			goto done;
		}
	}
	if (json_object_object_get_ex(jwk, "crv", &v))
	{
		crv = plain_string(v, NULL);
		if (crv == NULL)
			goto done;
	}

	if (strcmp(kty, "RSA") == 0)
	{
		if (declared != JWT_ALG_INVALID && !alg_is_rsa(declared))
			goto done;
		alg = declared != JWT_ALG_INVALID ? declared : JWT_RS256;
		st = jwk_rsa(jwk, &pkey);
	}
	else if (strcmp(kty, "EC") == 0)
	{
		if (crv == NULL)
			goto done;
		if (strcmp(crv, "P-256") == 0)
			alg = JWT_ES256;
		else if (strcmp(crv, "P-384") == 0)
			alg = JWT_ES384;
		else if (strcmp(crv, "P-521") == 0)
			alg = JWT_ES512;
		else
			goto done;
		if (declared != JWT_ALG_INVALID && declared != alg)
			goto done;
		st = jwk_ec(jwk, alg, &pkey);
	}
	else if (strcmp(kty, "OKP") == 0)
	{
		if (crv == NULL || strcmp(crv, "Ed25519") != 0)
			goto done;
		if (declared != JWT_ALG_INVALID && declared != JWT_EDDSA)
			goto done;
		alg = JWT_EDDSA;
		st = jwk_okp(jwk, &pkey);
	}
	else
		goto done;
	if (st != JWT_OK)
		goto done;

	st = pkey_to_pem(pkey, &pem);
	if (st != JWT_OK)
		goto done;
	/* the PEM must be importable as-is (RSA size, curve, point validity) */
	st = key_from_pem_inner(alg, pem, strlen(pem), &check);
	if (st != JWT_OK)
		goto done;

	*alg_out = alg;
	*kid_out = kid;
	*pem_out = pem;
	kid = NULL;
	pem = NULL;

done:
	jwt_key_free(check);
	EVP_PKEY_free(pkey);
	free(kid);
	free(pem);
	json_object_put(jwk);
	return st;
}

jwt_status
jwt_jwk_to_pem(const char *jwk_json, size_t len, jwt_alg *alg_out, char **kid_out, char **pem_out)
{
	jwt_status	st;

	if (alg_out == NULL || kid_out == NULL || pem_out == NULL)
		return JWT_ERR_INTERNAL;
	*alg_out = JWT_ALG_INVALID;
	*kid_out = NULL;
	*pem_out = NULL;
	if (jwk_json == NULL)
		return JWT_ERR_JSON;
	ERR_set_mark();
	st = jwk_to_pem_inner(jwk_json, len, alg_out, kid_out, pem_out);
	ERR_pop_to_mark();
	return st;
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
		s = plain_string(v, NULL);
		return s != NULL && strcmp(s, audience) == 0;
	}
	if (json_object_is_type(v, json_type_array))
	{
		size_t		i,
					n = json_object_array_length(v);
		int			found = 0;

		for (i = 0; i < n; i++)
		{
			s = plain_string(json_object_array_get_idx(v, i), NULL);
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
	s = plain_string(chosen, &slen);
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
		const char *s = plain_string(v, &slen);
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
			const char *s = plain_string(json_object_array_get_idx(v, i), &slen);

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
			const char *s = plain_string(json_object_array_get_idx(v, i), &slen);

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
	s = plain_string(v, NULL);
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
		(s = plain_string(v, &slen)) == NULL || slen == 0)
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

void
jwt_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int olen = 0;

	if (data == NULL)
	{
		data = "";
		len = 0;
	}
	if (EVP_Digest(data, len, out, &olen, EVP_sha256(), NULL) != 1 || olen != 32)
	{
		/* cannot happen short of OOM; never return an unkeyed constant */
		if (SHA256((const unsigned char *) data, len, out) == NULL)
			memset(out, 0xff, 32);
	}
}
