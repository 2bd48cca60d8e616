/*
 * catalog.h -- registered tools, and what each tenant and caller may see
 * (catalog.c)
 *
 * A caller's catalog is the intersection of the tenant's features, the
 * token's scopes and the tenant's tool switches, computed on every
 * tools/list and tools/call from per-backend caches that are dropped when
 * the configuration generation moves.  Also the tenant's description
 * overrides, terms and argument defaults, and the one list of argument
 * names that would carry tenant identity.
 */
#ifndef MTMCP_CATALOG_H
#define MTMCP_CATALOG_H

#include "utils/jsonb.h"

#include "identity.h"

typedef struct MtmcpTool
{
	int			index;
	char	   *name;
	char	   *description;
	Oid			handler;
	char	   *feature;
	char	   *scope;
	bool		destructive;
	Jsonb	   *input_schema;
	Jsonb	   *output_schema;	/* NULL when none */
	char	  **redact_paths;
	int			nredact;
	int			timeout_ms;		/* the tool's own time limits, 0 when none */
	int			lock_timeout_ms;
	char	   *listing_tail;	/* the listing after the description */
	char	   *listing;		/* the tools/list entry with the registered description */
} MtmcpTool;

extern void CatalogInit(void);
extern int	mtmcp_catalog_tools(MtmcpTool **out);
extern MtmcpTool *mtmcp_catalog_find(const char *name);
extern bool mtmcp_tenant_has_feature(const MtmcpIdentity *id, const char *feature);
extern bool mtmcp_tool_visible(const MtmcpIdentity *id, const MtmcpTool *t);
extern const char *mtmcp_tool_listing(const MtmcpIdentity *id, const MtmcpTool *t);
extern Jsonb *mtmcp_tool_defaults(const MtmcpIdentity *id, const MtmcpTool *t);
extern char *mtmcp_apply_tenant_terms(const MtmcpIdentity *id, const char *text);
extern char *mtmcp_reserved_argument(JsonbContainer *c);

#endif							/* MTMCP_CATALOG_H */
