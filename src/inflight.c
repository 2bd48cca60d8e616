/*
 * inflight.c -- calls in flight: fair sharing, time limits, cancellation
 *
 * Fair sharing.  A tenant may have at most "max_in_flight" requests running
 * at once (its plan's setting, overridden by its own; mtmcp.max_in_flight
 * when neither says; 0 means no limit), counted across every backend of the
 * database.  A request over the limit is refused at once with -32029 and
 * HTTP 429, never queued: one tenant's slow calls cannot take every pooled
 * connection while other tenants wait.  The limit is enforced here, below
 * mcp_dispatch, so a direct SQL caller is bound by it too.
 *
 * Shared state is one slot per backend (indexed by the backend's proc
 * number): the tenant and database of the request it runs, a hash of who
 * asked and the JSON-RPC id (subject, session, id), whether a handler is
 * running and whether a cancel was asked for.  A tenant's calls in flight
 * are its occupied slots; one LWLock guards the array and every operation
 * is a short scan under it.  A slot is released at the end of the call, and
 * -- so that an error can never leak a place -- on abort of the
 * (sub)transaction that took it, at transaction end, and at backend exit
 * (before_shmem_exit).
 *
 * Bounded calls.  Every handler runs under a time limit (a timer of its
 * own: the statement's statement_timeout is left alone) and with
 * lock_timeout set for its duration.  The tool's own limits
 * (mtmcp.set_tool_timeout) come first, then the settings "tool_timeout_ms"
 * and "lock_timeout_ms" of the plan overridden by the tenant, then
 * mtmcp.tool_timeout and mtmcp.lock_timeout.
 *
 * Cancellation.  notifications/cancelled from the same tenant, subject and
 * session finds the slot running the named request, marks it cancelled and,
 * while a handler runs, sends the backend SIGINT (what pg_cancel_backend
 * sends).  It never touches the session row or waits for the call.  The
 * handler sees SQLSTATE 57014; mtmcp_handler_interrupted tells the timer,
 * this cancel and a cancel from outside (the shim's PQcancel on a client
 * that went away) apart, and the call is answered and audited as
 * "timeout" or "cancelled" instead of failing the whole message.
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "identity.h"
#include "inflight.h"
#include "jsonutil.h"
#include "mtmcp.h"

#if PG_VERSION_NUM >= 170000
#define MY_SLOT_INDEX	(MyProcNumber)
#else
#define MY_SLOT_INDEX	(MyBackendId - 1)
#endif

#define MAX_NESTED_HOLDS	8

typedef struct CallSlot
{
	int			pid;
	Oid			dbid;
	int			depth;			/* this backend's requests in flight; 0 = free */
	bool		running;		/* a handler runs: a cancel is sent as SIGINT */
	bool		cancel;			/* notifications/cancelled named this request */
	uint64		key;			/* hash of subject, session and request id */
	char		tenant[MTMCP_MAX_TENANT_LEN + 1];
} CallSlot;

typedef struct InflightShared
{
	LWLock	   *lock;
	int			nslots;
	CallSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} InflightShared;

/* settings */
static int	default_max_in_flight = 4;
static int	default_tool_timeout_ms = 30000;
static int	default_lock_timeout_ms = 5000;

static InflightShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* this backend's holds, innermost last, each with the subtransaction that took it */
static SubTransactionId holds[MAX_NESTED_HOLDS];
static int	nholds = 0;
static bool callbacks_registered = false;

/* the current call's limits and what interrupted it */
static int	call_timeout_ms = 0;	/* from settings, for every handler of the call */
static int	call_lock_ms = 0;
static int	next_timeout_ms = 0;	/* the tool's own, for the next handler only */
static int	next_lock_ms = 0;
static int	handler_timeout_ms = 0; /* in force for the running handler */
static int	handler_lock_ms = 0;
static TimestampTz handler_start = 0;
static MtmcpInterrupt call_interrupt = MTMCP_INTERRUPT_NONE;

static TimeoutId call_timeout_id = MAX_TIMEOUTS;
static volatile sig_atomic_t call_timer_fired = false;

static Size
inflight_shmem_size(void)
{
	return add_size(offsetof(InflightShared, slots), mul_size(MaxBackends, sizeof(CallSlot)));
}

static void
inflight_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(inflight_shmem_size()));
	RequestNamedLWLockTranche("mtmcp_inflight", 1);
}

