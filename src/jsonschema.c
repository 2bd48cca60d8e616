/*
 * jsonschema.c -- JSON Schema 2020-12 (the subset MCP tools use), over jsonb
 *
 * Two entry points:
 *
 *   mtmcp_schema_check     registration time: is this a well-formed schema?
 *                          Raises "invalid JSON schema" with a detail naming
 *                          the problem and its JSON Pointer in the schema.
 *   mtmcp_schema_validate  every tools/call: does this instance conform?
 *                          Returns the first violation as "<path>: <message>",
 *                          path JSONPath-like in the instance ($.tags[2]).
 *
 * There is no compiled form.  Both walkers read the schema's jsonb
 * containers directly: at each schema object one pass over its keys picks
 * out the keywords we know (read_keywords), and evaluation then follows a
 * fixed keyword order so that "the first violation" is deterministic.
 * Unknown keywords are annotations and are ignored, as 2020-12 says; the
 * three 2020-12 keywords whose meaning we do not implement ($dynamicRef,
 * unevaluatedProperties, unevaluatedItems) are refused by the check rather
 * than silently not enforced.
 *
 * Semantics worth knowing:
 *   - numbers are compared as numeric, never as floating point; "integer"
 *     is any number without a fractional part (1.0 is an integer);
 *   - const/enum/uniqueItems use JSON equality (jsonb equality: object key
 *     order is irrelevant, 1 = 1.0);
 *   - string lengths count characters, not bytes;
 *   - "pattern" uses PostgreSQL's ARE regex flavour, unanchored (it matches
 *     anywhere, like ECMA-262 RegExp.test), in the C collation so that
 *     classes such as \w are ASCII as in ECMA-262.  Compiled regexes are
 *     cached by PostgreSQL's own regex cache.  ARE is not ECMA-262: notably
 *     \b is a backspace (\y is a word boundary), and "." matches newline;
 *   - "$ref" must be local: "#" or "#/json/pointer" (percent-decoded, with
 *     ~0 and ~1 unescaped), resolved against the root of the document.
 *     "$id" does not change the base for resolution.
 *
 * Termination: a $ref cycle that never descends into the instance (e.g.
 * "a" = {"$ref": "#/$defs/a"}) would recurse forever.  The check refuses
 * such schemas: it runs a depth-first search over the "in-place" applicator
 * edges ($ref, allOf, anyOf, oneOf, not, if/then/else, dependentSchemas)
 * and reports any cycle.  The validator also guards itself, for schemas
 * that never went through the check: more than MAX_REF_CHAIN $ref
 * expansions without descending into the instance is an error.  Descent
 * (properties, items, ...) is bounded by the instance's depth; a value too
 * deep for the stack is a validation failure, not a crash.
 *
 * Memory: each entry point works in a child memory context that it deletes
 * before returning; only the error string is copied out.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "regex/regex.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "jsonschema.h"
#include "jsonutil.h"

#define MAX_REF_CHAIN		64	/* $ref expansions without descending */
#define MAX_SHOWN_CHARS		40	/* longest value or key quoted in a message */
#define SCHEMA_REGEX_FLAGS	REG_ADVANCED
#define SCHEMA_REGEX_COLL	C_COLLATION_OID

/* The keywords we know, in evaluation order. */
typedef enum Keyword
{
	KW_TYPE,
	KW_ENUM,
	KW_CONST,
	/* numbers */
	KW_MINIMUM,
	KW_MAXIMUM,
	KW_EXCLUSIVE_MINIMUM,
	KW_EXCLUSIVE_MAXIMUM,
	KW_MULTIPLE_OF,
	/* strings */
	KW_MIN_LENGTH,
	KW_MAX_LENGTH,
	KW_PATTERN,
	/* arrays */
	KW_MIN_ITEMS,
	KW_MAX_ITEMS,
	KW_UNIQUE_ITEMS,
	KW_PREFIX_ITEMS,
	KW_ITEMS,
	KW_CONTAINS,
	KW_MIN_CONTAINS,
	KW_MAX_CONTAINS,
	/* objects */
	KW_REQUIRED,
	KW_DEPENDENT_REQUIRED,
	KW_MIN_PROPERTIES,
	KW_MAX_PROPERTIES,
	KW_PROPERTY_NAMES,
	KW_PROPERTIES,
	KW_PATTERN_PROPERTIES,
	KW_ADDITIONAL_PROPERTIES,
	KW_DEPENDENT_SCHEMAS,
	/* in-place applicators */
	KW_REF,
	KW_ALL_OF,
	KW_ANY_OF,
	KW_ONE_OF,
	KW_NOT,
	KW_IF,
	KW_THEN,
	KW_ELSE,
	/* not evaluated, but the check looks at their values */
	KW_DEFS,
	KW_SCHEMA,
	KW_ID,
	KW_COMMENT,
	KW_TITLE,
	KW_DESCRIPTION,
	KW_FORMAT,
	KW_DEPRECATED,
	KW_READ_ONLY,
	KW_WRITE_ONLY,
	KW_EXAMPLES,
	/* 2020-12 keywords we refuse rather than ignore */
	KW_DYNAMIC_REF,
	KW_UNEVALUATED_PROPERTIES,
	KW_UNEVALUATED_ITEMS,
	KW__COUNT
} Keyword;

StaticAssertDecl(KW__COUNT <= 64, "keyword set must fit in a uint64");

static const char *const keyword_names[KW__COUNT] = {
	[KW_TYPE] = "type",
	[KW_ENUM] = "enum",
	[KW_CONST] = "const",
	[KW_MINIMUM] = "minimum",
	[KW_MAXIMUM] = "maximum",
	[KW_EXCLUSIVE_MINIMUM] = "exclusiveMinimum",
	[KW_EXCLUSIVE_MAXIMUM] = "exclusiveMaximum",
	[KW_MULTIPLE_OF] = "multipleOf",
	[KW_MIN_LENGTH] = "minLength",
	[KW_MAX_LENGTH] = "maxLength",
	[KW_PATTERN] = "pattern",
	[KW_MIN_ITEMS] = "minItems",
	[KW_MAX_ITEMS] = "maxItems",
	[KW_UNIQUE_ITEMS] = "uniqueItems",
	[KW_PREFIX_ITEMS] = "prefixItems",
	[KW_ITEMS] = "items",
	[KW_CONTAINS] = "contains",
	[KW_MIN_CONTAINS] = "minContains",
	[KW_MAX_CONTAINS] = "maxContains",
	[KW_REQUIRED] = "required",
	[KW_DEPENDENT_REQUIRED] = "dependentRequired",
	[KW_MIN_PROPERTIES] = "minProperties",
	[KW_MAX_PROPERTIES] = "maxProperties",
	[KW_PROPERTY_NAMES] = "propertyNames",
	[KW_PROPERTIES] = "properties",
	[KW_PATTERN_PROPERTIES] = "patternProperties",
	[KW_ADDITIONAL_PROPERTIES] = "additionalProperties",
	[KW_DEPENDENT_SCHEMAS] = "dependentSchemas",
	[KW_REF] = "$ref",
	[KW_ALL_OF] = "allOf",
	[KW_ANY_OF] = "anyOf",
	[KW_ONE_OF] = "oneOf",
	[KW_NOT] = "not",
	[KW_IF] = "if",
	[KW_THEN] = "then",
	[KW_ELSE] = "else",
	[KW_DEFS] = "$defs",
	[KW_SCHEMA] = "$schema",
	[KW_ID] = "$id",
	[KW_COMMENT] = "$comment",
	[KW_TITLE] = "title",
	[KW_DESCRIPTION] = "description",
	[KW_FORMAT] = "format",
	[KW_DEPRECATED] = "deprecated",
	[KW_READ_ONLY] = "readOnly",
	[KW_WRITE_ONLY] = "writeOnly",
	[KW_EXAMPLES] = "examples",
	[KW_DYNAMIC_REF] = "$dynamicRef",
	[KW_UNEVALUATED_PROPERTIES] = "unevaluatedProperties",
	[KW_UNEVALUATED_ITEMS] = "unevaluatedItems",
};

