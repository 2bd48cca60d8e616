/*
 * metrics.c -- Prometheus text exposition for /metrics
 *
 *   mtmcp_http_requests_total{method,rpc,status}   counter
 *   mtmcp_http_request_duration_seconds{method}     histogram
 *   mtmcp_http_db_connections_in_use                gauge: running a call
 *   mtmcp_http_db_connections_total                 gauge: open connections
 *   mtmcp_http_db_connections_max                   gauge: the pool size
 *   mtmcp_http_db_queue_length                      gauge: calls waiting
 *   mtmcp_http_sse_streams_open                     gauge: GET streams
 *   mtmcp_http_events_total{event}                  counter: the rest, e.g.
 *       requests_unparsable, requests_body_too_large, requests_client_gone,
 *       calls_cancelled_client_gone, queue_refused_key_over_share,
 *       connections_refused_limit, connections_request_timeout
 *   mtmcp_injection_findings_total{direction,category,action}   counter
 *       from the database (mtmcp.finding_counts(), http.c asks at each
 *       scrape; left out when it cannot answer): no tenant names
 *
 * Label values are bounded: "method" is one of POST/GET/DELETE/OTHER and
 * "rpc" one of the MCP methods we know, "other" or "-" (no method: a client
 * response, or not a POST), so a client cannot grow the label set.  One
 * mutex guards everything; the work under it is a few additions.  The
 * duration of a GET event stream is its lifetime, not a latency: it is
 * counted but not observed in the histogram.
 */
#include <stdlib.h>
#include <string.h>

#include "shim.h"

static const char *const rpc_methods[] = {
	"initialize", "ping",
	"tools/list", "tools/call",
	"resources/list", "resources/read", "resources/templates/list",
	"resources/subscribe", "resources/unsubscribe",
	"prompts/list", "prompts/get",
	"completion/complete", "logging/setLevel",
	"notifications/initialized", "notifications/cancelled",
	"notifications/progress", "notifications/roots/list_changed",
	"server/discover", "subscriptions/listen",
	NULL
};

static const double buckets[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static const char *const http_methods[] = {"POST", "GET", "DELETE", "OTHER"};
#define NMETHODS 4

typedef struct Counter
{
	int			method;
	const char *rpc;			/* a static label */
	int			status;
	unsigned long count;
} Counter;

typedef struct Histogram
{
	unsigned long counts[NBUCKETS];
	unsigned long count;
	double		sum;
} Histogram;

typedef struct Named
{
	const char *name;			/* a static string */
	unsigned long value;
} Named;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Counter *counters;
static int	ncounters,
			capcounters;
static Histogram hist[NMETHODS];
static Named named[64];
static int	nnamed;

/* The label for a JSON-RPC method: itself if known, else "other" ("-": none). */
const char *
rpc_label(const char *method)
{
	int			i;

	if (method == NULL)
		return "-";
	for (i = 0; rpc_methods[i] != NULL; i++)
		if (strcmp(method, rpc_methods[i]) == 0)
			return rpc_methods[i];
	return "other";
}

static int
method_index(const char *m)
{
	int			i;

	for (i = 0; i < NMETHODS - 1; i++)
		if (m != NULL && strcmp(m, http_methods[i]) == 0)
			return i;
	return NMETHODS - 1;
}

void
metrics_request(const char *method, const char *rpc, int status, double seconds,
				bool observe_latency)
{
	int			m = method_index(method);
	int			i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < ncounters; i++)
		if (counters[i].method == m && counters[i].status == status &&
			strcmp(counters[i].rpc, rpc) == 0)
			break;
	if (i == ncounters)
	{
		if (ncounters == capcounters)
		{
			capcounters = capcounters ? capcounters * 2 : 32;
			counters = realloc(counters, sizeof(Counter) * (size_t) capcounters);
			if (counters == NULL)
				abort();
		}
		counters[i].method = m;
		counters[i].rpc = rpc;
		counters[i].status = status;
		counters[i].count = 0;
		ncounters++;
	}
	counters[i].count++;
	if (observe_latency)
	{
		size_t		b;

		for (b = 0; b < NBUCKETS; b++)
			if (seconds <= buckets[b])
				hist[m].counts[b]++;
		hist[m].count++;
		hist[m].sum += seconds;
	}
	pthread_mutex_unlock(&lock);
}

