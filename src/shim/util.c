/*
 * util.c -- small helpers every module of the shim uses
 *
 * Growable string buffers, allocation that aborts on exhaustion (a shim that
 * cannot allocate a few bytes has nothing sensible left to do), the
 * monotonic clock the timeouts are measured on, one-line logging to stderr,
 * and random keys from the kernel.
 *
 * Logging rules: one line per call, written with a single write(2) so lines
 * from different threads never interleave.  Callers never pass tokens,
 * header values or bodies; safe_label() makes a client-chosen string (a path)
 * printable and short before it is logged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		fputs("mtmcp-http: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	   *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
	{
		fputs("mtmcp-http: out of memory\n", stderr);
		abort();
	}
	return p;
}

char *
xstrdup(const char *s)
{
	return s ? xstrndup(s, strlen(s)) : NULL;
}

char *
xstrndup(const char *s, size_t n)
{
	char	   *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
sb_init(StrBuf *sb)
{
	sb->data = NULL;
	sb->len = 0;
	sb->cap = 0;
}

void
sb_free(StrBuf *sb)
{
	free(sb->data);
	sb_init(sb);
}

void
sb_reserve(StrBuf *sb, size_t extra)
{
	size_t		need = sb->len + extra + 1;

	if (need <= sb->cap)
		return;
	if (sb->cap == 0)
		sb->cap = 256;
	while (sb->cap < need)
		sb->cap *= 2;
	sb->data = realloc(sb->data, sb->cap);
	if (sb->data == NULL)
	{
		fputs("mtmcp-http: out of memory\n", stderr);
		abort();
	}
}

void
sb_append(StrBuf *sb, const char *s, size_t n)
{
	sb_reserve(sb, n);
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

void
sb_puts(StrBuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

void
sb_printf(StrBuf *sb, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_reserve(sb, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t) n;
}

/* A JSON string literal for s (UTF-8 passes through; controls are escaped). */
void
sb_json_string(StrBuf *sb, const char *s)
{
	const unsigned char *p;

	sb_append(sb, "\"", 1);
	for (p = (const unsigned char *) s; *p; p++)
	{
		switch (*p)
		{
			case '"':
				sb_append(sb, "\\\"", 2);
				break;
			case '\\':
				sb_append(sb, "\\\\", 2);
				break;
			case '\n':
				sb_append(sb, "\\n", 2);
				break;
			case '\r':
				sb_append(sb, "\\r", 2);
				break;
			case '\t':
				sb_append(sb, "\\t", 2);
				break;
			default:
				if (*p < 0x20)
					sb_printf(sb, "\\u%04x", *p);
				else
					sb_append(sb, (const char *) p, 1);
		}
	}
	sb_append(sb, "\"", 1);
}

/* A JSON array of the list's strings. */
void
sb_json_string_array(StrBuf *sb, const ShimList *l)
{
	int			i;

	sb_append(sb, "[", 1);
	for (i = 0; i < l->n; i++)
	{
		if (i)
			sb_append(sb, ",", 1);
		sb_json_string(sb, l->items[i]);
	}
	sb_append(sb, "]", 1);
}

/* The buffer's text, now owned by the caller ("" when empty). */
char *
sb_steal(StrBuf *sb)
{
	char	   *p = sb->data ? sb->data : xstrdup("");

	sb_init(sb);
	return p;
}

double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An absolute CLOCK_MONOTONIC deadline for pthread_cond_timedwait. */
void
abstime_after(struct timespec *ts, double seconds)
{
	long		ns;

	clock_gettime(CLOCK_MONOTONIC, ts);
	if (seconds < 0)
		seconds = 0;
	ts->tv_sec += (time_t) seconds;
	ns = ts->tv_nsec + (long) ((seconds - (double) (time_t) seconds) * 1e9);
	ts->tv_sec += ns / 1000000000L;
	ts->tv_nsec = ns % 1000000000L;
}

/* Condition variables whose timed waits run on the monotonic clock. */
void
cond_init_mono(pthread_cond_t *cond)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
}

/*
 * "YYYY-MM-DDTHH:MM:SS" of a UTC time, by arithmetic (days to civil date,
 * H. Hinnant's algorithm): gmtime_r and strftime take glibc's time-zone lock
 * and read TZ on every call, and every thread logs every call.
 */
