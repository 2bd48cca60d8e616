/*
 * pool.c -- the database side: N worker threads, each owning one PGconn
 *
 * Design.  An HTTP thread describes the SQL call as a Job, puts it on the
 * queue and waits on the job.  N workers (N = the pool size) take jobs off
 * the queue; each owns exactly one connection for its whole life.  The fast
 * path (job_run_here): when nothing is queued and a worker is idle, the HTTP
 * thread borrows that worker -- connection, prepared statements and all --
 * and runs the job itself, exactly as the worker would, while the worker's
 * thread sleeps on; a hand-off and a wake-up each way cost more of the
 * shim's CPU than anything else it does per call.  So:
 *
 *   - a request waits for *a* free connection, never for a particular one
 *     (no head-of-line blocking behind a slow tool call); if none frees up
 *     within the queue timeout it gets 503;
 *   - a connection is busy exactly as long as its SQL call runs.  Whoever
 *     runs the job never writes to a client while it runs: live
 *     notifications and the final response go into the job's SseStream
 *     buffer (sse.c), so a slow or vanished client cannot hold a database
 *     connection past its own query;
 *   - GET streams never submit jobs except the one mcp_http_check that opens
 *     them: they hold no connection.
 *
 * Fairness.  The shim does not know tenants, but every call carries a bearer
 * token: jobs are grouped by a hash of it (one key for all calls without a
 * token; /healthz is exempt).  A key may have at most --key-max-inflight
 * calls queued or running -- one more is refused at once with 429 and
 * Retry-After -- and at most --key-max-running of them running, so one
 * client cannot take every connection.  Workers serve the keys that have
 * queued jobs round robin, one job per turn: a key with a hundred queued
 * calls and a key with one alternate.
 *
 * Statements.  Each connection prepares the few statements it runs (named,
 * with their parameter types) the first time it needs them, and then only
 * binds and executes them: parsing and planning the call's SELECT every time
 * was about a third of the database's CPU per call (bench/percall.sh).  Behind PgBouncer in transaction
 * mode a named statement would be prepared on one server connection and
 * executed on another, so --statements unnamed sends unnamed statements
 * (PQsendQueryParams: nothing named outlives its transaction).  A pooler
 * the operator did not declare shows itself by refusing our names
 * (42P05: already prepared there by another worker; 26000: prepared on
 * another server connection); the shim then switches to unnamed statements
 * for good, says so in its log, and runs the call again -- it never ran.
 * All run asynchronously (poll on
 * PQsocket with PQconsumeInput/PQisBusy) so that NOTICE messages are parsed
 * the moment they arrive.  The notice receiver forwards only notices whose
 * primary message is "mtmcp notification" and whose detail carries this
 * call's random notify key and a JSON-RPC notification (method, no id): tool
 * code can RAISE NOTICE too, but cannot know the key, so it cannot inject
 * messages into a client's stream.
 *
 * Cancellation.  When the HTTP client goes away (http.c and sse.c watch its
 * socket), the job is withdrawn if still queued, or its running query is
 * cancelled (PQcancel) and the worker freed for the next job.
 *
 * Session hygiene.  Connections are shared by all tenants.  The database
 * keeps calls apart (see SHIM_SUGGESTED_RESET): handlers cannot leave
 * settings, temporary tables, LISTENs or locks behind.  An operator may
 * still have --reset-query run after every call (once its answer is out).
 *
 * Failure handling.  Before each job the worker reads whatever the server
 * sent on the idle connection (PQconsumeInput); a connection the server
 * closed (restart, pg_terminate_backend) is dropped and a new one made.
 * While the server cannot be reached, connection attempts are gated by a
 * shared exponential backoff (100 ms doubling to 2 s) and jobs fail fast
 * with 503; the first job after the backoff window reconnects.  A job whose
 * connection broke mid-call is answered 503 and is never retried (it may
 * have run).  Nothing here needs a restart of the shim.
 *
 * Locks: pool.lock guards the queue, the key slots, the backoff state and
 * the counters; job->lock guards a job's result.  Never hold both.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>
#include <libpq-fe.h>

#include "shim.h"

#define SQL_RPC "SELECT http_status, session_id, response::text " \
	"FROM mtmcp.mcp_http($1::text, $2::jsonb, $3::text, $4::text)"
#define SQL_END "SELECT mtmcp.mcp_http_end($1::text, $2::text)"
#define SQL_CHECK "SELECT mtmcp.mcp_http_check($1::text, $2::text)"
#define SQL_PING "SELECT 1"
#define SQL_UNPARSABLE "SELECT mtmcp.mcp_http_unparsable($1::text, $2::text, $3::text, $4::integer)"
/* prompt-injection findings counted by the database: labels from fixed sets, no tenant */
#define SQL_FINDINGS "SELECT coalesce(string_agg(format(" \
	"'mtmcp_injection_findings_total{direction=\"%s\",category=\"%s\",action=\"%s\"} %s', " \
	"direction, category, action, findings) || E'\\n', '' ORDER BY direction, category, action), '') " \
	"FROM mtmcp.finding_counts()"
/* a 2026-07-28 request: its MCP headers go along */
#define SQL_RPC_HEADERS "SELECT http_status, session_id, response::text " \
	"FROM mtmcp.mcp_http($1::text, $2::jsonb, $3::text, $4::text, $5::jsonb)"

/*
 * The call answered as text (mcp_http_text, extension 1.1): the response as
 * the database wrote it, not parsed into jsonb and printed again (about 7%
 * of a call's work in the database).  Used whenever the database has it.
 * Called in a target list (OFFSET 0 keeps it to one call) rather than in
 * FROM: a function scan puts the one row through a tuplestore, and sets
 * itself up from the function's OUT parameters, on every execution.
 */
