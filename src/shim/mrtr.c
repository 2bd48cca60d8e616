/*
 * mrtr.c -- server-to-client requests for 2025 session clients, made from
 *           the database's multi round-trip results
 *
 * In the database a handler that needs input (an elicitation, a sampling
 * request, the roots list) ends its round with
 *
 *     {"resultType": "input_required",
 *      "inputRequests": {"<key>": {"method": ..., "params": ...}, ...},
 *      "requestState": "<sealed>"}
 *
 * A 2026-07-28 client gets that result as it is and retries the request
 * itself.  A session client (2025-11-25, 2025-06-18, 2025-03-26) knows
 * nothing of it: it expects real requests from the server on the call's
 * event stream.  So when a session call's round answers input_required
 * (pool.c sees it and calls mrtr_start instead of finishing the stream), a
 * conductor thread takes over the call:
 *
 *   1. each input request goes out on the call's SSE stream as a JSON-RPC
 *      request with an id of ours ("mtmcp-<random>"), and is registered
 *      under (session id, that id);
 *   2. the client answers each with a POST of a JSON-RPC response on the
 *      same session.  http.c runs that POST through the database like any
 *      message (authenticated, session checked, audited: 202) and then
 *      hands it to mrtr_deliver, which finds the waiting conductor;
 *   3. with every answer in, the conductor re-sends the ORIGINAL request
 *      (same id, same session) with params.inputResponses = {key: answer}
 *      and params.requestState = the database's, as a new job through the
 *      pool -- no database connection is held while the client thinks;
 *   4. a new input_required result starts another round (at most
 *      MRTR_MAX_ROUNDS); anything else is the call's answer and ends the
 *      stream.
 *
 * A client that answers an input request with a JSON-RPC error: the next
 * round gets {"error": {...}} as that key's answer, and the handler decides
 * (mtmcp.elicit raises "the client refused the request").  No answers
 * within --input-timeout seconds, too many rounds, or a database failure
 * end the call with a JSON-RPC error (-32603) on its stream.  A
 * client that leaves ends the call (its stream is abandoned); a shutdown
 * ends it with an error.  Answers live in this process: a client whose
 * answer POST reaches another shim process (no sticky routing) is answered
 * 202 there and the call here times out.
 */
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "shim.h"

#define MRTR_MAX_ROUNDS 16

typedef struct Conductor Conductor;

typedef struct Pending
{
	char	   *session_id;
	char	   *id;				/* our request id, "mtmcp-<hex>" */
	Conductor  *c;
	int			idx;			/* which input request */
	struct Pending *next;
} Pending;

