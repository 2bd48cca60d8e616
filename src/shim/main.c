/*
 * main.c -- mtmcp-http: configuration, startup, signals, graceful shutdown
 *
 * Configuration comes from flags, each with an environment variable
 * fallback (flags win).  Defaults that depend on the port (allowed Host and
 * Origin values, the public resource URL) are computed after the listening
 * socket is bound, so "--listen 127.0.0.1:0" (any free port) works: the
 * chosen port is logged as "listening on HOST:PORT".
 *
 * Threads: the main thread only waits for SIGTERM/SIGINT (blocked in every
 * other thread, taken with sigwait).  libmicrohttpd owns the HTTP threads
 * (http.c), pool.c the database workers, notify.c the LISTEN thread.
 *
 * Shutdown: stop accepting connections; answer new requests on open
 * keep-alive connections with 503; finish every GET stream; wait up to
 * --shutdown-grace seconds for in-flight requests (POST streams included);
 * then cancel what still runs; stop the HTTP side, the listener and the
 * pool; exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "shim.h"

/* The session revisions first (initialize), then the stateless one. */
const char *const shim_protocol_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", NULL};
const char *const shim_all_versions[] = {"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", NULL};

ShimConfig	shim_config;
atomic_int shim_draining;

typedef enum OptKind
{
	OPT_STR,
	OPT_INT,
	OPT_SIZE,
	OPT_LIST
} OptKind;

typedef struct OptSpec
{
	const char *flag;
	const char *env;
	OptKind		kind;
	void	   *target;
	long		min,
				max;			/* OPT_INT / OPT_SIZE bounds */
	const char *arg;
	const char *help;
} OptSpec;