#define SQL_RPC_TEXT "SELECT (r.a).http_status, (r.a).session_id, (r.a).response " \
	"FROM (SELECT mtmcp.mcp_http_text($1::text, $2::jsonb, $3::text, $4::text, $5::jsonb) AS a OFFSET 0) r"

/* By job kind (JobKind order), then the five-argument calls */
#define STMT_RPC_HEADERS (JOB_FINDINGS + 1)
#define STMT_RPC_TEXT (JOB_FINDINGS + 2)
static const char *const stmt_sql[] = {SQL_RPC, SQL_END, SQL_CHECK, SQL_PING, SQL_UNPARSABLE, SQL_FINDINGS,
SQL_RPC_HEADERS, SQL_RPC_TEXT};
static const int stmt_nparams[] = {4, 2, 2, 0, 4, 0, 5, 5};

/* Unnamed statements only: --statements unnamed, or a pooler showed itself. */
static atomic_bool statements_unnamed;

/*
 * The queue of one fairness key: its waiting jobs in order, and how many of
 * its jobs run now.  Exists while it has any; on the ring while it has
 * queued jobs.
 */
typedef struct KeySlot
{
	uint64_t	key;
	Job		   *head,
			   *tail;
	int			queued;
	int			running;
	bool		in_ring;
	struct KeySlot *ring_next;	/* round robin order */
	struct KeySlot *next;		/* all slots */
} KeySlot;

typedef struct Worker
{
	pthread_t	thread;
	int			id;
	PGconn	   *conn;
	Job		   *job;			/* the job running now (worker thread only) */
	atomic_int	cancel;			/* hard stop: cancel the running query */
	unsigned	prepared;		/* statements prepared on conn (bit per stmt_sql index) */
	pthread_cond_t cond;		/* its thread waits here for a job (pool lock) */
	bool		idle;			/* on the idle stack: waiting, free to take or lend */
	bool		lent;			/* an HTTP thread runs a job on its connection */
	struct Worker *idle_next;
	bool		headers_arg;	/* the database's mcp_http takes the MCP headers (5 arguments) */
	bool		text_fn;		/* the database has mcp_http_text (5 arguments, text response) */
} Worker;

/* mtmcp.access_scope as the database has it (read on every new connection) */
static pthread_mutex_t scope_lock = PTHREAD_MUTEX_INITIALIZER;
static char *db_scope;

static struct
{
	pthread_mutex_t lock;
	KeySlot    *slots;			/* every key with queued or running jobs */
	KeySlot    *ring_head,		/* keys with queued jobs, next turn first */
			   *ring_tail;
	int			queued;
	bool		stopping;		/* workers exit once the queue is empty */
	bool		cancelling;		/* hard stop: cancel running and queued calls */
	int			size;
	Worker	   *workers;
	Worker	   *idle;			/* workers waiting for a job, most recent first */
	int			in_use;
	int			open;
	double		down_until;		/* monotonic; no connection attempts before */
	double		backoff;
	bool		down_logged;
}			pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

typedef bool (*CancelCheck) (void *arg);
static PGresult *db_wait(PGconn *conn, CancelCheck check, void *arg);

/* ---------------------------------------------------------------- idle workers (pool lock held) */

/*
 * A worker waiting for a job is on the idle stack and sleeps on its own
 * condition variable.  A new job wakes exactly one of them (job_submit); an
 * HTTP thread may instead borrow one, connection and all, and run its job
 * in place (job_run_here) while the worker's thread sleeps on.
 */
static void
idle_push(Worker *w)
{
	if (w->idle)
		return;
	w->idle = true;
	w->idle_next = pool.idle;
	pool.idle = w;
}

static void
idle_remove(Worker *w)
{
	Worker	  **pp;

	if (!w->idle)
		return;
	for (pp = &pool.idle; *pp; pp = &(*pp)->idle_next)
		if (*pp == w)
		{
			*pp = w->idle_next;
			break;
		}
	w->idle = false;
	w->idle_next = NULL;
}

static Worker *
idle_pop(void)
{
	Worker	   *w = pool.idle;

	if (w != NULL)
		idle_remove(w);
	return w;
}

static void
wake_idle_worker(void)
{
	Worker	   *w = idle_pop();

	if (w != NULL)
		pthread_cond_signal(&w->cond);
}

static void
wake_all_workers(void)
{
	int			i;

	for (i = 0; i < pool.size; i++)
		pthread_cond_signal(&pool.workers[i].cond);
}

/* ---------------------------------------------------------------- jobs */

/* The fairness key of a token: 64-bit FNV-1a; 1 for "no token", never 0. */
static uint64_t
token_key(const char *token)
{
	uint64_t	h = 14695981039346656037ULL;

	if (token == NULL)
		return 1;
	for (; *token; token++)
		h = (h ^ (unsigned char) *token) * 1099511628211ULL;
	return h > 1 ? h : h + 2;
}

Job *
job_new(JobKind kind, const char *token, const char *body, const char *session_id)
{
	Job		   *job = xcalloc(1, sizeof(Job));

	job->kind = kind;
	job->token = xstrdup(token);
	job->body = xstrdup(body);
	job->session_id = xstrdup(session_id);
	job->key = kind == JOB_PING || kind == JOB_FINDINGS ? 0 : token_key(token);
	random_hex(job->notify_key, 16);
	job->outcome = OUT_PENDING;
	job->client_fd = -1;
	job->refs = 1;
	pthread_mutex_init(&job->lock, NULL);
	cond_init_mono(&job->cond);
	return job;
}

