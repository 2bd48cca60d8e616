/*
 * notify.c -- resource update notifications for open GET streams
 *
 * One thread owns one extra PGconn that runs LISTEN mtmcp_resource_updated.
 * Each notification's payload is an opaque event id.  For each, the thread
 * asks the database who is to be told:
 *
 *     SELECT session_id, message FROM mtmcp.mcp_http_resource_event($1)
 *
 * and hands every message to an open GET stream of that session (sse.c),
 * if this process holds one.  The shim never decides who gets what: the
 * database answers only with the updating tenant's subscribed sessions.
 * With several shim processes each runs the same query and delivers to the
 * streams it holds.
 *
 * LISTEN is session state: the connection must be a real server session
 * for as long as it listens.  A transaction-mode pooler (PgBouncer
 * pool_mode = transaction) hands the LISTEN to whichever server connection
 * is free and then gives that connection to other clients, so notifications
 * are silently lost.  --listen-dsn (MTMCP_LISTEN_DSN) names a
 * separate, direct connection for this thread when --db points at such a
 * pooler; it defaults to --db.
 *
 * The same connection listens on mtmcp_list_changed: "<listen key> <kind>"
 * (kind tools, prompts or resources), raised by the database when a
 * tenant's list changes; every open subscriptions/listen stream of that
 * listen key (2026-07-28, sse.c) that asked for that kind gets the
 * list_changed notification.  The listen key is the database's opaque name
 * for the tenant's listeners: the shim never learns the tenant.
 *
 * The connection is remade with backoff (0.25 s doubling to 5 s) whenever it
 * breaks.  NOTIFY is not durable: events raised while this connection is
 * down are not seen; the log says when that may have happened.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "shim.h"

static pthread_t thread;
static atomic_int stopping;
static bool started;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;

/* Sleep up to seconds, waking early on stop. */
static void
nap(double seconds)
{
	struct timespec ts;

	abstime_after(&ts, seconds);
	pthread_mutex_lock(&lock);
	if (!stopping)
		pthread_cond_timedwait(&cond, &lock, &ts);
	pthread_mutex_unlock(&lock);
}

static bool
is_event_id(const char *s)
{
	size_t		n = strlen(s);

	if (n == 0 || n > 19)
		return false;
	return strspn(s, "0123456789") == n;
}

static void
handle_event(PGconn *conn, const char *event_id)
{
	const char *values[1] = {event_id};
	PGresult   *res;
	int			i,
				delivered = 0;

	if (!is_event_id(event_id))
	{
		metrics_count("resource_events_invalid", 1);
		return;
	}
	metrics_count("resource_events", 1);
	res = db_exec(conn, "SELECT session_id, message FROM mtmcp.mcp_http_resource_event($1::bigint)",
				  1, values, &stopping);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 2)
	{
		char		text[200];

		safe_text(text, sizeof(text),
				  res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : "no result");
		shim_log("could not read resource event %s: %s", event_id, text);
		PQclear(res);
		return;
	}
	for (i = 0; i < PQntuples(res); i++)
	{
		if (PQgetisnull(res, i, 0) || PQgetisnull(res, i, 1))
			continue;
		delivered += sse_deliver(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	}
	metrics_count("resource_messages_delivered", delivered);
	PQclear(res);
}

/* "<listen key> <kind>": a tenant's list changed. */
static void
handle_list_changed(const char *payload)
{
	const char *sp = strchr(payload, ' ');
	char	   *key;
	int			n;

	if (sp == NULL || sp == payload || sp - payload > 200)
	{
		metrics_count("list_changed_invalid", 1);
		return;
	}
	key = xstrndup(payload, (size_t) (sp - payload));
	n = sse_listen_deliver(key, sp + 1);
	free(key);
	metrics_count("list_changed_delivered", n);
}

/* Server messages on this connection (e.g. FATAL at shutdown) are not ours to print. */
static void
quiet_notices(void *arg, const PGresult *res)
{
	(void) arg;
	(void) res;
}

static PGconn *
listen_connect(void)
{
	char		err[256];
	PGconn	   *conn = db_connect(shim_config.listen_db ? shim_config.listen_db : shim_config.db,
								  "mtmcp-http listener", err, sizeof(err));
	PGresult   *res;

	if (conn == NULL)
	{
		shim_log("listener: database unavailable: %s", err);
		return NULL;
	}
	PQsetNoticeReceiver(conn, quiet_notices, NULL);
	res = PQexec(conn, "LISTEN mtmcp_resource_updated; LISTEN mtmcp_list_changed");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		safe_text(err, sizeof(err), PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
		shim_log("listener: LISTEN failed: %s", err);
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

static void *
notify_main(void *arg)
{
	PGconn	   *conn = NULL;
	double		backoff = 0.25;
	bool		was_down = false;

	(void) arg;
	while (!stopping)
	{
		PGnotify   *n;
		struct pollfd p;

		if (conn == NULL)
		{
			conn = listen_connect();
			if (conn == NULL)
			{
				was_down = true;
				nap(backoff);
				backoff = backoff * 2 > 5 ? 5 : backoff * 2;
				continue;
			}
			if (was_down)
				shim_log("listener: listening again (updates raised meanwhile were missed)");
			was_down = false;
			backoff = 0.25;
		}
		p.fd = PQsocket(conn);
		p.events = POLLIN;
		p.revents = 0;
		if (poll(&p, 1, 500) < 0 && errno != EINTR)
			break;
		if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
		{
			shim_log("listener: connection lost; reconnecting");
			PQfinish(conn);
			conn = NULL;
			was_down = true;
			continue;
		}
		while (!stopping && (n = PQnotifies(conn)) != NULL)
		{
			if (strcmp(n->relname, "mtmcp_list_changed") == 0)
				handle_list_changed(n->extra);
			else
				handle_event(conn, n->extra);
			PQfreemem(n);
		}
	}
	PQfinish(conn);
	return NULL;
}

void
notify_start(void)
{
	cond_init_mono(&cond);
	if (pthread_create(&thread, NULL, notify_main, NULL) == 0)
		started = true;
	else
		shim_log("could not start the listener thread");
}

void
notify_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	atomic_store(&stopping, 1);
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	pthread_cond_destroy(&cond);
	started = false;
}