static OptSpec opts[] = {
	{"db", "MTMCP_DATABASE_URL", OPT_STR, &shim_config.db, 0, 0, "CONNINFO",
	"libpq connection string or URL (default: libpq's PG* environment)"},
	{"listen-dsn", "MTMCP_LISTEN_DSN", OPT_STR, &shim_config.listen_db, 0, 0, "CONNINFO",
	"a direct connection for LISTEN (resource updates) when --db is a transaction pooler (default: --db)"},
	{"listen", "MTMCP_LISTEN", OPT_STR, &shim_config.listen, 0, 0, "HOST:PORT",
	"address to listen on (default 127.0.0.1:8080; port 0 = any free port)"},
	{"pool", "MTMCP_POOL", OPT_INT, &shim_config.pool, 1, 1000, "N",
	"database connections, one per worker thread (default 8)"},
	{"path", "MTMCP_PATH", OPT_STR, &shim_config.mcp_path, 0, 0, "PATH",
	"the MCP endpoint's path (default /mcp)"},
	{"allowed-origins", "MTMCP_ALLOWED_ORIGINS", OPT_LIST, &shim_config.allowed_origins, 0, 0, "LIST",
	"Origin values allowed besides http://localhost:PORT and http://127.0.0.1:PORT (* = any)"},
	{"allowed-hosts", "MTMCP_ALLOWED_HOSTS", OPT_LIST, &shim_config.allowed_hosts, 0, 0, "LIST",
	"Host values allowed besides localhost:PORT, 127.0.0.1:PORT and the resource URL's (* = any)"},
	{"resource-url", "MTMCP_RESOURCE_URL", OPT_STR, &shim_config.resource_url, 0, 0, "URL",
	"public URL of the MCP endpoint (default http://HOST:PORT/mcp)"},
	{"authorization-servers", "MTMCP_AUTHORIZATION_SERVERS", OPT_LIST, &shim_config.authorization_servers, 0, 0, "LIST",
	"issuer URLs for the protected resource metadata"},
	{"scopes", "MTMCP_SCOPES", OPT_LIST, &shim_config.scopes, 0, 0, "LIST",
	"scopes_supported for the protected resource metadata"},
	{"required-scope", "MTMCP_REQUIRED_SCOPE", OPT_STR, &shim_config.required_scope, 0, 0, "SCOPE",
	"the scope every token must carry, as advertised (metadata, 401 and 403 challenges); default: the database's mtmcp.access_scope, which enforces it"},
	{"max-body", "MTMCP_MAX_BODY", OPT_SIZE, &shim_config.max_body, 1, 1L << 30, "BYTES",
	"largest request body, with optional k or m suffix (default 1m)"},
	{"max-connections", "MTMCP_MAX_CONNECTIONS", OPT_INT, &shim_config.max_connections, 1, 100000, "N",
	"concurrent HTTP connections, one thread each (default 512)"},
	{"max-connections-per-ip", "MTMCP_MAX_CONNECTIONS_PER_IP", OPT_INT, &shim_config.max_per_ip, 0, 100000, "N",
	"concurrent HTTP connections from one client address; 0 = no limit, e.g. behind a proxy (default 64)"},
	{"request-timeout", "MTMCP_REQUEST_TIMEOUT", OPT_INT, &shim_config.request_timeout_s, 0, 3600, "SECONDS",
	"a request's headers and body must arrive within this, else the connection closes; 0 = no limit (default 30)"},
	{"queue-timeout", "MTMCP_QUEUE_TIMEOUT_MS", OPT_INT, &shim_config.queue_timeout_ms, 1, 600000, "MS",
	"wait this long for a free database connection, then 503 (default 10000)"},
	{"key-max-inflight", "MTMCP_KEY_MAX_INFLIGHT", OPT_INT, &shim_config.key_max_inflight, 1, 100000, "N",
	"calls queued or running per bearer token; more are refused with 429 (default 2 x pool)"},
	{"key-max-running", "MTMCP_KEY_MAX_RUNNING", OPT_INT, &shim_config.key_max_running, 1, 100000, "N",
	"database connections one bearer token may hold at once (default pool/2, at least 1: at or below the tenant's max_in_flight, 4 by default)"},
	{"keepalive", "MTMCP_KEEPALIVE", OPT_INT, &shim_config.keepalive_s, 1, 3600, "SECONDS",
	"SSE keep-alive comment interval (default 15; at most half the idle timeout)"},
	{"sse-retry", "MTMCP_SSE_RETRY_MS", OPT_INT, &shim_config.sse_retry_ms, 0, 3600000, "MS",
	"the retry field of event streams: how long a client waits before reconnecting (default 1000)"},
	{"input-timeout", "MTMCP_INPUT_TIMEOUT", OPT_INT, &shim_config.input_timeout_s, 1, 86400, "SECONDS",
	"how long a 2025 session call waits for the client's answers to its input requests (default 300)"},
	{"idle-timeout", "MTMCP_IDLE_TIMEOUT", OPT_INT, &shim_config.idle_timeout_s, 0, 86400, "SECONDS",
	"close HTTP connections idle this long; 0 = never (default 120)"},
	{"reset-query", "MTMCP_RESET_QUERY", OPT_STR, &shim_config.reset_query, 0, 0, "SQL",
	"run on a connection after every call (default none: the database keeps calls apart; a belt-and-braces value below)"},
	{"statements", "MTMCP_STATEMENTS", OPT_STR, &shim_config.statements, 0, 0, "prepared|unnamed",
	"prepared: each connection prepares its statements once (default); unnamed: parse every call, nothing named outlives a transaction (PgBouncer in transaction mode)"},
	{"shutdown-grace", "MTMCP_SHUTDOWN_GRACE", OPT_INT, &shim_config.shutdown_grace_s, 0, 3600, "SECONDS",
	"on SIGTERM, let in-flight requests run this long (default 10)"},
	{NULL, NULL, OPT_STR, NULL, 0, 0, NULL, NULL}
};

static void
usage(FILE *f)
{
	OptSpec    *o;

	fprintf(f,
			"mtmcp-http %s -- MCP Streamable HTTP shim for the mtmcp PostgreSQL extension\n\n"
			"Usage: mtmcp-http [OPTIONS]\n\n"
			"Every MCP message becomes one call of mtmcp.mcp_http(); the database decides\n"
			"identity, tenant, session and status.  Options (environment variable in brackets):\n\n",
			SHIM_VERSION);
	for (o = opts; o->flag; o++)
	{
		char		left[64];

		snprintf(left, sizeof(left), "--%s %s", o->flag, o->arg);
		fprintf(f, "  %-34s %s\n  %-34s [%s]\n", left, o->help, "", o->env);
	}
	fprintf(f, "  %-34s %s\n  %-34s %s\n\n"
			"Lists are comma separated.  Endpoints: POST/GET/DELETE PATH, GET /healthz,\n"
			"GET /metrics, GET /.well-known/oauth-protected-resource[PATH].\n\n"
			"A --reset-query that clears what session state SQL can leave (not needed for\n"
			"mtmcp's handlers, which cannot leave any):\n  %s\n",
			"--help", "print this and exit", "--version", "print the version and exit",
			SHIM_SUGGESTED_RESET);
}