struct Conductor
{
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char	   *token;
	char	   *session_id;
	char	   *body;			/* the original request */
	char	   *rpc_id;
	char	   *headers;
	SseStream  *stream;
	char	   *response;		/* the round's answer from the database */
	/* the round's input requests */
	int			n;
	char	  **keys;
	char	  **answers;		/* result JSON text, or {"error": ...} */
	int			answered;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static Pending *pending;

/* ---------------------------------------------------------------- helpers */

static const char *
plain(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The result object of a response text, if it is an input_required result. */
static json_object *
input_required_result(json_object *root)
{
	json_object *res,
			   *rt;

	if (root == NULL || !json_object_is_type(root, json_type_object) ||
		!json_object_object_get_ex(root, "result", &res) ||
		!json_object_is_type(res, json_type_object) ||
		!json_object_object_get_ex(res, "resultType", &rt) ||
		!json_object_is_type(rt, json_type_string) ||
		strcmp(json_object_get_string(rt), "input_required") != 0)
		return NULL;
	return res;
}

bool
mrtr_is_input_required(const char *response)
{
	json_object *root;
	bool		yes;

	if (response == NULL || strstr(response, "input_required") == NULL)
		return false;
	root = json_tokener_parse(response);
	yes = input_required_result(root) != NULL;
	json_object_put(root);
	return yes;
}

static void
push_error(Conductor *c, const char *message)
{
	StrBuf		b;

	sb_init(&b);
	sb_printf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32603,\"message\":",
			  c->rpc_id ? c->rpc_id : "null");
	sb_json_string(&b, message);
	sb_puts(&b, "}}");
	sse_push_message(c->stream, b.data);
	sb_free(&b);
}

static void
round_clear(Conductor *c)
{
	int			i;

	for (i = 0; i < c->n; i++)
	{
		free(c->keys[i]);
		free(c->answers[i]);
	}
	free(c->keys);
	free(c->answers);
	c->keys = c->answers = NULL;
	c->n = c->answered = 0;
}

static void
unregister_all(Conductor *c)
{
	Pending   **pp;

	pthread_mutex_lock(&reg_lock);
	pp = &pending;
	while (*pp)
	{
		Pending    *p = *pp;

		if (p->c == c)
		{
			*pp = p->next;
			free(p->session_id);
			free(p->id);
			free(p);
			continue;
		}
		pp = &p->next;
	}
	pthread_mutex_unlock(&reg_lock);
}

static void
conductor_free(Conductor *c)
{
	unregister_all(c);
	round_clear(c);
	if (c->token)
	{
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->session_id);
	free(c->body);
	free(c->rpc_id);
	free(c->headers);
	free(c->response);
	sse_finish(c->stream);
	sse_unref(c->stream);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/*
 * Send this round's input requests; false (and an error pushed) when the
 * result has none that can be sent.
 */
static bool
send_requests(Conductor *c, json_object *result)
{
	json_object *reqs;
	int			i = 0;

	if (!json_object_object_get_ex(result, "inputRequests", &reqs) ||
		!json_object_is_type(reqs, json_type_object) || json_object_object_length(reqs) == 0)
	{
		push_error(c, "Internal error: an input_required result without input requests");
		return false;
	}
	c->n = json_object_object_length(reqs);
	c->keys = xcalloc((size_t) c->n, sizeof(char *));
	c->answers = xcalloc((size_t) c->n, sizeof(char *));
	json_object_object_foreach(reqs, key, val)
	{
		json_object *m,
				   *params = NULL;
		char		hex[33];
		Pending    *p;
		StrBuf		b;

		if (!json_object_is_type(val, json_type_object) ||
			!json_object_object_get_ex(val, "method", &m) || !json_object_is_type(m, json_type_string))
		{
			push_error(c, "Internal error: an input request without a method");
			return false;
		}
		(void) json_object_object_get_ex(val, "params", &params);
		c->keys[i] = xstrdup(key);
		random_hex(hex, 16);
		p = xcalloc(1, sizeof(Pending));
		p->session_id = xstrdup(c->session_id);
		sb_init(&b);
		sb_printf(&b, "mtmcp-%s", hex);
		p->id = sb_steal(&b);
		p->c = c;
		p->idx = i;

		sb_init(&b);
		sb_puts(&b, "{\"jsonrpc\":\"2.0\",\"id\":");
		sb_json_string(&b, p->id);
		sb_puts(&b, ",\"method\":");
		sb_json_string(&b, json_object_get_string(m));
		if (params && json_object_is_type(params, json_type_object))
			sb_printf(&b, ",\"params\":%s", plain(params));
		sb_puts(&b, "}");

		/* registered before it is sent: the answer may come at once */
		pthread_mutex_lock(&reg_lock);
		p->next = pending;
		pending = p;
		pthread_mutex_unlock(&reg_lock);
		if (!sse_push_message(c->stream, b.data))
		{
			sb_free(&b);
			return false;		/* the stream is gone */
		}
		sb_free(&b);
		metrics_count("input_requests_sent", 1);
		i++;
	}
	return true;
}

/* Wait for every answer: 0 all in, 1 timeout, 2 the client left, 3 shutdown. */
static int
wait_answers(Conductor *c)
{
	double		deadline = now_mono() + shim_config.input_timeout_s;
	int			rc = 0;

	pthread_mutex_lock(&c->lock);
	while (c->answered < c->n)
	{
		struct timespec ts;

		if (sse_abandoned(c->stream))
		{
			rc = 2;
			break;
		}
		if (atomic_load(&shim_draining))
		{
			rc = 3;
			break;
		}
		if (now_mono() >= deadline)
		{
			rc = 1;
			break;
		}
		abstime_after(&ts, 0.25);
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	}
	pthread_mutex_unlock(&c->lock);
	unregister_all(c);
	return rc;
}

/* The original request with this round's answers and the database's state. */
static char *
retry_body(Conductor *c, json_object *result)
{
	json_object *root = json_tokener_parse(c->body);
	json_object *params;
	json_object *responses;
	json_object *state;
	char	   *out;
	int			i;

	if (root == NULL || !json_object_is_type(root, json_type_object))
	{
		json_object_put(root);
		return NULL;
	}
	if (!json_object_object_get_ex(root, "params", &params) || !json_object_is_type(params, json_type_object))
	{
		params = json_object_new_object();
		json_object_object_add(root, "params", params);
	}
	responses = json_object_new_object();
	for (i = 0; i < c->n; i++)
	{
		json_object *a = json_tokener_parse(c->answers[i]);

		json_object_object_add(responses, c->keys[i], a ? a : json_object_new_object());
	}

	json_object_object_add(params, "inputResponses", responses);
	if (json_object_object_get_ex(result, "requestState", &state) && json_object_is_type(state, json_type_string))
		json_object_object_add(params, "requestState", json_object_new_string(json_object_get_string(state)));
	else
		json_object_object_del(params, "requestState");
	out = xstrdup(plain(root));
	json_object_put(root);
	return out;
}

static void *
conductor_main(void *arg)
{
	Conductor  *c = arg;
	int			round;

	for (round = 1;; round++)
	{
		json_object *root = json_tokener_parse(c->response);
		json_object *result = input_required_result(root);
		char	   *body;
		Job		   *job;
		int			rc;

		if (result == NULL)
		{
			/* the call's answer */
			sse_push_message(c->stream, c->response);
			json_object_put(root);
			break;
		}
		if (round > MRTR_MAX_ROUNDS)
		{
			push_error(c, "Internal error: too many rounds of input requests");
			json_object_put(root);
			break;
		}
		metrics_count("input_rounds", 1);
		round_clear(c);
		if (!send_requests(c, result))
		{
			json_object_put(root);
			break;
		}
		rc = wait_answers(c);
		if (rc != 0)
		{
			if (rc == 1)
			{
				metrics_count("input_timeouts", 1);
				push_error(c, "Timed out waiting for the client's answers to the server's requests");
			}
			else if (rc == 3)
				push_error(c, "Service unavailable: the server is shutting down");
			json_object_put(root);
			break;
		}
		body = retry_body(c, result);
		json_object_put(root);
		if (body == NULL)
		{
			push_error(c, "Internal error");
			break;
		}

		job = job_new(JOB_RPC, c->token, body, c->session_id);
		free(body);
		job->rpc_id = xstrdup(c->rpc_id);
		job->headers = xstrdup(c->headers);
		job->stream = c->stream;
		sse_ref(c->stream);
		job->conducted = true;
		job_submit(job, shim_config.queue_timeout_ms);
		job_wait(job, false, -1);
		if (job->outcome == OUT_CLIENT_GONE || sse_abandoned(c->stream))
		{
			job_unref(job);
			break;
		}
		if (job->outcome != OUT_OK || job->response == NULL)
		{
			push_error(c, job->outcome == OUT_OK ? "Internal error" :
					   "Service unavailable: the database did not answer the call's next round");
			job_unref(job);
			break;
		}
		free(c->response);
		c->response = xstrdup(job->response);
		job_unref(job);
	}
	conductor_free(c);
	return NULL;
}

/*
 * From a database worker: the job (a session call streaming its answer)
 * ended its round with input_required.  A conductor takes the call over.
 */
void
mrtr_start(Job *job)
{
	Conductor  *c = xcalloc(1, sizeof(Conductor));
	pthread_t	t;
	pthread_attr_t attr;

	pthread_mutex_init(&c->lock, NULL);
	cond_init_mono(&c->cond);
	c->token = xstrdup(job->token);
	c->session_id = xstrdup(job->session_id);
	c->body = xstrdup(job->body);
	c->rpc_id = xstrdup(job->rpc_id);
	c->headers = xstrdup(job->headers);
	c->response = xstrdup(job->response);
	c->stream = job->stream;
	sse_ref(c->stream);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, conductor_main, c) != 0)
	{
		shim_log("could not start a thread for a call's input requests");
		push_error(c, "Internal error: could not wait for the client's input");
		conductor_free(c);
	}
	pthread_attr_destroy(&attr);
}

