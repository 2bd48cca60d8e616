/*
 * jwt_json.c -- the strict JSON reader under the JWT code (pure C)
 *
 * json-c's "strict" mode still accepts single-quoted strings,
 * NaN/Infinity, raw control characters and lone surrogate escapes, and it
 * silently keeps the last of duplicate keys.  So every JSON text (JOSE
 * header, claim set, JWK) is first checked by a small RFC 8259 validator
 * (json_scan below) that also enforces strict UTF-8 and a nesting limit and
 * counts the object members it sees.  json-c then builds the tree; if the
 * tree holds fewer members than the text (a recursive sum of object lengths),
 * some key was repeated at some depth -> JWT_ERR_DUPLICATE_KEY.  Because the
 * count is taken on json-c's decoded keys, "a" and "\u0061" collide as they
 * should; keys containing \u0000 are truncated by json-c and therefore may
 * also be reported as duplicates (conservative).
 *
 * Moved out of jwt.c unchanged; the two entry points are declared in jwt_int.h.
 */
#include "jwt_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* nesting limit enforced by our validator; json-c gets some headroom */
#define JWT_JSON_MAX_DEPTH		32

/* ------------------------------------------------------------------------
 * strict JSON validator (RFC 8259 + strict UTF-8), counting object members
 * ------------------------------------------------------------------------ */

typedef struct json_scan
{
	const unsigned char *p;
	const unsigned char *end;
	size_t		members;
} json_scan;