static void
job_free(Job *job)
{
	if (job->token)
	{
		/* do not leave bearer tokens lying around in freed memory */
		explicit_bzero(job->token, strlen(job->token));
		free(job->token);
	}
	free(job->body);
	free(job->session_id);
	free(job->rpc_id);
	free(job->headers);
	free(job->out_session_id);
	free(job->response);
	if (job->stream)
		sse_unref(job->stream);
	pthread_cond_destroy(&job->cond);
	pthread_mutex_destroy(&job->lock);
	free(job);
}

void
job_unref(Job *job)
{
	bool		last;

	pthread_mutex_lock(&job->lock);
	last = (--job->refs == 0);
	pthread_mutex_unlock(&job->lock);
	if (last)
		job_free(job);
}

/* ---------------------------------------------------------------- the fair queue (pool lock held) */

static KeySlot *
slot_get(uint64_t key)
{
	KeySlot    *k;

	for (k = pool.slots; k != NULL; k = k->next)
		if (k->key == key)
			return k;
	k = xcalloc(1, sizeof(KeySlot));
	k->key = key;
	k->next = pool.slots;
	pool.slots = k;
	return k;
}

/* Free a slot with nothing queued or running (it is off the ring then). */
static void
slot_release(KeySlot *k)
{
	KeySlot   **pp;

	if (k->queued > 0 || k->running > 0)
		return;
	for (pp = &pool.slots; *pp; pp = &(*pp)->next)
		if (*pp == k)
		{
			*pp = k->next;
			break;
		}
	free(k);
}

static void
ring_append(KeySlot *k)
{
	k->ring_next = NULL;
	if (pool.ring_tail)
		pool.ring_tail->ring_next = k;
	else
		pool.ring_head = k;
	pool.ring_tail = k;
	k->in_ring = true;
}

static void
ring_remove(KeySlot *k)
{
	KeySlot    *prev = NULL;
	KeySlot    *p;

	for (p = pool.ring_head; p && p != k; prev = p, p = p->ring_next)
		;
	if (p == NULL)
		return;
	if (prev)
		prev->ring_next = k->ring_next;
	else
		pool.ring_head = k->ring_next;
	if (pool.ring_tail == k)
		pool.ring_tail = prev;
	k->ring_next = NULL;
	k->in_ring = false;
}

/* Has this key its --key-max-inflight calls queued or running already? */
static bool
slot_over_share(const KeySlot *k)
{
	return k->key != 0 && k->queued + k->running >= shim_config.key_max_inflight;
}

/* May this key start one more job now? */
static bool
slot_may_run(const KeySlot *k)
{
	return k->key == 0 || k->running < shim_config.key_max_running;
}

/*
 * The next job to run: the first key in round-robin order that may run one
 * more takes its turn (and goes to the back of the ring).  NULL if none.
 */
static Job *
dequeue(void)
{
	KeySlot    *k;
	Job		   *job;

	for (k = pool.ring_head; k != NULL; k = k->ring_next)
		if (slot_may_run(k))
			break;
	if (k == NULL)
		return NULL;
	job = k->head;
	k->head = job->next;
	if (k->head == NULL)
		k->tail = NULL;
	job->next = NULL;
	k->queued--;
	k->running++;
	pool.queued--;
	ring_remove(k);
	if (k->queued > 0)
		ring_append(k);
	return job;
}

/* A job of this slot stopped running. */
static void
slot_done(KeySlot *k)
{
	k->running--;
	slot_release(k);
}

/*
 * Queue the job.  Refused (false, the job done with OUT_KEY_BUSY) when its
 * key already has --key-max-inflight calls queued or running.
 */
bool
job_submit(Job *job, int timeout_ms)
{
	KeySlot    *k;

	job->deadline = now_mono() + timeout_ms / 1000.0;
	pthread_mutex_lock(&pool.lock);
	k = slot_get(job->key);
	if (slot_over_share(k))
	{
		slot_release(k);
		pthread_mutex_unlock(&pool.lock);
		metrics_count("queue_refused_key_over_share", 1);
		pthread_mutex_lock(&job->lock);
		job->outcome = OUT_KEY_BUSY;
		job->done = true;
		if (job->stream)
			sse_finish(job->stream);
		pthread_mutex_unlock(&job->lock);
		return false;
	}
	pthread_mutex_lock(&job->lock);
	job->refs++;				/* the queue's (then the worker's) reference */
	pthread_mutex_unlock(&job->lock);
	job->slot = k;
	job->next = NULL;
	if (k->tail)
		k->tail->next = job;
	else
		k->head = job;
	k->tail = job;
	k->queued++;
	if (!k->in_ring)
		ring_append(k);
	pool.queued++;
	/* one job, one worker: a broadcast woke every idle worker for nothing */
	wake_idle_worker();
	pthread_mutex_unlock(&pool.lock);
	return true;
}

