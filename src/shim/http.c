/*
 * http.c -- the HTTP side: libmicrohttpd callbacks, routing, header checks,
 *           and the mapping from the database's answer to an HTTP response
 *
 * Threading.  libmicrohttpd runs in thread-per-connection mode: every HTTP
 * connection has its own thread (at most --max-connections of them), which
 * may block -- waiting for its database job (pool.c) or, inside an event
 * stream's content reader, for the next event (sse.c).  A blocked
 * connection therefore never delays another one, and database connections
 * are a separate, smaller pool that requests borrow only for the length of
 * their SQL call.  (An event-loop mode would need every wait below turned
 * into suspend/resume; the limits that follow are what keep threads cheap.)
 *
 * Connection limits, so that slow or half-open connections cannot lock
 * others out:
 *   - --max-connections in all, --max-connections-per-ip from one address
 *     (libmicrohttpd refuses the rest at accept);
 *   - --request-timeout: a request's headers and body must have arrived
 *     this long after the connection opened (or after the previous response
 *     on a kept-alive connection, plus --idle-timeout).  This is a deadline,
 *     not an idle timer: a client dripping a byte at a time is cut off too.
 *     A reaper thread enforces it by shutting the socket down;
 *   - --idle-timeout: libmicrohttpd closes connections with no traffic;
 *   - a client that goes away while its call waits or runs is noticed (its
 *     socket is watched): the call is withdrawn from the queue, or its query
 *     cancelled, and the database connection freed.
 *
 * Routes:
 *   POST   /mcp      one JSON-RPC message -> mtmcp.mcp_http -> JSON, 202, or
 *                    an SSE stream (tools/call, resources/read, prompts/get);
 *                    a JSON array (2025-03-26 batch) -> one call per message,
 *                    the answers in one array; a client's JSON-RPC response
 *                    -> mtmcp.mcp_http (202), then to the call waiting for
 *                    it (mrtr.c)
 *   GET    /mcp      mtmcp.mcp_http_check, then an SSE stream that holds no
 *                    database connection (resource update notifications);
 *                    with Last-Event-ID, a replay first (sse.c)
 *   DELETE /mcp      mtmcp.mcp_http_end; closes the session's GET streams
 *
 * Revisions: a POST whose MCP-Protocol-Version header is 2026-07-28, or
 * whose params._meta carries io.modelcontextprotocol/protocolVersion, is
 * stateless (no session in or out; its MCP headers checked here and passed
 * to the database); anything else is the session protocol (2025-11-25,
 * 2025-06-18, 2025-03-26).  GET and DELETE are session-only (405 for
 * 2026-07-28).
 *   OPTIONS /mcp     CORS preflight, for allowed origins only
 *   GET    /.well-known/oauth-protected-resource[/<path>]  RFC 9728 metadata
 *   GET    /healthz  SELECT 1 through the pool
 *   GET    /metrics  Prometheus text
 *
 * Checks on /mcp (and /metrics), in this order, before any SQL: Host and
 * Origin against the allow-lists (DNS rebinding, 403), MCP-Protocol-Version
 * for GET and DELETE (400, or 405 for 2026-07-28), then for POST the Accept
 * header (406) and Content-Type (415); with the body, MCP-Protocol-Version
 * against _meta and the 2026-07-28 headers against the body (-32020, 400),
 * an unknown version (-32022, 400).  A
 * body over --max-body is answered 413 whatever its framing: at once if
 * the client sent "Expect: 100-continue" (it then sends no body); otherwise
 * the body is read and discarded (up to DISCARD_MAX beyond the limit) and
 * 413 answered at its end, so that the client, still sending, reads a 413
 * rather than a reset connection.  A body that does not parse as JSON is
 * logged and counted (event "requests_unparsable").  Accept matching follows
 * HTTP media ranges, so wildcard
 * ranges (any type, or any application subtype) count; an absent Accept
 * header does not.
 *
 * Nothing here decides about tenants, tokens or sessions: the bearer token,
 * the session header and the body go to the database untouched, and its
 * http_status is the answer.  Tokens, header values and bodies are never
 * logged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <json.h>
#include <microhttpd.h>

#include "shim.h"

typedef enum Route
{
	R_MCP,
	R_HEALTH,
	R_METRICS,
	R_METADATA,
	R_NOTFOUND
} Route;

typedef struct Req
{
	Route		route;
	const char *method;			/* POST, GET, DELETE or OTHER (metrics) */
	char		method_log[16];
	char		path_log[96];
	double		start;
	StrBuf		body;
	bool		too_large;
	size_t		discarded;		/* body bytes read and dropped (too large) */
	int			fd;				/* the client's socket */
	bool		queued;			/* a response has been queued */
	int			status;
	const char *rpc;			/* metrics label */
	bool		stream;			/* a GET event stream (no latency sample) */
	const char *cors_origin;	/* an allowed Origin to echo */
} Req;

static struct MHD_Daemon *daemon_handle;
static int	in_flight;

/* An oversized body is read and dropped up to this much past --max-body; beyond it, the connection closes. */
#define DISCARD_MAX ((size_t) 64 * 1024 * 1024)

/* One open HTTP connection, for the request deadline (see the file header). */
typedef struct Conn
{
	int			fd;
	double		deadline;		/* monotonic; 0: none (a request is being served) */
	struct Conn *prev,
			   *next;
} Conn;

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static Conn *conns;
static pthread_t reaper;
static bool reaper_started;
static atomic_int reaper_stop;

static const char *const sse_methods[] = {"tools/call", "resources/read", "prompts/get", NULL};

/* ---------------------------------------------------------------- connection deadlines */

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	Conn	   *k;

	(void) cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
	{
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		k = xcalloc(1, sizeof(Conn));
		k->fd = ci ? ci->connect_fd : -1;
		k->deadline = shim_config.request_timeout_s > 0 ? now_mono() + shim_config.request_timeout_s : 0;
		pthread_mutex_lock(&conns_lock);
		k->next = conns;
		if (conns)
			conns->prev = k;
		conns = k;
		pthread_mutex_unlock(&conns_lock);
		*socket_context = k;
		return;
	}
	/* closed: libmicrohttpd closes the socket only after this returns */
	k = *socket_context;
	if (k == NULL)
		return;
	pthread_mutex_lock(&conns_lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&conns_lock);
	free(k);
	*socket_context = NULL;
}

/* Set (seconds from now) or clear (0) the connection's request deadline. */
static void
conn_deadline(struct MHD_Connection *c, double seconds)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	Conn	   *k = ci ? ci->socket_context : NULL;

	if (k == NULL)
		return;
	pthread_mutex_lock(&conns_lock);
	k->deadline = seconds > 0 ? now_mono() + seconds : 0;
	pthread_mutex_unlock(&conns_lock);
}