static void
inflight_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("mtmcp calls in flight", inflight_shmem_size(), &found);
	if (!found)
	{
		memset(shared, 0, inflight_shmem_size());
		shared->lock = &(GetNamedLWLockTranche("mtmcp_inflight"))->lock;
		shared->nslots = MaxBackends;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
InflightInit(void)
{
	DefineCustomIntVariable("mtmcp.max_in_flight",
							gettext_noop("Requests one tenant may have running at once, unless its plan or settings say otherwise (0: no limit)."),
							gettext_noop("Keep it below the HTTP shim's pool size, so that one tenant cannot take every connection."),
							&default_max_in_flight,
							4, 0, 100000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mtmcp.tool_timeout",
							gettext_noop("Time limit of one handler call, unless the tool, plan or tenant says otherwise."),
							NULL,
							&default_tool_timeout_ms,
							30000, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mtmcp.lock_timeout",
							gettext_noop("Longest wait for a lock inside one handler call, unless the tool, plan or tenant says otherwise."),
							NULL,
							&default_lock_timeout_ms,
							5000, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = inflight_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = inflight_shmem_startup;
}

static CallSlot *
my_slot(void)
{
	int			i = MY_SLOT_INDEX;

	if (shared == NULL)
		elog(ERROR, "mtmcp shared memory is not initialized");
	if (i < 0 || i >= shared->nslots)
		elog(ERROR, "backend slot %d out of range", i);
	return &shared->slots[i];
}

/* ---------------------------------------------------------------------------
 * Releasing places: end of call, (sub)transaction abort, backend exit
 * ------------------------------------------------------------------------- */

/* Give back every hold from index keep on. */
static void
release_holds(int keep)
{
	CallSlot   *s;

	if (nholds <= keep || shared == NULL)
		return;
	s = my_slot();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	s->depth -= nholds - keep;
	if (s->depth <= 0)
	{
		s->depth = 0;
		s->running = false;
		s->cancel = false;
		s->key = 0;
		s->tenant[0] = '\0';
	}
	LWLockRelease(shared->lock);
	nholds = keep;
}

static void
disarm_timer(void)
{
	if (call_timeout_id != MAX_TIMEOUTS)
		disable_timeout(call_timeout_id, false);
}

static void
inflight_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			disarm_timer();
			release_holds(0);
			call_interrupt = MTMCP_INTERRUPT_NONE;
			next_timeout_ms = next_lock_ms = 0;
			break;
		default:
			break;
	}
}

static void
inflight_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	int			keep = nholds;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	while (keep > 0 && holds[keep - 1] >= mySubid)
		keep--;
	release_holds(keep);
}

static void
inflight_backend_exit(int code, Datum arg)
{
	disarm_timer();
	release_holds(0);
}

/* The handler's time limit: what a statement timeout does, on a timer of our own. */
static void
call_timeout_handler(void)
{
	call_timer_fired = true;
	InterruptPending = true;
	QueryCancelPending = true;
	SetLatch(MyLatch);
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(inflight_xact_callback, NULL);
	RegisterSubXactCallback(inflight_subxact_callback, NULL);
	before_shmem_exit(inflight_backend_exit, 0);
	call_timeout_id = RegisterTimeout(USER_TIMEOUT, call_timeout_handler);
	callbacks_registered = true;
}

/* ---------------------------------------------------------------------------
 * Settings of the verified tenant
 * ------------------------------------------------------------------------- */

/* settings[key] as a whole number, or dflt when absent, not a number or out of range */
static int
setting_int(const MtmcpIdentity *id, const char *key, int dflt, int min)
{
	JsonbValue *v;
	int64		n;

	if (id->settings == NULL)
		return dflt;
	v = jsonb_object_get(&id->settings->root, key);
	if (v == NULL || v->type != jbvNumeric)
		return dflt;
	n = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
	if (n < min || n > INT_MAX)
		return dflt;
	return (int) n;
}

/* Who asked for a request, and its id: the key a cancel must match. */
static uint64
request_key(const MtmcpIdentity *id, const char *session_id, JsonbValue *request_id)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoString(&b, id->subject);
	appendStringInfoChar(&b, '\n');
	appendStringInfoString(&b, session_id ? session_id : "");
	appendStringInfoChar(&b, '\n');
	json_append_value(&b, request_id);
	return hash_bytes_extended((const unsigned char *) b.data, b.len, 0x6d746d6370);
}

/* ---------------------------------------------------------------------------
 * dispatch
 * ------------------------------------------------------------------------- */

/*
 * Take one of the tenant's places in flight for a request.  Returns 0, or
 * the seconds after which to retry when the tenant's calls in flight are at
 * its limit (*limit receives the limit).  Also sets the call's limits.
 */