/* Take a job back off the queue if no worker has it yet. */
static bool
withdraw(Job *job)
{
	KeySlot    *k;
	Job		  **pp;
	Job		   *prev = NULL;
	bool		found = false;

	pthread_mutex_lock(&pool.lock);
	k = job->slot;
	for (pp = &k->head; k && *pp; prev = *pp, pp = &(*pp)->next)
	{
		if (*pp == job)
		{
			*pp = job->next;
			if (k->tail == job)
				k->tail = prev;
			k->queued--;
			pool.queued--;
			if (k->queued == 0)
				ring_remove(k);
			slot_release(k);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&pool.lock);
	return found;
}

/* No worker has the job yet: it ends now with this outcome. */
static bool
withdraw_as(Job *job, JobOutcome outcome)
{
	if (!withdraw(job))
		return false;
	pthread_mutex_lock(&job->lock);
	job->outcome = outcome;
	job->done = true;
	job->refs--;				/* the queue's reference (ours remains) */
	if (job->stream)
		sse_finish(job->stream);
	pthread_mutex_unlock(&job->lock);
	return true;
}

/*
 * Wait until the job is done, or (until_event) until it has pushed its first
 * live notification.  A job still queued at its deadline is withdrawn and
 * answered OUT_BUSY.  With client_fd >= 0 the HTTP client's socket is
 * watched: if the client goes away the job is withdrawn, or its running
 * query cancelled, and this returns false at once: the worker finishes the
 * job on its own, and the caller must not read its results.
 */
bool
job_wait(Job *job, bool until_event, int client_fd)
{
	bool		client_here = true;

	pthread_mutex_lock(&job->lock);
	for (;;)
	{
		struct timespec ts;
		double		left;

		if (job->done || (until_event && job->has_events))
			break;
		if (client_fd >= 0 && peer_closed(client_fd))
		{
			pthread_mutex_unlock(&job->lock);
			metrics_count("calls_abandoned_by_client", 1);
			if (!withdraw_as(job, OUT_CLIENT_GONE))
				atomic_store(&job->cancel, 1);	/* the worker cancels the query */
			pthread_mutex_lock(&job->lock);
			client_here = false;
			break;
		}
		left = job->deadline - now_mono();
		if (left <= 0)
		{
			pthread_mutex_unlock(&job->lock);
			if (withdraw_as(job, OUT_BUSY))
			{
				pthread_mutex_lock(&job->lock);
				break;
			}
			pthread_mutex_lock(&job->lock);
			/* a worker has it: from now on wait for the worker */
			job->deadline = now_mono() + 3600.0 * 24 * 365;
			continue;
		}
		if (client_fd >= 0 && left > 0.25)
			left = 0.25;
		abstime_after(&ts, left > 1.0 ? 1.0 : left);
		pthread_cond_timedwait(&job->cond, &job->lock, &ts);
	}
	pthread_mutex_unlock(&job->lock);
	return client_here;
}

/* ---------------------------------------------------------------- connections */

/*
 * A new connection with client_min_messages = notice (so progress notices
 * reach us whatever the role's defaults say).  NULL and a message on failure.
 */
PGconn *
db_connect(const char *conninfo, const char *application_name, char *err, size_t errsz)
{
	const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *vals[] = {"5", application_name, conninfo, NULL};
	PGconn	   *conn;
	PGresult   *res;

	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
		char	   *line = xstrndup(msg, strcspn(msg, "\n"));

		/* its first line: enough for the log, and one line */
		safe_text(err, errsz, line);
		free(line);
		PQfinish(conn);
		return NULL;
	}
	res = PQexec(conn, "SET client_min_messages = notice");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		safe_text(err, errsz, PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/*
 * Run one statement asynchronously; notices are delivered (through the
 * connection's notice receiver) as soon as they arrive.  Returns the last
 * result (NULL if the query could not even be sent, or was abandoned).
 * When *cancel_flag becomes non-zero the query is cancelled; if it is still
 * running two seconds later it is abandoned, and the caller must close the
 * connection (it is no longer idle).
 */
static bool
flag_set(void *arg)
{
	return arg != NULL && atomic_load((atomic_int *) arg) != 0;
}

PGresult *
db_exec(PGconn *conn, const char *sql, int nparams, const char *const *values,
		atomic_int *cancel_flag)
{
	if (!PQsendQueryParams(conn, sql, nparams, NULL, values, NULL, NULL, 0))
		return NULL;
	return db_wait(conn, flag_set, cancel_flag);
}

/* The rest of db_exec: wait for the query sent on conn; cancel when check(arg) says so. */
static PGresult *
db_wait(PGconn *conn, CancelCheck check, void *arg)
{
	PGresult   *last = NULL;
	PGresult   *res;
	double		cancelled_at = 0;

	for (;;)
	{
		while (PQisBusy(conn))
		{
			struct pollfd p;
			int			rc;

			p.fd = PQsocket(conn);
			p.events = POLLIN;
			p.revents = 0;
			if (p.fd < 0)
				break;
			rc = poll(&p, 1, 100);
			if (rc < 0 && errno != EINTR)
				break;
			if (cancelled_at == 0 && check(arg))
			{
				PGcancel   *c = PQgetCancel(conn);
				char		errbuf[256];

				if (c)
				{
					(void) PQcancel(c, errbuf, sizeof(errbuf));
					PQfreeCancel(c);
				}
				cancelled_at = now_mono();
			}
			else if (cancelled_at > 0 && now_mono() - cancelled_at > 2.0)
			{
				/* the server ignores the cancel: abandon the connection */
				PQclear(last);
				return NULL;
			}
			if (!PQconsumeInput(conn))
				break;			/* broken: PQgetResult reports it */
		}
		res = PQgetResult(conn);
		if (res == NULL)
			break;
		PQclear(last);
		last = res;
		if (PQstatus(conn) == CONNECTION_BAD)
		{
			/* drain whatever libpq still holds, without waiting */
			while ((res = PQgetResult(conn)) != NULL)
				PQclear(res);
			break;
		}
	}
	return last;
}

/* ---------------------------------------------------------------- notices */


/*
 * A NOTICE arrived while this worker's call runs.  Forward it to the
 * client's event stream only if it is ours (see the file header).
 */
static void
notice_receiver(void *arg, const PGresult *res)
{
	Worker	   *w = arg;
	Job		   *job = w->job;
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	struct json_tokener *tok;
	json_object *root = NULL;
	json_object *key;
	json_object *msg;
	json_object *v;
	bool		ok = false;

	if (job == NULL || job->kind != JOB_RPC || primary == NULL || detail == NULL ||
		strcmp(primary, "mtmcp notification") != 0)
	{
		metrics_count("notices_ignored", 1);
		return;
	}
	tok = json_tokener_new_ex(64);
	if (tok == NULL)
		return;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, detail, (int) strlen(detail));
	if (root != NULL && json_tokener_get_error(tok) == json_tokener_success &&
		json_object_is_type(root, json_type_object) &&
		json_object_object_get_ex(root, "key", &key) &&
		json_object_is_type(key, json_type_string) &&
		strcmp(json_object_get_string(key), job->notify_key) == 0 &&
		json_object_object_get_ex(root, "message", &msg) &&
		json_object_is_type(msg, json_type_object) &&
		json_object_object_get_ex(msg, "method", &v) &&
		json_object_is_type(v, json_type_string) &&
		!json_object_object_get_ex(msg, "id", NULL) &&
		json_object_object_get_ex(msg, "jsonrpc", &v) &&
		json_object_is_type(v, json_type_string) &&
		strcmp(json_object_get_string(v), "2.0") == 0)
		ok = true;

	if (!ok)
		metrics_count("notices_ignored", 1);
	else if (job->stream == NULL)
		metrics_count("notifications_unstreamed", 1);	/* a JSON-mode call */
	else if (sse_push_message(job->stream,
							  json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN |
															 JSON_C_TO_STRING_NOSLASHESCAPE)))
	{
		metrics_count("notifications_forwarded", 1);
		pthread_mutex_lock(&job->lock);
		job->has_events = true;
		pthread_cond_broadcast(&job->cond);
		pthread_mutex_unlock(&job->lock);
	}
	json_object_put(root);
	json_tokener_free(tok);
}