/* Cut off connections whose request did not arrive in time. */
static void *
reaper_main(void *arg)
{
	double		last_logged = 0;
	long		unlogged = 0;

	(void) arg;
	while (!atomic_load(&reaper_stop))
	{
		struct timespec ts = {0, 250 * 1000000L};
		double		now = now_mono();
		Conn	   *k;
		int			n = 0;

		nanosleep(&ts, NULL);
		pthread_mutex_lock(&conns_lock);
		for (k = conns; k != NULL; k = k->next)
			if (k->deadline > 0 && now > k->deadline && k->fd >= 0)
			{
				(void) shutdown(k->fd, SHUT_RDWR);	/* its thread sees EOF and closes it */
				k->deadline = 0;
				n++;
			}
		pthread_mutex_unlock(&conns_lock);
		if (n > 0)
			metrics_count("connections_request_timeout", n);
		unlogged += n;
		/* a client can cause these at will: one line per 10 seconds at most */
		if (unlogged > 0 && now - last_logged >= 10.0)
		{
			shim_log("closed %ld connection%s whose request did not arrive within %d s (--request-timeout)",
					 unlogged, unlogged == 1 ? "" : "s", shim_config.request_timeout_s);
			unlogged = 0;
			last_logged = now;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- helpers */

static bool
list_has(const ShimList *l, const char *v)
{
	int			i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->items[i], "*") == 0 || strcasecmp(l->items[i], v) == 0)
			return true;
	return false;
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Does the Accept header admit this media type?  (Ranges with q=0 do not.) */
static bool
accepts(const char *accept, const char *type)
{
	const char *slash = strchr(type, '/');
	size_t		major = (size_t) (slash - type);
	const char *p = accept;

	if (accept == NULL)
		return false;
	while (*p)
	{
		const char *end = p + strcspn(p, ",");
		const char *semi;
		const char *q;
		size_t		n;
		bool		zero = false;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		semi = memchr(p, ';', (size_t) (end - p));
		n = (size_t) ((semi ? semi : end) - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		for (q = semi; q != NULL && q < end; q = memchr(q + 1, ';', (size_t) (end - q - 1)))
		{
			const char *v = q + 1;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			if (end - v >= 2 && (v[0] == 'q' || v[0] == 'Q') && v[1] == '=')
			{
				double		qv = strtod(v + 2, NULL);

				zero = (qv <= 0.0);
			}
		}
		if (!zero &&
			((n == strlen(type) && strncasecmp(p, type, n) == 0) ||
			 (n == 3 && strncmp(p, "*/*", 3) == 0) ||
			 (n == major + 2 && strncasecmp(p, type, major + 1) == 0 && p[major + 1] == '*')))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

/* Is the Content-Type application/json (parameters such as charset allowed)? */
static bool
is_json_content_type(const char *ct)
{
	size_t		n;

	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == strlen("application/json") && strncasecmp(ct, "application/json", n) == 0;
}

/* MCP session ids are 1..256 visible ASCII characters (0x21-0x7E). */
static bool
valid_session_id(const char *s)
{
	size_t		n = 0;

	for (; s[n]; n++)
		if ((unsigned char) s[n] < 0x21 || (unsigned char) s[n] > 0x7e)
			return false;
	return n >= 1 && n <= 256;
}

/* The token of "Authorization: Bearer <token>", or NULL. */
static char *
bearer_token(struct MHD_Connection *c)
{
	const char *h = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	size_t		n;

	if (h == NULL)
		return NULL;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return NULL;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	n = strlen(h);
	while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	return n > 0 ? xstrndup(h, n) : NULL;
}

/* {"jsonrpc":"2.0","id":<id>,"error":{"code":..,"message":..[,"data":..]}} */
static char *
rpc_error(const char *id_json, int code, const char *message, const char *data_json)
{
	StrBuf		b;

	sb_init(&b);
	sb_printf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":%d,\"message\":",
			  id_json ? id_json : "null", code);
	sb_json_string(&b, message);
	if (data_json)
		sb_printf(&b, ",\"data\":%s", data_json);
	sb_puts(&b, "}}");
	return sb_steal(&b);
}

/* ---------------------------------------------------------------- responses */

static enum MHD_Result
send_response(struct MHD_Connection *c, Req *r, int status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (r->cors_origin)
	{
		MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->cors_origin);
		MHD_add_response_header(resp, "Access-Control-Expose-Headers",
								"Mcp-Session-Id, WWW-Authenticate");
		MHD_add_response_header(resp, "Vary", "Origin");
	}
	if (shim_draining)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, (unsigned) status, resp);
	MHD_destroy_response(resp);
	r->status = status;
	r->queued = true;
	conn_deadline(c, 0);		/* answering: no more request to wait for */
	return ret;
}

/* A response with a body (copied); ctype NULL for an empty body. */
static struct MHD_Response *
make_response(const char *body, const char *ctype)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(body ? strlen(body) : 0, (void *) (body ? body : ""),
										   MHD_RESPMEM_MUST_COPY);
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return resp;
}

static enum MHD_Result
send_body(struct MHD_Connection *c, Req *r, int status, const char *body, const char *ctype)
{
	return send_response(c, r, status, make_response(body, ctype));
}

static enum MHD_Result
send_json(struct MHD_Connection *c, Req *r, int status, const char *json)
{
	struct MHD_Response *resp = make_response(json, "application/json");

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return send_response(c, r, status, resp);
}

/* A JSON-RPC error body without an id (transport-level refusals). */
static enum MHD_Result
send_rpc_error(struct MHD_Connection *c, Req *r, int status, int code, const char *message,
			   const char *data_json)
{
	char	   *body = rpc_error(NULL, code, message, data_json);
	enum MHD_Result ret = send_json(c, r, status, body);

	free(body);
	return ret;
}

static enum MHD_Result
send_not_allowed(struct MHD_Connection *c, Req *r, const char *allow)
{
	struct MHD_Response *resp = make_response("method not allowed\n", "text/plain");

	MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	return send_response(c, r, 405, resp);
}

static enum MHD_Result
send_unavailable(struct MHD_Connection *c, Req *r, JobOutcome out, const char *id_json)
{
	struct MHD_Response *resp;
	char	   *body;
	int			status = 503;

	if (out == OUT_BAD_INPUT)
	{
		body = rpc_error(NULL, -32700, "Parse error", NULL);
		status = 400;
	}
	else if (out == OUT_KEY_BUSY)
	{
		body = rpc_error(id_json, -32029,
						 "Too many concurrent requests for this token; retry shortly",
						 "{\"retryAfter\":1,\"reason\":\"shim_queue_share\"}");
		status = 429;
	}
	else if (out == OUT_DB_ERROR)
	{
		body = rpc_error(id_json, -32603, "Internal error", NULL);
		status = 500;
	}
	else
		body = rpc_error(id_json, -32603,
						 shim_draining ? "Service unavailable: the server is shutting down"
						 : out == OUT_BUSY ? "Service busy: no database connection is free"
						 : "Service unavailable: the database cannot be reached", NULL);
	resp = make_response(body, "application/json");
	free(body);
	if (status == 503 || status == 429)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	return send_response(c, r, status, resp);
}

/* A string member of error.data, if it is made of the allowed characters only. */
static char *
data_word(json_object *data, const char *key, const char *allowed)
{
	json_object *v;
	const char *s;
	size_t		n;

	if (data == NULL || !json_object_object_get_ex(data, key, &v) ||
		!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	n = strlen(s);
	return (n > 0 && n <= 256 && strspn(s, allowed) == n) ? xstrdup(s) : NULL;
}

/*
 * What a 401/403 body says: error.data.reason (a plain word) and, if the
 * database names it, error.data.scope (the scope that would do).
 */
static void
auth_details(const char *body, char **reason, char **scope)
{
	json_object *root;
	json_object *v;
	json_object *data = NULL;

	*reason = *scope = NULL;
	if (body == NULL || (root = json_tokener_parse(body)) == NULL)
		return;
	if (json_object_object_get_ex(root, "error", &v) &&
		json_object_object_get_ex(v, "data", &data) &&
		json_object_is_type(data, json_type_object))
	{
		*reason = data_word(data, "reason",
							"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
		/* RFC 6749 scope-token characters, and spaces between tokens */
		*scope = data_word(data, "scope",
						   " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"
						   "abcdefghijklmnopqrstuvwxyz{|}~");
	}
	json_object_put(root);
}

/*
 * The WWW-Authenticate challenge (RFC 6750 section 3, RFC 9728 section 5.1).
 * reason is the database's refusal reason, NULL when unknown; scope the
 * scope it names, else --required-scope.
 */
/* The scope every token must carry: --required-scope, else the database's (NULL: none); free it. */
static char *
required_scope(void)
{
	char	   *s;

	if (shim_config.required_scope && *shim_config.required_scope)
		return xstrdup(shim_config.required_scope);
	s = pool_db_scope();
	if (s && (*s == '\0' || strspn(s, " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"
									 "abcdefghijklmnopqrstuvwxyz{|}~") != strlen(s)))
	{
		free(s);
		s = NULL;
	}
	return s;
}

static char *
www_authenticate(int status, const char *reason, const char *scope, bool had_token)
{
	StrBuf		b;
	char	   *own_scope = scope ? NULL : required_scope();
	const char *rs = scope ? scope : own_scope;

	sb_init(&b);
	if (status == 403 && reason && strcmp(reason, "insufficient_scope") == 0)
	{
		sb_puts(&b, "Bearer error=\"insufficient_scope\"");
		if (rs)
			sb_printf(&b, ", scope=\"%s\"", rs);
		sb_printf(&b, ", resource_metadata=\"%s\"", shim_config.resource_metadata_url);
	}
	else if (status == 401)
	{
		sb_printf(&b, "Bearer resource_metadata=\"%s\"", shim_config.resource_metadata_url);
		/* no token at all: no error code (RFC 6750 section 3.1) */
		if (reason ? strcmp(reason, "missing_token") != 0 : had_token)
		{
			sb_puts(&b, ", error=\"invalid_token\"");
			if (reason)
				sb_printf(&b, ", error_description=\"%s\"", reason);
		}
		if (rs)
			sb_printf(&b, ", scope=\"%s\"", rs);
	}
	else if (reason)
		sb_printf(&b, "Bearer error=\"invalid_token\", error_description=\"%s\", resource_metadata=\"%s\"",
				  reason, shim_config.resource_metadata_url);
	else
		sb_printf(&b, "Bearer resource_metadata=\"%s\"", shim_config.resource_metadata_url);
	free(own_scope);
	return sb_steal(&b);
}

/* 401/403 with its challenge; body is the database's, or one of ours. */
static enum MHD_Result
send_auth_refusal(struct MHD_Connection *c, Req *r, int status, const char *body, bool had_token)
{
	struct MHD_Response *resp;
	char	   *reason;
	char	   *scope;
	char	   *challenge;
	char	   *own = NULL;

	auth_details(body, &reason, &scope);
	challenge = www_authenticate(status, reason, scope, had_token);

	if (body == NULL)
	{
		char		data[32];

		snprintf(data, sizeof(data), "{\"status\":%d}", status);
		own = rpc_error(NULL, -32001, status == 401 ? "Unauthorized" : "Forbidden", data);
	}
	resp = make_response(body ? body : own, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	free(own);
	free(challenge);
	free(reason);
	free(scope);
	return send_response(c, r, status, resp);
}

/* Done with a database job: wipe the caller's token from memory, drop the job. */
static void
finish_job(Job *job, char *token)
{
	if (token)
	{
		explicit_bzero(token, strlen(token));
		free(token);
	}
	job_unref(job);
}

/*
 * 429 (over the tenant's rate limit or calls in flight) or 503 (a router's
 * tenant moving or shard down): Retry-After from error.data.retryAfter.
 */
static enum MHD_Result
send_rate_limited(struct MHD_Connection *c, Req *r, int status, const char *body)
{
	struct MHD_Response *resp = make_response(body, "application/json");
	json_object *root = body ? json_tokener_parse(body) : NULL;
	json_object *err,
			   *data,
			   *retry;

	if (root && json_object_object_get_ex(root, "error", &err) &&
		json_object_object_get_ex(err, "data", &data) &&
		json_object_object_get_ex(data, "retryAfter", &retry) &&
		json_object_is_type(retry, json_type_int))
	{
		char		buf[24];

		snprintf(buf, sizeof(buf), "%d", json_object_get_int(retry));
		MHD_add_response_header(resp, "Retry-After", buf);
	}
	json_object_put(root);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return send_response(c, r, status, resp);
}

/* A bare status from mcp_http_check / mcp_http_end, as an HTTP answer. */
static enum MHD_Result
send_status_only(struct MHD_Connection *c, Req *r, int status, bool had_token)
{
	switch (status)
	{
		case 401:
		case 403:
			return send_auth_refusal(c, r, status, NULL, had_token);
		case 400:
			return send_rpc_error(c, r, 400, -32000,
								  "Bad Request: a valid Mcp-Session-Id header is required", NULL);
		case 404:
			return send_rpc_error(c, r, 404, -32001, "Session not found", NULL);
		default:
			return send_body(c, r, status, NULL, NULL);
	}
}

/* The headers of every event stream answer. */
static void
stream_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
}

/* An event stream whose every event is known: sent as one body (takes body). */
static enum MHD_Result
send_finished_stream(struct MHD_Connection *c, Req *r, char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);

	if (resp == NULL)
	{
		free(body);
		return MHD_NO;
	}
	stream_headers(resp);
	return send_response(c, r, 200, resp);
}

/* An SSE response reading from the stream (takes one reference to it). */
static enum MHD_Result
send_stream(struct MHD_Connection *c, Req *r, SseStream *s)
{
	struct MHD_Response *resp;

	sse_ref(s);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_reader, s,
											 sse_reader_free);
	if (resp == NULL)
	{
		sse_unref(s);
		return MHD_NO;
	}
	stream_headers(resp);
	return send_response(c, r, 200, resp);
}

/* ---------------------------------------------------------------- /mcp */

/* Host and Origin (DNS rebinding protection); false when answered 403. */
static bool
check_host_origin(struct MHD_Connection *c, Req *r)
{
	const char *host = header(c, MHD_HTTP_HEADER_HOST);
	const char *origin = header(c, "Origin");

	if (origin != NULL && !list_has(&shim_config.allowed_origins, origin))
	{
		send_rpc_error(c, r, 403, -32000, "Forbidden: origin not allowed", NULL);
		return false;
	}
	if (host == NULL || !list_has(&shim_config.allowed_hosts, host))
	{
		send_rpc_error(c, r, 403, -32000, "Forbidden: host not allowed", NULL);
		return false;
	}
	r->cors_origin = origin;
	return true;
}

/* A header's value without surrounding optional whitespace (RFC 9110 5.5), or NULL; free it. */
static char *
header_trimmed(struct MHD_Connection *c, const char *name)
{
	const char *v = header(c, name);
	size_t		n;

	if (v == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return xstrndup(v, n);
}

static bool
known_version(const char *v, const char *const *list)
{
	int			i;

	for (i = 0; v && list[i]; i++)
		if (strcmp(v, list[i]) == 0)
			return true;
	return false;
}

/* The data of an UnsupportedProtocolVersionError: {"supported": [...], "requested": v}. */
static char *
unsupported_version_data(const char *requested)
{
	StrBuf		b;
	int			i;

	sb_init(&b);
	sb_puts(&b, "{\"supported\":[");
	for (i = 0; shim_all_versions[i]; i++)
		sb_printf(&b, "%s\"%s\"", i ? "," : "", shim_all_versions[i]);
	sb_puts(&b, "]");
	if (requested)
	{
		sb_puts(&b, ",\"requested\":");
		sb_json_string(&b, requested);
	}
	sb_puts(&b, "}");
	return sb_steal(&b);
}

/*
 * GET and DELETE: MCP-Protocol-Version, when present, must be one we speak
 * (400); 2026-07-28 has no GET stream and no session to delete (405, Allow:
 * POST).  False when answered.
 */
static bool
check_protocol_version(struct MHD_Connection *c, Req *r)
{
	char	   *v = header_trimmed(c, "MCP-Protocol-Version");
	char	   *data;

	if (v == NULL || known_version(v, shim_protocol_versions))
	{
		free(v);
		return true;
	}
	if (strcmp(v, SHIM_STATELESS_VERSION) == 0)
	{
		struct MHD_Response *resp = make_response(
			"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
			"\"message\":\"Method Not Allowed: 2026-07-28 is stateless; POST requests only\"}}",
			"application/json");

		free(v);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
		send_response(c, r, 405, resp);
		return false;
	}
	data = unsupported_version_data(v);
	send_rpc_error(c, r, 400, -32022, "Bad Request: unsupported MCP-Protocol-Version", data);
	free(data);
	free(v);
	return false;
}

/* The session header: absent (NULL, ok) or well-formed; false when answered. */
static bool
session_header(struct MHD_Connection *c, Req *r, const char **out)
{
	const char *s = header(c, "Mcp-Session-Id");

	*out = NULL;
	if (s == NULL)
		return true;
	if (!valid_session_id(s))
	{
		send_rpc_error(c, r, 400, -32000, "Bad Request: invalid Mcp-Session-Id header", NULL);
		return false;
	}
	*out = s;
	return true;
}

/* First call of a POST: everything that can be refused before the body. */
static enum MHD_Result
post_headers(struct MHD_Connection *c, Req *r)
{
	const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *session;

	/* MCP-Protocol-Version is checked with the body (post_message): it may have to agree with it */
	if (!accepts(header(c, MHD_HTTP_HEADER_ACCEPT), "application/json") ||
		!accepts(header(c, MHD_HTTP_HEADER_ACCEPT), "text/event-stream"))
		return send_rpc_error(c, r, 406, -32000,
							  "Not Acceptable: Accept must list application/json and text/event-stream", NULL);
	if (!is_json_content_type(header(c, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return send_rpc_error(c, r, 415, -32000,
							  "Unsupported Media Type: Content-Type must be application/json", NULL);
	if (cl != NULL && strtoull(cl, NULL, 10) > shim_config.max_body)
	{
		const char *expect = header(c, MHD_HTTP_HEADER_EXPECT);

		/* it waits for 100 Continue: answering now means no body is sent */
		if ((expect != NULL && strcasecmp(expect, "100-continue") == 0) ||
			strtoull(cl, NULL, 10) > shim_config.max_body + DISCARD_MAX)
			return send_rpc_error(c, r, 413, -32000, "Payload Too Large", NULL);
		r->too_large = true;	/* read and drop it; 413 at its end */
	}
	(void) session_header(c, r, &session);	/* answers 400 itself */
	return MHD_YES;				/* if nothing was answered, read the body */
}

static bool
is_sse_method(const char *m)
{
	int			i;

	for (i = 0; m && sse_methods[i]; i++)
		if (strcmp(m, sse_methods[i]) == 0)
			return true;
	return false;
}

/*
 * A body that is not JSON: 400 -32700, and a trace -- a log line, the event
 * counter and, when a bearer token came with it, an audit row of the
 * verified tenant (mtmcp.mcp_http_unparsable: the parser's complaint and the
 * size, never the body; a token that does not verify is refused as usual).
 */
static enum MHD_Result
unparsable(struct MHD_Connection *c, Req *r, const char *why)
{
	char		reason[96];
	char	   *token = bearer_token(c);
	int			status = 400;

	safe_text(reason, sizeof(reason), why ? why : "unknown");
	metrics_count("requests_unparsable", 1);
	shim_log("POST %s: body of %zu bytes is not JSON (%s); %s", r->path_log, r->body.len, reason,
			 token ? "a bearer token was present" : "no bearer token");
	if (token)
	{
		const char *session = NULL;
		char		size[24];
		Job		   *job;

		(void) session_header(c, r, &session);
		job = job_new(JOB_UNPARSABLE, token, reason, session);
		snprintf(size, sizeof(size), "%zu", r->body.len);
		job->rpc_id = xstrdup(size);
		if (job_submit(job, shim_config.queue_timeout_ms) && job_wait(job, false, r->fd) &&
			job->outcome == OUT_OK && (job->http_status == 401 || job->http_status == 403))
			status = job->http_status;
		finish_job(job, token);
		if (status != 400)
			return send_auth_refusal(c, r, status, NULL, true);
	}
	return send_rpc_error(c, r, 400, -32700, "Parse error", NULL);
}

/* The client left while its call waited or ran: no answer, close the connection. */
static enum MHD_Result
client_gone(Req *r)
{
	r->status = 499;			/* nginx's "client closed request", for the log line */
	return MHD_NO;
}

/* ---------------------------------------------------------------- 2026-07-28 headers (SEP-2243) */

/* Strict base64 (RFC 4648 section 4, padding required); NULL if invalid.  *len: bytes. */
static char *
base64_decode(const char *in, size_t n, size_t *len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char	   *out;
	size_t		i,
				o = 0;

	if (n % 4 != 0)
		return NULL;
	out = xmalloc(n / 4 * 3 + 1);
	for (i = 0; i < n; i += 4)
	{
		int			v[4];
		int			k,
					pad = 0;

		for (k = 0; k < 4; k++)
		{
			const char *q;

			if (in[i + k] == '=' && i + 4 == n && k >= 2 && (k == 3 || in[i + 3] == '='))
			{
				v[k] = 0;
				pad++;
				continue;
			}
			q = in[i + k] ? strchr(alphabet, in[i + k]) : NULL;
			if (q == NULL || pad > 0)
			{
				free(out);
				return NULL;
			}
			v[k] = (int) (q - alphabet);
		}
		out[o++] = (char) ((v[0] << 2) | (v[1] >> 4));
		if (pad < 2)
			out[o++] = (char) (((v[1] & 15) << 4) | (v[2] >> 2));
		if (pad < 1)
			out[o++] = (char) (((v[2] & 3) << 6) | v[3]);
	}
	out[o] = '\0';
	*len = o;
	return out;
}

/* Is this well-formed UTF-8 without NUL and control characters other than tab? */
static bool
valid_text(const char *s, size_t n)
{
	size_t		i = 0;

	while (i < n)
	{
		unsigned char c = (unsigned char) s[i];
		int			extra;

		if (c < 0x80)
		{
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return false;
			i++;
			continue;
		}
		extra = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
		if (extra < 0 || c < 0xc2 || c > 0xf4 || i + (size_t) extra >= n)
			return false;
		for (int k = 1; k <= extra; k++)
			if (((unsigned char) s[i + k] & 0xc0) != 0x80)
				return false;
		i += (size_t) extra + 1;
	}
	return true;
}

/*
 * A header value as the client meant it: "=?base64?...?=" decoded (strictly:
 * invalid base64 or decoded bytes that are not text make it invalid, NULL
 * with *bad), anything else literal.  Free the result.
 */
static char *
header_value_decoded(const char *v, bool *bad)
{
	size_t		n = strlen(v);
	size_t		len;
	char	   *out;

	*bad = false;
	if (n >= 12 && strncasecmp(v, "=?base64?", 9) == 0 && strcmp(v + n - 2, "?=") == 0)
	{
		out = base64_decode(v + 9, n - 11, &len);
		if (out == NULL || !valid_text(out, len))
		{
			free(out);
			*bad = true;
			return NULL;
		}
		return out;
	}
	return xstrdup(v);
}

typedef struct ParamHeaders
{
	StrBuf		json;			/* "name": "value", ... */
	int			n;
	bool		bad;			/* a value that does not decode */
} ParamHeaders;

static enum MHD_Result
collect_param_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	ParamHeaders *ph = cls;
	char	   *name;
	char	   *dec;
	const char *v = value ? value : "";
	size_t		n;
	bool		bad;
	char	   *trimmed;

	(void) kind;
	if (key == NULL || strncasecmp(key, "Mcp-Param-", 10) != 0 || key[10] == '\0')
		return MHD_YES;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	trimmed = xstrndup(v, n);
	dec = header_value_decoded(trimmed, &bad);
	free(trimmed);
	if (bad)
	{
		ph->bad = true;
		return MHD_NO;
	}
	name = xstrdup(key + 10);
	for (char *q = name; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char) (*q - 'A' + 'a');
	sb_puts(&ph->json, ph->n++ ? "," : "");
	sb_json_string(&ph->json, name);
	sb_puts(&ph->json, ":");
	sb_json_string(&ph->json, dec);
	free(name);
	free(dec);
	return MHD_YES;
}

/* A -32020 HeaderMismatch refusal, 400, echoing the request's id. */
static enum MHD_Result
header_mismatch(struct MHD_Connection *c, Req *r, const char *id_json, const char *message)
{
	char	   *body = rpc_error(id_json, -32020, message, NULL);
	enum MHD_Result ret = send_json(c, r, 400, body);

	free(body);
	metrics_count("requests_header_mismatch", 1);
	return ret;
}

static const char *
string_member(json_object *o, const char *key)
{
	json_object *v;

	if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) &&
		json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/*
 * A 2026-07-28 request: the standard headers must agree with the body
 * (Mcp-Method with method, Mcp-Name with params.name or params.uri) and
 * Mcp-Param-* values must decode.  Sets *headers_json to what goes to the
 * database (the headers, decoded); false when answered (-32020, 400).
 */
static bool
stateless_headers(struct MHD_Connection *c, Req *r, json_object *root, const char *method,
				  const char *id_json, const char *version_header, char **headers_json)
{
	json_object *params = NULL;
	char	   *mh = header_trimmed(c, "Mcp-Method");
	char	   *nh = NULL;
	char	   *name_dec = NULL;
	const char *body_name = NULL;
	ParamHeaders ph;
	StrBuf		b;
	bool		bad;

	*headers_json = NULL;
	(void) json_object_object_get_ex(root, "params", &params);
	if (method != NULL)
	{
		if (mh == NULL || strcmp(mh, method) != 0)
		{
			free(mh);
			header_mismatch(c, r, id_json, mh == NULL ? "Header mismatch: the Mcp-Method header is required"
							: "Header mismatch: Mcp-Method does not match the body's method");
			return false;
		}
		if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0)
			body_name = string_member(params, "name");
		else if (strcmp(method, "resources/read") == 0)
			body_name = string_member(params, "uri");
	}
	nh = header_trimmed(c, "Mcp-Name");
	if (nh != NULL)
	{
		name_dec = header_value_decoded(nh, &bad);
		if (bad)
		{
			free(mh);
			free(nh);
			header_mismatch(c, r, id_json, "Header mismatch: the Mcp-Name header is not valid base64");
			return false;
		}
	}
	if (body_name != NULL && (name_dec == NULL || strcmp(name_dec, body_name) != 0))
	{
		free(mh);
		free(nh);
		header_mismatch(c, r, id_json, name_dec == NULL ? "Header mismatch: the Mcp-Name header is required"
						: "Header mismatch: Mcp-Name does not match the body");
		free(name_dec);
		return false;
	}

	sb_init(&ph.json);
	ph.n = 0;
	ph.bad = false;
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_param_header, &ph);
	if (ph.bad)
	{
		sb_free(&ph.json);
		free(mh);
		free(nh);
		free(name_dec);
		header_mismatch(c, r, id_json, "Header mismatch: an Mcp-Param header value is not valid base64");
		return false;
	}
	sb_init(&b);
	sb_puts(&b, "{");
	if (version_header)
	{
		sb_puts(&b, "\"mcp-protocol-version\":");
		sb_json_string(&b, version_header);
		sb_puts(&b, ",");
	}
	if (mh)
	{
		sb_puts(&b, "\"mcp-method\":");
		sb_json_string(&b, mh);
		sb_puts(&b, ",");
	}
	if (name_dec)
	{
		sb_puts(&b, "\"mcp-name\":");
		sb_json_string(&b, name_dec);
		sb_puts(&b, ",");
	}
	sb_puts(&b, "\"mcp-param\":{");
	if (ph.json.len)
		sb_append(&b, ph.json.data, ph.json.len);
	sb_puts(&b, "}}");
	*headers_json = sb_steal(&b);
	sb_free(&ph.json);
	free(mh);
	free(nh);
	free(name_dec);
	return true;
}

/* ---------------------------------------------------------------- POST */

/* Does params._meta carry any io.modelcontextprotocol/ key (the database then judges it stateless)? */
static bool
has_protocol_meta(json_object *root)
{
	json_object *params,
			   *meta;

	if (!json_object_object_get_ex(root, "params", &params) ||
		!json_object_object_get_ex(params, "_meta", &meta) || !json_object_is_type(meta, json_type_object))
		return false;
	json_object_object_foreach(meta, key, val)
	{
		(void) val;
		if (strncmp(key, "io.modelcontextprotocol/", 24) == 0)
			return true;
	}
	return false;
}

/* Did the request ask for progress notifications (params._meta.progressToken)? */
static bool
wants_progress(json_object *root)
{
	json_object *params,
			   *meta,
			   *token;

	return json_object_object_get_ex(root, "params", &params) &&
		json_object_object_get_ex(params, "_meta", &meta) &&
		json_object_object_get_ex(meta, "progressToken", &token);
}

/* The JSON text of a message's id (string or number), or NULL. */
static char *
id_json_of(json_object *root)
{
	json_object *v;

	if (json_object_object_get_ex(root, "id", &v) &&
		(json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int) ||
		 json_object_is_type(v, json_type_double)))
		return xstrdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
													   JSON_C_TO_STRING_NOSLASHESCAPE));
	return NULL;
}