/* The known keywords of one schema object; values point into the schema. */
typedef struct Keywords
{
	JsonbValue *kw[KW__COUNT];	/* NULL when absent */
	JsonbValue *values;			/* storage for the above */
} Keywords;

#define HAS(k, w)	((k)->kw[w] != NULL)

/* Validation state. */
typedef struct VCtx
{
	JsonbValue	root;			/* the root schema, for $ref */
	StringInfoData path;		/* instance path of the value being validated */
	int			quiet;			/* > 0: inside anyOf/oneOf/not/if/contains */
	int			ref_chain;		/* $ref expansions since the last descent */
	bool		fatal;			/* a failure no combinator may turn around */
	char	   *error;			/* "<path>: <message>" of the first violation */
} VCtx;

/* Check state. */
typedef struct CCtx
{
	JsonbValue	root;
	StringInfoData path;		/* JSON Pointer into the schema */
	HTAB	   *nodes;			/* SchemaNode by container address */
} CCtx;

typedef enum NodeColor
{
	NODE_WHITE,					/* not yet reached by the cycle search */
	NODE_GREY,					/* on the current in-place path */
	NODE_BLACK					/* everything reachable in place explored */
} NodeColor;

typedef struct SchemaNode
{
	JsonbContainer *container;	/* hash key */
	bool		checked;
	NodeColor	color;
} SchemaNode;

static bool validate_node(VCtx *cx, JsonbValue *schema, JsonbValue *inst);
static void check_schema(CCtx *cx, JsonbValue *schema);


/* ---------------------------------------------------------------------
 * jsonb helpers
 * ---------------------------------------------------------------------
 */

/* The root of a jsonb document as a value: a scalar, or a container. */
static void
root_value(Jsonb *jb, JsonbValue *v)
{
	if (JB_ROOT_IS_SCALAR(jb))
		(void) JsonbExtractScalar(&jb->root, v);
	else
	{
		v->type = jbvBinary;
		v->val.binary.data = &jb->root;
		v->val.binary.len = VARSIZE(jb) - VARHDRSZ;
	}
}

static bool
is_object(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
is_array(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

/* Next element of an array being iterated (nested values stay jbvBinary). */
static bool
array_next(JsonbIterator **it, JsonbValue *elem)
{
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(it, elem, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			return true;
	return false;
}

/* Next key and value of an object being iterated. */
static bool
object_next(JsonbIterator **it, JsonbValue *key, JsonbValue *val)
{
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(it, key, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			tok = JsonbIteratorNext(it, val, true);
			Assert(tok == WJB_VALUE);
			return true;
		}
	}
	return false;
}

static int
numeric_compare(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											 NumericGetDatum(a),
											 NumericGetDatum(b)));
}

/* Does n have no fractional part?  (1.0 has none.) */
static bool
numeric_is_whole(Numeric n)
{
	return DatumGetInt32(DirectFunctionCall1(numeric_min_scale,
											 NumericGetDatum(n))) == 0;
}

static bool
numeric_is_negative(Numeric n)
{
	Numeric		zero = int64_to_numeric(0);

	return numeric_compare(n, zero) < 0;
}

/* JSON equality: type and value; containers as jsonb compares them. */
static bool
json_equal(JsonbValue *a, JsonbValue *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return numeric_compare(a->val.numeric, b->val.numeric) == 0;
		case jbvBinary:
			return compareJsonbContainers(a->val.binary.data, b->val.binary.data) == 0;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) a->type);
	}
	return false;
}

/* The JSON Schema type name of an instance value. */
static const char *
json_type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvBool:
			return "boolean";
		case jbvNumeric:
			return "number";
		case jbvString:
			return "string";
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? "object" : "array";
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return NULL;
}

/* Does a type name (as written in "type") accept v? */
static bool
type_accepts(const char *name, int len, JsonbValue *v)
{
#define IS(s) (len == (int) strlen(s) && memcmp(name, s, len) == 0)
	if (IS("integer"))
		return v->type == jbvNumeric && numeric_is_whole(v->val.numeric);
	if (IS("number"))
		return v->type == jbvNumeric;
	if (IS("string"))
		return v->type == jbvString;
	if (IS("boolean"))
		return v->type == jbvBool;
	if (IS("null"))
		return v->type == jbvNull;
	if (IS("object"))
		return is_object(v);
	if (IS("array"))
		return is_array(v);
#undef IS
	return false;
}

static bool
valid_type_name(const char *name, int len)
{
	static const char *const names[] = {
		"null", "boolean", "object", "array", "number", "string", "integer"
	};

	for (int i = 0; i < lengthof(names); i++)
		if (len == (int) strlen(names[i]) && memcmp(name, names[i], len) == 0)
			return true;
	return false;
}

/* Collect the known keywords of a schema object in one pass over its keys. */
static void
read_keywords(JsonbContainer *schema, Keywords *k)
{
	JsonbIterator *it = JsonbIteratorInit(schema);
	JsonbValue	key;
	int			n = 0;

	memset(k->kw, 0, sizeof(k->kw));
	k->values = palloc(Max(JsonContainerSize(schema), 1) * sizeof(JsonbValue));
	while (object_next(&it, &key, &k->values[n]))
	{
		for (int w = 0; w < KW__COUNT; w++)
		{
			const char *name = keyword_names[w];

			if (key.val.string.len == (int) strlen(name) &&
				memcmp(key.val.string.val, name, key.val.string.len) == 0)
			{
				k->kw[w] = &k->values[n++];
				break;
			}
		}
	}
}

/* A string, quoted as JSON and cut to MAX_SHOWN_CHARS characters. */
static void
append_quoted(StringInfo buf, const char *s, int len)
{
	int			cut = len;
	char	   *copy;

	if (pg_mbstrlen_with_len(s, len) > MAX_SHOWN_CHARS)
		cut = pg_mbcharcliplen(s, len, MAX_SHOWN_CHARS);
	copy = palloc(cut + 4);
	memcpy(copy, s, cut);
	if (cut < len)
	{
		memcpy(copy + cut, "...", 3);
		cut += 3;
	}
	copy[cut] = '\0';
	escape_json(buf, copy);
	pfree(copy);
}

static char *
quoted(const char *s, int len)
{
	StringInfoData buf;

	initStringInfo(&buf);
	append_quoted(&buf, s, len);
	return buf.data;
}

/* A value for a message: JSON text, long values cut short. */
static char *
shown(JsonbValue *v)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (v->type == jbvString)
		append_quoted(&buf, v->val.string.val, v->val.string.len);
	else
	{
		json_append_value(&buf, v);
		if (pg_mbstrlen_with_len(buf.data, buf.len) > MAX_SHOWN_CHARS)
		{
			buf.len = pg_mbcharcliplen(buf.data, buf.len, MAX_SHOWN_CHARS);
			buf.data[buf.len] = '\0';
			appendStringInfoString(&buf, "...");
		}
	}
	return buf.data;
}

/*
 * The JSON Pointer of a local reference ("#" -> "", "#/a~1b/%25" ->
 * "/a~1b/%"), or NULL when ref is not of that form (remote, or an anchor).
 */