/*
 * From http.c, after the database accepted (202) a POSTed JSON-RPC response
 * on this session: is it the answer to one of our input requests?  Returns
 * true when a waiting call took it.
 */
bool
mrtr_deliver(const char *session_id, json_object *msg)
{
	json_object *id,
			   *v;
	Pending    *p;
	bool		taken = false;

	if (session_id == NULL || !json_object_object_get_ex(msg, "id", &id) ||
		!json_object_is_type(id, json_type_string) ||
		strncmp(json_object_get_string(id), "mtmcp-", 6) != 0)
		return false;
	pthread_mutex_lock(&reg_lock);
	for (p = pending; p != NULL; p = p->next)
		if (strcmp(p->id, json_object_get_string(id)) == 0 && strcmp(p->session_id, session_id) == 0)
			break;
	if (p != NULL)
	{
		Conductor  *c = p->c;

		pthread_mutex_lock(&c->lock);
		if (c->answers[p->idx] == NULL)
		{
			if (json_object_object_get_ex(msg, "result", &v))
				c->answers[p->idx] = xstrdup(plain(v));
			else
			{
				/* the client refused: the handler learns it ({"error": ...}, contract section 3) */
				json_object *e = NULL;
				json_object *w = json_object_new_object();

				(void) json_object_object_get_ex(msg, "error", &e);
				json_object_object_add(w, "error", e && json_object_is_type(e, json_type_object) ?
									   json_object_get(e) : json_object_new_object());
				c->answers[p->idx] = xstrdup(plain(w));
				json_object_put(w);
			}
			c->answered++;
			pthread_cond_broadcast(&c->cond);
			taken = true;
		}
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&reg_lock);
	if (taken)
		metrics_count("input_answers", 1);
	return taken;
}