/* ---------------------------------------------------------------- workers */

static void
drop_conn(Worker *w)
{
	if (w->conn == NULL)
		return;
	PQfinish(w->conn);
	w->conn = NULL;
	pthread_mutex_lock(&pool.lock);
	pool.open--;
	pthread_mutex_unlock(&pool.lock);
}

/*
 * Is this idle connection still usable?  A server that shut down or
 * terminated the backend sent a FATAL message and closed the socket while we
 * were idle: reading until nothing is left finds the end of file.  (One read
 * is not enough: it returns the message and leaves the EOF for the next.)
 */
static bool
idle_conn_alive(PGconn *conn)
{
	int			i;

	for (i = 0; i < 8; i++)
	{
		struct pollfd p;

		p.fd = PQsocket(conn);
		p.events = POLLIN;
		p.revents = 0;
		if (p.fd < 0)
			return false;
		if (poll(&p, 1, 0) <= 0)
			break;
		if (!PQconsumeInput(conn))
			return false;
	}
	return PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
}

/*
 * What this database offers: the five-argument mtmcp.mcp_http (the MCP
 * headers of 2026-07-28 requests go along, for the Mcp-Param-* checks),
 * mtmcp.mcp_http_text (the same, answering with text), and
 * the scope it requires of every token (mtmcp.access_scope), which the shim
 * advertises (protected resource metadata, WWW-Authenticate).
 */
static void
probe_database(Worker *w)
{
	PGresult   *res = PQexec(w->conn,
							 "SELECT to_regprocedure('mtmcp.mcp_http(text,jsonb,text,text,jsonb)') IS NOT NULL, "
							 "coalesce(current_setting('mtmcp.access_scope', true), ''), "
							 "to_regprocedure('mtmcp.mcp_http_text(text,jsonb,text,text,jsonb)') IS NOT NULL");

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		const char *scope = PQgetvalue(res, 0, 1);

		w->headers_arg = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		w->text_fn = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		pthread_mutex_lock(&scope_lock);
		if (db_scope == NULL || strcmp(db_scope, scope) != 0)
		{
			char		shown[128];

			safe_text(shown, sizeof(shown), scope);
			if (*scope)
				shim_log("the database requires the scope \"%s\" of every token (mtmcp.access_scope)", shown);
			free(db_scope);
			db_scope = xstrdup(scope);
		}
		pthread_mutex_unlock(&scope_lock);
	}
	else
		w->headers_arg = w->text_fn = false;
	PQclear(res);
}

/* The database's required scope ("" none, NULL not known yet); free it. */
char *
pool_db_scope(void)
{
	char	   *s;

	pthread_mutex_lock(&scope_lock);
	s = db_scope ? xstrdup(db_scope) : NULL;
	pthread_mutex_unlock(&scope_lock);
	return s;
}

/* A usable connection, or false (the server is down: answer 503). */
static bool
ensure_conn(Worker *w)
{
	char		err[256];
	char		name[64];
	PGconn	   *conn;
	double		now;

	if (w->conn != NULL)
	{
		if (idle_conn_alive(w->conn))
			return true;
		drop_conn(w);
	}

	now = now_mono();
	pthread_mutex_lock(&pool.lock);
	if (now < pool.down_until)
	{
		pthread_mutex_unlock(&pool.lock);
		return false;
	}
	pthread_mutex_unlock(&pool.lock);

	snprintf(name, sizeof(name), "mtmcp-http worker %d", w->id);
	conn = db_connect(shim_config.db, name, err, sizeof(err));
	pthread_mutex_lock(&pool.lock);
	if (conn == NULL)
	{
		bool		log_it = !pool.down_logged;

		pool.backoff = pool.backoff > 0 ? pool.backoff * 2 : 0.1;
		if (pool.backoff > 2.0)
			pool.backoff = 2.0;
		pool.down_until = now_mono() + pool.backoff;
		pool.down_logged = true;
		pthread_mutex_unlock(&pool.lock);
		metrics_count("db_connect_failures", 1);
		if (log_it)
			shim_log("database unavailable: %s", err);
		return false;
	}
	if (pool.down_logged)
		shim_log("database reachable again");
	pool.backoff = 0;
	pool.down_until = 0;
	pool.down_logged = false;
	pool.open++;
	pthread_mutex_unlock(&pool.lock);
	metrics_count("db_connects", 1);
	PQsetNoticeReceiver(conn, notice_receiver, w);
	w->conn = conn;
	w->prepared = 0;
	probe_database(w);
	return true;
}