static void
js_ws(json_scan *s)
{
	while (s->p < s->end &&
		   (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
js_hex4(json_scan *s, unsigned int *val)
{
	unsigned int v = 0;
	int			i;

	if (s->end - s->p < 4)
		return 0;
	for (i = 0; i < 4; i++)
	{
		unsigned char c = s->p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int) (c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int) (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int) (c - 'A' + 10);
		else
			return 0;
	}
	s->p += 4;
	*val = v;
	return 1;
}

/* one UTF-8 multi-byte sequence starting at s->p (lead byte >= 0x80) */
static int
js_utf8(json_scan *s)
{
	const unsigned char *p = s->p;
	size_t		avail = (size_t) (s->end - p);
	unsigned char c = p[0];
	size_t		n,
				i;
	unsigned char lo = 0x80,
				hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
	{
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;			/* no overlongs */
		else if (c == 0xed)
			hi = 0x9f;			/* no UTF-16 surrogates */
	}
	else if (c >= 0xf0 && c <= 0xf4)
	{
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;			/* <= U+10FFFF */
	}
	else
		return 0;
	if (avail < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	s->p += n;
	return 1;
}

static int
js_string(json_scan *s)
{
	/* caller checked *s->p == '"' */
	s->p++;
	while (s->p < s->end)
	{
		unsigned char c = *s->p;

		if (c == '"')
		{
			s->p++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c == '\\')
		{
			s->p++;
			if (s->p >= s->end)
				return 0;
			c = *s->p++;
			switch (c)
			{
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					break;
				case 'u':
					{
						unsigned int u,
									u2;

						if (!js_hex4(s, &u))
							return 0;
						if (u >= 0xdc00 && u <= 0xdfff)
							return 0;	/* lone low surrogate */
						if (u >= 0xd800 && u <= 0xdbff)
						{
							if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u')
								return 0;
							s->p += 2;
							if (!js_hex4(s, &u2))
								return 0;
							if (u2 < 0xdc00 || u2 > 0xdfff)
								return 0;
						}
						break;
					}
				default:
					return 0;
			}
			continue;
		}
		if (c >= 0x80)
		{
			if (!js_utf8(s))
				return 0;
			continue;
		}
		s->p++;
	}
	return 0;
}

static int
js_digits(json_scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static int
js_number(json_scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return 0;
	if (*s->p == '0')
		s->p++;
	else if (*s->p >= '1' && *s->p <= '9')
		js_digits(s);
	else
		return 0;
	if (s->p < s->end && *s->p == '.')
	{
		s->p++;
		if (!js_digits(s))
			return 0;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
	{
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!js_digits(s))
			return 0;
	}
	return 1;
}

static int
js_literal(json_scan *s, const char *lit)
{
	size_t		n = strlen(lit);

	if ((size_t) (s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return 0;
	s->p += n;
	return 1;
}

static int	js_value(json_scan *s, int depth);

static int
js_object(json_scan *s, int depth)
{
	if (depth >= JWT_JSON_MAX_DEPTH)
		return 0;
	s->p++;						/* '{' */
	js_ws(s);
	if (s->p < s->end && *s->p == '}')
	{
		s->p++;
		return 1;
	}
	for (;;)
	{
		if (s->p >= s->end || *s->p != '"' || !js_string(s))
			return 0;
		s->members++;
		js_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return 0;
		s->p++;
		js_ws(s);
		if (!js_value(s, depth + 1))
			return 0;
		js_ws(s);
		if (s->p >= s->end)
			return 0;
		if (*s->p == '}')
		{
			s->p++;
			return 1;
		}
		if (*s->p != ',')
			return 0;
		s->p++;
		js_ws(s);
	}
}

static int
js_array(json_scan *s, int depth)
{
	if (depth >= JWT_JSON_MAX_DEPTH)
		return 0;
	s->p++;						/* '[' */
	js_ws(s);
	if (s->p < s->end && *s->p == ']')
	{
		s->p++;
		return 1;
	}
	for (;;)
	{
		if (!js_value(s, depth + 1))
			return 0;
		js_ws(s);
		if (s->p >= s->end)
			return 0;
		if (*s->p == ']')
		{
			s->p++;
			return 1;
		}
		if (*s->p != ',')
			return 0;
		s->p++;
		js_ws(s);
	}
}

static int
js_value(json_scan *s, int depth)
{
	if (s->p >= s->end)
		return 0;
	switch (*s->p)
	{
		case '{':
			return js_object(s, depth);
		case '[':
			return js_array(s, depth);
		case '"':
			return js_string(s);
		case 't':
			return js_literal(s, "true");
		case 'f':
			return js_literal(s, "false");
		case 'n':
			return js_literal(s, "null");
		default:
			return js_number(s);
	}
}

/* number of object members in a json-c tree (duplicates already collapsed) */
static size_t
tree_members(struct json_object *o, int depth)
{
	size_t		n = 0;

	if (o == NULL || depth > JWT_JSON_MAX_DEPTH + 1)
		return 0;
	if (json_object_is_type(o, json_type_object))
	{
		struct json_object_iterator it = json_object_iter_begin(o);
		struct json_object_iterator e = json_object_iter_end(o);

		n += (size_t) json_object_object_length(o);
		while (!json_object_iter_equal(&it, &e))
		{
			n += tree_members(json_object_iter_peek_value(&it), depth + 1);
			json_object_iter_next(&it);
		}
	}
	else if (json_object_is_type(o, json_type_array))
	{
		size_t		i,
					len = json_object_array_length(o);

		for (i = 0; i < len; i++)
			n += tree_members(json_object_array_get_idx(o, i), depth + 1);
	}
	return n;
}

/* Parse a JSON text that must be one object; duplicates refused. */
jwt_status
jwt_parse_json_object(const unsigned char *buf, size_t len, struct json_object **out)
{
	json_scan	s;
	json_tokener *tok;
	struct json_object *obj;

	*out = NULL;
	if (len > INT_MAX)
		return JWT_ERR_JSON;

	s.p = buf;
	s.end = buf + len;
	s.members = 0;
	js_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return JWT_ERR_JSON;
	if (!js_value(&s, 0))
		return JWT_ERR_JSON;
	js_ws(&s);
	if (s.p != s.end)
		return JWT_ERR_JSON;

	tok = json_tokener_new_ex(JWT_JSON_MAX_DEPTH + 8);
	if (tok == NULL)
		return JWT_ERR_NOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, (const char *) buf, (int) len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success)
	{
		json_tokener_free(tok);
		json_object_put(obj);
		return JWT_ERR_JSON;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(obj, json_type_object))
	{
		json_object_put(obj);
		return JWT_ERR_JSON;
	}
	if (tree_members(obj, 0) != s.members)
	{
		/* fewer in the tree than in the text: a key was repeated */
		json_object_put(obj);
		return JWT_ERR_DUPLICATE_KEY;
	}
	*out = obj;
	return JWT_OK;
}

/* a JSON string without embedded NUL; returns its C string or NULL */
const char *
jwt_plain_string(struct json_object *o, size_t *lenp)
{
	const char *str;
	int			len;

	if (o == NULL || !json_object_is_type(o, json_type_string))
		return NULL;
	str = json_object_get_string(o);
	len = json_object_get_string_len(o);
	if (str == NULL || len < 0 || strlen(str) != (size_t) len)
		return NULL;
	if (lenp)
		*lenp = (size_t) len;
	return str;
}

