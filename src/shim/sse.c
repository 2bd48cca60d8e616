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
 * Event ids and resumption (2025-11-25, SEP-1699).  Every stream has a
 * random id; every message event carries "id: <stream>-<n>" (n counts from
 * 1).  A POST stream of a client that speaks 2025-11-25 or later opens with
 * a priming event ("id: <stream>-0", a retry field, empty data); GET streams
 * open with a comment and the retry field.  Each stream keeps its last
 * SSE_HISTORY_EVENTS events (at most SSE_HISTORY_BYTES); when a stream ends
 * its history stays for SSE_RETAIN_S seconds (at most SSE_RETAIN_STREAMS
 * streams, SSE_RETAIN_BYTES in all, newest kept).  A GET with Last-Event-ID for a stream of the same session
 * (sse_resume) gets the events after that id replayed, then -- if the
 * stream is still live -- everything the stream sends from then on.  The
 * history lives in this process only: after a shim restart, or on another
 * shim process, Last-Event-ID names an unknown stream and the GET is served
 * as a fresh stream (nothing replayed).
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
#define SSE_HISTORY_EVENTS 256
#define SSE_HISTORY_BYTES (1024 * 1024)
#define SSE_RETAIN_S 120.0
#define SSE_RETAIN_STREAMS 256
#define SSE_RETAIN_BYTES (32 * 1024 * 1024)	/* all retained histories together */

typedef struct SseEvent
{
	uint64_t	seq;
	char	   *frame;			/* the formatted event, id line included */
	size_t		len;
} SseEvent;

struct SseStream
{
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int			refs;
	StrBuf		pending;		/* formatted SSE bytes not yet handed out */
	size_t		off;			/* of pending already handed out */
	bool		finished;		/* no more data: end after draining */
	double		last_write;
	char	   *session_id;		/* the session (GET streams; POST streams of sessions) */
	char		sid[17];		/* the stream's id, in every event id */
	uint64_t	seq;			/* events sent so far */
	char	   *prologue;		/* sent first: priming event, or comment + retry */
	bool		prologue_sent;
	SseEvent   *hist;			/* ring of the last events, hist_cap of them */
	int			hist_cap;		/* grown by doubling up to SSE_HISTORY_EVENTS */
	int			hist_start,
				hist_n;
	size_t		hist_bytes;
	SseStream  *follower;		/* a resumed stream that gets what we send (ref held) */
	bool		is_get;			/* a session's GET stream (registered once) */
	char	   *listen_key;		/* a subscriptions/listen stream (2026-07-28): its tenant's key */
	char	   *listen_id;		/* its subscriptionId, as JSON (the listen request's id) */
	unsigned	listen_kinds;	/* LISTEN_* it asked for */
	SseStream  *listen_next;	/* listen list (registry lock) */
	double		ended_at;		/* retained: when it ended */
	SseStream  *ret_next;		/* retained list, newest first */
	SseStream  *ret_prev;
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
static SseStream *retained;		/* ended streams kept for resumption (registry lock) */
static SseStream *listeners;	/* subscriptions/listen streams (registry lock) */
static int	n_retained;
static SseStream *retained_tail;	/* the oldest retained stream */
static size_t retained_bytes;	/* their histories together */

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
	s->last_write = now_mono();
	s->session_id = xstrdup(session_id);
	s->client_fd = -1;
	random_hex(s->sid, 8);
	if (greet)
	{
		StrBuf		b;

		/* get the headers out at once (the client waits for them); set the retry delay */
		sb_init(&b);
		sb_printf(&b, ": stream open\nretry: %d\n\n", shim_config.sse_retry_ms);
		s->prologue = sb_steal(&b);
	}

	pthread_mutex_lock(&reg_lock);
	s->all_next = all_streams;
	if (all_streams)
		all_streams->all_prev = s;
	all_streams = s;
	pthread_mutex_unlock(&reg_lock);
	return s;
}

/* POST streams of 2025-11-25 clients: open with a priming event (id, retry, empty data). */
void
sse_set_priming(SseStream *s)
{
	StrBuf		b;

	sb_init(&b);
	sb_printf(&b, "id: %s-0\nretry: %d\ndata: \n\n", s->sid, shim_config.sse_retry_ms);
	pthread_mutex_lock(&s->lock);
	free(s->prologue);
	s->prologue = sb_steal(&b);
	pthread_mutex_unlock(&s->lock);
}