/* Sort an SQL failure into the HTTP outcome. */
static JobOutcome
classify_error(Worker *w, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char		text[200];

	if (w->conn == NULL || PQstatus(w->conn) != CONNECTION_OK || state == NULL ||
		strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
		strncmp(state, "53", 2) == 0 || strcmp(state, "57014") == 0)
	{
		metrics_count("db_errors_unavailable", 1);
		return OUT_DB_DOWN;
	}
	/* the request text is not JSON PostgreSQL accepts: the client's error */
	if (strcmp(state, "22P02") == 0 || strcmp(state, "22P05") == 0 || strcmp(state, "22021") == 0)
	{
		metrics_count("requests_rejected_by_jsonb", 1);
		return OUT_BAD_INPUT;
	}
	/* the primary message never carries parameter values (detail might) */
	safe_text(text, sizeof(text), msg ? msg : "");
	shim_log("database error %s: %s", state, text);
	metrics_count("db_errors", 1);
	return OUT_DB_ERROR;
}

static int
int_value(const PGresult *res, int row, int col, bool *ok)
{
	const char *s;
	char	   *end;
	long		v;

	if (PQgetisnull(res, row, col))
	{
		*ok = false;
		return 0;
	}
	s = PQgetvalue(res, row, col);
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 100 || v > 599)
	{
		*ok = false;
		return 0;
	}
	return (int) v;
}

/* Cancel the running call: a hard stop, or its client went away. */
static bool
job_cancelled(void *arg)
{
	Worker	   *w = arg;
	Job		   *job = w->job;

	/* run in place: nobody else watches the client (job_wait would), so look every 0.25 s */
	double		now = job->client_fd >= 0 ? now_mono() : 0;

	if (job->client_fd >= 0 && now >= job->next_client_check)
	{
		job->next_client_check = now + 0.25;
		if (peer_closed(job->client_fd))
		{
			metrics_count("calls_abandoned_by_client", 1);
			atomic_store(&job->cancel, 1);
		}
	}
	return atomic_load(&w->cancel) || atomic_load(&job->cancel) ||
		(job->stream != NULL && sse_abandoned(job->stream));
}

/* The statement's name on a connection: mtmcp_http_N, N its stmt_sql index. */
static void
stmt_name(char *buf, size_t size, int stmt)
{
	snprintf(buf, size, "mtmcp_http_%d", stmt);
}

/*
 * An answer that shows a transaction pooler between us and the server: our
 * named statement is already there (another worker prepared it on this
 * server connection) or missing (prepared on another one).  Either way the
 * statement did not run.
 */
static bool
pooler_refusal(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state != NULL && (strcmp(state, "42P05") == 0 || strcmp(state, "26000") == 0);
}

/*
 * The same statement again, prepared (false: the result, an error, is in
 * *res).  Preparing is one round trip, once per connection and statement.
 */
static bool
prepare_stmt(Worker *w, int stmt, PGresult **res)
{
	char		name[32];

	if (w->prepared & (1u << stmt))
		return true;
	stmt_name(name, sizeof(name), stmt);
	*res = PQprepare(w->conn, name, stmt_sql[stmt], stmt_nparams[stmt], NULL);
	if (PQresultStatus(*res) != PGRES_COMMAND_OK)
		return false;
	PQclear(*res);
	*res = NULL;
	w->prepared |= 1u << stmt;
	return true;
}

/*
 * Run the job's statement: bind and execute the connection's prepared
 * statement, or (--statements unnamed) parse, bind and execute an unnamed
 * one in one round trip and one transaction, so nothing named outlives it
 * (PgBouncer in transaction mode hands each transaction to any server
 * connection).
 */
static PGresult *
exec_call(Worker *w, JobKind kind, const char *const *values)
{
	int			stmt = kind != JOB_RPC ? (int) kind
		: w->text_fn ? STMT_RPC_TEXT
		: values[4] != NULL ? STMT_RPC_HEADERS : (int) kind;
	PGresult   *res = NULL;

	if (!atomic_load(&statements_unnamed))
	{
		char		name[32];

		stmt_name(name, sizeof(name), stmt);
		for (int attempt = 0; attempt < 2 && prepare_stmt(w, stmt, &res); attempt++)
		{
			const char *state;

			if (!PQsendQueryPrepared(w->conn, name, stmt_nparams[stmt], values, NULL, NULL, 0))
				return NULL;
			res = db_wait(w->conn, job_cancelled, w);
			state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
			/*
			 * Before anything ran, the statement was gone (26000: a --reset-query
			 * with DISCARD ALL or DEALLOCATE -- or a pooler, which the second
			 * try shows) or the extension was replaced under us and its result
			 * columns changed (0A000, "cached plan must not change result
			 * type"): prepare it afresh, once.
			 */
			if (attempt > 0 || state == NULL || PQtransactionStatus(w->conn) != PQTRANS_IDLE ||
				(strcmp(state, "0A000") != 0 && strcmp(state, "26000") != 0))
				break;
			PQclear(res);
			res = NULL;
			if (strcmp(state, "0A000") == 0)
			{
				res = PQexec(w->conn, "DEALLOCATE ALL");
				PQclear(res);
				res = NULL;
			}
			w->prepared = 0;
		}
		if (!pooler_refusal(res))
			return res;
		if (!atomic_exchange(&statements_unnamed, true))
		{
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			shim_log("the database connection is pooled (%s: a named statement %s): "
					 "from now on every statement is sent unnamed; say --statements unnamed",
					 state, strcmp(state, "42P05") == 0 ? "was already prepared" : "prepared earlier was not there");
		}
		PQclear(res);
		/* 26000 left no transaction; 42P05 neither: the statement never ran */
	}
	if (!PQsendQueryParams(w->conn, stmt_sql[stmt], stmt_nparams[stmt], NULL, values, NULL, NULL, 0))
		return NULL;
	return db_wait(w->conn, job_cancelled, w);
}