int
mtmcp_inflight_enter(const MtmcpIdentity *id, const char *session_id, JsonbValue *request_id, int *limit)
{
	CallSlot   *me;
	int			max = setting_int(id, "max_in_flight", default_max_in_flight, 0);
	int			busy = 0;
	int			i;
	bool		over = false;
	uint64		key = request_key(id, session_id, request_id);

	register_callbacks();
	call_timeout_ms = setting_int(id, "tool_timeout_ms", default_tool_timeout_ms, 1);
	call_lock_ms = setting_int(id, "lock_timeout_ms", default_lock_timeout_ms, 1);
	next_timeout_ms = next_lock_ms = 0;
	call_interrupt = MTMCP_INTERRUPT_NONE;
	*limit = max;

	if (nholds >= MAX_NESTED_HOLDS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many nested requests in one backend")));
	me = my_slot();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (me->depth > 0 && (me->dbid != MyDatabaseId || strcmp(me->tenant, id->tenant) != 0))
	{
		LWLockRelease(shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot dispatch a request of another tenant inside a request")));
	}
	if (max > 0)
	{
		for (i = 0; i < shared->nslots; i++)
		{
			CallSlot   *s = &shared->slots[i];

			if (s->depth > 0 && s->dbid == MyDatabaseId && strcmp(s->tenant, id->tenant) == 0)
				busy += s->depth;
		}
		over = busy >= max;
	}
	if (!over)
	{
		if (me->depth == 0)
		{
			me->pid = MyProcPid;
			me->dbid = MyDatabaseId;
			strlcpy(me->tenant, id->tenant, sizeof(me->tenant));
			me->key = key;
			me->cancel = false;
			me->running = false;
		}
		me->depth++;
	}
	LWLockRelease(shared->lock);
	if (over)
		return 1;
	holds[nholds++] = GetCurrentSubTransactionId();
	return 0;
}

/*
 * The end of a request: give its place back and, when a time limit or a
 * cancel ended its handler, record that.  A tool says so in its result; any
 * other method answers -32603 "Request timed out"; a cancelled request
 * answers -32800.
 */
void
mtmcp_inflight_leave(MtmcpAuditEvent *ev, int *rpc_code, const char **rpc_msg, char **rpc_data)
{
	MtmcpInterrupt what = call_interrupt;

	release_holds(nholds > 0 ? nholds - 1 : 0);
	call_interrupt = MTMCP_INTERRUPT_NONE;
	next_timeout_ms = next_lock_ms = 0;
	switch (what)
	{
		case MTMCP_INTERRUPT_NONE:
			return;
		case MTMCP_INTERRUPT_TIMEOUT:
		case MTMCP_INTERRUPT_LOCK_TIMEOUT:
			ev->result_kind = "timeout";
			ev->severity = "warning";
			ev->error_code = pstrdup(what == MTMCP_INTERRUPT_TIMEOUT ? "57014" : "55P03");
			ev->detail = what == MTMCP_INTERRUPT_TIMEOUT ? "tool_timeout" : "lock_timeout";
			if (*rpc_code != 0)
			{
				/* not a tool (whose result says it): a resource, prompt or completion handler */
				*rpc_code = JSONRPC_INTERNAL_ERROR;
				*rpc_msg = "Request timed out";
				*rpc_data = psprintf("{\"reason\":\"%s\",\"timeoutMs\":%d}", ev->detail,
									 what == MTMCP_INTERRUPT_TIMEOUT ? handler_timeout_ms : handler_lock_ms);
			}
			return;
		case MTMCP_INTERRUPT_CANCELLED:
		case MTMCP_INTERRUPT_CLIENT_CANCEL:
			ev->result_kind = "cancelled";
			ev->severity = "info";
			ev->detail = what == MTMCP_INTERRUPT_CANCELLED ? "notifications/cancelled" : "query_cancel";
			*rpc_code = MCP_REQUEST_CANCELLED;
			*rpc_msg = "Request cancelled";
			*rpc_data = pstrdup(what == MTMCP_INTERRUPT_CANCELLED
								? "{\"reason\":\"notifications/cancelled\"}" : "{\"reason\":\"query_cancel\"}");
			return;
	}
}

/*
 * notifications/cancelled: interrupt the caller's own running request named
 * by params.requestId (same tenant, subject and session), without waiting
 * for it.  Unknown or finished requests are ignored, as MCP asks.
 */
void
mtmcp_cancel_request(const MtmcpIdentity *id, const char *session_id, JsonbContainer *params,
					 MtmcpAuditEvent *ev)
{
	JsonbValue *rid = jsonb_object_get(params, "requestId");
	uint64		key;
	int			i;
	int			signalled = 0;
	bool		found = false;

	if (rid == NULL || (rid->type != jbvString && rid->type != jbvNumeric) || shared == NULL)
		return;
	key = request_key(id, session_id, rid);
	{
		StringInfoData b;

		initStringInfo(&b);
		json_append_value(&b, rid);
		ev->target = b.data;
	}
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < shared->nslots; i++)
	{
		CallSlot   *s = &shared->slots[i];

		if (s->depth > 0 && s->key == key && s->dbid == MyDatabaseId &&
			strcmp(s->tenant, id->tenant) == 0 && s->pid != MyProcPid)
		{
			found = true;
			s->cancel = true;
			/* under the lock: the slot cannot move on to another request meanwhile */
			if (s->running && kill(s->pid, SIGINT) == 0)
				signalled++;
		}
	}
	LWLockRelease(shared->lock);
	ev->detail = found ? (signalled ? "cancel_sent" : "cancel_pending") : "cancel_unmatched";
}

/* ---------------------------------------------------------------------------
 * tools.c: the handler's run
 * ------------------------------------------------------------------------- */

/* The tool's own limits for the next handler (0: the tenant's or the default). */
void
mtmcp_call_limits(int timeout_ms, int lock_timeout_ms)
{
	next_timeout_ms = timeout_ms;
	next_lock_ms = lock_timeout_ms;
}

/* The time limit in force for the last handler, in milliseconds. */
int
mtmcp_call_timeout_ms(void)
{
	return handler_timeout_ms;
}

int
mtmcp_call_lock_timeout_ms(void)
{
	return handler_lock_ms;
}

/*
 * Just before a handler runs, inside its subtransaction and GUC nest level:
 * arm its time limit, set its lock timeout, and let a cancel reach it (one
 * that arrived earlier ends it now).
 */
void
mtmcp_handler_begin(void)
{
	char		buf[32];
	bool		cancelled = false;

	register_callbacks();
	handler_timeout_ms = next_timeout_ms > 0 ? next_timeout_ms
		: call_timeout_ms > 0 ? call_timeout_ms : default_tool_timeout_ms;
	handler_lock_ms = next_lock_ms > 0 ? next_lock_ms
		: call_lock_ms > 0 ? call_lock_ms : default_lock_timeout_ms;
	next_timeout_ms = next_lock_ms = 0;

	snprintf(buf, sizeof(buf), "%d", handler_lock_ms);
	(void) set_config_option("lock_timeout", buf, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);

	if (nholds > 0)
	{
		CallSlot   *me = my_slot();

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		cancelled = me->cancel;
		me->running = !cancelled;
		LWLockRelease(shared->lock);
	}
	if (cancelled)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling statement due to user request")));
	call_timer_fired = false;
	handler_start = GetCurrentTimestamp();
	enable_timeout_after(call_timeout_id, handler_timeout_ms);
}

/*
 * Just after the handler, whether it returned or failed: disarm, and stop
 * accepting cancels.  Never raises.
 */
void
mtmcp_handler_end(void)
{
	disarm_timer();
	if (nholds > 0 && shared != NULL)
	{
		CallSlot   *me = my_slot();

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		me->running = false;
		LWLockRelease(shared->lock);
	}
}

/* Did the statement's statement_timeout fire while the handler ran? */
static bool
statement_timed_out(void)
{
	TimestampTz fin = get_timeout_finish_time(STATEMENT_TIMEOUT);

	return handler_start != 0 && !get_timeout_active(STATEMENT_TIMEOUT) &&
		fin >= handler_start && fin <= GetCurrentTimestamp();
}

/*
 * Was this handler error a time limit or a cancel?  Classifies 57014 (our
 * timer, notifications/cancelled, or a cancel from outside) and a lock
 * timeout of ours (55P03 after at least lock_timeout), and remembers it for
 * the call's audit row.  Asking again about the same error gives the same
 * answer.
 */
MtmcpInterrupt
mtmcp_handler_interrupted(ErrorData *edata)
{
	MtmcpInterrupt what = MTMCP_INTERRUPT_NONE;

	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
	{
		bool		cancel = false;

		if (nholds > 0 && shared != NULL)
		{
			CallSlot   *me = my_slot();

			LWLockAcquire(shared->lock, LW_SHARED);
			cancel = me->cancel;
			LWLockRelease(shared->lock);
		}
		if (call_timer_fired)
			what = MTMCP_INTERRUPT_TIMEOUT;
		else if (cancel)
			what = MTMCP_INTERRUPT_CANCELLED;
		else if (statement_timed_out())
		{
			/* the statement's own statement_timeout: a time limit too */
			what = MTMCP_INTERRUPT_TIMEOUT;
			handler_timeout_ms = (int) ((GetCurrentTimestamp() - handler_start) / 1000);
		}
		else
			what = MTMCP_INTERRUPT_CLIENT_CANCEL;
	}
	else if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE && handler_start != 0 &&
			 TimestampDifferenceExceeds(handler_start, GetCurrentTimestamp(), handler_lock_ms))
		what = MTMCP_INTERRUPT_LOCK_TIMEOUT;
	if (what != MTMCP_INTERRUPT_NONE)
		call_interrupt = what;
	return what;
}
