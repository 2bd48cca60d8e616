/*
 * jwt_test.c -- standalone unit tests for the JWT module (src/jwt*.c):
 * the shared helpers and main; the tests live in jwt_test_*.c (see jwt_test.h)
 *
 * Build/run: make check-jwt   (see test/jwt.mk)
 *
 * Every check asserts a specific jwt_status.  Keys for the per-algorithm
 * happy paths are generated at run time with OpenSSL; tokens are signed by
 * a small test-only signer below (jwt.c itself only verifies).
 */
#include "jwt_test.h"

/* ------------------------------------------------------------------------
 * tiny assertion framework
 * ------------------------------------------------------------------------ */

int n_passed;
int n_failed;

void
die(const char *what)
{
	fprintf(stderr, "test setup failed: %s\n", what);
	exit(2);
}

void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	size_t		n = strlen(s) + 1;
	char	   *p = xmalloc(n);

	memcpy(p, s, n);
	return p;
}

char *
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

const char B64[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
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

int
b64idx(char c)
{
	const char *p = strchr(B64, c);

	return (p && c) ? (int) (p - B64) : -1;
}

/* lenient decoder for test vectors */
unsigned char *
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
void
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
char *
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
char *
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

char *
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

char *
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

jwt_key *
key_pem(jwt_alg alg, const char *pem)
{
	jwt_key    *k = NULL;

	if (jwt_key_from_pem(alg, pem, strlen(pem), &k) != JWT_OK)
		die("jwt_key_from_pem");
	return k;
}

jwt_key *
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

jwt_policy
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
jwt_status
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

jwt_status
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
const char HS_SECRET[] = "unit-test-secret-0123456789abcdef";
jwt_key *hs_key;

jwt_status
hs_run(const char *header, const char *payload, const jwt_policy *pol, jwt_identity *id)
{
	char	   *tok = sign_token(JWT_HS256, header, payload, HS_SECRET, strlen(HS_SECRET), NULL);
	jwt_status	st = run_full(tok, hs_key, pol, id);

	free(tok);
	return st;
}

/* ------------------------------------------------------------------------
 * 4: generated keys, every algorithm
 * ------------------------------------------------------------------------ */

EVP_PKEY *rsa2048,
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

EVP_PKEY *
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