/* A JSON-RPC response of the client (to a request of ours): id, no method, result or error. */
static bool
is_client_response(json_object *root)
{
	return json_object_is_type(root, json_type_object) &&
		!json_object_object_get_ex(root, "method", NULL) &&
		json_object_object_get_ex(root, "id", NULL) &&
		(json_object_object_get_ex(root, "result", NULL) || json_object_object_get_ex(root, "error", NULL));
}

/*
 * JSON-RPC batches, which 2025-03-26 allows (and its servers MUST accept):
 * each element is one mcp_http call of its own (authenticated and audited
 * on its own), run in order; the answers are collected into one array (no
 * event stream: live notifications of a call in a batch are not sent).  A
 * batch of notifications and responses only is 202.  Later revisions
 * removed batches: with an MCP-Protocol-Version header other than
 * 2025-03-26 a batch is refused (400, -32600).  initialize may not be
 * batched (2025-03-26, lifecycle).
 */
static enum MHD_Result
post_batch(struct MHD_Connection *c, Req *r, json_object *root)
{
	char	   *hv = header_trimmed(c, "MCP-Protocol-Version");
	const char *session;
	char	   *token;
	size_t		i,
				n = json_object_array_length(root);
	StrBuf		out;
	int			answers = 0;
	int			auth_status = 0;
	char	   *auth_body = NULL;
	enum MHD_Result ret;

	r->rpc = "batch";
	if (hv != NULL && strcmp(hv, "2025-03-26") != 0)
	{
		free(hv);
		return send_rpc_error(c, r, 400, -32600, "Invalid Request",
							  "{\"detail\":\"batches are part of MCP 2025-03-26 only\"}");
	}
	free(hv);
	if (n == 0)
		return send_rpc_error(c, r, 400, -32600, "Invalid Request", "{\"detail\":\"an empty batch\"}");
	if (n > 100)
		return send_rpc_error(c, r, 400, -32600, "Invalid Request",
							  "{\"detail\":\"at most 100 messages in a batch\"}");
	(void) session_header(c, r, &session);
	token = bearer_token(c);
	metrics_count("batches", 1);
	sb_init(&out);
	sb_puts(&out, "[");
	for (i = 0; i < n; i++)
	{
		json_object *m = json_object_array_get_idx(root, i);
		char	   *id_json = json_object_is_type(m, json_type_object) ? id_json_of(m) : NULL;
		const char *method = json_object_is_type(m, json_type_object) ? string_member(m, "method") : NULL;
		char	   *answer = NULL;
		Job		   *job;

		if (method != NULL && strcmp(method, "initialize") == 0)
			answer = rpc_error(id_json, -32600, "Invalid Request: initialize may not be part of a batch", NULL);
		else if (!json_object_is_type(m, json_type_object))
			answer = rpc_error(NULL, -32600, "Invalid Request", NULL);
		else
		{
			job = job_new(JOB_RPC, token, json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN |
																		  JSON_C_TO_STRING_NOSLASHESCAPE), session);
			job->rpc_id = xstrdup(id_json);
			job_submit(job, shim_config.queue_timeout_ms);
			if (!job_wait(job, false, r->fd))
			{
				job_unref(job);
				free(id_json);
				sb_free(&out);
				free(auth_body);
				if (token)
				{
					explicit_bzero(token, strlen(token));
					free(token);
				}
				return client_gone(r);
			}
			if (job->outcome != OUT_OK)
				answer = rpc_error(id_json, -32603, job->outcome == OUT_KEY_BUSY ?
								   "Too many concurrent requests for this token; retry shortly" :
								   "Service unavailable", NULL);
			else
			{
				if ((job->http_status == 401 || job->http_status == 403) && auth_status == 0)
				{
					auth_status = job->http_status;
					auth_body = xstrdup(job->response);
				}
				if (job->http_status == 202 && is_client_response(m))
					(void) mrtr_deliver(session, m);
				if (job->response && job->http_status == 200 && mrtr_is_input_required(job->response))
				{
					/* the handler asks the client: that takes a stream, which a batch answer is not */
					answer = rpc_error(id_json, -32603, "This call needs input from the client (a request "
									   "of the server), which cannot be made inside a batch: send it on its own", NULL);
					metrics_count("batch_calls_needing_input", 1);
				}
				else if (job->response)
					answer = xstrdup(job->response);
			}
			job_unref(job);
		}
		if (answer)
		{
			sb_puts(&out, answers++ ? "," : "");
			sb_puts(&out, answer);
			free(answer);
		}
		free(id_json);
	}
	sb_puts(&out, "]");
	if (auth_status != 0 && answers == (int) n)
		ret = send_auth_refusal(c, r, auth_status, auth_body, token != NULL);
	else if (answers == 0)
		ret = send_body(c, r, 202, NULL, NULL);
	else
		ret = send_json(c, r, 200, out.data);
	sb_free(&out);
	free(auth_body);
	if (token)
	{
		explicit_bzero(token, strlen(token));
		free(token);
	}
	return ret;
}

