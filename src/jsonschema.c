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
 * out the keywords we know (sch_read_keywords), and evaluation then follows a
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
 *
 * Files: this one holds the keyword table, the jsonb and message helpers
 * both walkers share (declared in jsonschema_int.h) and the SQL functions;
 * the validator is jsonschema_validate.c, the check jsonschema_check.c.
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
#include "jsonschema_int.h"
#include "jsonutil.h"

#define MAX_SHOWN_CHARS		40	/* longest value or key quoted in a message */
#define SCHEMA_REGEX_FLAGS	REG_ADVANCED
#define SCHEMA_REGEX_COLL	C_COLLATION_OID

const char *const schema_keyword_names[KW__COUNT] = {
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

/* ---------------------------------------------------------------------
 * jsonb helpers
 * ---------------------------------------------------------------------
 */

/* The root of a jsonb document as a value: a scalar, or a container. */
void
sch_root_value(Jsonb *jb, JsonbValue *v)
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

bool
sch_is_object(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

bool
sch_is_array(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

/* Next element of an array being iterated (nested values stay jbvBinary). */
bool
sch_array_next(JsonbIterator **it, JsonbValue *elem)
{
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(it, elem, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			return true;
	return false;
}

/* Next key and value of an object being iterated. */
bool
sch_object_next(JsonbIterator **it, JsonbValue *key, JsonbValue *val)
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

int
sch_numeric_compare(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											 NumericGetDatum(a),
											 NumericGetDatum(b)));
}

/* Does n have no fractional part?  (1.0 has none.) */
bool
sch_numeric_is_whole(Numeric n)
{
	return DatumGetInt32(DirectFunctionCall1(numeric_min_scale,
											 NumericGetDatum(n))) == 0;
}

bool
sch_numeric_is_negative(Numeric n)
{
	Numeric		zero = int64_to_numeric(0);

	return sch_numeric_compare(n, zero) < 0;
}

/* JSON equality: type and value; containers as jsonb compares them. */
bool
sch_json_equal(JsonbValue *a, JsonbValue *b)
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
			return sch_numeric_compare(a->val.numeric, b->val.numeric) == 0;
		case jbvBinary:
			return compareJsonbContainers(a->val.binary.data, b->val.binary.data) == 0;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) a->type);
	}
	return false;
}

/* The JSON Schema type name of an instance value. */
const char *
sch_json_type_name(JsonbValue *v)
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
bool
sch_type_accepts(const char *name, int len, JsonbValue *v)
{
#define IS(s) (len == (int) strlen(s) && memcmp(name, s, len) == 0)
	if (IS("integer"))
		return v->type == jbvNumeric && sch_numeric_is_whole(v->val.numeric);
	if (IS("number"))
		return v->type == jbvNumeric;
	if (IS("string"))
		return v->type == jbvString;
	if (IS("boolean"))
		return v->type == jbvBool;
	if (IS("null"))
		return v->type == jbvNull;
	if (IS("object"))
		return sch_is_object(v);
	if (IS("array"))
		return sch_is_array(v);
#undef IS
	return false;
}

bool
sch_valid_type_name(const char *name, int len)
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
void
sch_read_keywords(JsonbContainer *schema, Keywords *k)
{
	JsonbIterator *it = JsonbIteratorInit(schema);
	JsonbValue	key;
	int			n = 0;

	memset(k->kw, 0, sizeof(k->kw));
	k->values = palloc(Max(JsonContainerSize(schema), 1) * sizeof(JsonbValue));
	while (sch_object_next(&it, &key, &k->values[n]))
	{
		for (int w = 0; w < KW__COUNT; w++)
		{
			const char *name = schema_keyword_names[w];

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
void
sch_append_quoted(StringInfo buf, const char *s, int len)
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

char *
sch_quoted(const char *s, int len)
{
	StringInfoData buf;

	initStringInfo(&buf);
	sch_append_quoted(&buf, s, len);
	return buf.data;
}

/* A value for a message: JSON text, long values cut short. */
char *
sch_shown(JsonbValue *v)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (v->type == jbvString)
		sch_append_quoted(&buf, v->val.string.val, v->val.string.len);
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
char *
sch_ref_pointer(const char *ref, int len)
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
bool
sch_pointer_get(JsonbValue *root, const char *ptr, JsonbValue *out)
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
		if (sch_is_object(&cur))
		{
			if (getKeyJsonValueFromContainer(cur.val.binary.data, tok.data,
											 tok.len, &next) == NULL)
				return false;
		}
		else if (sch_is_array(&cur))
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
char *
sch_regex_problem(const char *pat, int len)
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
bool
sch_regex_matches(const char *pat, int patlen, const char *s, int len)
{
	text	   *re = cstring_to_text_with_len(pat, patlen);
	bool		match;

	match = RE_compile_and_execute(re, (char *) s, len, SCHEMA_REGEX_FLAGS,
								   SCHEMA_REGEX_COLL, 0, NULL);
	pfree(re);
	return match;
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
