/*
 * shim.h -- mtmcp-http: the Streamable HTTP shim in front of mtmcp
 *
 * The shim owns no tenant logic.  Every MCP message becomes exactly one SQL
 * call (mtmcp.mcp_http and friends); the database decides identity, tenant,
 * session and status.  The shim only speaks HTTP: header checks, status and
 * header mapping, event streams, and moving bytes between sockets and
 * PostgreSQL connections.
 *
 * Modules (one concern each):
 *   main.c     flags and environment, startup, signals, graceful shutdown
 *   http.c     libmicrohttpd callbacks: routing, header checks, responses
 *   pool.c     the database workers: one thread per PGconn, a fair job
 *              queue (per bearer-token caps, round robin between tokens),
 *              live NOTICE forwarding, cancellation, reconnects
 *   sse.c      event streams: buffered SSE bodies and the per-session
 *              registry of open GET streams
 *   mrtr.c     server-to-client requests for 2025 session clients, made
 *              from the database's input_required results
 *   notify.c   the LISTEN connection (direct, never through a transaction
 *              pooler): resource update notifications
 *   metrics.c  Prometheus counters, histogram and gauges
 *   util.c     growable buffers, clock, logging, random keys
 */
#ifndef MTMCP_SHIM_H
#define MTMCP_SHIM_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

/* one version source: mtmcp.control's default_version, passed by src/shim/shim.mk */
#ifndef SHIM_VERSION
#error "SHIM_VERSION must come from the build (src/shim/shim.mk)"
#endif

/*
 * What --reset-query can be set to: an operator whose pool role runs code
 * other than mtmcp's, or who wants a second layer, can have the shim clear
 * session state after every call (settings, temporary tables, sequence
 * state, LISTENs, advisory locks).  It is not the default: the database
 * keeps calls apart on a shared connection by itself -- every handler runs
 * as a security-restricted operation (no temporary objects, LISTEN, held
 * cursors or role changes), under the sandbox (no PREPARE, advisory locks
 * or sequence positions), and whatever it set is discarded when it
 * returns, SET included -- and behind a transaction-mode pooler a reset
 * reaches whichever server connection the pooler picks anyway.  Measured,
 * this statement cost about a tenth of the database's time per call.
 */
#define SHIM_SUGGESTED_RESET "RESET ALL; SET client_min_messages = notice; DISCARD TEMP; " \
	"DISCARD SEQUENCES; UNLISTEN *; SELECT pg_advisory_unlock_all()"

/* MCP protocol revisions whose MCP-Protocol-Version header we accept. */
extern const char *const shim_protocol_versions[];
/* Every revision this endpoint serves, 2026-07-28 (stateless) first. */
extern const char *const shim_all_versions[];
#define SHIM_STATELESS_VERSION "2026-07-28"

/* ---------------------------------------------------------------- config */

typedef struct ShimList
{
	int			n;
	char	  **items;
} ShimList;

typedef struct ShimConfig
{
	char	   *db;				/* libpq conninfo or URL ("" = libpq defaults) */
	char	   *listen_db;		/* the LISTEN connection's conninfo (NULL = db) */
	char	   *listen;			/* host:port as given */
	int			port;			/* the bound port (after bind) */
	char	   *mcp_path;		/* "/mcp" */
	int			pool;			/* database connections (= worker threads) */
	int			max_connections;	/* HTTP connections (= HTTP threads) */
	int			max_per_ip;		/* HTTP connections from one address (0 = any) */
	int			request_timeout_s;	/* headers and body must arrive within this */
	size_t		max_body;		/* bytes */
	int			queue_timeout_ms;	/* wait for a free database connection */
	int			key_max_inflight;	/* queued + running calls per bearer token */
	int			key_max_running;	/* running calls per bearer token */
	int			keepalive_s;	/* SSE comment interval */
	int			sse_retry_ms;	/* the SSE retry field: reconnection delay */
	int			input_timeout_s;	/* wait for a client's answers to input requests */
	int			idle_timeout_s; /* idle HTTP keep-alive connections */
	int			shutdown_grace_s;
	ShimList	allowed_origins;	/* "*" = any */
	ShimList	allowed_hosts;	/* "*" = any */
	ShimList	authorization_servers;
	ShimList	scopes;
	char	   *required_scope; /* for the 403 insufficient_scope challenge */
	char	   *reset_query;	/* run after every call ("" = none, the default) */
	char	   *statements;		/* "prepared" (named, per connection) or "unnamed" (a transaction pooler) */
	char	   *resource_url;	/* public URL of the MCP endpoint */
	char	   *resource_metadata_url;	/* derived from resource_url */
	char	   *metadata_json;	/* the RFC 9728 document, prebuilt */
	char	  **metadata_paths; /* paths that serve it, NULL-terminated */
} ShimConfig;

