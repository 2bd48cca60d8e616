/*
 * cursor.c -- opaque, caller-bound pagination cursors
 *
 * A cursor is base64url(position) "." base64url(MAC), the MAC an
 * HMAC-SHA-256 (truncated to 128 bits) under the database's own random key
 * (mtmcp.cursor_secret) over the list kind, the verified tenant and subject,
 * and the position.  A cursor that was altered, made up, taken from another
 * list, or minted for another tenant or caller does not verify; callers
 * answer it with -32602.  Positions are the last name of the previous page,
 * so pages stay stable while the catalog does.
 */
#include "postgres.h"

#include "common/hmac.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "cache.h"
#include "codec.h"
#include "cursor.h"
#include "identity.h"
#include "jsonutil.h"
#include "mtmcp.h"

#define MAC_BYTES 16

int			mtmcp_page_size = 100;

static MtmcpSecret secret = {"cursor_secret"};

void
CursorInit(void)
{
	DefineCustomIntVariable("mtmcp.page_size",
							gettext_noop("Entries per page of tools/list and the other list methods."),
							NULL,
							&mtmcp_page_size,
							100, 1, 10000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
}


static void
cursor_mac(const char *kind, const MtmcpIdentity *id, const char *position, uint8 *out)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	uint8		full[PG_SHA256_DIGEST_LENGTH];
	const char *parts[5] = {"mtmcp-cursor-v1", kind, id->tenant, id->subject, position};
	int			i;

	mtmcp_secret_load(&secret);
	if (ctx == NULL || pg_hmac_init(ctx, (uint8 *) secret.bytes, secret.len) < 0)
		elog(ERROR, "could not initialize HMAC");
	for (i = 0; i < 5; i++)
		if (pg_hmac_update(ctx, (const uint8 *) parts[i], strlen(parts[i]) + 1) < 0)
			elog(ERROR, "could not compute HMAC");
	if (pg_hmac_final(ctx, full, sizeof(full)) < 0)
		elog(ERROR, "could not compute HMAC");
	pg_hmac_free(ctx);
	memcpy(out, full, MAC_BYTES);
}

char *
mtmcp_cursor_make(const char *kind, const MtmcpIdentity *id, const char *position)
{
	uint8		mac[MAC_BYTES];
	StringInfoData buf;

	cursor_mac(kind, id, position, mac);
	initStringInfo(&buf);
	mtmcp_append_b64url(&buf, position, strlen(position));
	appendStringInfoChar(&buf, '.');
	mtmcp_append_b64url(&buf, mac, MAC_BYTES);
	return buf.data;
}

/* True with *position set when the cursor is one we made for this caller and list. */
bool
mtmcp_cursor_read(const char *cursor, const char *kind, const MtmcpIdentity *id, char **position)
{
	const char *dot = strchr(cursor, '.');
	uint8	   *pos;
	uint8	   *mac;
	uint8		want[MAC_BYTES];
	size_t		poslen,
				maclen;

	if (dot == NULL || strlen(cursor) > 1024)
		return false;
	pos = mtmcp_b64url_decode(cursor, dot - cursor, &poslen);
	mac = mtmcp_b64url_decode(dot + 1, strlen(dot + 1), &maclen);
	if (pos == NULL || mac == NULL || maclen != MAC_BYTES || memchr(pos, '\0', poslen) != NULL)
		return false;
	cursor_mac(kind, id, (char *) pos, want);
	if (timingsafe_bcmp(want, mac, MAC_BYTES) != 0)
		return false;
	*position = (char *) pos;
	return true;
}

/*
 * Paging a list answer: mtmcp_pager_begin reads the caller's cursor (0, or
 * -32602 for one we did not give this caller and list) and opens
 * {"<key>": [; for each candidate in stable name order, mtmcp_pager_skip
 * says whether it lies before the cursor, mtmcp_pager_next admits it (false
 * once the page is full); mtmcp_pager_end closes the array and adds
 * nextCursor when there is more.
 */
int
mtmcp_pager_begin(MtmcpPager *pg, const char *kind, const MtmcpIdentity *id, JsonbContainer *params,
				  StringInfo out, const char *key, const char **rpc_msg)
{
	JsonbValue *cv = jsonb_object_get(params, "cursor");

	memset(pg, 0, sizeof(*pg));
	pg->kind = kind;
	pg->id = id;
	pg->out = out;
	if (cv != NULL && cv->type != jbvNull)
	{
		char	   *cursor = jsonb_value_cstring(cv);

		if (cursor == NULL || !mtmcp_cursor_read(cursor, kind, id, &pg->after))
		{
			*rpc_msg = "Invalid params: invalid cursor";
			return JSONRPC_INVALID_PARAMS;
		}
	}
	appendStringInfo(out, "{\"%s\":[", key);
	return 0;
}

bool
mtmcp_pager_skip(MtmcpPager *pg, const char *name)
{
	return pg->after != NULL && strcmp(name, pg->after) <= 0;
}

bool
mtmcp_pager_next(MtmcpPager *pg, const char *name)
{
	if (pg->emitted == mtmcp_page_size)
	{
		pg->more = true;
		return false;
	}
	if (pg->emitted > 0)
		appendStringInfoChar(pg->out, ',');
	pg->last = name;
	pg->emitted++;
	return true;
}

void
mtmcp_pager_end(MtmcpPager *pg)
{
	appendStringInfoChar(pg->out, ']');
	if (pg->more)
	{
		appendStringInfoString(pg->out, ",\"nextCursor\":");
		json_append_string(pg->out, mtmcp_cursor_make(pg->kind, pg->id, pg->last));
	}
	appendStringInfoChar(pg->out, '}');
}
