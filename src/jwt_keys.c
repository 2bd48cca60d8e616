/*
 * jwt_keys.c -- verification keys for the JWT code: HMAC secrets, public-key
 * PEM import and JWK -> PEM conversion (pure C, OpenSSL 3)
 *
 * Decisions not spelled out in jwt.h: RSA keys are plain rsaEncryption (not
 * RSA-PSS-restricted SPKI), 2048..16384 bits, odd e with 1 < e < 2^64; EC
 * keys must use a named curve (explicit parameters refused); the PEM text
 * must hold exactly one "PUBLIC KEY" or "RSA PUBLIC KEY" block.  JWK: max
 * 64 KiB (JWT_ERR_TOO_LARGE), "key_ops"/"x5c" etc. are ignored, a leading
 * zero octet in "n" is tolerated.
 *
 * Every entry point brackets its OpenSSL work with ERR_set_mark() /
 * ERR_pop_to_mark(), so no error entries leak into the caller's queue.
 */
#include "jwt_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

/* largest JWK text / PEM text we look at */
#define JWT_JWK_MAX_LEN			65536
#define JWT_PEM_MAX_LEN			65536
#define JWT_RSA_MIN_BITS		2048
#define JWT_RSA_MAX_BITS		16384
#define JWT_RSA_MAX_E_BITS		64

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
	s = jwt_plain_string(v, &slen);
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
	st = jwt_parse_json_object((const unsigned char *) jwk_json, len, &jwk);
	if (st != JWT_OK)
		return st;

	st = JWT_ERR_KEY;
	if (!json_object_object_get_ex(jwk, "kty", &v) ||
		(kty = jwt_plain_string(v, NULL)) == NULL)
		goto done;
	for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
		if (json_object_object_get_ex(jwk, private_members[i], NULL))
			goto done;
	if (json_object_object_get_ex(jwk, "use", &v))
	{
		const char *use = jwt_plain_string(v, NULL);

		if (use == NULL || strcmp(use, "sig") != 0)
			goto done;
	}
	if (json_object_object_get_ex(jwk, "alg", &v))
	{
		const char *a = jwt_plain_string(v, NULL);

		if (a == NULL)
			goto done;
		declared = jwt_alg_from_name(a);
		if (declared == JWT_ALG_INVALID || jwt_alg_is_hmac(declared))
			goto done;
	}
	if (json_object_object_get_ex(jwk, "kid", &v))
	{
		size_t		klen;
		const char *k = jwt_plain_string(v, &klen);

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
		crv = jwt_plain_string(v, NULL);
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

