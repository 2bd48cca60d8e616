/*
 * jwt_test.h -- what the JWT unit-test files share
 *
 * The unit tests of the pure-C JWT module are split like the module:
 * jwt_test.c (the assertion counters, helpers, a test-only signer, key
 * generation and main), jwt_test_vectors.c (published vectors, every
 * algorithm), jwt_test_verify.c (attacks, claims, tampering, structure),
 * jwt_test_json.c (the strict JSON reader), jwt_test_keys.c (PEM and JWK
 * import) and jwt_test_misc.c (names, reasons, base64url).  This header
 * holds the assertion macros and the helpers' declarations.
 */
#ifndef MTMCP_JWT_TEST_H
#define MTMCP_JWT_TEST_H

#include "../src/jwt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

extern int	n_passed;
extern int	n_failed;

#define CHECK(cond) \
	do { \
		if (cond) \
			n_passed++; \
		else \
		{ \
			n_failed++; \
			fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

#define CHECK_ST(expr, want) \
	do { \
		jwt_status got_ = (expr); \
		jwt_status want_ = (want); \
		if (got_ == want_) \
			n_passed++; \
		else \
		{ \
			n_failed++; \
			fprintf(stderr, "%s:%d: FAILED: %s: got %s (%d), want %s (%d)\n", \
					__FILE__, __LINE__, #expr, jwt_status_reason(got_), (int) got_, \
					jwt_status_reason(want_), (int) want_); \
		} \
	} while (0)

#define CHECK_STR(got, want) \
	do { \
		const char *g_ = (got); \
		const char *w_ = (want); \
		if (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0) \
			n_passed++; \
		else \
		{ \
			n_failed++; \
			fprintf(stderr, "%s:%d: FAILED: %s: got \"%s\", want \"%s\"\n", \
					__FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
		} \
	} while (0)

/* the injected clock */
#define NOW 1700000000LL

/* claim fragments */
#define HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define ISS "\"iss\":\"https://issuer.example\""
#define AUD "\"aud\":\"mtmcp\""
#define SUB "\"sub\":\"user-1\""
#define TEN "\"tenant_id\":\"acme\""
#define EXP "\"exp\":1700003600"
#define BASE ISS "," AUD "," SUB "," TEN "," EXP

extern const char B64[];
extern const char HS_SECRET[];
extern jwt_key *hs_key;
extern EVP_PKEY *rsa2048,
		   *rsa1024,
		   *ec256,
		   *ec256b,
		   *ec384,
		   *ec521,
		   *ed25519,
		   *ed25519b;

/* helpers (jwt_test.c) */
extern void die(const char *what);
extern void *xmalloc(size_t n);
extern char *xstrdup(const char *s);
extern char *fmt(const char *f,...);
extern char *b64e(const void *data, size_t len);
extern int b64idx(char c);
extern unsigned char *b64d(const char *s, size_t *outlen);
extern void flip_b64_char(char *s, size_t pos);
extern char *sign_token(jwt_alg alg, const char *header, const char *payload, const void *secret, size_t slen, EVP_PKEY *pkey);
extern char *raw_token(const char *header, const char *payload, const void *sig, size_t siglen);
extern char *pem_of(EVP_PKEY *pkey);
extern char *pkcs1_pem_of(EVP_PKEY *pkey);
extern jwt_key *key_pem(jwt_alg alg, const char *pem);
extern jwt_key *key_secret(jwt_alg alg, const void *secret, size_t len);
extern jwt_policy default_policy(void);
extern jwt_status run_full(const char *token, const jwt_key *key, const jwt_policy *pol, jwt_identity *id);
extern jwt_status parse_only(const char *token);
extern jwt_status hs_run(const char *header, const char *payload, const jwt_policy *pol, jwt_identity *id);
extern EVP_PKEY *pkey_for(jwt_alg alg);

/* the tests, one file per concern */
extern void test_rfc7515_a1(void);
extern void test_rfc7515_a2_a3(void);
extern void test_pgjwt_readme(void);
extern void test_all_algorithms(void);
extern void test_alg_attacks(void);
extern void test_time_claims(void);
extern void test_identity_claims(void);
extern void test_scopes(void);
extern void test_tampering(void);
extern void test_structure(void);
extern void test_json(void);
extern void test_keys(void);
extern void test_names(void);
extern void test_b64url(void);

#endif							/* MTMCP_JWT_TEST_H */
