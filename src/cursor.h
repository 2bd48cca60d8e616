/*
 * cursor.h -- opaque, caller-bound pagination cursors (cursor.c)
 *
 * Every list method pages through a MtmcpPager.  A cursor is the page's last
 * name under an HMAC bound to the list kind, the verified tenant and the
 * subject, so a cursor altered, made up, taken from another list or minted
 * for another caller does not verify (the caller answers -32602).
 */
#ifndef MTMCP_CURSOR_H
#define MTMCP_CURSOR_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "identity.h"

extern int	mtmcp_page_size;
extern void CursorInit(void);
extern char *mtmcp_cursor_make(const char *kind, const MtmcpIdentity *id, const char *position);
extern bool mtmcp_cursor_read(const char *cursor, const char *kind, const MtmcpIdentity *id, char **position);

typedef struct MtmcpPager
{
	const char *kind;
	const MtmcpIdentity *id;
	StringInfo	out;
	char	   *after;			/* the cursor's position, or NULL */
	const char *last;
	int			emitted;
	bool		more;
} MtmcpPager;

extern int	mtmcp_pager_begin(MtmcpPager *pg, const char *kind, const MtmcpIdentity *id, JsonbContainer *params,
							  StringInfo out, const char *key, const char **rpc_msg);
extern bool mtmcp_pager_skip(MtmcpPager *pg, const char *name);
extern bool mtmcp_pager_next(MtmcpPager *pg, const char *name);
extern void mtmcp_pager_end(MtmcpPager *pg);

#endif							/* MTMCP_CURSOR_H */