static char *
ref_pointer(const char *ref, int len)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (len == 0)
		return buf.data;		/* "" is the document itself, like "#" */
	if (ref[0] != '#')
		return NULL;
	for (int i = 1; i < len; i++)
	{
		if (ref[i] == '%')
		{
			int			hi,
						lo;

			if (i + 2 >= len)
				return NULL;
			hi = hex_digit_value(ref[i + 1]);
			lo = hex_digit_value(ref[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return NULL;
			appendStringInfoChar(&buf, (char) (hi * 16 + lo));
			i += 2;
		}
		else
			appendStringInfoChar(&buf, ref[i]);
	}
	if (buf.len > 0 && buf.data[0] != '/')
		return NULL;			/* a plain-name fragment ($anchor) */
	if (!pg_verifymbstr(buf.data, buf.len, true))
		return NULL;
	return buf.data;
}

/* Follow a JSON Pointer from root; false when it leads nowhere. */
static bool
pointer_get(JsonbValue *root, const char *ptr, JsonbValue *out)
{
	JsonbValue	cur = *root;
	StringInfoData tok;
	const char *p = ptr;

	initStringInfo(&tok);
	while (*p == '/')
	{
		JsonbValue	next;

		resetStringInfo(&tok);
		for (p++; *p != '\0' && *p != '/'; p++)
		{
			if (*p != '~')
				appendStringInfoChar(&tok, *p);
			else if (p[1] == '0' || p[1] == '1')
				appendStringInfoChar(&tok, *++p == '0' ? '~' : '/');
			else
				return false;
		}
		if (is_object(&cur))
		{
			if (getKeyJsonValueFromContainer(cur.val.binary.data, tok.data,
											 tok.len, &next) == NULL)
				return false;
		}
		else if (is_array(&cur))
		{
			JsonbValue *elem;
			int			idx = 0;

			if (tok.len == 0 || tok.len > 9 || (tok.len > 1 && tok.data[0] == '0'))
				return false;
			for (int i = 0; i < tok.len; i++)
			{
				if (tok.data[i] < '0' || tok.data[i] > '9')
					return false;
				idx = idx * 10 + (tok.data[i] - '0');
			}
			elem = getIthJsonbValueFromContainer(cur.val.binary.data, idx);
			if (elem == NULL)
				return false;
			next = *elem;
		}
		else
			return false;
		cur = next;
	}
	*out = cur;
	return true;
}

/* Compile a pattern; NULL when it compiles, else the regex library's complaint. */
static char *
regex_problem(const char *pat, int len)
{
	pg_wchar   *wpat = palloc((len + 1) * sizeof(pg_wchar));
	int			wlen = pg_mb2wchar_with_len(pat, wpat, len);
	regex_t		re;
	int			rc;
	char		msg[256];

	rc = pg_regcomp(&re, wpat, wlen, SCHEMA_REGEX_FLAGS, SCHEMA_REGEX_COLL);
	pfree(wpat);
	if (rc == REG_OKAY)
	{
		pg_regfree(&re);
		return NULL;
	}
	if (rc == REG_CANCEL)
		CHECK_FOR_INTERRUPTS();
	pg_regerror(rc, &re, msg, sizeof(msg));
	return pstrdup(msg);
}

/* Does pattern match anywhere in s?  Uses (and fills) the regex cache. */
static bool
regex_matches(const char *pat, int patlen, const char *s, int len)
{
	text	   *re = cstring_to_text_with_len(pat, patlen);
	bool		match;

	match = RE_compile_and_execute(re, (char *) s, len, SCHEMA_REGEX_FLAGS,
								   SCHEMA_REGEX_COLL, 0, NULL);
	pfree(re);
	return match;
}


/* ---------------------------------------------------------------------
 * Validation
 * ---------------------------------------------------------------------
 */

/* A schema the check would have refused; only unchecked schemas get here. */
static void
pg_attribute_noreturn()
schema_corrupt(Keyword w)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid JSON schema"),
			 errdetail("Keyword \"%s\" has a malformed value.", keyword_names[w]),
			 errhint("Check the schema with mtmcp.check_json_schema().")));
}

/* Record a violation at the current path (unless quiet) and return false. */
static bool
pg_attribute_printf(2, 3)
fail(VCtx *cx, const char *fmt,...)
{
	StringInfoData buf;

	if (cx->quiet > 0 || cx->error != NULL)
		return false;
	initStringInfo(&buf);
	appendStringInfo(&buf, "%s: ", cx->path.data);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	cx->error = buf.data;
	return false;
}

/* The instance is too deep to validate: a failure even under "not". */
static bool
fail_fatal(VCtx *cx, const char *msg)
{
	cx->fatal = true;
	cx->error = psprintf("%s: %s", cx->path.data, msg);
	return false;
}

static Numeric
kw_number(Keywords *k, Keyword w)
{
	if (k->kw[w]->type != jbvNumeric)
		schema_corrupt(w);
	return k->kw[w]->val.numeric;
}

/* A non-negative integer keyword, clamped to PG_INT32_MAX. */
static int
kw_count(Keywords *k, Keyword w)
{
	Numeric		n = kw_number(k, w);
	bool		overflow = false;
	int32		i;

	if (!numeric_is_whole(n) || numeric_is_negative(n))
		schema_corrupt(w);
	i = numeric_int4_opt_error(n, &overflow);
	return overflow ? PG_INT32_MAX : i;
}

static JsonbContainer *
kw_object(Keywords *k, Keyword w)
{
	if (!is_object(k->kw[w]))
		schema_corrupt(w);
	return k->kw[w]->val.binary.data;
}

static JsonbContainer *
kw_array(Keywords *k, Keyword w)
{
	if (!is_array(k->kw[w]))
		schema_corrupt(w);
	return k->kw[w]->val.binary.data;
}