/*
 * subscriptions/listen (2026-07-28): the database accepted it (authenticated,
 * audited) and answered with the acknowledgement and the tenant's listen key
 * (in the session_id column).  The acknowledgement goes first on a stream
 * that stays open; list changes of the kinds the client asked for follow
 * (notify.c, sse.c), tagged with the subscriptionId.  False: not such an
 * answer (the caller sends it as it is).
 */
static bool
listen_stream(struct MHD_Connection *c, Req *r, json_object *root, Job *job, enum MHD_Result *ret)
{
	json_object *ack = json_tokener_parse(job->response);
	json_object *params,
			   *meta,
			   *filter = NULL,
			   *v;
	const char *sub_id = NULL;
	unsigned	kinds = 0;
	SseStream  *s;

	if (ack == NULL || strcmp(string_member(ack, "method") ? string_member(ack, "method") : "",
							  "notifications/subscriptions/acknowledged") != 0)
	{
		json_object_put(ack);
		return false;
	}
	/* the subscriptionId is the listen request's id: a string or a number, kept as JSON */
	if (json_object_object_get_ex(ack, "params", &params))
	{
		if (json_object_object_get_ex(params, "_meta", &meta) &&
			json_object_object_get_ex(meta, "io.modelcontextprotocol/subscriptionId", &v))
			sub_id = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		/* the kinds the database agreed to honour; else what the client asked */
		(void) json_object_object_get_ex(params, "notifications", &filter);
	}
	if (filter == NULL && json_object_object_get_ex(root, "params", &params))
		(void) json_object_object_get_ex(params, "notifications", &filter);
	if (filter != NULL && json_object_is_type(filter, json_type_object))
	{
		if (json_object_object_get_ex(filter, "toolsListChanged", &v) && json_object_get_boolean(v))
			kinds |= LISTEN_TOOLS;
		if (json_object_object_get_ex(filter, "promptsListChanged", &v) && json_object_get_boolean(v))
			kinds |= LISTEN_PROMPTS;
		if (json_object_object_get_ex(filter, "resourcesListChanged", &v) && json_object_get_boolean(v))
			kinds |= LISTEN_RESOURCES;
	}
	s = sse_new(NULL, false);
	sse_set_priming(s);
	sse_watch_client(s, r->fd);
	sse_push_message(s, job->response);
	sse_listen_register(s, job->out_session_id, sub_id ? sub_id : "null", kinds);
	json_object_put(ack);
	metrics_count("listen_streams_opened", 1);
	r->stream = true;
	*ret = send_stream(c, r, s);
	sse_unref(s);				/* the reader holds it now */
	return true;
}

