/*
 * sse.c -- Server-Sent Event streams
 *
 * An SseStream is a byte queue between a producer and libmicrohttpd:
 *
 *   - POST streams: the database worker running the call pushes each live
 *     notification as it arrives and the final response last, then
 *     finishes the stream.
 *   - GET streams: the LISTEN thread pushes notifications/resources/updated
 *     for the stream's session; DELETE of the session, or shutdown,
 *     finishes it.
 *
 * The producer never blocks on the client: pushes append to an in-memory
 * buffer (capped at SSE_MAX_PENDING; a client that stops reading loses
 * messages past the cap, never stalls a database connection).  The consumer
 * is sse_reader(), a libmicrohttpd content reader running on the HTTP
 * connection's own thread (thread-per-connection mode), which may block: it
 * sleeps on the stream's condition variable until data arrives, the stream
 * is finished, or the keep-alive interval passes (then it sends an SSE
 * comment, which also detects clients that went away).  When http.c has
 * given it the client's socket (sse_watch_client), the reader also wakes
 * every quarter second to check that the client is still there: a client
 * that closed its connection ends the stream at once and marks it
 * abandoned, and the worker running the call behind a POST stream then
 * cancels its query (pool.c) instead of running it to the end.
 *
 * Lifetime: reference counted.  The reader holds one reference (dropped by
 * libmicrohttpd through sse_reader_free when the response is destroyed), the
 * producer another.
 *
 * Registry: every live stream is on one list (so shutdown can finish them
 * all); GET streams are also hashed by session id.  Lock order: registry
 * lock, then a stream's lock; nothing takes the registry lock while holding
 * a stream lock.  Per the transport spec a message goes to ONE stream of
 * its session (the newest), never broadcast to several.
 */
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "shim.h"

#define SSE_MAX_PENDING (16 * 1024 * 1024)
#define SSE_BUCKETS 256