/* Is key an ASCII identifier, [A-Za-z_][A-Za-z0-9_]*, shown as .key? */
static bool
is_identifier(const char *key, int len)
{
	if (len == 0 || (key[0] >= '0' && key[0] <= '9'))
		return false;
	for (int i = 0; i < len; i++)
	{
		char		c = key[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* Append an object key to the instance path: .name or ["other key"] */
static void
path_push_key(VCtx *cx, const char *key, int len)
{
	if (is_identifier(key, len))
	{
		appendStringInfoChar(&cx->path, '.');
		appendBinaryStringInfo(&cx->path, key, len);
	}
	else
	{
		appendStringInfoChar(&cx->path, '[');
		append_quoted(&cx->path, key, len);
		appendStringInfoChar(&cx->path, ']');
	}
}

static void
path_pop(VCtx *cx, int len)
{
	cx->path.len = len;
	cx->path.data[len] = '\0';
}

/*
 * Validate a member of the instance (an array element or a property value):
 * descend the path, and restart the $ref chain count, since recursion that
 * descends is bounded by the instance's depth.
 */
static bool
validate_child(VCtx *cx, JsonbValue *schema, JsonbValue *inst,
			   const char *key, int keylen, int index)
{
	int			pathlen = cx->path.len;
	int			chain = cx->ref_chain;
	bool		ok;

	if (key != NULL)
		path_push_key(cx, key, keylen);
	else
		appendStringInfo(&cx->path, "[%d]", index);
	cx->ref_chain = 0;
	ok = validate_node(cx, schema, inst);
	cx->ref_chain = chain;
	path_pop(cx, pathlen);
	return ok;
}

/* Validate without recording violations: does inst conform to schema? */
static bool
conforms(VCtx *cx, JsonbValue *schema, JsonbValue *inst)
{
	bool		ok;

	cx->quiet++;
	ok = validate_node(cx, schema, inst);
	cx->quiet--;
	return ok;
}

static bool
validate_type(VCtx *cx, JsonbValue *type, JsonbValue *inst)
{
	StringInfoData names;
	JsonbIterator *it;
	JsonbValue	t;
	int			n = 0;
	int			total;

	if (type->type == jbvString)
	{
		if (type_accepts(type->val.string.val, type->val.string.len, inst))
			return true;
		if (cx->quiet)
			return false;
		return fail(cx, "expected %s, got %s",
					pnstrdup(type->val.string.val, type->val.string.len),
					json_type_name(inst));
	}
	if (!is_array(type))
		schema_corrupt(KW_TYPE);

	it = JsonbIteratorInit(type->val.binary.data);
	while (array_next(&it, &t))
	{
		if (t.type != jbvString)
			schema_corrupt(KW_TYPE);
		if (type_accepts(t.val.string.val, t.val.string.len, inst))
			return true;
	}
	if (cx->quiet)
		return false;

	/* "expected string, number or null, got boolean" */
	initStringInfo(&names);
	total = JsonContainerSize(type->val.binary.data);
	it = JsonbIteratorInit(type->val.binary.data);
	while (array_next(&it, &t))
	{
		if (n > 0)
			appendStringInfoString(&names, n == total - 1 ? " or " : ", ");
		appendBinaryStringInfo(&names, t.val.string.val, t.val.string.len);
		n++;
	}
	return fail(cx, "expected %s, got %s", names.data, json_type_name(inst));
}

static bool
validate_number(VCtx *cx, Keywords *k, JsonbValue *inst)
{
	Numeric		n = inst->val.numeric;

	if (HAS(k, KW_MINIMUM) &&
		numeric_compare(n, kw_number(k, KW_MINIMUM)) < 0)
		return fail(cx, "%s is less than the minimum %s",
					shown(inst), shown(k->kw[KW_MINIMUM]));
	if (HAS(k, KW_MAXIMUM) &&
		numeric_compare(n, kw_number(k, KW_MAXIMUM)) > 0)
		return fail(cx, "%s is greater than the maximum %s",
					shown(inst), shown(k->kw[KW_MAXIMUM]));
	if (HAS(k, KW_EXCLUSIVE_MINIMUM) &&
		numeric_compare(n, kw_number(k, KW_EXCLUSIVE_MINIMUM)) <= 0)
		return fail(cx, "%s is not greater than the exclusive minimum %s",
					shown(inst), shown(k->kw[KW_EXCLUSIVE_MINIMUM]));
	if (HAS(k, KW_EXCLUSIVE_MAXIMUM) &&
		numeric_compare(n, kw_number(k, KW_EXCLUSIVE_MAXIMUM)) >= 0)
		return fail(cx, "%s is not less than the exclusive maximum %s",
					shown(inst), shown(k->kw[KW_EXCLUSIVE_MAXIMUM]));
	if (HAS(k, KW_MULTIPLE_OF))
	{
		Numeric		m = kw_number(k, KW_MULTIPLE_OF);
		Numeric		rem;

		if (numeric_compare(m, int64_to_numeric(0)) <= 0)
			schema_corrupt(KW_MULTIPLE_OF);
		rem = DatumGetNumeric(DirectFunctionCall2(numeric_mod,
												  NumericGetDatum(n),
												  NumericGetDatum(m)));
		if (numeric_compare(rem, int64_to_numeric(0)) != 0)
			return fail(cx, "%s is not a multiple of %s",
						shown(inst), shown(k->kw[KW_MULTIPLE_OF]));
	}
	return true;
}

static bool
validate_string(VCtx *cx, Keywords *k, JsonbValue *inst)
{
	const char *s = inst->val.string.val;
	int			len = inst->val.string.len;

	if (HAS(k, KW_MIN_LENGTH) || HAS(k, KW_MAX_LENGTH))
	{
		int			chars = pg_mbstrlen_with_len(s, len);

		if (HAS(k, KW_MIN_LENGTH))
		{
			int			min = kw_count(k, KW_MIN_LENGTH);

			if (chars < min)
				return fail(cx, "shorter than %d character%s", min, min == 1 ? "" : "s");
		}
		if (HAS(k, KW_MAX_LENGTH))
		{
			int			max = kw_count(k, KW_MAX_LENGTH);

			if (chars > max)
				return fail(cx, "longer than %d character%s", max, max == 1 ? "" : "s");
		}
	}
	if (HAS(k, KW_PATTERN))
	{
		JsonbValue *p = k->kw[KW_PATTERN];

		if (p->type != jbvString)
			schema_corrupt(KW_PATTERN);
		if (!regex_matches(p->val.string.val, p->val.string.len, s, len))
			return fail(cx, "does not match pattern %s", shown(p));
	}
	return true;
}

/* uniqueItems: sort a copy of the elements, then compare neighbours */
typedef struct SortItem
{
	JsonbValue	v;
	int			index;
} SortItem;

static int
sort_item_cmp(const void *a, const void *b)
{
	const SortItem *x = a;
	const SortItem *y = b;
	int			r = 0;

	if (x->v.type != y->v.type)
		return x->v.type < y->v.type ? -1 : 1;
	switch (x->v.type)
	{
		case jbvNull:
			break;
		case jbvBool:
			r = (int) x->v.val.boolean - (int) y->v.val.boolean;
			break;
		case jbvString:
			if (x->v.val.string.len != y->v.val.string.len)
				r = x->v.val.string.len < y->v.val.string.len ? -1 : 1;
			else
				r = memcmp(x->v.val.string.val, y->v.val.string.val, x->v.val.string.len);
			break;
		case jbvNumeric:
			r = numeric_compare(x->v.val.numeric, y->v.val.numeric);
			break;
		case jbvBinary:
			r = compareJsonbContainers(x->v.val.binary.data, y->v.val.binary.data);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) x->v.type);
	}
	if (r != 0)
		return r;
	return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

/*
 * Are all elements distinct?  If not, report the first duplicate in array
 * order and the element it repeats.
 */
static bool
validate_unique(VCtx *cx, JsonbContainer *arr)
{
	int			n = JsonContainerSize(arr);
	SortItem   *items;
	JsonbIterator *it;
	int			i = 0;
	int			first = -1,
				second = -1;

	if (n < 2)
		return true;
	items = palloc(n * sizeof(SortItem));
	it = JsonbIteratorInit(arr);
	while (i < n && array_next(&it, &items[i].v))
	{
		items[i].index = i;
		i++;
	}
	qsort(items, n, sizeof(SortItem), sort_item_cmp);
	for (i = 1; i < n; i++)
	{
		/* the first element of a run of equals is at i - 1 (lowest index) */
		if (json_equal(&items[i - 1].v, &items[i].v) &&
			(i < 2 || !json_equal(&items[i - 2].v, &items[i].v)) &&
			(second < 0 || items[i].index < second))
		{
			first = items[i - 1].index;
			second = items[i].index;
		}
	}
	pfree(items);
	if (second < 0)
		return true;
	return fail(cx, "items [%d] and [%d] are equal", first, second);
}

static bool
validate_array(VCtx *cx, Keywords *k, JsonbValue *inst)
{
	JsonbContainer *arr = inst->val.binary.data;
	int			n = JsonContainerSize(arr);

	if (HAS(k, KW_MIN_ITEMS))
	{
		int			min = kw_count(k, KW_MIN_ITEMS);

		if (n < min)
			return fail(cx, "fewer than %d item%s", min, min == 1 ? "" : "s");
	}
	if (HAS(k, KW_MAX_ITEMS))
	{
		int			max = kw_count(k, KW_MAX_ITEMS);

		if (n > max)
			return fail(cx, "more than %d item%s", max, max == 1 ? "" : "s");
	}
	if (HAS(k, KW_UNIQUE_ITEMS))
	{
		if (k->kw[KW_UNIQUE_ITEMS]->type != jbvBool)
			schema_corrupt(KW_UNIQUE_ITEMS);
		if (k->kw[KW_UNIQUE_ITEMS]->val.boolean && !validate_unique(cx, arr))
			return false;
	}

	if (HAS(k, KW_PREFIX_ITEMS) || HAS(k, KW_ITEMS))
	{
		JsonbContainer *prefix = NULL;
		int			nprefix = 0;
		JsonbIterator *it = JsonbIteratorInit(arr);
		JsonbValue	elem;
		int			i = 0;

		if (HAS(k, KW_PREFIX_ITEMS))
		{
			prefix = kw_array(k, KW_PREFIX_ITEMS);
			nprefix = JsonContainerSize(prefix);
		}
		while (array_next(&it, &elem))
		{
			JsonbValue *schema;

			if (i < nprefix)
				schema = getIthJsonbValueFromContainer(prefix, i);
			else if (HAS(k, KW_ITEMS))
				schema = k->kw[KW_ITEMS];
			else
				break;
			if (!validate_child(cx, schema, &elem, NULL, 0, i))
				return false;
			i++;
		}
	}

	if (HAS(k, KW_CONTAINS))
	{
		JsonbIterator *it = JsonbIteratorInit(arr);
		JsonbValue	elem;
		int			matches = 0;
		int			min = HAS(k, KW_MIN_CONTAINS) ? kw_count(k, KW_MIN_CONTAINS) : 1;
		int			max = HAS(k, KW_MAX_CONTAINS) ? kw_count(k, KW_MAX_CONTAINS) : -1;
		int			i = 0;

		while (array_next(&it, &elem))
		{
			bool		ok;

			cx->quiet++;
			ok = validate_child(cx, k->kw[KW_CONTAINS], &elem, NULL, 0, i++);
			cx->quiet--;
			if (cx->fatal)
				return false;
			if (ok)
				matches++;
		}
		if (matches < min)
		{
			if (matches == 0 && min == 1)
				return fail(cx, "does not contain a matching item");
			return fail(cx, "fewer than %d items match \"contains\"", min);
		}
		if (max >= 0 && matches > max)
			return fail(cx, "more than %d item%s \"contains\"", max,
						max == 1 ? " matches" : "s match");
	}
	return true;
}

/* Is the property named by key present in obj? */
static bool
has_property(JsonbContainer *obj, const char *key, int len)
{
	JsonbValue	v;

	return getKeyJsonValueFromContainer(obj, key, len, &v) != NULL;
}

/* required, or one list of dependentRequired: every name must be present */
static bool
validate_required(VCtx *cx, JsonbValue *names, JsonbContainer *obj,
				  Keyword w, JsonbValue *because)
{
	JsonbIterator *it;
	JsonbValue	name;

	if (!is_array(names))
		schema_corrupt(w);
	it = JsonbIteratorInit(names->val.binary.data);
	while (array_next(&it, &name))
	{
		if (name.type != jbvString)
			schema_corrupt(w);
		if (has_property(obj, name.val.string.val, name.val.string.len))
			continue;
		if (because == NULL)
			return fail(cx, "missing required property %s", shown(&name));
		return fail(cx, "property %s is required when %s is present",
					shown(&name), shown(because));
	}
	return true;
}

static bool
validate_object(VCtx *cx, Keywords *k, JsonbValue *inst)
{
	JsonbContainer *obj = inst->val.binary.data;
	int			n = JsonContainerSize(obj);
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	val;

	if (HAS(k, KW_REQUIRED) &&
		!validate_required(cx, k->kw[KW_REQUIRED], obj, KW_REQUIRED, NULL))
		return false;
	if (HAS(k, KW_DEPENDENT_REQUIRED))
	{
		it = JsonbIteratorInit(kw_object(k, KW_DEPENDENT_REQUIRED));
		while (object_next(&it, &key, &val))
		{
			if (has_property(obj, key.val.string.val, key.val.string.len) &&
				!validate_required(cx, &val, obj, KW_DEPENDENT_REQUIRED, &key))
				return false;
		}
	}
	if (HAS(k, KW_MIN_PROPERTIES))
	{
		int			min = kw_count(k, KW_MIN_PROPERTIES);

		if (n < min)
			return fail(cx, "fewer than %d propert%s", min, min == 1 ? "y" : "ies");
	}
	if (HAS(k, KW_MAX_PROPERTIES))
	{
		int			max = kw_count(k, KW_MAX_PROPERTIES);

		if (n > max)
			return fail(cx, "more than %d propert%s", max, max == 1 ? "y" : "ies");
	}

	if (HAS(k, KW_PROPERTY_NAMES))
	{
		it = JsonbIteratorInit(obj);
		while (object_next(&it, &key, &val))
		{
			const char *before = cx->error;

			if (validate_node(cx, k->kw[KW_PROPERTY_NAMES], &key))
				continue;
			/* the key's violation was recorded at this object's path */
			if (!cx->quiet && !cx->fatal && before == NULL && cx->error != NULL)
			{
				const char *msg = cx->error + cx->path.len + 2;

				cx->error = psprintf("%s: property name %s is invalid: %s",
									 cx->path.data, shown(&key), msg);
			}
			return false;
		}
	}

	if (HAS(k, KW_PROPERTIES) || HAS(k, KW_PATTERN_PROPERTIES) ||
		HAS(k, KW_ADDITIONAL_PROPERTIES))
	{
		JsonbContainer *props = NULL;
		JsonbContainer *patterns = NULL;

		if (HAS(k, KW_PROPERTIES))
			props = kw_object(k, KW_PROPERTIES);
		if (HAS(k, KW_PATTERN_PROPERTIES))
			patterns = kw_object(k, KW_PATTERN_PROPERTIES);

		it = JsonbIteratorInit(obj);
		while (object_next(&it, &key, &val))
		{
			const char *name = key.val.string.val;
			int			len = key.val.string.len;
			bool		matched = false;
			JsonbValue	sub;

			if (props != NULL &&
				getKeyJsonValueFromContainer(props, name, len, &sub) != NULL)
			{
				matched = true;
				if (!validate_child(cx, &sub, &val, name, len, 0))
					return false;
			}
			if (patterns != NULL)
			{
				JsonbIterator *pit = JsonbIteratorInit(patterns);
				JsonbValue	pat;

				while (object_next(&pit, &pat, &sub))
				{
					if (!regex_matches(pat.val.string.val, pat.val.string.len, name, len))
						continue;
					matched = true;
					if (!validate_child(cx, &sub, &val, name, len, 0))
						return false;
				}
			}
			if (!matched && HAS(k, KW_ADDITIONAL_PROPERTIES))
			{
				JsonbValue *ap = k->kw[KW_ADDITIONAL_PROPERTIES];

				if (ap->type == jbvBool && !ap->val.boolean)
					return fail(cx, "property %s is not allowed", shown(&key));
				if (!validate_child(cx, ap, &val, name, len, 0))
					return false;
			}
		}
	}

	if (HAS(k, KW_DEPENDENT_SCHEMAS))
	{
		it = JsonbIteratorInit(kw_object(k, KW_DEPENDENT_SCHEMAS));
		while (object_next(&it, &key, &val))
		{
			if (has_property(obj, key.val.string.val, key.val.string.len) &&
				!validate_node(cx, &val, inst))
				return false;
		}
	}
	return true;
}

/* $ref: the referenced schema applies to this same value. */
static bool
validate_ref(VCtx *cx, JsonbValue *ref, JsonbValue *inst)
{
	char	   *ptr;
	JsonbValue	target;
	bool		ok;

	if (ref->type != jbvString)
		schema_corrupt(KW_REF);
	ptr = ref_pointer(ref->val.string.val, ref->val.string.len);
	if (ptr == NULL || !pointer_get(&cx->root, ptr, &target))
		schema_corrupt(KW_REF);
	pfree(ptr);
	if (++cx->ref_chain > MAX_REF_CHAIN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JSON schema"),
				 errdetail("More than %d \"$ref\" expansions apply to the value at %s; the schema has a reference cycle.",
						   MAX_REF_CHAIN, cx->path.data)));
	ok = validate_node(cx, &target, inst);
	cx->ref_chain--;
	return ok;
}

/* allOf, anyOf, oneOf, not, if/then/else */
static bool
validate_combinators(VCtx *cx, Keywords *k, JsonbValue *inst)
{
	JsonbIterator *it;
	JsonbValue	sub;

	if (HAS(k, KW_ALL_OF))
	{
		it = JsonbIteratorInit(kw_array(k, KW_ALL_OF));
		while (array_next(&it, &sub))
			if (!validate_node(cx, &sub, inst))
				return false;
	}
	if (HAS(k, KW_ANY_OF))
	{
		bool		any = false;

		it = JsonbIteratorInit(kw_array(k, KW_ANY_OF));
		while (!any && array_next(&it, &sub))
		{
			any = conforms(cx, &sub, inst);
			if (cx->fatal)
				return false;
		}
		if (!any)
			return fail(cx, "does not match any of the allowed schemas");
	}
	if (HAS(k, KW_ONE_OF))
	{
		int			matches = 0;

		it = JsonbIteratorInit(kw_array(k, KW_ONE_OF));
		while (array_next(&it, &sub))
		{
			if (conforms(cx, &sub, inst))
				matches++;
			if (cx->fatal)
				return false;
		}
		if (matches == 0)
			return fail(cx, "does not match any of the allowed schemas");
		if (matches > 1)
			return fail(cx, "matches %d schemas, expected exactly one", matches);
	}
	if (HAS(k, KW_NOT))
	{
		bool		matches = conforms(cx, k->kw[KW_NOT], inst);

		if (cx->fatal)
			return false;
		if (matches)
			return fail(cx, "must not match the schema in \"not\"");
	}
	if (HAS(k, KW_IF))
	{
		bool		cond = conforms(cx, k->kw[KW_IF], inst);

		if (cx->fatal)
			return false;
		if (cond && HAS(k, KW_THEN) && !validate_node(cx, k->kw[KW_THEN], inst))
			return false;
		if (!cond && HAS(k, KW_ELSE) && !validate_node(cx, k->kw[KW_ELSE], inst))
			return false;
	}
	return true;
}

/* The keywords of one schema object, in evaluation order. */
static bool
validate_keywords(VCtx *cx, Keywords *k, JsonbValue *inst)
{
	if (HAS(k, KW_TYPE) && !validate_type(cx, k->kw[KW_TYPE], inst))
		return false;
	if (HAS(k, KW_ENUM))
	{
		JsonbIterator *it = JsonbIteratorInit(kw_array(k, KW_ENUM));
		JsonbValue	allowed;
		bool		found = false;

		while (!found && array_next(&it, &allowed))
			found = json_equal(&allowed, inst);
		if (!found)
			return fail(cx, "value is not one of the allowed values");
	}
	if (HAS(k, KW_CONST) && !json_equal(k->kw[KW_CONST], inst))
		return fail(cx, "value is not the constant %s", shown(k->kw[KW_CONST]));

	switch (inst->type)
	{
		case jbvNumeric:
			if (!validate_number(cx, k, inst))
				return false;
			break;
		case jbvString:
			if (!validate_string(cx, k, inst))
				return false;
			break;
		case jbvBinary:
			if (JsonContainerIsObject(inst->val.binary.data))
			{
				if (!validate_object(cx, k, inst))
					return false;
			}
			else if (!validate_array(cx, k, inst))
				return false;
			break;
		default:
			break;
	}

	if (HAS(k, KW_REF) && !validate_ref(cx, k->kw[KW_REF], inst))
		return false;
	return validate_combinators(cx, k, inst);
}

/* Validate inst against one schema (object or boolean). */
static bool
validate_node(VCtx *cx, JsonbValue *schema, JsonbValue *inst)
{
	Keywords	k;
	bool		ok;

	CHECK_FOR_INTERRUPTS();
	if (cx->fatal)
		return false;
	if (stack_is_too_deep())
		return fail_fatal(cx, "value is nested too deeply to validate");

	if (schema->type == jbvBool)
	{
		if (schema->val.boolean)
			return true;
		return fail(cx, "no value is allowed here (the schema is false)");
	}
	if (!is_object(schema))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JSON schema"),
				 errdetail("A schema must be an object or a boolean."),
				 errhint("Check the schema with mtmcp.check_json_schema().")));
	read_keywords(schema->val.binary.data, &k);
	ok = validate_keywords(cx, &k, inst);
	pfree(k.values);
	return ok;
}