/* The whole body is here: parse just enough, call mcp_http, answer. */
/*
 * The calling thread's JSON parser (strict, UTF-8 checked, nesting to 256),
 * reset for each body and freed when the thread ends: a tokener is a 10 kB
 * allocation (its nesting stack), a calloc and a heap consolidation on every
 * request when made per request.  NULL when out of memory.
 */
static pthread_key_t tokener_key;
static pthread_once_t tokener_once = PTHREAD_ONCE_INIT;

static void
tokener_free(void *tok)
{
	json_tokener_free(tok);
}

static void
tokener_key_make(void)
{
	if (pthread_key_create(&tokener_key, tokener_free) != 0)
		abort();
}

static struct json_tokener *
thread_tokener(void)
{
	struct json_tokener *tok;

	pthread_once(&tokener_once, tokener_key_make);
	tok = pthread_getspecific(tokener_key);
	if (tok == NULL)
	{
		tok = json_tokener_new_ex(256);
		if (tok == NULL || pthread_setspecific(tokener_key, tok) != 0)
		{
			if (tok != NULL)
				json_tokener_free(tok);
			return NULL;
		}
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	}
	else
		json_tokener_reset(tok);
	return tok;
}

static enum MHD_Result
post_message(struct MHD_Connection *c, Req *r)
{
	struct json_tokener *tok;
	json_object *root;
	json_object *v;
	const char *method = NULL;
	char	   *id_json = NULL;
	const char *session;
	char	   *token;
	bool		is_request = false;
	bool		streaming;
	bool		events,
				done;
	bool		stateless = false;
	char	   *hv;
	const char *mv = NULL;
	char	   *headers_json = NULL;
	Job		   *job;
	enum MHD_Result ret;

	if (r->body.len == 0 || memchr(r->body.data, '\0', r->body.len) != NULL)
		return unparsable(c, r, r->body.len == 0 ? "empty body" : "NUL byte in body");

	tok = thread_tokener();
	if (tok == NULL)
		return send_rpc_error(c, r, 503, -32603, "Internal error", "{\"detail\":\"out of memory\"}");
	root = json_tokener_parse_ex(tok, r->body.data, (int) r->body.len + 1);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success)
	{
		const char *why = json_tokener_error_desc(json_tokener_get_error(tok));

		json_object_put(root);
		return unparsable(c, r, why);
	}
	if (json_object_is_type(root, json_type_array))
	{
		ret = post_batch(c, r, root);
		json_object_put(root);
		return ret;
	}
	if (!json_object_is_type(root, json_type_object))
	{
		json_object_put(root);
		return send_rpc_error(c, r, 400, -32600, "Invalid Request",
							  "{\"detail\":\"a message is a JSON object\"}");
	}
	if (json_object_object_get_ex(root, "method", &v) && json_object_is_type(v, json_type_string))
		method = json_object_get_string(v);
	id_json = id_json_of(root);
	is_request = method != NULL && id_json != NULL;
	r->rpc = rpc_label(method);

	/*
	 * Which revision: 2026-07-28 (stateless) when the MCP-Protocol-Version
	 * header says so or the body carries _meta's protocolVersion; otherwise
	 * the session protocol.  The two must agree (-32020); a version we do
	 * not speak is -32022 with the ones we do.
	 */
	hv = header_trimmed(c, "MCP-Protocol-Version");
	{
		json_object *params,
				   *meta;

		if (json_object_object_get_ex(root, "params", &params) &&
			json_object_object_get_ex(params, "_meta", &meta))
			mv = string_member(meta, "io.modelcontextprotocol/protocolVersion");
	}
	stateless = (hv != NULL && strcmp(hv, SHIM_STATELESS_VERSION) == 0) || mv != NULL;
	if (stateless && hv != NULL && mv != NULL && strcmp(hv, mv) != 0)
		ret = header_mismatch(c, r, id_json, "Header mismatch: MCP-Protocol-Version does not match "
							  "_meta io.modelcontextprotocol/protocolVersion");
	else if ((stateless && strcmp(mv ? mv : hv, SHIM_STATELESS_VERSION) != 0) ||
			 (!stateless && hv != NULL && !known_version(hv, shim_protocol_versions)))
	{
		char	   *data = unsupported_version_data(mv ? mv : hv);
		char	   *body = rpc_error(id_json, -32022, "Unsupported protocol version", data);

		ret = send_json(c, r, 400, body);
		free(body);
		free(data);
	}
	else if (stateless && mv == NULL && !has_protocol_meta(root) &&
			 !(method && strcmp(method, "server/discover") == 0))
	{
		/* the header says 2026-07-28, the body has no _meta: not a session request either */
		char	   *body = rpc_error(id_json, -32602, "Invalid params: _meta with "
									 "io.modelcontextprotocol/protocolVersion and clientCapabilities is required",
									 "{\"missing\":\"_meta\"}");

		ret = send_json(c, r, 400, body);
		free(body);
	}
	else if (stateless && !stateless_headers(c, r, root, method, id_json, hv, &headers_json))
		ret = MHD_YES;			/* answered */
	else
		ret = MHD_NO;
	if (r->queued)
	{
		free(hv);
		free(id_json);
		json_object_put(root);
		return ret;
	}

	streaming = is_request && is_sse_method(method);
	if (stateless)
		session = NULL;			/* no sessions in 2026-07-28 */
	else
		(void) session_header(c, r, &session);	/* validated on the first call */
	token = bearer_token(c);
	job = job_new(JOB_RPC, token, r->body.data, session);
	job->rpc_id = id_json;
	job->headers = headers_json;
	/*
	 * A cancel must not queue behind the very calls it is meant to stop: it
	 * takes no share of its token's queue (the database acts on it at once).
	 */
	if (!is_request && method != NULL && strcmp(method, "notifications/cancelled") == 0)
		job->key = 0;
	if (streaming)
	{
		job->stream = sse_new(NULL, false);
		sse_watch_client(job->stream, r->fd);
		if (session)
			sse_set_session(job->stream, session);
		/* 2025-11-25 clients expect a priming event (SEP-1699); older ones would choke on it */
		if (stateless || (hv != NULL && strcmp(hv, "2025-11-25") == 0))
			sse_set_priming(job->stream);
		/* a session call's input requests become real requests to the client (mrtr.c) */
		job->bridge = !stateless && session != NULL;
	}
	free(hv);
	/*
	 * A connection is free and nothing waits: run it on this thread (pool.c).
	 * Not when the client asked for progress: its notifications must go out
	 * while the call runs, which takes a worker and this thread sending.
	 */
	if (!wants_progress(root) && job_run_here(job, r->fd))
	{
		if (job->outcome == OUT_CLIENT_GONE)
		{
			json_object_put(root);
			finish_job(job, token);
			return client_gone(r);
		}
	}
	else
	{
		job_submit(job, shim_config.queue_timeout_ms);
		if (!job_wait(job, streaming, r->fd))
		{
			json_object_put(root);
			finish_job(job, token);
			return client_gone(r);
		}
	}

	pthread_mutex_lock(&job->lock);
	events = job->has_events;
	done = job->done;
	pthread_mutex_unlock(&job->lock);

	if (stateless && method && strcmp(method, "subscriptions/listen") == 0 && job->outcome == OUT_OK &&
		job->http_status == 200 && job->out_session_id != NULL && job->response != NULL &&
		listen_stream(c, r, root, job, &ret))
		;						/* a subscriptions/listen stream, open until the client leaves */
	else if (events || (done && streaming && job->outcome == OUT_OK && job->http_status == 200 &&
						job->response != NULL))
	{
		char	   *all;
		size_t		len;

		if (done && (all = sse_take_all(job->stream, &len)) != NULL)
			ret = send_finished_stream(c, r, all, len);	/* it all went out already: one write */
		else
			ret = send_stream(c, r, job->stream);	/* the worker may still be writing */
	}
	else if (job->outcome != OUT_OK)
		ret = send_unavailable(c, r, job->outcome, id_json);
	else
	{
		int			st = job->http_status;

		switch (st)
		{
			case 200:
				if (job->response == NULL)
					ret = send_unavailable(c, r, OUT_DB_ERROR, id_json);
				else
				{
					struct MHD_Response *resp = make_response(job->response, "application/json");

					MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
					if (!stateless && method && strcmp(method, "initialize") == 0 && job->out_session_id)
					{
						if (valid_session_id(job->out_session_id))
							MHD_add_response_header(resp, "Mcp-Session-Id", job->out_session_id);
						else
							shim_log("the database returned a session id that is not 1..256 visible ASCII characters; not sent");
					}
					ret = send_response(c, r, 200, resp);
				}
				break;
			case 202:
				/* a client's answer to one of our requests: the waiting call gets it */
				if (session && is_client_response(root))
					(void) mrtr_deliver(session, root);
				ret = send_body(c, r, 202, NULL, NULL);
				break;
			case 401:
			case 403:
				ret = send_auth_refusal(c, r, st, job->response, token != NULL);
				break;
			case 429:
			case 503:
				/* over a limit, or a tenant moving or a shard down (router): retry later */
				ret = job->response ? send_rate_limited(c, r, st, job->response)
					: send_status_only(c, r, st, token != NULL);
				break;
			default:
				if (job->response)
					ret = send_json(c, r, st, job->response);
				else
					ret = send_status_only(c, r, st, token != NULL);
				break;
		}
	}
	json_object_put(root);		/* method pointed into it */
	finish_job(job, token);
	return ret;
}

