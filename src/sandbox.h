/*
 * sandbox.h -- the fence around handlers and tenant SQL sessions
 *
 * While a handler runs (between mtmcp_sandbox_enter and _leave) and in the
 * sessions of mtmcp_tenant members, queries reach only what the policy in
 * sandbox.c allows: registered tenant tables under RLS, registered shared
 * tables, the tenant views and mtmcp's own API; utility statements and
 * functions that reach past the tenant boundary are refused with SQLSTATE
 * 42501.  Hooks are installed once, at preload (SandboxInit).
 */
#ifndef MTMCP_SANDBOX_H
#define MTMCP_SANDBOX_H

extern void SandboxInit(void);
extern int	mtmcp_sandbox_enter(void);
extern void mtmcp_sandbox_leave(int saved);
extern bool mtmcp_sandbox_active(void);
extern bool mtmcp_sandbox_take_refusal(void);
extern char *mtmcp_sandbox_table_problem(Oid relid, const char *tenant_column);

#endif							/* MTMCP_SANDBOX_H */