extern ShimConfig shim_config;

char	   *shim_metadata_json(const char *required_scope);	/* RFC 9728 document */

/* Set once by main on SIGTERM/SIGINT; read everywhere. */
extern atomic_int shim_draining;

/* ---------------------------------------------------------------- util.c */

typedef struct StrBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} StrBuf;

void		sb_init(StrBuf *sb);
void		sb_free(StrBuf *sb);
void		sb_reserve(StrBuf *sb, size_t extra);
void		sb_append(StrBuf *sb, const char *s, size_t n);
void		sb_puts(StrBuf *sb, const char *s);
void		sb_printf(StrBuf *sb, const char *fmt,...) __attribute__((format(printf, 2, 3)));
void		sb_json_string(StrBuf *sb, const char *s);
void		sb_json_string_array(StrBuf *sb, const ShimList *l);
char	   *sb_steal(StrBuf *sb);

void	   *xmalloc(size_t n);
void	   *xcalloc(size_t n, size_t size);
char	   *xstrdup(const char *s);
char	   *xstrndup(const char *s, size_t n);

double		now_mono(void);		/* seconds, CLOCK_MONOTONIC */
void		abstime_after(struct timespec *ts, double seconds);	/* CLOCK_MONOTONIC */
void		cond_init_mono(pthread_cond_t *cond);