/* GET and DELETE: run a session job of kind for the caller's token and Mcp-Session-Id, to the end. */
static Job *
session_job(struct MHD_Connection *c, Req *r, JobKind kind, const char **session, char **token)
{
	Job		   *job;

	(void) session_header(c, r, session);	/* checked by precheck */
	*token = bearer_token(c);
	job = job_new(kind, *token, NULL, *session);
	job_submit(job, shim_config.queue_timeout_ms);
	if (!job_wait(job, false, r->fd))
	{
		finish_job(job, *token);
		*token = NULL;
		return NULL;
	}
	return job;
}

/* GET /mcp: may this caller listen on the session?  Then a stream. */
static enum MHD_Result
get_stream(struct MHD_Connection *c, Req *r)
{
	const char *session;
	char	   *token;
	Job		   *job;
	enum MHD_Result ret;

	job = session_job(c, r, JOB_CHECK, &session, &token);
	if (job == NULL)
		return client_gone(r);
	if (job->outcome != OUT_OK)
		ret = send_unavailable(c, r, job->outcome, NULL);
	else if (job->http_status == 200 && session != NULL)
	{
		const char *last = header(c, "Last-Event-ID");
		bool		get_stream = true;
		SseStream  *s = last ? sse_resume(session, last, &get_stream) : NULL;

		/* Last-Event-ID of a stream this process knows: replay from there (sse.c) */
		if (s == NULL)
		{
			s = sse_new(session, true);
			get_stream = true;
		}
		sse_watch_client(s, r->fd);
		if (get_stream)
			sse_register(s);
		r->stream = true;
		ret = send_stream(c, r, s);
		sse_unref(s);			/* the reader holds it now */
	}
	else
		ret = send_status_only(c, r, job->http_status == 200 ? 400 : job->http_status, token != NULL);
	finish_job(job, token);
	return ret;
}

