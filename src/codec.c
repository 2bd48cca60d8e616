/*
 * codec.c -- the one glue between backend code and the pure-C JWT module's
 * codecs: base64url and digests in palloc'd memory, with ereport on failure
 *
 * The JWT module (jwt*.c) allocates with malloc and reports failures as
 * jwt_status; backend modules want palloc'd results and errors raised the
 * PostgreSQL way.  Cursors, the token cache and the drill's token signer use
 * these wrappers instead of reaching into identity.c or the JWT module.
 */
#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "executor/spi.h"
#include "utils/memutils.h"

#include "cache.h"
#include "codec.h"
#include "jwt.h"

/* The JWT module's base64url in backend memory: append the encoding of data to out. */
void
mtmcp_append_b64url(StringInfo out, const void *data, size_t len)
{
	enlargeStringInfo(out, JWT_B64URL_ENCODED_LEN(len) + 1);
	out->len += jwt_b64url_encode(data, len, out->data + out->len);
}

/* ... and decode canonical base64url into palloc'd, NUL-terminated bytes; NULL when it is not. */
uint8 *
mtmcp_b64url_decode(const char *s, size_t len, size_t *outlen)
{
	unsigned char *raw;
	uint8	   *out;
	jwt_status	st = jwt_b64url_decode(s, len, &raw, outlen);

	if (st == JWT_ERR_NOMEM)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (st != JWT_OK)
		return NULL;
	out = palloc(*outlen + 1);
	memcpy(out, raw, *outlen + 1);
	free(raw);
	return out;
}

/* SHA-256 of arbitrary bytes (the token cache's keys). */
void
mtmcp_sha256(const void *data, size_t len, uint8 out[MTMCP_SHA256_LEN])
{
	jwt_sha256(data, len, out);
}

/* HMAC-SHA-256 of data under key (the drill's HS256 token signer). */
void
mtmcp_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
				  uint8 out[MTMCP_SHA256_LEN])
{
	unsigned int maclen = 0;

	if (HMAC(EVP_sha256(), key, (int) keylen, data, len, out, &maclen) == NULL ||
		maclen != MTMCP_SHA256_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute an HMAC")));
}

/* Load (or keep) a server key: one row, one bytea column named secret. */
void
mtmcp_secret_load(MtmcpSecret *s)
{
	uint64		gen = mtmcp_config_generation();
	bool		isnull;
	bytea	   *b;

	if (s->bytes != NULL && s->generation == gen)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(psprintf("SELECT secret FROM mtmcp.%s", s->table), true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mtmcp.%s must hold exactly one row", s->table)));
	b = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (s->bytes != NULL)
		pfree(s->bytes);
	s->len = VARSIZE_ANY_EXHDR(b);
	s->bytes = MemoryContextAlloc(TopMemoryContext, s->len);
	memcpy(s->bytes, VARDATA_ANY(b), s->len);
	SPI_finish();
	s->generation = gen;
}