void		shim_log(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		random_hex(char *out, size_t nbytes);	/* out: 2*nbytes+1 */
void		safe_label(char *out, size_t outsz, const char *in);	/* printable, for logs */
void		safe_text(char *out, size_t outsz, const char *in); /* same, spaces kept */
bool		peer_closed(int fd);	/* the HTTP client closed or reset its socket */

/* ---------------------------------------------------------------- sse.c */

typedef struct SseStream SseStream;

SseStream  *sse_new(const char *session_id, bool greet);	/* refs = 1 */
void		sse_ref(SseStream *s);
void		sse_unref(SseStream *s);
void		sse_set_priming(SseStream *s);	/* open with a priming event (2025-11-25+) */
void		sse_set_session(SseStream *s, const char *session_id);	/* for resumption */
bool		sse_push_message(SseStream *s, const char *json);	/* false: dropped */
/* Last-Event-ID on a GET: replay (and follow); NULL: unknown here.  *get_stream: register it */
SseStream  *sse_resume(const char *session_id, const char *last_event_id, bool *get_stream);
void		sse_finish(SseStream *s);
void		sse_watch_client(SseStream *s, int fd);	/* end the stream when fd's peer goes */
bool		sse_abandoned(SseStream *s);	/* the client left before the end */
ssize_t		sse_reader(void *cls, uint64_t pos, char *buf, size_t max);
void		sse_reader_free(void *cls);	/* drops the reader's ref */
char	   *sse_take_all(SseStream *s, size_t *len);	/* a finished stream's bytes, or NULL */

/* subscriptions/listen streams (2026-07-28), by the database's listen key */
#define LISTEN_TOOLS 1u
#define LISTEN_PROMPTS 2u
#define LISTEN_RESOURCES 4u
void		sse_listen_register(SseStream *s, const char *listen_key, const char *subscription_id,
								unsigned kinds);
int			sse_listen_deliver(const char *listen_key, const char *kind);

/* GET streams, by session id */
void		sse_register(SseStream *s);
int			sse_deliver(const char *session_id, const char *json);	/* 1 if delivered */
int			sse_close_session(const char *session_id);
void		sse_finish_all(bool include_post);
int			sse_open_count(void);

/* ---------------------------------------------------------------- pool.c */

typedef enum JobKind
{
	JOB_RPC,					/* mtmcp.mcp_http */
	JOB_END,					/* mtmcp.mcp_http_end */
	JOB_CHECK,					/* mtmcp.mcp_http_check */
	JOB_PING,					/* SELECT 1 */
	JOB_UNPARSABLE,				/* mtmcp.mcp_http_unparsable: body = the parser's complaint */
	JOB_FINDINGS				/* mtmcp.finding_counts() as metric lines (/metrics) */
} JobKind;

typedef enum JobOutcome
{
	OUT_PENDING,
	OUT_OK,						/* the database answered: http_status is set */
	OUT_DB_DOWN,				/* no connection, or it broke: 503 */
	OUT_BUSY,					/* no connection free within the queue timeout: 503 */
	OUT_BAD_INPUT,				/* the server refused the request text: 400 */
	OUT_DB_ERROR,				/* any other SQL error: 500 */
	OUT_KEY_BUSY,				/* this token is over its share of the queue: 429 */
	OUT_CLIENT_GONE				/* the HTTP client left; the call was cancelled */
} JobOutcome;

typedef struct Job
{
	/* inputs, owned by the job */
	JobKind		kind;
	char	   *token;
	char	   *body;
	char	   *session_id;
	char	   *rpc_id;			/* JSON text of the request id, for error events */
	char		notify_key[33];
	SseStream  *stream;			/* non-NULL: forward live notifications here */
	char	   *headers;		/* the MCP request headers as JSON (2026-07-28), or NULL */
	bool		bridge;			/* a session call: input_required goes to mrtr.c */
	bool		conducted;		/* a later round run by mrtr.c: it finishes the stream */
	uint64_t	key;			/* fairness key: hash of the token (0: exempt) */
	atomic_int	cancel;			/* the client left: cancel the running query */

	/* results; read them only once job_wait returned */
	JobOutcome	outcome;
	int			http_status;
	char	   *out_session_id;
	char	   *response;

	/* private */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int			refs;
	bool		done;
	bool		has_events;
	double		deadline;		/* monotonic: give up waiting for a worker */
	int			client_fd;		/* run in place: the HTTP client's socket, watched (else -1) */
	double		next_client_check;	/* monotonic: when to look at client_fd again */
	struct KeySlot *slot;		/* the fairness key's queue (pool lock) */
	struct Job *next;
} Job;

bool		pool_start(int size);
void		pool_stop(void);	/* after the HTTP side has stopped */
void		pool_cancel_all(void);	/* cancel running queries (hard stop) */
Job		   *job_new(JobKind kind, const char *token, const char *body, const char *session_id);
bool		job_submit(Job *job, int timeout_ms);	/* false: refused (OUT_KEY_BUSY) */
/* run it on this thread if a connection is idle and nothing waits (else false: submit it) */
bool		job_run_here(Job *job, int client_fd);
/* until done (or a first event); false: the client at client_fd (-1: none) left */
bool		job_wait(Job *job, bool until_event, int client_fd);
void		job_unref(Job *job);
void		pool_snapshot(int *in_use, int *open, int *queued);	/* one consistent reading */
char	   *pool_db_scope(void);	/* mtmcp.access_scope of the database; NULL: not read yet */

/* shared with notify.c */
PGconn	   *db_connect(const char *conninfo, const char *application_name, char *err, size_t errsz);
PGresult   *db_exec(PGconn *conn, const char *sql, int nparams, const char *const *values,
					atomic_int *cancel_flag);

/* ---------------------------------------------------------------- mrtr.c */

struct json_object;
bool		mrtr_is_input_required(const char *response);
void		mrtr_start(Job *job);	/* a worker hands a session call's input requests over */
bool		mrtr_deliver(const char *session_id, struct json_object *msg);	/* a client's answer */

/* ---------------------------------------------------------------- notify.c */

void		notify_start(void);
void		notify_stop(void);

/* ---------------------------------------------------------------- metrics.c */

void		metrics_request(const char *method, const char *rpc, int status, double seconds,
							bool observe_latency);
void		metrics_count(const char *name, long delta);
char	   *metrics_render(void);
const char *rpc_label(const char *method);	/* bounded label set */

/* ---------------------------------------------------------------- http.c */

bool		http_start(int listen_fd, bool ipv6);
bool		http_quiesce(void);
void		http_stop(void);
int			http_in_flight(void);

#endif							/* MTMCP_SHIM_H */