/* DELETE /mcp: end the session; its GET streams end with it. */
static enum MHD_Result
delete_session(struct MHD_Connection *c, Req *r)
{
	const char *session;
	char	   *token;
	Job		   *job;
	enum MHD_Result ret;

	job = session_job(c, r, JOB_END, &session, &token);
	if (job == NULL)
		return client_gone(r);
	if (job->outcome != OUT_OK)
		ret = send_unavailable(c, r, job->outcome, NULL);
	else if (job->http_status == 204 || job->http_status == 200)
	{
		if (session)
			sse_close_session(session);
		ret = send_body(c, r, job->http_status, NULL, NULL);
	}
	else
		ret = send_status_only(c, r, job->http_status, token != NULL);
	finish_job(job, token);
	return ret;
}

/* CORS preflight from an allowed origin (checked already). */
static enum MHD_Result
preflight(struct MHD_Connection *c, Req *r)
{
	struct MHD_Response *resp;

	if (r->cors_origin == NULL || header(c, "Access-Control-Request-Method") == NULL)
		return send_not_allowed(c, r, "GET, POST, DELETE");
	resp = make_response(NULL, NULL);
	MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, DELETE");
	MHD_add_response_header(resp, "Access-Control-Allow-Headers",
							"Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, "
							"Mcp-Method, Mcp-Name");
	MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
	return send_response(c, r, 204, resp);
}

/* ---------------------------------------------------------------- other routes */

static enum MHD_Result
healthz(struct MHD_Connection *c, Req *r)
{
	Job		   *job = job_new(JOB_PING, NULL, NULL, NULL);
	bool		ok;
	struct MHD_Response *resp;

	job_submit(job, shim_config.queue_timeout_ms < 2000 ? shim_config.queue_timeout_ms : 2000);
	job_wait(job, false, -1);
	ok = job->outcome == OUT_OK;
	job_unref(job);
	resp = make_response(ok ? "ok\n" : "database unavailable\n", "text/plain");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return send_response(c, r, ok ? 200 : 503, resp);
}

static enum MHD_Result
metrics(struct MHD_Connection *c, Req *r)
{
	char	   *text = metrics_render();
	Job		   *job = job_new(JOB_FINDINGS, NULL, NULL, NULL);
	enum MHD_Result ret;

	/* the database's prompt-injection counters (no tenant names); left out when it cannot answer */
	job_submit(job, shim_config.queue_timeout_ms < 1000 ? shim_config.queue_timeout_ms : 1000);
	job_wait(job, false, -1);
	if (job->outcome == OUT_OK && job->response != NULL)
	{
		StrBuf		b;

		sb_init(&b);
		sb_puts(&b, text);
		sb_puts(&b, "# HELP mtmcp_injection_findings_total Prompt-injection findings since the database started, by direction, category and action.\n"
				"# TYPE mtmcp_injection_findings_total counter\n");
		sb_puts(&b, job->response);
		free(text);
		text = sb_steal(&b);
	}
	job_unref(job);
	ret = send_body(c, r, 200, text, "text/plain; version=0.0.4; charset=utf-8");
	free(text);
	return ret;
}

static enum MHD_Result
metadata(struct MHD_Connection *c, Req *r)
{
	char	   *scope = required_scope();
	char	   *doc;

	if (scope == NULL && (shim_config.required_scope == NULL || !*shim_config.required_scope))
	{
		char	   *known = pool_db_scope();

		if (known == NULL)
		{
			/* no connection has read the database's scope yet: make one */
			Job		   *job = job_new(JOB_PING, NULL, NULL, NULL);

			job_submit(job, 2000);
			job_wait(job, false, -1);
			job_unref(job);
			scope = required_scope();
		}
		free(known);
	}
	doc = scope ? shim_metadata_json(scope) : NULL;
	struct MHD_Response *resp = make_response(doc ? doc : shim_config.metadata_json, "application/json");

	free(doc);
	free(scope);
	/* public by design: browser-based clients fetch it cross-origin */
	MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
	return send_response(c, r, 200, resp);
}

