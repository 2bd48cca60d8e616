/*
 * codec.h -- base64url and digests for backend code (codec.c)
 *
 * The one place where backend modules use the pure-C JWT module's codecs:
 * unpadded canonical base64url (RFC 4648 section 5) and SHA-256 / HMAC-SHA-256,
 * results in palloc'd memory or caller buffers, failures raised with
 * ereport; and the server keys that seal cursors and request states.  Used
 * by cursors, MRTR states, the verified-token cache and the drill's token
 * signer.
 */
#ifndef MTMCP_CODEC_H
#define MTMCP_CODEC_H

#include "lib/stringinfo.h"

#define MTMCP_SHA256_LEN	32

/* append the unpadded base64url encoding of data to out */
extern void mtmcp_append_b64url(StringInfo out, const void *data, size_t len);
/* canonical base64url to palloc'd, NUL-terminated bytes; NULL when it is not canonical */
extern uint8 *mtmcp_b64url_decode(const char *s, size_t len, size_t *outlen);
extern void mtmcp_sha256(const void *data, size_t len, uint8 out[MTMCP_SHA256_LEN]);
extern void mtmcp_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
							  uint8 out[MTMCP_SHA256_LEN]);

/*
 * A server key kept in a one-row mtmcp table (cursor_secret,
 * request_state_secret), cached per backend until the configuration
 * generation moves (the table's trigger).
 */
typedef struct MtmcpSecret
{
	const char *table;			/* e.g. "cursor_secret": column "secret" bytea */
	char	   *bytes;			/* in TopMemoryContext; NULL until loaded */
	int			len;
	uint64		generation;
} MtmcpSecret;

extern void mtmcp_secret_load(MtmcpSecret *s);

#endif							/* MTMCP_CODEC_H */