static bool
job_gone(Job *job)
{
	return atomic_load(&job->cancel) || (job->stream != NULL && sse_abandoned(job->stream));
}

static void
run_job(Worker *w, Job *job)
{
	const char *values[5] = {NULL, NULL, NULL, NULL, NULL};
	PGresult   *res;
	bool		ok = true;

	if (atomic_load(&w->cancel) || !ensure_conn(w))
	{
		job->outcome = OUT_DB_DOWN;
		return;
	}
	values[0] = job->kind == JOB_PING || job->kind == JOB_FINDINGS ? NULL : job->token;
	if (job->kind == JOB_RPC)
	{
		values[1] = job->body;
		values[2] = job->session_id;
		values[3] = job->notify_key;
		values[4] = w->headers_arg || w->text_fn ? job->headers : NULL;
	}
	else if (job->kind == JOB_UNPARSABLE)
	{
		values[1] = job->session_id;
		values[2] = job->body;	/* the parser's complaint, never the body */
		values[3] = job->rpc_id;	/* the body's size, as text */
	}
	else
		values[1] = job->session_id;

	w->job = job;
	res = exec_call(w, job->kind, values);
	w->job = NULL;

	if (job_gone(job))
	{
		/* nobody reads the answer; the query was cancelled if it still ran */
		bool		finished = res && PQresultStatus(res) == PGRES_TUPLES_OK;

		metrics_count(finished ? "calls_finished_client_gone" : "calls_cancelled_client_gone", 1);
		shim_log("the client went away; its call %s", finished ? "had finished" : "was cancelled");
		job->outcome = OUT_CLIENT_GONE;
	}
	else if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		/* no findings counters (an older extension): /metrics just leaves them out, quietly */
		if (job->kind == JOB_FINDINGS && res != NULL && PQstatus(w->conn) == CONNECTION_OK)
			job->outcome = OUT_DB_ERROR;
		else
			job->outcome = classify_error(w, res);
	}
	else if (PQntuples(res) != 1 || PQnfields(res) != (job->kind == JOB_RPC ? 3 : 1))
	{
		shim_log("database answered %d rows of %d columns; expected one row", PQntuples(res), PQnfields(res));
		job->outcome = OUT_DB_ERROR;
	}
	else if (job->kind == JOB_PING || job->kind == JOB_FINDINGS)
	{
		job->outcome = OUT_OK;
		job->http_status = 200;
		if (job->kind == JOB_FINDINGS && !PQgetisnull(res, 0, 0))
			job->response = xstrdup(PQgetvalue(res, 0, 0));
	}
	else
	{
		job->http_status = int_value(res, 0, 0, &ok);
		if (!ok)
		{
			shim_log("database answered an invalid http_status");
			job->outcome = OUT_DB_ERROR;
		}
		else
		{
			job->outcome = OUT_OK;
			if (job->kind == JOB_RPC)
			{
				if (!PQgetisnull(res, 0, 1))
					job->out_session_id = xstrdup(PQgetvalue(res, 0, 1));
				if (!PQgetisnull(res, 0, 2))
					job->response = xstrdup(PQgetvalue(res, 0, 2));
			}
		}
	}
	PQclear(res);

	/* a connection that broke, or (never expected) was left in a transaction */
	if (PQstatus(w->conn) != CONNECTION_OK || PQtransactionStatus(w->conn) != PQTRANS_IDLE)
		drop_conn(w);
}

/*
 * Run the operator's --reset-query, if any (see SHIM_SUGGESTED_RESET).  If
 * it fails the connection is closed: a fresh one is clean by construction.
 */
static void
reset_session(Worker *w)
{
	PGresult   *res;
	bool		ok;

	if (w->conn == NULL || shim_config.reset_query == NULL || shim_config.reset_query[0] == '\0')
		return;
	res = PQexec(w->conn, shim_config.reset_query);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok && PQstatus(w->conn) == CONNECTION_OK)
	{
		char		text[200];

		safe_text(text, sizeof(text), PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
		shim_log("the reset query failed (%s); closing the connection", text);
	}
	PQclear(res);
	if (!ok || PQtransactionStatus(w->conn) != PQTRANS_IDLE)
		drop_conn(w);
	else
	{
		PGnotify   *n;

		/* a handler's LISTEN got NOTIFYs meanwhile: nobody reads them here */
		while ((n = PQnotifies(w->conn)) != NULL)
			PQfreemem(n);
	}
}

/* The stream gets the final message (or an error, if streaming had begun). */
static void
finish_stream(Job *job)
{
	bool		events;

	pthread_mutex_lock(&job->lock);
	events = job->has_events;
	pthread_mutex_unlock(&job->lock);

	if (job->outcome == OUT_OK && job->response != NULL &&
		(job->http_status == 200 || events))
		sse_push_message(job->stream, job->response);
	else if (events)
	{
		StrBuf		b;

		sb_init(&b);
		sb_printf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32603,"
				  "\"message\":\"Internal error: the call failed after it had started streaming\"}}",
				  job->rpc_id ? job->rpc_id : "null");
		sse_push_message(job->stream, b.data);
		sb_free(&b);
	}
	sse_finish(job->stream);
}

/*
 * Everything a job takes once it has a worker: its statement, then its
 * stream's end (or the input requests of its round), then "done" for the
 * HTTP thread, then the operator's reset query.
 */