static Route
route_of(const char *url)
{
	int			i;

	if (strcmp(url, shim_config.mcp_path) == 0)
		return R_MCP;
	if (strcmp(url, "/healthz") == 0)
		return R_HEALTH;
	if (strcmp(url, "/metrics") == 0)
		return R_METRICS;
	for (i = 0; shim_config.metadata_paths[i]; i++)
		if (strcmp(url, shim_config.metadata_paths[i]) == 0)
			return R_METADATA;
	return R_NOTFOUND;
}

/* ---------------------------------------------------------------- callbacks */

/*
 * First call, headers only: refuse what can be refused before the body.
 * Answering here makes libmicrohttpd close the connection afterwards (it
 * has not read the body), which is what a refusal wants; requests that pass
 * are served on the last call (serve), keeping the connection reusable.
 */
static enum MHD_Result
precheck(struct MHD_Connection *c, Req *r, const char *method)
{
	bool		get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	const char *session;

	if (shim_draining)
	{
		struct MHD_Response *resp = make_response("shutting down\n", "text/plain");

		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		return send_response(c, r, 503, resp);
	}
	switch (r->route)
	{
		case R_MCP:
			if (!check_host_origin(c, r))
				return MHD_YES;
			if (strcmp(method, "POST") == 0)
				return post_headers(c, r);
			if (strcmp(method, "GET") == 0)
			{
				if (!accepts(header(c, MHD_HTTP_HEADER_ACCEPT), "text/event-stream"))
					return send_not_allowed(c, r, "GET, POST, DELETE");
				if (check_protocol_version(c, r))
					(void) session_header(c, r, &session);
				return MHD_YES;
			}
			if (strcmp(method, "DELETE") == 0)
			{
				if (check_protocol_version(c, r))
					(void) session_header(c, r, &session);
				return MHD_YES;
			}
			if (strcmp(method, "OPTIONS") == 0)
				return MHD_YES;
			return send_not_allowed(c, r, "GET, POST, DELETE");
		case R_METRICS:
			if (!check_host_origin(c, r))
				return MHD_YES;
			r->cors_origin = NULL;
			return get ? MHD_YES : send_not_allowed(c, r, "GET");
		case R_HEALTH:
		case R_METADATA:
			return get ? MHD_YES : send_not_allowed(c, r, "GET");
		default:
			return send_body(c, r, 404, "not found\n", "text/plain");
	}
}

/* Last call: the request (and body) passed precheck; do the work. */
static enum MHD_Result
serve(struct MHD_Connection *c, Req *r, const char *method)
{
	switch (r->route)
	{
		case R_MCP:
			if (strcmp(method, "POST") == 0)
				return post_message(c, r);
			if (strcmp(method, "GET") == 0)
				return get_stream(c, r);
			if (strcmp(method, "DELETE") == 0)
				return delete_session(c, r);
			return preflight(c, r);
		case R_HEALTH:
			return healthz(c, r);
		case R_METRICS:
			return metrics(c, r);
		case R_METADATA:
			return metadata(c, r);
		default:
			return send_body(c, r, 404, "not found\n", "text/plain");
	}
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
		   const char *version, const char *upload_data, size_t *upload_data_size,
		   void **req_cls)
{
	Req		   *r = *req_cls;

	(void) cls;
	(void) version;
	if (r == NULL)
	{
		r = xcalloc(1, sizeof(Req));
		r->start = now_mono();
		r->route = route_of(url);
		r->rpc = "-";
		r->method = strcmp(method, "POST") == 0 ? "POST" : strcmp(method, "GET") == 0 ? "GET" :
			strcmp(method, "DELETE") == 0 ? "DELETE" : "OTHER";
		safe_label(r->method_log, sizeof(r->method_log), method);
		safe_label(r->path_log, sizeof(r->path_log), url);
		sb_init(&r->body);
		{
			const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

			r->fd = ci ? ci->connect_fd : -1;
		}
		*req_cls = r;
		__atomic_add_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
		return precheck(c, r, method);
	}
	if (r->queued)
	{
		*upload_data_size = 0;	/* answered already: discard */
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		if (!r->too_large && r->body.len + *upload_data_size > shim_config.max_body)
		{
			r->too_large = true;
			r->discarded = r->body.len;
			sb_free(&r->body);
		}
		if (!r->too_large)
			sb_append(&r->body, upload_data, *upload_data_size);
		else
		{
			r->discarded += *upload_data_size;
			if (r->discarded > shim_config.max_body + DISCARD_MAX)
			{
				metrics_count("requests_body_too_large", 1);
				r->status = 413;
				return MHD_NO;	/* enough: close the connection */
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* the whole request is in */
	if (r->too_large)
	{
		metrics_count("requests_body_too_large", 1);
		return send_rpc_error(c, r, 413, -32000, "Payload Too Large", NULL);
	}
	conn_deadline(c, 0);
	return serve(c, r, method);
}

/* The request is over: one log line, the metrics, free. */
static void
on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	Req		   *r = *req_cls;
	double		secs;
	long		tenths;

	(void) cls;
	if (r == NULL)
		return;
	secs = now_mono() - r->start;
	if (r->queued)
		metrics_request(r->method, r->rpc, r->status, secs, !r->stream);
	else if (r->status == 499)
		metrics_count("requests_client_gone", 1);
	/* the duration in tenths of a millisecond, printed without the floating-point formatter */
	tenths = (long) (secs * 10000.0 + 0.5);
	shim_log("%s %s rpc=%s status=%d %ld.%ldms%s%s", r->method_log, r->path_log, r->rpc,
			 r->status, tenths / 10, tenths % 10, r->stream ? " stream" : "",
			 r->status == 499 ? " (the client went away; its call was withdrawn or cancelled)" :
			 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)");
	/* a kept-alive connection: the next request must arrive within idle + request timeout */
	if (shim_config.request_timeout_s > 0)
		conn_deadline(c, (double) shim_config.idle_timeout_s + shim_config.request_timeout_s);
	sb_free(&r->body);
	free(r);
	*req_cls = NULL;
	__atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
}

/*
 * libmicrohttpd's messages, one log line each -- except refusals at the
 * connection limits, which a client can cause at will: those are counted
 * (event connections_refused_limit) and logged at most every 10 seconds.
 */
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static double last_logged;
	static long suppressed;
	char		msg[512];
	size_t		n;

	(void) cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (strstr(msg, "connection limit") != NULL)
	{
		double		now = now_mono();
		long		skipped = -1;

		metrics_count("connections_refused_limit", 1);
		pthread_mutex_lock(&lock);
		if (last_logged == 0 || now - last_logged >= 10.0)
		{
			skipped = suppressed;
			suppressed = 0;
			last_logged = now;
		}
		else
			suppressed++;
		pthread_mutex_unlock(&lock);
		if (skipped < 0)
			return;
		if (skipped > 0)
			shim_log("libmicrohttpd: %s (and %ld more refusals at the connection limits in the last 10 s)",
					 msg, skipped);
		else
			shim_log("libmicrohttpd: %s", msg);
		return;
	}
	shim_log("libmicrohttpd: %s", msg);
}

bool
http_start(int listen_fd, bool ipv6)
{
	unsigned	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
		MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_AUTO;

	if (ipv6)
		flags |= MHD_USE_IPv6;
	daemon_handle = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
									 MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
									 MHD_OPTION_LISTEN_SOCKET, listen_fd,
									 MHD_OPTION_CONNECTION_LIMIT, (unsigned) shim_config.max_connections,
									 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) shim_config.max_per_ip,
									 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) shim_config.idle_timeout_s,
									 MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
									 MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
									 MHD_OPTION_THREAD_STACK_SIZE, (size_t) (256 * 1024),
									 MHD_OPTION_END);
	if (daemon_handle == NULL)
		return false;
	if (pthread_create(&reaper, NULL, reaper_main, NULL) == 0)
		reaper_started = true;
	else
		shim_log("could not start the request deadline thread");
	return true;
}

/*
 * Stop accepting; connections already open go on.  True when the listening
 * socket is ours again (to close after http_stop); otherwise libmicrohttpd
 * closes it.
 */
bool
http_quiesce(void)
{
	return daemon_handle != NULL && MHD_quiesce_daemon(daemon_handle) != MHD_INVALID_SOCKET;
}

void
http_stop(void)
{
	if (daemon_handle)
		MHD_stop_daemon(daemon_handle);
	daemon_handle = NULL;
	if (reaper_started)
	{
		atomic_store(&reaper_stop, 1);
		pthread_join(reaper, NULL);
		reaper_started = false;
	}
}

int
http_in_flight(void)
{
	return __atomic_load_n(&in_flight, __ATOMIC_SEQ_CST);
}