void
sse_set_session(SseStream *s, const char *session_id)
{
	pthread_mutex_lock(&s->lock);
	if (s->session_id == NULL && session_id != NULL)
		s->session_id = xstrdup(session_id);
	pthread_mutex_unlock(&s->lock);
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

	if (s->listen_key)
	{
		SseStream **pp = &listeners;

		while (*pp && *pp != s)
			pp = &(*pp)->listen_next;
		if (*pp)
			*pp = s->listen_next;
	}
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

static void
hist_drop_oldest(SseStream *s)
{
	SseEvent   *e = &s->hist[s->hist_start];

	s->hist_bytes -= e->len;
	free(e->frame);
	e->frame = NULL;
	s->hist_start = (s->hist_start + 1) % s->hist_cap;
	s->hist_n--;
}

/*
 * Room for one more event in a full ring below SSE_HISTORY_EVENTS: twice the
 * slots, the events moved to the front in order.  A ring starts empty: most
 * streams carry an event or two, and the whole ring inline made every call's
 * stream a 6 kB calloc.
 */
static void
hist_grow(SseStream *s)
{
	int			cap = s->hist_cap == 0 ? 4 : s->hist_cap * 2;
	SseEvent   *h = xcalloc((size_t) cap, sizeof(SseEvent));
	int			i;

	for (i = 0; i < s->hist_n; i++)
		h[i] = s->hist[(s->hist_start + i) % s->hist_cap];
	free(s->hist);
	s->hist = h;
	s->hist_cap = cap;
	s->hist_start = 0;
}

static void
stream_free(SseStream *s)
{
	while (s->hist_n > 0)
		hist_drop_oldest(s);
	free(s->hist);
	sb_free(&s->pending);
	free(s->session_id);
	free(s->prologue);
	free(s->listen_key);
	free(s->listen_id);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/*
 * Drop retained streams past their time or over the caps (registry lock
 * held).  The list is newest first, so whatever goes is at its tail: a call
 * costs what it drops, not a walk of every retained stream.
 */
static void
retained_prune_locked(double now)
{
	while (retained_tail != NULL &&
		   (now - retained_tail->ended_at > SSE_RETAIN_S || n_retained > SSE_RETAIN_STREAMS ||
			retained_bytes > SSE_RETAIN_BYTES))
	{
		SseStream  *s = retained_tail;

		retained_tail = s->ret_prev;
		if (retained_tail != NULL)
			retained_tail->ret_next = NULL;
		else
			retained = NULL;
		n_retained--;
		retained_bytes -= s->hist_bytes;
		stream_free(s);
	}
}

void
sse_unref(SseStream *s)
{
	bool		last;
	SseStream  *follower = NULL;

	/*
	 * Take the registry lock first so that a concurrent lookup never finds a
	 * stream whose last reference is being dropped.
	 */
	pthread_mutex_lock(&reg_lock);
	pthread_mutex_lock(&s->lock);
	last = (--s->refs == 0);
	if (last)
	{
		follower = s->follower;
		s->follower = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (last)
	{
		unlink_locked(s);
		if (s->hist_n > 0 && s->session_id != NULL && !atomic_load(&shim_draining))
		{
			/* keep its history for a client that resumes (newest first) */
			s->ended_at = now_mono();
			sb_free(&s->pending);
			s->off = 0;
			s->ret_next = retained;
			s->ret_prev = NULL;
			if (retained != NULL)
				retained->ret_prev = s;
			else
				retained_tail = s;
			retained = s;
			n_retained++;
			retained_bytes += s->hist_bytes;
			retained_prune_locked(s->ended_at);
			s = NULL;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	if (follower)
	{
		sse_finish(follower);
		sse_unref(follower);
	}
	if (!last || s == NULL)
		return;
	stream_free(s);
}

/* Append formatted bytes for the reader (stream lock held); false: over the cap. */
static bool
append_pending_locked(SseStream *s, const char *frame, size_t len)
{
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
	sb_append(&s->pending, frame, len);
	pthread_cond_broadcast(&s->cond);
	return true;
}

/* Append one "message" event with the next id (stream lock held). */
static bool
push_locked(SseStream *s, const char *json)
{
	const char *line = json;
	StrBuf		f;
	bool		ok;
	SseEvent   *e;

	if (s->finished)
		return false;
	sb_init(&f);
	sb_printf(&f, "id: %s-%llu\nevent: message\n", s->sid, (unsigned long long) (s->seq + 1));
	/* SSE data may not contain raw newlines: one data line per text line */
	for (;;)
	{
		const char *nl = strchr(line, '\n');
		size_t		n = nl ? (size_t) (nl - line) : strlen(line);

		if (n > 0 && line[n - 1] == '\r')
			n--;
		sb_puts(&f, "data: ");
		sb_append(&f, line, n);
		sb_puts(&f, "\n");
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	sb_puts(&f, "\n");
	ok = append_pending_locked(s, f.data, f.len);
	if (!ok)
	{
		sb_free(&f);
		return false;
	}
	s->seq++;
	if (s->follower)
	{
		SseStream  *fo = s->follower;

		pthread_mutex_lock(&fo->lock);
		(void) append_pending_locked(fo, f.data, f.len);
		pthread_mutex_unlock(&fo->lock);
	}
	/* remember it for a client that resumes */
	while (s->hist_n > 0 && (s->hist_n == SSE_HISTORY_EVENTS || s->hist_bytes + f.len > SSE_HISTORY_BYTES))
		hist_drop_oldest(s);
	if (f.len <= SSE_HISTORY_BYTES)
	{
		if (s->hist_n == s->hist_cap)
			hist_grow(s);
		e = &s->hist[(s->hist_start + s->hist_n) % s->hist_cap];
		e->seq = s->seq;
		e->len = f.len;
		e->frame = sb_steal(&f);
		s->hist_n++;
		s->hist_bytes += e->len;
	}
	else
		sb_free(&f);
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
	SseStream  *fo;

	pthread_mutex_lock(&s->lock);
	s->finished = true;
	fo = s->follower;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (fo)
	{
		pthread_mutex_lock(&fo->lock);
		fo->finished = true;
		pthread_cond_broadcast(&fo->cond);
		pthread_mutex_unlock(&fo->lock);
	}
}

/*
 * A GET with Last-Event-ID "<stream>-<n>" on session_id: a new stream that
 * replays the events after n of that stream (live or retained) and, while
 * the stream lives, follows it.  NULL when no stream of this session has
 * that id here (restart, another process, expired): serve a fresh stream.
 */
SseStream *
sse_resume(const char *session_id, const char *last_event_id, bool *get_stream)
{
	char		sid[17];
	const char *dash;
	char	   *end;
	unsigned long long after;
	SseStream  *s;
	SseStream  *n = NULL;
	SseStream  *replaced = NULL;
	int			i;
	bool		live = true;

	*get_stream = false;
	if (session_id == NULL || last_event_id == NULL)
		return NULL;
	while (*last_event_id == ' ' || *last_event_id == '\t')
		last_event_id++;
	dash = strchr(last_event_id, '-');
	if (dash == NULL || dash - last_event_id != 16)
		return NULL;
	memcpy(sid, last_event_id, 16);
	sid[16] = '\0';
	after = strtoull(dash + 1, &end, 10);
	if (end == dash + 1 || (*end != '\0' && *end != ' ' && *end != '\t'))
		return NULL;

	n = sse_new(session_id, true);	/* before the registry lock, which sse_new takes */
	pthread_mutex_lock(&reg_lock);
	for (s = all_streams; s != NULL; s = s->all_next)
		if (s != n && strcmp(s->sid, sid) == 0)
			break;
	if (s == NULL)
	{
		live = false;
		retained_prune_locked(now_mono());
		for (s = retained; s != NULL; s = s->ret_next)
			if (strcmp(s->sid, sid) == 0)
				break;
	}
	if (s != NULL)
	{
		bool		mine;

		pthread_mutex_lock(&s->lock);
		mine = s->session_id != NULL && strcmp(s->session_id, session_id) == 0;
		pthread_mutex_unlock(&s->lock);
		if (!mine)
			s = NULL;			/* another session's stream: as if unknown */
	}
	if (s == NULL)
	{
		pthread_mutex_unlock(&reg_lock);
		sse_unref(n);
		return NULL;
	}
	pthread_mutex_lock(&s->lock);
	pthread_mutex_lock(&n->lock);
	for (i = 0; i < s->hist_n; i++)
	{
		SseEvent   *e = &s->hist[(s->hist_start + i) % s->hist_cap];

		if (e->seq > after)
			(void) append_pending_locked(n, e->frame, e->len);
	}
	pthread_mutex_unlock(&n->lock);
	live = live && s->refs > 0 && !s->finished;
	if (s->is_get)
	{
		/* a GET stream: the caller registers n as the session's stream; the old one ends */
		*get_stream = true;
		if (live)
		{
			s->finished = true;
			pthread_cond_broadcast(&s->cond);
		}
	}
	else if (!live)
	{
		pthread_mutex_lock(&n->lock);
		n->finished = true;		/* the call is over: replay, then end */
		pthread_mutex_unlock(&n->lock);
	}
	else
	{
		/* an earlier resumption ends; the newest one follows */
		replaced = s->follower;
		pthread_mutex_lock(&n->lock);
		n->refs++;				/* s's reference to its follower */
		pthread_mutex_unlock(&n->lock);
		s->follower = n;
	}
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&reg_lock);
	if (replaced)
	{
		sse_finish(replaced);
		sse_unref(replaced);
	}
	metrics_count("sse_resumptions", 1);
	return n;
}

/*
 * A subscriptions/listen stream: list changes of the kinds asked for (of the
 * tenant behind listen_key) reach it, tagged with its subscriptionId
 * (subscription_id: JSON text, the listen request's id as the database
 * echoed it).
 */
void
sse_listen_register(SseStream *s, const char *listen_key, const char *subscription_id, unsigned kinds)
{
	pthread_mutex_lock(&reg_lock);
	s->listen_key = xstrdup(listen_key);
	s->listen_id = xstrdup(subscription_id);
	s->listen_kinds = kinds;
	s->listen_next = listeners;
	listeners = s;
	pthread_mutex_unlock(&reg_lock);
}

/* kind "tools", "prompts" or "resources" changed for listen_key: tell its listeners.  How many took it. */
int
sse_listen_deliver(const char *listen_key, const char *kind)
{
	unsigned	flag = strcmp(kind, "tools") == 0 ? LISTEN_TOOLS : strcmp(kind, "prompts") == 0 ? LISTEN_PROMPTS :
		strcmp(kind, "resources") == 0 ? LISTEN_RESOURCES : 0;
	SseStream  *s;
	int			n = 0;

	if (flag == 0)
		return 0;
	pthread_mutex_lock(&reg_lock);
	for (s = listeners; s != NULL; s = s->listen_next)
	{
		StrBuf		b;

		if (!(s->listen_kinds & flag) || strcmp(s->listen_key, listen_key) != 0)
			continue;
		sb_init(&b);
		sb_printf(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/%s/list_changed\","
				  "\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":", kind);
		sb_puts(&b, s->listen_id ? s->listen_id : "null");
		sb_puts(&b, "}}}");
		pthread_mutex_lock(&s->lock);
		if (push_locked(s, b.data))
			n++;
		pthread_mutex_unlock(&s->lock);
		sb_free(&b);
	}
	pthread_mutex_unlock(&reg_lock);
	return n;
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

		if (s->prologue && !s->prologue_sent)
		{
			/* first, at once: the priming event or the opening comment */
			s->prologue_sent = true;
			n = copy_text(s, buf, max, s->prologue);
			break;
		}
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

/*
 * A finished stream's whole content -- the prologue and every event not yet
 * handed out -- taken at once (malloc'd; free it), or NULL while the stream
 * may still grow.  A call that finished before its answer went out is sent
 * as one buffer: headers and body in one write, instead of one chunk per
 * event and one to end the stream.  Its history stays for resumption.
 */
char *
sse_take_all(SseStream *s, size_t *len)
{
	StrBuf		b;

	pthread_mutex_lock(&s->lock);
	if (!s->finished || atomic_load(&s->abandoned))
	{
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	sb_init(&b);
	if (s->prologue && !s->prologue_sent)
	{
		sb_puts(&b, s->prologue);
		s->prologue_sent = true;
	}
	if (s->pending.len > s->off)
		sb_append(&b, s->pending.data + s->off, s->pending.len - s->off);
	s->pending.len = s->off = 0;
	s->last_write = now_mono();
	pthread_mutex_unlock(&s->lock);
	*len = b.len;
	if (b.data == NULL)
		return calloc(1, 1);
	return sb_steal(&b);
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
	s->is_get = true;
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
		if (include_post || s->registered || s->listen_key)
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