/*
 * Does instance conform to schema?  If not, *error is "<path>: <message>"
 * for the first violation, allocated in the caller's memory context.  The
 * schema is assumed checked (mtmcp_schema_check); a malformed one may
 * raise an error instead.
 */
bool
mtmcp_schema_validate(Jsonb *schema, Jsonb *instance, char **error)
{
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext,
											   "mtmcp jsonschema validate",
											   ALLOCSET_SMALL_SIZES);
	MemoryContext caller = MemoryContextSwitchTo(work);
	VCtx		cx;
	JsonbValue	inst;
	bool		ok;

	memset(&cx, 0, sizeof(cx));
	root_value(schema, &cx.root);
	initStringInfo(&cx.path);
	appendStringInfoChar(&cx.path, '$');
	root_value(instance, &inst);

	ok = validate_node(&cx, &cx.root, &inst);

	MemoryContextSwitchTo(caller);
	if (error != NULL)
		*error = ok ? NULL : pstrdup(cx.error ? cx.error : "$: invalid value");
	MemoryContextDelete(work);
	return ok;
}


/* ---------------------------------------------------------------------
 * Checking a schema
 * ---------------------------------------------------------------------
 */

/* Refuse the schema: "At <pointer>: <sentence>" */
static void
pg_attribute_printf(2, 3) pg_attribute_noreturn()
bad_schema(CCtx *cx, const char *fmt,...)
{
	StringInfoData msg;

	initStringInfo(&msg);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&msg, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&msg, needed);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid JSON schema"),
			 cx->path.len > 0 ?
			 errdetail("At %s: %s", cx->path.data, msg.data) :
			 errdetail("At the schema root: %s", msg.data)));
}

