/*
 * jwt_int.h -- internal interface between the files of the JWT module
 *
 * The JWT module (jwt.c: parsing, signatures, claims; jwt_json.c: strict
 * JSON; jwt_keys.c: key import; jwt_b64url.c: base64url) is pure C: no
 * PostgreSQL headers, malloc/free only.  This header holds what those files
 * share and nobody else may use: the key structure, the strict JSON entry
 * points and a few small helpers.  Its public contract is jwt.h.
 */
#ifndef MTMCP_JWT_INT_H
#define MTMCP_JWT_INT_H

#include "jwt.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct json_object;

struct jwt_key
{
	jwt_alg		alg;
	unsigned char *secret;		/* HS* only */
	size_t		secret_len;
	EVP_PKEY   *pkey;			/* everything else */
};

/* jwt_json.c: parse a JSON text that must be one object; duplicates refused */
extern jwt_status jwt_parse_json_object(const unsigned char *buf, size_t len, struct json_object **out);
/* jwt_json.c: a JSON string without embedded NUL; its C string or NULL */
extern const char *jwt_plain_string(struct json_object *o, size_t *lenp);

static inline int
alg_is_rsa(jwt_alg alg)
{
	return alg >= JWT_RS256 && alg <= JWT_PS512;
}

static inline int
alg_is_ec(jwt_alg alg)
{
	return alg == JWT_ES256 || alg == JWT_ES384 || alg == JWT_ES512;
}

/* EC field size in bytes for ES* */
static inline size_t
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

static inline char *
dup_str(const char *s, size_t len)
{
	char	   *r = malloc(len + 1);

	if (r == NULL)
		return NULL;
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}
#endif							/* MTMCP_JWT_INT_H */
