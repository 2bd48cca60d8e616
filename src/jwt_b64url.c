/*
 * jwt_b64url.c -- strict unpadded base64url (RFC 4648 section 5), pure C
 *
 * The one base64url codec of the project: JWS segments and JWK members are
 * decoded here, and the server's glue (codec.c) wraps the same functions for
 * cursors and the drill's token signer.  Contract in jwt.h.
 */
#include "jwt_int.h"

#include <stdlib.h>
#include <string.h>

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