/* Append one JSON Pointer token (escaping ~ and /). */
static void
pointer_push(StringInfo path, const char *tok, int len)
{
	appendStringInfoChar(path, '/');
	for (int i = 0; i < len; i++)
	{
		if (tok[i] == '~')
			appendStringInfoString(path, "~0");
		else if (tok[i] == '/')
			appendStringInfoString(path, "~1");
		else
			appendStringInfoChar(path, tok[i]);
	}
}

static void
pointer_push_index(StringInfo path, int i)
{
	appendStringInfo(path, "/%d", i);
}

static void
pointer_pop(StringInfo path, int len)
{
	path->len = len;
	path->data[len] = '\0';
}

static SchemaNode *
schema_node(CCtx *cx, JsonbContainer *c)
{
	bool		found;
	SchemaNode *node = hash_search(cx->nodes, &c, HASH_ENTER, &found);

	if (!found)
	{
		node->checked = false;
		node->color = NODE_WHITE;
	}
	return node;
}

/* A local $ref, resolved; refuses remote, anchor and dangling references. */
static void
check_resolve_ref(CCtx *cx, JsonbValue *ref, JsonbValue *target, char **pointer)
{
	const char *s = ref->val.string.val;
	int			len = ref->val.string.len;
	char	   *ptr;

	if (len > 0 && s[0] != '#')
		bad_schema(cx, "remote reference %s is not supported; only references within the schema (\"#/...\") are.",
				   shown(ref));
	ptr = ref_pointer(s, len);
	if (ptr == NULL)
		bad_schema(cx, "reference %s is not supported; only JSON Pointer references within the schema (\"#/...\") are.",
				   shown(ref));
	if (!pointer_get(&cx->root, ptr, target))
		bad_schema(cx, "reference %s does not resolve within the schema.", shown(ref));
	if (target->type != jbvBool && !is_object(target))
		bad_schema(cx, "reference %s does not point to a schema.", shown(ref));
	*pointer = ptr;
}