static void
die(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt,...)
{
	va_list		ap;

	fputs("mtmcp-http: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
list_add(ShimList *l, const char *item)
{
	l->items = realloc(l->items, sizeof(char *) * (size_t) (l->n + 1));
	if (l->items == NULL)
		abort();
	l->items[l->n++] = xstrdup(item);
}

static void
list_parse(ShimList *l, const char *text)
{
	const char *p = text;

	while (*p)
	{
		size_t		n = strcspn(p, ",");
		const char *s = p;

		while (n > 0 && (*s == ' ' || *s == '\t'))
			s++, n--;
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n > 0)
		{
			char	   *item = xstrndup(s, n);

			list_add(l, item);
			free(item);
		}
		p += strcspn(p, ",");
		if (*p)
			p++;
	}
}

static void
list_free(ShimList *l)
{
	int			i;

	for (i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static void
set_option(OptSpec *o, const char *value, const char *source)
{
	char	   *end;
	long long	v;

	switch (o->kind)
	{
		case OPT_STR:
			free(*(char **) o->target);
			*(char **) o->target = xstrdup(value);
			break;
		case OPT_LIST:
			list_free((ShimList *) o->target);
			list_parse((ShimList *) o->target, value);
			break;
		case OPT_INT:
		case OPT_SIZE:
			errno = 0;
			v = strtoll(value, &end, 10);
			if (o->kind == OPT_SIZE && (*end == 'k' || *end == 'K'))
				v *= 1024, end++;
			else if (o->kind == OPT_SIZE && (*end == 'm' || *end == 'M'))
				v *= 1024 * 1024, end++;
			if (errno || end == value || *end != '\0' || v < o->min || v > o->max)
				die("invalid value for %s: \"%s\" (expected %ld..%ld)", source, value, o->min, o->max);
			if (o->kind == OPT_INT)
				*(int *) o->target = (int) v;
			else
				*(size_t *) o->target = (size_t) v;
			break;
	}
}

static void
parse_config(int argc, char **argv)
{
	struct option longopts[32];
	OptSpec    *o;
	int			n = 0;
	int			c;
	int			idx;

	shim_config.db = xstrdup("");
	shim_config.reset_query = xstrdup("");
	shim_config.statements = xstrdup("prepared");
	shim_config.listen = xstrdup("127.0.0.1:8080");
	shim_config.mcp_path = xstrdup("/mcp");
	shim_config.pool = 8;
	shim_config.max_connections = 512;
	shim_config.max_per_ip = 64;
	shim_config.request_timeout_s = 30;
	shim_config.key_max_inflight = -1;	/* depend on the pool size */
	shim_config.key_max_running = -1;
	shim_config.max_body = 1024 * 1024;
	shim_config.queue_timeout_ms = 10000;
	shim_config.keepalive_s = 15;
	shim_config.sse_retry_ms = 1000;
	shim_config.input_timeout_s = 300;
	shim_config.idle_timeout_s = 120;
	shim_config.shutdown_grace_s = 10;

	for (o = opts; o->flag; o++)
	{
		const char *e = getenv(o->env);

		if (e != NULL && *e != '\0')
			set_option(o, e, o->env);
		longopts[n].name = o->flag;
		longopts[n].has_arg = required_argument;
		longopts[n].flag = NULL;
		longopts[n].val = 1000 + n;
		n++;
	}
	longopts[n++] = (struct option)
	{
		"help", no_argument, NULL, 'h'
	};
	longopts[n++] = (struct option)
	{
		"version", no_argument, NULL, 'V'
	};
	memset(&longopts[n], 0, sizeof(struct option));

	while ((c = getopt_long(argc, argv, "hV", longopts, &idx)) != -1)
	{
		if (c == 'h')
		{
			usage(stdout);
			exit(0);
		}
		if (c == 'V')
		{
			printf("mtmcp-http %s\n", SHIM_VERSION);
			exit(0);
		}
		if (c >= 1000 && c < 1000 + n)
		{
			char		source[64];

			snprintf(source, sizeof(source), "--%s", opts[c - 1000].flag);
			set_option(&opts[c - 1000], optarg, source);
			continue;
		}
		usage(stderr);
		exit(2);
	}
	if (optind < argc)
		die("unexpected argument \"%s\" (see --help)", argv[optind]);
	if (shim_config.mcp_path[0] != '/')
		die("--path must start with \"/\"");
	if (shim_config.key_max_inflight < 0)
		shim_config.key_max_inflight = 2 * shim_config.pool;
	if (shim_config.key_max_running < 0)
		shim_config.key_max_running = shim_config.pool / 2 > 0 ? shim_config.pool / 2 : 1;
	if (strcmp(shim_config.statements, "prepared") != 0 && strcmp(shim_config.statements, "unnamed") != 0)
		die("--statements must be \"prepared\" or \"unnamed\"");
	if (shim_config.listen_db != NULL && shim_config.listen_db[0] == '\0')
	{
		free(shim_config.listen_db);
		shim_config.listen_db = NULL;
	}
	/* an event stream must never look idle to the idle timeout */
	if (shim_config.idle_timeout_s > 0 && shim_config.keepalive_s * 2 > shim_config.idle_timeout_s)
		shim_config.keepalive_s = shim_config.idle_timeout_s / 2 > 0 ? shim_config.idle_timeout_s / 2 : 1;
}

/* A value we put inside a quoted header parameter or JSON: no quotes, controls. */
static bool
header_safe(const char *s, bool spaces)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\' ||
			(*s == ' ' && !spaces))
			return false;
	return true;
}

/* Split http(s)://authority/path; false if it is not such a URL. */
static bool
split_url(const char *url, char **origin, char **authority, char **path)
{
	const char *rest;
	size_t		n;

	if (strncasecmp(url, "http://", 7) == 0)
		rest = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		rest = url + 8;
	else
		return false;
	if (strpbrk(url, "?#") != NULL || !header_safe(url, false))
		return false;
	n = strcspn(rest, "/");
	if (n == 0)
		return false;
	*authority = xstrndup(rest, n);
	*origin = xstrndup(url, (size_t) (rest - url) + n);
	*path = xstrdup(rest[n] ? rest + n : "");
	return true;
}

/* Bind the listening socket ourselves, so the port is known before serving. */
static int
bind_listen(const char *listen_spec, char **host_out, bool *ipv6)
{
	char	   *spec = xstrdup(listen_spec);
	char	   *host;
	char	   *port;
	struct addrinfo hints;
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t	sslen = sizeof(ss);
	int			fd,
				one = 1,
				rc;

	if (spec[0] == '[')
	{
		char	   *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':')
			die("invalid --listen \"%s\" (expected [IPV6]:PORT)", listen_spec);
		*close = '\0';
		host = spec + 1;
		port = close + 2;
	}
	else if ((port = strrchr(spec, ':')) != NULL)
	{
		*port++ = '\0';
		host = *spec ? spec : "0.0.0.0";
	}
	else
	{
		host = "127.0.0.1";
		port = spec;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0)
		die("invalid --listen \"%s\": %s", listen_spec, gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("could not create a socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		die("could not listen on %s: %s", listen_spec, strerror(errno));
	if (listen(fd, SOMAXCONN) != 0)
		die("could not listen on %s: %s", listen_spec, strerror(errno));
	*ipv6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	if (getsockname(fd, (struct sockaddr *) &ss, &sslen) != 0)
		die("getsockname: %s", strerror(errno));
	shim_config.port = ntohs(ss.ss_family == AF_INET6
							 ? ((struct sockaddr_in6 *) &ss)->sin6_port
							 : ((struct sockaddr_in *) &ss)->sin_port);
	*host_out = xstrdup(host);
	free(spec);
	return fd;
}

static bool
list_contains(const ShimList *l, const char *v)
{
	int			i;

	for (i = 0; i < l->n; i++)
		if (strcasecmp(l->items[i], v) == 0)
			return true;
	return false;
}

static void
list_add_unique(ShimList *l, const char *v)
{
	if (!list_contains(l, v))
		list_add(l, v);
}

/* Port-dependent defaults, the metadata document and its paths. */
static void
finish_config(const char *host)
{
	char		buf[512];
	bool		wildcard = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
	bool		v6 = strchr(host, ':') != NULL;
	char	   *origin,
			   *authority,
			   *path;
	int			i,
				npaths = 0;
	const char *loopback[] = {"localhost", "127.0.0.1", "[::1]"};

	if (shim_config.resource_url == NULL)
	{
		if (wildcard)
			snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", shim_config.port, shim_config.mcp_path);
		else
			snprintf(buf, sizeof(buf), v6 ? "http://[%s]:%d%s" : "http://%s:%d%s",
					 host, shim_config.port, shim_config.mcp_path);
		shim_config.resource_url = xstrdup(buf);
	}
	if (!split_url(shim_config.resource_url, &origin, &authority, &path))
		die("invalid resource URL \"%s\" (expected http(s)://host[:port]/path, no query)",
			shim_config.resource_url);

	for (i = 0; i < 3; i++)
	{
		snprintf(buf, sizeof(buf), "%s:%d", loopback[i], shim_config.port);
		list_add_unique(&shim_config.allowed_hosts, buf);
		snprintf(buf, sizeof(buf), "http://%s:%d", loopback[i], shim_config.port);
		list_add_unique(&shim_config.allowed_origins, buf);
	}
	if (!wildcard)
	{
		snprintf(buf, sizeof(buf), v6 ? "[%s]:%d" : "%s:%d", host, shim_config.port);
		list_add_unique(&shim_config.allowed_hosts, buf);
	}
	list_add_unique(&shim_config.allowed_hosts, authority);

	/* RFC 9728: the metadata URL inserts the well-known prefix before the path */
	snprintf(buf, sizeof(buf), "%s/.well-known/oauth-protected-resource%s", origin,
			 strcmp(path, "/") == 0 ? "" : path);
	shim_config.resource_metadata_url = xstrdup(buf);
	shim_config.metadata_paths = xcalloc(4, sizeof(char *));
	shim_config.metadata_paths[npaths++] = xstrdup("/.well-known/oauth-protected-resource");
	if (*path && strcmp(path, "/") != 0)
	{
		snprintf(buf, sizeof(buf), "/.well-known/oauth-protected-resource%s", path);
		shim_config.metadata_paths[npaths++] = xstrdup(buf);
	}
	if (strcmp(path, shim_config.mcp_path) != 0)
	{
		snprintf(buf, sizeof(buf), "/.well-known/oauth-protected-resource%s", shim_config.mcp_path);
		shim_config.metadata_paths[npaths++] = xstrdup(buf);
	}

	for (i = 0; i < shim_config.scopes.n; i++)
		if (!header_safe(shim_config.scopes.items[i], false))
			die("invalid scope \"%s\"", shim_config.scopes.items[i]);
	if (shim_config.required_scope && !header_safe(shim_config.required_scope, true))
		die("invalid --required-scope");
	if (shim_config.authorization_servers.n == 0)
		shim_log("warning: no --authorization-servers; the resource metadata lists none");

	shim_config.metadata_json = shim_metadata_json(shim_config.required_scope);
	free(origin);
	free(authority);
	free(path);
}

/*
 * The RFC 9728 document.  required_scope (the scope every token must carry:
 * --required-scope, else the database's mtmcp.access_scope) is listed in
 * scopes_supported with --scopes.
 */
char *
shim_metadata_json(const char *required_scope)
{
	StrBuf		b;
	int			i;
	bool		listed = false;

	sb_init(&b);
	sb_puts(&b, "{\"resource\":");
	sb_json_string(&b, shim_config.resource_url);
	sb_puts(&b, ",\"authorization_servers\":");
	sb_json_string_array(&b, &shim_config.authorization_servers);
	sb_puts(&b, ",\"bearer_methods_supported\":[\"header\"]");
	for (i = 0; required_scope && i < shim_config.scopes.n; i++)
		listed = listed || strcmp(shim_config.scopes.items[i], required_scope) == 0;
	if (shim_config.scopes.n > 0 || (required_scope && *required_scope))
	{
		sb_puts(&b, ",\"scopes_supported\":[");
		if (required_scope && *required_scope && !listed)
		{
			sb_json_string(&b, required_scope);
			if (shim_config.scopes.n > 0)
				sb_puts(&b, ",");
		}
		for (i = 0; i < shim_config.scopes.n; i++)
		{
			sb_json_string(&b, shim_config.scopes.items[i]);
			if (i + 1 < shim_config.scopes.n)
				sb_puts(&b, ",");
		}
		sb_puts(&b, "]");
	}
	sb_puts(&b, ",\"resource_name\":\"mtmcp\"}");
	return sb_steal(&b);
}

static void
free_config(void)
{
	int			i;

	free(shim_config.db);
	free(shim_config.listen_db);
	free(shim_config.listen);
	free(shim_config.mcp_path);
	free(shim_config.required_scope);
	free(shim_config.reset_query);
	free(shim_config.statements);
	free(shim_config.resource_url);
	free(shim_config.resource_metadata_url);
	free(shim_config.metadata_json);
	for (i = 0; shim_config.metadata_paths && shim_config.metadata_paths[i]; i++)
		free(shim_config.metadata_paths[i]);
	free(shim_config.metadata_paths);
	list_free(&shim_config.allowed_origins);
	list_free(&shim_config.allowed_hosts);
	list_free(&shim_config.authorization_servers);
	list_free(&shim_config.scopes);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Wait until no request is in flight, or the deadline (monotonic) passes. */
static bool
wait_idle(double deadline)
{
	while (http_in_flight() > 0)
	{
		if (now_mono() >= deadline)
			return false;
		sleep_ms(50);
	}
	return true;
}

int
main(int argc, char **argv)
{
	sigset_t	sigs;
	int			sig = 0;
	int			fd;
	bool		ipv6;
	bool		own_fd;
	char	   *host;

	parse_config(argc, argv);

	/* Signals: the main thread takes them; every other thread inherits the mask. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	fd = bind_listen(shim_config.listen, &host, &ipv6);
	finish_config(host);

	if (!pool_start(shim_config.pool))
		return 1;
	notify_start();
	if (!http_start(fd, ipv6))
	{
		shim_log("could not start the HTTP server");
		return 1;
	}
	shim_log("listening on %s%s%s:%d path %s (pool %d, max connections %d, %d per address, "
			 "request timeout %d s, per token %d in flight / %d running, %s statements%s); resource %s%s",
			 ipv6 ? "[" : "", host, ipv6 ? "]" : "", shim_config.port, shim_config.mcp_path,
			 shim_config.pool, shim_config.max_connections, shim_config.max_per_ip,
			 shim_config.request_timeout_s, shim_config.key_max_inflight,
			 shim_config.key_max_running, shim_config.statements,
			 shim_config.reset_query[0] ? ", a reset query after every call" : "", shim_config.resource_url,
			 shim_config.listen_db ? "; LISTEN on its own connection (--listen-dsn)" : "");
	free(host);

	while (sigwait(&sigs, &sig) != 0)
		;
	shim_log("%s: shutting down (grace %d s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
			 shim_config.shutdown_grace_s);

	atomic_store(&shim_draining, 1);
	own_fd = http_quiesce();
	sse_finish_all(false);		/* GET streams end now */
	if (!wait_idle(now_mono() + shim_config.shutdown_grace_s))
	{
		shim_log("%d requests still running after the grace period; cancelling them",
				 http_in_flight());
		pool_cancel_all();
		/* cancelled calls end their streams with an error event; then force */
		if (!wait_idle(now_mono() + 3.0))
		{
			sse_finish_all(true);
			(void) wait_idle(now_mono() + 2.0);
		}
	}
	http_stop();
	notify_stop();
	pool_stop();
	if (own_fd)
		close(fd);
	shim_log("stopped");
	free_config();
	return 0;
}