static void
utc_second(time_t t, char out[32])
{
	long		days = (long) (t / 86400),
				secs = (long) (t % 86400);
	long		era, doe, yoe, doy, mp, d, m, y;

	if (secs < 0)
	{
		secs += 86400;
		days--;
	}
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d", (int) (y % 10000), (int) m, (int) d,
			 (int) (secs / 3600), (int) (secs / 60 % 60), (int) (secs % 60));
}

/* One line on stderr, prefixed with a UTC timestamp. */
void
shim_log(const char *fmt,...)
{
	static __thread time_t second = -1;
	static __thread char stamp[32];
	char		line[1024];
	struct timespec ts;
	size_t		n;
	int			k;
	va_list		ap;
	ssize_t		rc;
	long		ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != second)
	{
		utc_second(ts.tv_sec, stamp);
		second = ts.tv_sec;
	}
	ms = ts.tv_nsec / 1000000L;
	memcpy(line, stamp, 19);
	line[19] = '.';
	line[20] = (char) ('0' + ms / 100);
	line[21] = (char) ('0' + ms / 10 % 10);
	line[22] = (char) ('0' + ms % 10);
	memcpy(line + 23, "Z mtmcp-http: ", 14);
	n = 37;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (k < 0)
		k = 0;
	n += (size_t) k;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	rc = write(STDERR_FILENO, line, n);
	(void) rc;
}

/*
 * The kernel's randomness, taken 256 bytes at a time into a reserve of each
 * thread's (every call needs 16 bytes or more: a getrandom(2) each was a
 * system call per key), wiped as it is handed out.  The shim never forks.
 */
static void
random_bytes(unsigned char *out, size_t n)
{
	static __thread unsigned char reserve[256];
	static __thread size_t left = 0;

	while (n > 0)
	{
		size_t		take;

		if (left == 0)
		{
			size_t		got = 0;

			while (got < sizeof(reserve))
			{
				ssize_t		r = getrandom(reserve + got, sizeof(reserve) - got, 0);

				if (r < 0)
				{
					if (errno == EINTR)
						continue;
					fputs("mtmcp-http: getrandom failed\n", stderr);
					abort();
				}
				got += (size_t) r;
			}
			left = sizeof(reserve);
		}
		take = n < left ? n : left;
		memcpy(out, reserve + left - take, take);
		explicit_bzero(reserve + left - take, take);
		left -= take;
		out += take;
		n -= take;
	}
}

/* nbytes of kernel randomness as lower-case hex (out holds 2*nbytes+1). */
void
random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t		i;

	if (nbytes > sizeof(raw))
		nbytes = sizeof(raw);
	random_bytes(raw, nbytes);
	for (i = 0; i < nbytes; i++)
	{
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * nbytes] = '\0';
	explicit_bzero(raw, nbytes);
}

static void
sanitize(char *out, size_t outsz, const char *in, bool spaces)
{
	size_t		i = 0;

	if (outsz == 0)
		return;
	for (; in != NULL && *in != '\0' && i + 1 < outsz; in++)
	{
		unsigned char c = (unsigned char) *in;

		out[i++] = ((c > 0x20 || (spaces && c == 0x20)) && c < 0x7f && (spaces || c != '"')) ? (char) c : '?';
	}
	out[i] = '\0';
	if (in != NULL && *in != '\0' && outsz > 4)
		memcpy(out + outsz - 4, "...", 4);
}

/* A client-chosen string made safe for a log line: printable ASCII, short. */
void
safe_label(char *out, size_t outsz, const char *in)
{
	sanitize(out, outsz, in, false);
}

/* The same for a message that may contain spaces (server error texts). */
void
safe_text(char *out, size_t outsz, const char *in)
{
	sanitize(out, outsz, in, true);
}

/*
 * Has the HTTP client closed (or reset) its end of the socket?  A peek that
 * reads end-of-file or an error says so; pending bytes (a pipelined request)
 * or nothing to read say it is still there.  A client that only shut down
 * its sending side counts as gone, as with most servers.
 */
bool
peer_closed(int fd)
{
	char		c;
	ssize_t		n;

	if (fd < 0)
		return false;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return true;
	return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}