/* Bump one of the event counters; name must be a string literal. */
void
metrics_count(const char *name, long delta)
{
	int			i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nnamed; i++)
		if (strcmp(named[i].name, name) == 0)
			break;
	if (i == nnamed && nnamed < (int) (sizeof(named) / sizeof(named[0])))
	{
		named[i].name = name;
		named[i].value = 0;
		nnamed++;
	}
	if (i < nnamed)
		named[i].value += (unsigned long) delta;
	pthread_mutex_unlock(&lock);
}

char *
metrics_render(void)
{
	StrBuf		b;
	int			i,
				m;
	int			in_use,
				open,
				queued;
	int			streams = sse_open_count();

	pool_snapshot(&in_use, &open, &queued);
	sb_init(&b);
	pthread_mutex_lock(&lock);
	sb_puts(&b, "# HELP mtmcp_http_requests_total HTTP requests answered, by method, JSON-RPC method and status.\n"
			"# TYPE mtmcp_http_requests_total counter\n");
	for (i = 0; i < ncounters; i++)
		sb_printf(&b, "mtmcp_http_requests_total{method=\"%s\",rpc=\"%s\",status=\"%d\"} %lu\n",
				  http_methods[counters[i].method], counters[i].rpc, counters[i].status,
				  counters[i].count);

	sb_puts(&b, "# HELP mtmcp_http_request_duration_seconds Time from request to the end of the response (GET event streams excluded).\n"
			"# TYPE mtmcp_http_request_duration_seconds histogram\n");
	for (m = 0; m < NMETHODS; m++)
	{
		size_t		k;

		if (hist[m].count == 0)
			continue;
		for (k = 0; k < NBUCKETS; k++)
			sb_printf(&b, "mtmcp_http_request_duration_seconds_bucket{method=\"%s\",le=\"%g\"} %lu\n",
					  http_methods[m], buckets[k], hist[m].counts[k]);
		sb_printf(&b, "mtmcp_http_request_duration_seconds_bucket{method=\"%s\",le=\"+Inf\"} %lu\n",
				  http_methods[m], hist[m].count);
		sb_printf(&b, "mtmcp_http_request_duration_seconds_sum{method=\"%s\"} %.6f\n",
				  http_methods[m], hist[m].sum);
		sb_printf(&b, "mtmcp_http_request_duration_seconds_count{method=\"%s\"} %lu\n",
				  http_methods[m], hist[m].count);
	}

	sb_puts(&b, "# HELP mtmcp_http_events_total Internal events: notifications forwarded, reconnects, errors.\n"
			"# TYPE mtmcp_http_events_total counter\n");
	for (i = 0; i < nnamed; i++)
		sb_printf(&b, "mtmcp_http_events_total{event=\"%s\"} %lu\n", named[i].name, named[i].value);
	pthread_mutex_unlock(&lock);

	sb_printf(&b, "# HELP mtmcp_http_db_connections_in_use Database connections running a call now.\n"
			  "# TYPE mtmcp_http_db_connections_in_use gauge\n"
			  "mtmcp_http_db_connections_in_use %d\n"
			  "# HELP mtmcp_http_db_connections_total Database connections open now.\n"
			  "# TYPE mtmcp_http_db_connections_total gauge\n"
			  "mtmcp_http_db_connections_total %d\n"
			  "# HELP mtmcp_http_db_connections_max Size of the connection pool.\n"
			  "# TYPE mtmcp_http_db_connections_max gauge\n"
			  "mtmcp_http_db_connections_max %d\n"
			  "# HELP mtmcp_http_db_queue_length Calls waiting for a free database connection.\n"
			  "# TYPE mtmcp_http_db_queue_length gauge\n"
			  "mtmcp_http_db_queue_length %d\n"
			  "# HELP mtmcp_http_sse_streams_open Open GET event streams.\n"
			  "# TYPE mtmcp_http_sse_streams_open gauge\n"
			  "mtmcp_http_sse_streams_open %d\n",
			  in_use, open, shim_config.pool, queued, streams);
	return sb_steal(&b);
}