static void
serve_job(Worker *w, Job *job)
{
	run_job(w, job);
	if (job->stream && !job->conducted)
	{
		if (job->bridge && job->outcome == OUT_OK && job->http_status == 200 &&
			mrtr_is_input_required(job->response))
			mrtr_start(job);	/* it sends the input requests and finishes the stream */
		else
			finish_stream(job);
	}

	pthread_mutex_lock(&job->lock);
	job->done = true;
	pthread_cond_broadcast(&job->cond);
	pthread_mutex_unlock(&job->lock);
	if (job->kind == JOB_RPC)
		reset_session(w);	/* after the answer: costs no latency */
}

/*
 * The job's worker is free again (pool lock held).  Its key may run another:
 * the worker itself looks first (dequeue, at the top of its loop) and one
 * idle worker is woken too; when stopping, all are, since the queue may now
 * be empty and every worker must exit.
 */
static void
job_finished_locked(Job *job)
{
	pool.in_use--;
	slot_done(job->slot);
	if (pool.stopping)
		wake_all_workers();
	else if (pool.queued > 0)
		wake_idle_worker();
}

static void *
worker_main(void *arg)
{
	Worker	   *w = arg;

	for (;;)
	{
		Job		   *job = NULL;

		pthread_mutex_lock(&pool.lock);
		for (;;)
		{
			if (!w->lent)
			{
				job = dequeue();
				if (job != NULL || (pool.stopping && pool.queued == 0))
					break;
				idle_push(w);
			}
			pthread_cond_wait(&w->cond, &pool.lock);
			idle_remove(w);		/* still there if the wake-up was not a job's */
		}
		if (job == NULL)
		{
			pthread_mutex_unlock(&pool.lock);
			break;
		}
		pool.in_use++;
		atomic_store(&w->cancel, pool.cancelling ? 1 : 0);
		pthread_mutex_unlock(&pool.lock);

		serve_job(w, job);

		pthread_mutex_lock(&pool.lock);
		job_finished_locked(job);
		pthread_mutex_unlock(&pool.lock);
		job_unref(job);
	}
	drop_conn(w);
	return NULL;
}

/*
 * The fast path: when a connection is idle and no job waits, the HTTP
 * thread that has the request runs it on that connection itself instead of
 * handing it to the worker's thread and sleeping until it is done -- two
 * thread wake-ups fewer per call, which on a busy machine were most of the
 * shim's own CPU time.  Fairness is untouched: nothing is queued (a queued
 * job is always served first), and the key's running share is counted as
 * for any job.  The client's socket is watched while the statement runs
 * (job_cancelled), as job_wait would.  Returns false, having changed
 * nothing, when the job must be submitted instead.
 */
bool
job_run_here(Job *job, int client_fd)
{
	KeySlot    *k;
	Worker	   *w = NULL;

	pthread_mutex_lock(&pool.lock);
	if (pool.queued == 0 && !pool.stopping && !pool.cancelling && pool.idle != NULL)
	{
		k = slot_get(job->key);
		if (slot_may_run(k) && !slot_over_share(k))
		{
			w = idle_pop();
			w->lent = true;
			k->running++;
			job->slot = k;
			pool.in_use++;
			atomic_store(&w->cancel, 0);
		}
		else
			slot_release(k);
	}
	pthread_mutex_unlock(&pool.lock);
	if (w == NULL)
		return false;

	pthread_mutex_lock(&job->lock);
	job->refs++;				/* the worker's reference, as job_submit takes */
	pthread_mutex_unlock(&job->lock);
	job->client_fd = client_fd;
	job->next_client_check = now_mono() + 0.25;
	serve_job(w, job);
	job->client_fd = -1;

	pthread_mutex_lock(&pool.lock);
	w->lent = false;
	job_finished_locked(job);
	if (pool.stopping || pool.queued > 0 || pool.cancelling)
		pthread_cond_signal(&w->cond);	/* its own thread: take the next job, or exit */
	else
		idle_push(w);			/* still asleep: free to take or lend again */
	pthread_mutex_unlock(&pool.lock);
	job_unref(job);
	return true;
}

bool
pool_start(int size)
{
	int			i;

	atomic_store(&statements_unnamed, strcmp(shim_config.statements, "unnamed") == 0);
	pool.size = size;
	pool.workers = xcalloc((size_t) size, sizeof(Worker));
	for (i = 0; i < size; i++)
		cond_init_mono(&pool.workers[i].cond);
	for (i = 0; i < size; i++)
	{
		pthread_attr_t attr;

		pool.workers[i].id = i + 1;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 512 * 1024);
		if (pthread_create(&pool.workers[i].thread, &attr, worker_main, &pool.workers[i]) != 0)
		{
			pthread_attr_destroy(&attr);
			shim_log("could not start database worker threads");
			return false;
		}
		pthread_attr_destroy(&attr);
	}
	return true;
}

void
pool_cancel_all(void)
{
	int			i;

	pthread_mutex_lock(&pool.lock);
	pool.cancelling = true;
	for (i = 0; i < pool.size; i++)
		atomic_store(&pool.workers[i].cancel, 1);
	wake_all_workers();
	pthread_mutex_unlock(&pool.lock);
}

/* Let the workers finish the queue, then close every connection. */
void
pool_stop(void)
{
	int			i;

	pthread_mutex_lock(&pool.lock);
	pool.stopping = true;
	wake_all_workers();
	pthread_mutex_unlock(&pool.lock);
	for (i = 0; i < pool.size; i++)
		pthread_join(pool.workers[i].thread, NULL);
	for (i = 0; i < pool.size; i++)
		pthread_cond_destroy(&pool.workers[i].cond);
	free(pool.workers);
	pool.workers = NULL;
}

void
pool_snapshot(int *in_use, int *open, int *queued)
{
	pthread_mutex_lock(&pool.lock);
	*in_use = pool.in_use;
	*open = pool.open;
	*queued = pool.queued;
	pthread_mutex_unlock(&pool.lock);
}