static void inplace_search(CCtx *cx, JsonbValue *schema);

/*
 * One edge of the in-place graph, from the schema at cx->path to target.
 * ref is the "$ref" value when the edge is a reference (then target_path is
 * the target's pointer), NULL when target is a subschema at cx->path.
 */
static void
inplace_follow(CCtx *cx, JsonbValue *target, JsonbValue *ref, const char *target_path)
{
	SchemaNode *t;
	char	   *saved;

	if (!is_object(target))
		return;
	t = schema_node(cx, target->val.binary.data);
	if (t->color == NODE_BLACK)
		return;
	if (t->color == NODE_GREY)
	{
		if (ref != NULL)
			bad_schema(cx, "reference %s leads back to this schema without descending into the instance.",
					   shown(ref));
		bad_schema(cx, "this schema leads back to itself through \"$ref\" without descending into the instance.");
	}
	if (ref == NULL)
	{
		inplace_search(cx, target);
		return;
	}
	saved = pstrdup(cx->path.data);
	resetStringInfo(&cx->path);
	appendStringInfoString(&cx->path, target_path);
	inplace_search(cx, target);
	resetStringInfo(&cx->path);
	appendStringInfoString(&cx->path, saved);
	pfree(saved);
}

/*
 * Depth-first search for a cycle of in-place applicators: schemas that
 * apply to the same instance value ($ref, allOf, anyOf, oneOf, not, if,
 * then, else, dependentSchemas).  cx->path is schema's pointer.  Values the
 * structural check has not looked at yet may be malformed; skip them (the
 * structural check reports them).
 */
static void
inplace_search(CCtx *cx, JsonbValue *schema)
{
	static const Keyword single[] = {KW_NOT, KW_IF, KW_THEN, KW_ELSE};
	static const Keyword lists[] = {KW_ALL_OF, KW_ANY_OF, KW_ONE_OF};
	SchemaNode *node = schema_node(cx, schema->val.binary.data);
	Keywords	k;
	int			pathlen = cx->path.len;

	check_stack_depth();
	node->color = NODE_GREY;
	read_keywords(schema->val.binary.data, &k);

	if (HAS(&k, KW_REF) && k.kw[KW_REF]->type == jbvString)
	{
		JsonbValue *ref = k.kw[KW_REF];
		char	   *ptr = ref_pointer(ref->val.string.val, ref->val.string.len);
		JsonbValue	target;

		if (ptr != NULL && pointer_get(&cx->root, ptr, &target))
		{
			pointer_push(&cx->path, "$ref", 4);
			inplace_follow(cx, &target, ref, ptr);
			pointer_pop(&cx->path, pathlen);
		}
	}
	for (int i = 0; i < lengthof(lists); i++)
	{
		const char *name = keyword_names[lists[i]];
		JsonbIterator *it;
		JsonbValue	sub;
		int			j = 0;

		if (!HAS(&k, lists[i]) || !is_array(k.kw[lists[i]]))
			continue;
		it = JsonbIteratorInit(k.kw[lists[i]]->val.binary.data);
		while (array_next(&it, &sub))
		{
			pointer_push(&cx->path, name, strlen(name));
			pointer_push_index(&cx->path, j++);
			inplace_follow(cx, &sub, NULL, NULL);
			pointer_pop(&cx->path, pathlen);
		}
	}
	for (int i = 0; i < lengthof(single); i++)
	{
		const char *name = keyword_names[single[i]];

		if (!HAS(&k, single[i]))
			continue;
		pointer_push(&cx->path, name, strlen(name));
		inplace_follow(cx, k.kw[single[i]], NULL, NULL);
		pointer_pop(&cx->path, pathlen);
	}
	if (HAS(&k, KW_DEPENDENT_SCHEMAS) && is_object(k.kw[KW_DEPENDENT_SCHEMAS]))
	{
		JsonbIterator *it = JsonbIteratorInit(k.kw[KW_DEPENDENT_SCHEMAS]->val.binary.data);
		JsonbValue	key;
		JsonbValue	sub;

		while (object_next(&it, &key, &sub))
		{
			pointer_push(&cx->path, "dependentSchemas", 16);
			pointer_push(&cx->path, key.val.string.val, key.val.string.len);
			inplace_follow(cx, &sub, NULL, NULL);
			pointer_pop(&cx->path, pathlen);
		}
	}

	node->color = NODE_BLACK;	/* dynahash entries never move */
	pfree(k.values);
}

static void
check_nonneg_integer(CCtx *cx, JsonbValue *v)
{
	if (v->type != jbvNumeric || !numeric_is_whole(v->val.numeric) ||
		numeric_is_negative(v->val.numeric))
		bad_schema(cx, "must be a non-negative integer.");
}

static void
check_pattern(CCtx *cx, const char *pat, int len)
{
	char	   *problem = regex_problem(pat, len);

	if (problem != NULL)
		bad_schema(cx, "invalid regular expression %s: %s.", quoted(pat, len), problem);
}

/* An array of unique strings (required, dependentRequired's lists). */
static void
check_name_list(CCtx *cx, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	name;
	int			i = 0;
	int			pathlen = cx->path.len;

	if (!is_array(v))
		bad_schema(cx, "must be an array of property names.");
	it = JsonbIteratorInit(v->val.binary.data);
	while (array_next(&it, &name))
	{
		JsonbValue *earlier;

		pointer_push_index(&cx->path, i);
		if (name.type != jbvString)
			bad_schema(cx, "must be a string.");
		for (int j = 0; j < i; j++)
		{
			earlier = getIthJsonbValueFromContainer(v->val.binary.data, j);
			if (json_equal(earlier, &name))
				bad_schema(cx, "%s appears more than once.", shown(&name));
		}
		pointer_pop(&cx->path, pathlen);
		i++;
	}
}

static void
check_type(CCtx *cx, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	t;
	int			i = 0;
	int			pathlen = cx->path.len;

	if (v->type == jbvString)
	{
		if (!valid_type_name(v->val.string.val, v->val.string.len))
			bad_schema(cx, "%s is not a JSON Schema type (null, boolean, object, array, number, string or integer).",
					   shown(v));
		return;
	}
	if (!is_array(v) || JsonContainerSize(v->val.binary.data) == 0)
		bad_schema(cx, "must be a type name or a non-empty array of type names.");
	it = JsonbIteratorInit(v->val.binary.data);
	while (array_next(&it, &t))
	{
		pointer_push_index(&cx->path, i);
		if (t.type != jbvString)
			bad_schema(cx, "must be a type name.");
		if (!valid_type_name(t.val.string.val, t.val.string.len))
			bad_schema(cx, "%s is not a JSON Schema type (null, boolean, object, array, number, string or integer).",
					   shown(&t));
		for (int j = 0; j < i; j++)
			if (json_equal(getIthJsonbValueFromContainer(v->val.binary.data, j), &t))
				bad_schema(cx, "%s appears more than once.", shown(&t));
		pointer_pop(&cx->path, pathlen);
		i++;
	}
}

/* An object whose values are schemas (properties, $defs, ...). */
static void
check_schema_map(CCtx *cx, JsonbValue *v, bool keys_are_patterns)
{
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	sub;
	int			pathlen = cx->path.len;

	if (!is_object(v))
		bad_schema(cx, "must be an object whose values are schemas.");
	it = JsonbIteratorInit(v->val.binary.data);
	while (object_next(&it, &key, &sub))
	{
		pointer_push(&cx->path, key.val.string.val, key.val.string.len);
		if (keys_are_patterns)
			check_pattern(cx, key.val.string.val, key.val.string.len);
		check_schema(cx, &sub);
		pointer_pop(&cx->path, pathlen);
	}
}