struct SseStream
{
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int			refs;
	StrBuf		pending;		/* formatted SSE bytes not yet handed out */
	size_t		off;			/* of pending already handed out */
	bool		finished;		/* no more data: end after draining */
	bool		greet;			/* open with a comment (GET streams) */
	bool		greeted;
	double		last_write;
	char	   *session_id;		/* GET streams only */
	int			client_fd;		/* the HTTP client's socket, -1: not watched */
	atomic_int	abandoned;		/* the client left before the end */
	bool		registered;
	/* registry links (registry lock) */
	SseStream  *all_prev,
			   *all_next;
	SseStream  *sess_next;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static SseStream *all_streams;
static SseStream *buckets[SSE_BUCKETS];
static int	open_get_streams;

static unsigned
hash_session(const char *s)
{
	unsigned	h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 16777619u;
	return h % SSE_BUCKETS;
}

SseStream *
sse_new(const char *session_id, bool greet)
{
	SseStream  *s = xcalloc(1, sizeof(SseStream));

	pthread_mutex_init(&s->lock, NULL);
	cond_init_mono(&s->cond);
	s->refs = 1;
	sb_init(&s->pending);
	s->greet = greet;
	s->last_write = now_mono();
	s->session_id = xstrdup(session_id);
	s->client_fd = -1;

	pthread_mutex_lock(&reg_lock);
	s->all_next = all_streams;
	if (all_streams)
		all_streams->all_prev = s;
	all_streams = s;
	pthread_mutex_unlock(&reg_lock);
	return s;
}

void
sse_ref(SseStream *s)
{
	pthread_mutex_lock(&s->lock);
	s->refs++;
	pthread_mutex_unlock(&s->lock);
}

/* Unlink from the registry (registry lock held). */
static void
unlink_locked(SseStream *s)
{
	if (s->all_prev)
		s->all_prev->all_next = s->all_next;
	else if (all_streams == s)
		all_streams = s->all_next;
	if (s->all_next)
		s->all_next->all_prev = s->all_prev;
	s->all_prev = s->all_next = NULL;

	if (s->registered)
	{
		SseStream **pp = &buckets[hash_session(s->session_id)];

		while (*pp && *pp != s)
			pp = &(*pp)->sess_next;
		if (*pp)
			*pp = s->sess_next;
		s->registered = false;
		open_get_streams--;
	}
}

void
sse_unref(SseStream *s)
{
	bool		last;

	/*
	 * Take the registry lock first so that a concurrent lookup never finds a
	 * stream whose last reference is being dropped.
	 */
	pthread_mutex_lock(&reg_lock);
	pthread_mutex_lock(&s->lock);
	last = (--s->refs == 0);
	pthread_mutex_unlock(&s->lock);
	if (last)
		unlink_locked(s);
	pthread_mutex_unlock(&reg_lock);
	if (!last)
		return;
	sb_free(&s->pending);
	free(s->session_id);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Append one "message" event (stream lock held). */
static bool
push_locked(SseStream *s, const char *json)
{
	const char *line = json;

	if (s->finished)
		return false;
	if (s->pending.len - s->off > SSE_MAX_PENDING)
	{
		metrics_count("sse_messages_dropped", 1);
		return false;
	}
	/* reclaim the consumed prefix before growing */
	if (s->off > 0 && s->off >= s->pending.len / 2)
	{
		memmove(s->pending.data, s->pending.data + s->off, s->pending.len - s->off);
		s->pending.len -= s->off;
		s->off = 0;
	}
	sb_puts(&s->pending, "event: message\n");
	/* SSE data may not contain raw newlines: one data line per text line */
	for (;;)
	{
		const char *nl = strchr(line, '\n');
		size_t		n = nl ? (size_t) (nl - line) : strlen(line);

		if (n > 0 && line[n - 1] == '\r')
			n--;
		sb_puts(&s->pending, "data: ");
		sb_append(&s->pending, line, n);
		sb_puts(&s->pending, "\n");
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	sb_puts(&s->pending, "\n");
	pthread_cond_broadcast(&s->cond);
	return true;
}

bool
sse_push_message(SseStream *s, const char *json)
{
	bool		ok;

	pthread_mutex_lock(&s->lock);
	ok = push_locked(s, json);
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void
sse_finish(SseStream *s)
{
	pthread_mutex_lock(&s->lock);
	s->finished = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Called on the connection's thread before the response is queued. */
void
sse_watch_client(SseStream *s, int fd)
{
	pthread_mutex_lock(&s->lock);
	s->client_fd = fd;
	pthread_mutex_unlock(&s->lock);
}

bool
sse_abandoned(SseStream *s)
{
	return atomic_load(&s->abandoned) != 0;
}

/* Copy up to max pending bytes out (stream lock held). */
static ssize_t
take_locked(SseStream *s, char *buf, size_t max)
{
	size_t		n = s->pending.len - s->off;

	if (n > max)
		n = max;
	memcpy(buf, s->pending.data + s->off, n);
	s->off += n;
	if (s->off == s->pending.len)
		s->pending.len = s->off = 0;
	s->last_write = now_mono();
	return (ssize_t) n;
}

static ssize_t
copy_text(SseStream *s, char *buf, size_t max, const char *text)
{
	size_t		n = strlen(text);

	if (n > max)
		n = max;
	memcpy(buf, text, n);
	s->last_write = now_mono();
	return (ssize_t) n;
}

/*
 * libmicrohttpd content reader.  Runs on the connection's own thread and may
 * block; never returns 0 (that would busy-loop in internal polling mode).
 */
ssize_t
sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	SseStream  *s = cls;
	ssize_t		n;

	(void) pos;
	pthread_mutex_lock(&s->lock);
	for (;;)
	{
		double		wait;
		struct timespec ts;

		if (s->pending.len > s->off)
		{
			n = take_locked(s, buf, max);
			break;
		}
		if (s->finished)
		{
			n = MHD_CONTENT_READER_END_OF_STREAM;
			break;
		}
		if (s->greet && !s->greeted)
		{
			/* get the headers out now: the client waits for them */
			s->greeted = true;
			n = copy_text(s, buf, max, ": stream open\n\n");
			break;
		}
		if (s->client_fd >= 0 && peer_closed(s->client_fd))
		{
			atomic_store(&s->abandoned, 1);
			s->finished = true;
			n = MHD_CONTENT_READER_END_WITH_ERROR;
			break;
		}
		wait = s->last_write + shim_config.keepalive_s - now_mono();
		if (wait <= 0)
		{
			n = copy_text(s, buf, max, ": keepalive\n\n");
			break;
		}
		if (s->client_fd >= 0 && wait > 0.25)
			wait = 0.25;
		abstime_after(&ts, wait);
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* libmicrohttpd is done with the response: the client is gone or served. */
void
sse_reader_free(void *cls)
{
	SseStream  *s = cls;

	pthread_mutex_lock(&s->lock);
	if (!s->finished || s->pending.len > s->off)
		atomic_store(&s->abandoned, 1);	/* the client did not get it all */
	s->finished = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	sse_unref(s);
}

/* Make a GET stream findable by its session id. */
void
sse_register(SseStream *s)
{
	unsigned	h;

	if (s->session_id == NULL)
		return;
	h = hash_session(s->session_id);
	pthread_mutex_lock(&reg_lock);
	s->sess_next = buckets[h];
	buckets[h] = s;
	s->registered = true;
	open_get_streams++;
	pthread_mutex_unlock(&reg_lock);
}

/*
 * One message to one open GET stream of the session (the newest, which is
 * first in its bucket).  Returns 1 when a stream took it.
 */
int
sse_deliver(const char *session_id, const char *json)
{
	SseStream  *s;
	int			delivered = 0;

	pthread_mutex_lock(&reg_lock);
	for (s = buckets[hash_session(session_id)]; s != NULL; s = s->sess_next)
	{
		bool		ok;

		if (strcmp(s->session_id, session_id) != 0)
			continue;
		pthread_mutex_lock(&s->lock);
		ok = push_locked(s, json);
		pthread_mutex_unlock(&s->lock);
		if (ok)
		{
			delivered = 1;
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return delivered;
}

/* The session ended: finish its GET streams. */
int
sse_close_session(const char *session_id)
{
	SseStream  *s;
	int			n = 0;

	pthread_mutex_lock(&reg_lock);
	for (s = buckets[hash_session(session_id)]; s != NULL; s = s->sess_next)
	{
		if (strcmp(s->session_id, session_id) != 0)
			continue;
		sse_finish(s);
		n++;
	}
	pthread_mutex_unlock(&reg_lock);
	return n;
}

/* Shutdown: finish GET streams, and with include_post the POST ones too. */
void
sse_finish_all(bool include_post)
{
	SseStream  *s;

	pthread_mutex_lock(&reg_lock);
	for (s = all_streams; s != NULL; s = s->all_next)
		if (include_post || s->registered)
			sse_finish(s);
	pthread_mutex_unlock(&reg_lock);
}

int
sse_open_count(void)
{
	int			n;

	pthread_mutex_lock(&reg_lock);
	n = open_get_streams;
	pthread_mutex_unlock(&reg_lock);
	return n;
}