/* A non-empty array of schemas (allOf, anyOf, oneOf, prefixItems). */
static void
check_schema_list(CCtx *cx, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	sub;
	int			pathlen = cx->path.len;
	int			i = 0;

	if (!is_array(v) || JsonContainerSize(v->val.binary.data) == 0)
		bad_schema(cx, "must be a non-empty array of schemas.");
	it = JsonbIteratorInit(v->val.binary.data);
	while (array_next(&it, &sub))
	{
		pointer_push_index(&cx->path, i++);
		check_schema(cx, &sub);
		pointer_pop(&cx->path, pathlen);
	}
}

/* One keyword's value; cx->path ends with the keyword. */
static void
check_keyword(CCtx *cx, Keyword w, JsonbValue *v)
{
	switch (w)
	{
		case KW_TYPE:
			check_type(cx, v);
			break;
		case KW_ENUM:
		case KW_EXAMPLES:
			if (!is_array(v))
				bad_schema(cx, "must be an array.");
			break;
		case KW_CONST:
			break;
		case KW_MINIMUM:
		case KW_MAXIMUM:
		case KW_EXCLUSIVE_MINIMUM:
		case KW_EXCLUSIVE_MAXIMUM:
			if (v->type != jbvNumeric)
				bad_schema(cx, "must be a number.");
			break;
		case KW_MULTIPLE_OF:
			if (v->type != jbvNumeric ||
				numeric_compare(v->val.numeric, int64_to_numeric(0)) <= 0)
				bad_schema(cx, "must be a number greater than 0.");
			break;
		case KW_MIN_LENGTH:
		case KW_MAX_LENGTH:
		case KW_MIN_ITEMS:
		case KW_MAX_ITEMS:
		case KW_MIN_CONTAINS:
		case KW_MAX_CONTAINS:
		case KW_MIN_PROPERTIES:
		case KW_MAX_PROPERTIES:
			check_nonneg_integer(cx, v);
			break;
		case KW_PATTERN:
			if (v->type != jbvString)
				bad_schema(cx, "must be a string.");
			check_pattern(cx, v->val.string.val, v->val.string.len);
			break;
		case KW_UNIQUE_ITEMS:
		case KW_DEPRECATED:
		case KW_READ_ONLY:
		case KW_WRITE_ONLY:
			if (v->type != jbvBool)
				bad_schema(cx, "must be a boolean.");
			break;
		case KW_PREFIX_ITEMS:
		case KW_ALL_OF:
		case KW_ANY_OF:
		case KW_ONE_OF:
			check_schema_list(cx, v);
			break;
		case KW_ITEMS:
			if (is_array(v))
				bad_schema(cx, "must be a schema (an object or a boolean); for per-position schemas use \"prefixItems\".");
			check_schema(cx, v);
			break;
		case KW_CONTAINS:
		case KW_PROPERTY_NAMES:
		case KW_ADDITIONAL_PROPERTIES:
		case KW_NOT:
		case KW_IF:
		case KW_THEN:
		case KW_ELSE:
			check_schema(cx, v);
			break;
		case KW_REQUIRED:
			check_name_list(cx, v);
			break;
		case KW_DEPENDENT_REQUIRED:
			{
				JsonbIterator *it;
				JsonbValue	key;
				JsonbValue	names;
				int			pathlen = cx->path.len;

				if (!is_object(v))
					bad_schema(cx, "must be an object whose values are arrays of property names.");
				it = JsonbIteratorInit(v->val.binary.data);
				while (object_next(&it, &key, &names))
				{
					pointer_push(&cx->path, key.val.string.val, key.val.string.len);
					check_name_list(cx, &names);
					pointer_pop(&cx->path, pathlen);
				}
				break;
			}
		case KW_PROPERTIES:
		case KW_DEPENDENT_SCHEMAS:
		case KW_DEFS:
			check_schema_map(cx, v, false);
			break;
		case KW_PATTERN_PROPERTIES:
			check_schema_map(cx, v, true);
			break;
		case KW_REF:
			{
				JsonbValue	target;
				char	   *ptr;

				if (v->type != jbvString)
					bad_schema(cx, "must be a string.");
				check_resolve_ref(cx, v, &target, &ptr);
				if (is_object(&target) &&
					!schema_node(cx, target.val.binary.data)->checked)
				{
					/* check it where it lives, e.g. under "definitions" */
					char	   *saved = pstrdup(cx->path.data);

					resetStringInfo(&cx->path);
					appendStringInfoString(&cx->path, ptr);
					check_schema(cx, &target);
					resetStringInfo(&cx->path);
					appendStringInfoString(&cx->path, saved);
				}
				break;
			}
		case KW_SCHEMA:
		case KW_ID:
		case KW_COMMENT:
		case KW_TITLE:
		case KW_DESCRIPTION:
		case KW_FORMAT:
			if (v->type != jbvString)
				bad_schema(cx, "must be a string.");
			break;
		case KW_DYNAMIC_REF:
		case KW_UNEVALUATED_PROPERTIES:
		case KW_UNEVALUATED_ITEMS:
			bad_schema(cx, "keyword \"%s\" is not supported.", keyword_names[w]);
			break;
		case KW__COUNT:
			break;
	}
}

/*
 * Check one schema and, recursively, its subschemas and the targets of its
 * references; then search for in-place cycles from it.
 */
static void
check_schema(CCtx *cx, JsonbValue *schema)
{
	Keywords	k;
	SchemaNode *node;
	int			pathlen = cx->path.len;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	if (schema->type == jbvBool)
		return;
	if (!is_object(schema))
		bad_schema(cx, "must be a schema (an object or a boolean).");

	node = schema_node(cx, schema->val.binary.data);
	if (node->checked)
		return;
	node->checked = true;

	read_keywords(schema->val.binary.data, &k);
	for (int w = 0; w < KW__COUNT; w++)
	{
		if (!HAS(&k, w))
			continue;
		pointer_push(&cx->path, keyword_names[w], strlen(keyword_names[w]));
		check_keyword(cx, (Keyword) w, k.kw[w]);
		pointer_pop(&cx->path, pathlen);
	}

	pfree(k.values);

	/* everything reachable from here is checked now, except our ancestors */
	if (node->color == NODE_WHITE)
		inplace_search(cx, schema);
}

/*
 * Raise an error (ERRCODE_INVALID_PARAMETER_VALUE) unless schema is a
 * well-formed schema of the supported subset.
 */
void
mtmcp_schema_check(Jsonb *schema)
{
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext,
											   "mtmcp jsonschema check",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext caller = MemoryContextSwitchTo(work);
	CCtx		cx;
	HASHCTL		ctl;

	memset(&cx, 0, sizeof(cx));
	root_value(schema, &cx.root);
	initStringInfo(&cx.path);
	ctl.keysize = sizeof(JsonbContainer *);
	ctl.entrysize = sizeof(SchemaNode);
	ctl.hcxt = work;
	cx.nodes = hash_create("mtmcp jsonschema nodes", 64, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	check_schema(&cx, &cx.root);

	MemoryContextSwitchTo(caller);
	MemoryContextDelete(work);
}


/* ---------------------------------------------------------------------
 * SQL interface
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(mtmcp_validate_json);

/* SQL: mtmcp.validate_json(schema, instance): NULL, or the first violation. */
Datum
mtmcp_validate_json(PG_FUNCTION_ARGS)
{
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);
	Jsonb	   *instance = PG_GETARG_JSONB_P(1);
	char	   *error;

	mtmcp_schema_check(schema);
	if (mtmcp_schema_validate(schema, instance, &error))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(error));
}

PG_FUNCTION_INFO_V1(mtmcp_check_json_schema);

/* SQL: mtmcp.check_json_schema(schema): raises an error naming the problem. */
Datum
mtmcp_check_json_schema(PG_FUNCTION_ARGS)
{
	mtmcp_schema_check(PG_GETARG_JSONB_P(0));
	PG_RETURN_VOID();
}
