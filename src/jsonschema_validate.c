/*
 * jsonschema_validate.c -- does an instance conform to a schema?
 *
 * mtmcp_schema_validate, run on every tools/call: walks the schema's jsonb
 * containers next to the instance, keywords in the fixed order of
 * jsonschema_int.h, and reports the first violation as "<path>: <message>".
 * Shares the keyword table and jsonb helpers of jsonschema.c; see there for
 * the semantics and the termination argument.
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

#define MAX_REF_CHAIN		64	/* $ref expansions without descending */

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

static bool validate_node(VCtx *cx, JsonbValue *schema, JsonbValue *inst);

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
			 errdetail("Keyword \"%s\" has a malformed value.", schema_keyword_names[w]),
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

	if (!sch_numeric_is_whole(n) || sch_numeric_is_negative(n))
		schema_corrupt(w);
	i = numeric_int4_opt_error(n, &overflow);
	return overflow ? PG_INT32_MAX : i;
}

static JsonbContainer *
kw_object(Keywords *k, Keyword w)
{
	if (!sch_is_object(k->kw[w]))
		schema_corrupt(w);
	return k->kw[w]->val.binary.data;
}

static JsonbContainer *
kw_array(Keywords *k, Keyword w)
{
	if (!sch_is_array(k->kw[w]))
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
		sch_append_quoted(&cx->path, key, len);
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
		if (sch_type_accepts(type->val.string.val, type->val.string.len, inst))
			return true;
		if (cx->quiet)
			return false;
		return fail(cx, "expected %s, got %s",
					pnstrdup(type->val.string.val, type->val.string.len),
					sch_json_type_name(inst));
	}
	if (!sch_is_array(type))
		schema_corrupt(KW_TYPE);

	it = JsonbIteratorInit(type->val.binary.data);
	while (sch_array_next(&it, &t))
	{
		if (t.type != jbvString)
			schema_corrupt(KW_TYPE);
		if (sch_type_accepts(t.val.string.val, t.val.string.len, inst))
			return true;
	}
	if (cx->quiet)
		return false;

	/* "expected string, number or null, got boolean" */
	initStringInfo(&names);
	total = JsonContainerSize(type->val.binary.data);
	it = JsonbIteratorInit(type->val.binary.data);
	while (sch_array_next(&it, &t))
	{
		if (n > 0)
			appendStringInfoString(&names, n == total - 1 ? " or " : ", ");
		appendBinaryStringInfo(&names, t.val.string.val, t.val.string.len);
		n++;
	}
	return fail(cx, "expected %s, got %s", names.data, sch_json_type_name(inst));
}

static bool
validate_number(VCtx *cx, Keywords *k, JsonbValue *inst)
{
	Numeric		n = inst->val.numeric;

	if (HAS(k, KW_MINIMUM) &&
		sch_numeric_compare(n, kw_number(k, KW_MINIMUM)) < 0)
		return fail(cx, "%s is less than the minimum %s",
					sch_shown(inst), sch_shown(k->kw[KW_MINIMUM]));
	if (HAS(k, KW_MAXIMUM) &&
		sch_numeric_compare(n, kw_number(k, KW_MAXIMUM)) > 0)
		return fail(cx, "%s is greater than the maximum %s",
					sch_shown(inst), sch_shown(k->kw[KW_MAXIMUM]));
	if (HAS(k, KW_EXCLUSIVE_MINIMUM) &&
		sch_numeric_compare(n, kw_number(k, KW_EXCLUSIVE_MINIMUM)) <= 0)
		return fail(cx, "%s is not greater than the exclusive minimum %s",
					sch_shown(inst), sch_shown(k->kw[KW_EXCLUSIVE_MINIMUM]));
	if (HAS(k, KW_EXCLUSIVE_MAXIMUM) &&
		sch_numeric_compare(n, kw_number(k, KW_EXCLUSIVE_MAXIMUM)) >= 0)
		return fail(cx, "%s is not less than the exclusive maximum %s",
					sch_shown(inst), sch_shown(k->kw[KW_EXCLUSIVE_MAXIMUM]));
	if (HAS(k, KW_MULTIPLE_OF))
	{
		Numeric		m = kw_number(k, KW_MULTIPLE_OF);
		Numeric		rem;

		if (sch_numeric_compare(m, int64_to_numeric(0)) <= 0)
			schema_corrupt(KW_MULTIPLE_OF);
		rem = DatumGetNumeric(DirectFunctionCall2(numeric_mod,
												  NumericGetDatum(n),
												  NumericGetDatum(m)));
		if (sch_numeric_compare(rem, int64_to_numeric(0)) != 0)
			return fail(cx, "%s is not a multiple of %s",
						sch_shown(inst), sch_shown(k->kw[KW_MULTIPLE_OF]));
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
		if (!sch_regex_matches(p->val.string.val, p->val.string.len, s, len))
			return fail(cx, "does not match pattern %s", sch_shown(p));
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
			r = sch_numeric_compare(x->v.val.numeric, y->v.val.numeric);
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
	while (i < n && sch_array_next(&it, &items[i].v))
	{
		items[i].index = i;
		i++;
	}
	qsort(items, n, sizeof(SortItem), sort_item_cmp);
	for (i = 1; i < n; i++)
	{
		/* the first element of a run of equals is at i - 1 (lowest index) */
		if (sch_json_equal(&items[i - 1].v, &items[i].v) &&
			(i < 2 || !sch_json_equal(&items[i - 2].v, &items[i].v)) &&
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
		while (sch_array_next(&it, &elem))
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

		while (sch_array_next(&it, &elem))
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

	if (!sch_is_array(names))
		schema_corrupt(w);
	it = JsonbIteratorInit(names->val.binary.data);
	while (sch_array_next(&it, &name))
	{
		if (name.type != jbvString)
			schema_corrupt(w);
		if (has_property(obj, name.val.string.val, name.val.string.len))
			continue;
		if (because == NULL)
			return fail(cx, "missing required property %s", sch_shown(&name));
		return fail(cx, "property %s is required when %s is present",
					sch_shown(&name), sch_shown(because));
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
		while (sch_object_next(&it, &key, &val))
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
		while (sch_object_next(&it, &key, &val))
		{
			const char *before = cx->error;

			if (validate_node(cx, k->kw[KW_PROPERTY_NAMES], &key))
				continue;
			/* the key's violation was recorded at this object's path */
			if (!cx->quiet && !cx->fatal && before == NULL && cx->error != NULL)
			{
				const char *msg = cx->error + cx->path.len + 2;

				cx->error = psprintf("%s: property name %s is invalid: %s",
									 cx->path.data, sch_shown(&key), msg);
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
		while (sch_object_next(&it, &key, &val))
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

				while (sch_object_next(&pit, &pat, &sub))
				{
					if (!sch_regex_matches(pat.val.string.val, pat.val.string.len, name, len))
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
					return fail(cx, "property %s is not allowed", sch_shown(&key));
				if (!validate_child(cx, ap, &val, name, len, 0))
					return false;
			}
		}
	}

	if (HAS(k, KW_DEPENDENT_SCHEMAS))
	{
		it = JsonbIteratorInit(kw_object(k, KW_DEPENDENT_SCHEMAS));
		while (sch_object_next(&it, &key, &val))
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
	ptr = sch_ref_pointer(ref->val.string.val, ref->val.string.len);
	if (ptr == NULL || !sch_pointer_get(&cx->root, ptr, &target))
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
		while (sch_array_next(&it, &sub))
			if (!validate_node(cx, &sub, inst))
				return false;
	}
	if (HAS(k, KW_ANY_OF))
	{
		bool		any = false;

		it = JsonbIteratorInit(kw_array(k, KW_ANY_OF));
		while (!any && sch_array_next(&it, &sub))
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
		while (sch_array_next(&it, &sub))
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

		while (!found && sch_array_next(&it, &allowed))
			found = sch_json_equal(&allowed, inst);
		if (!found)
			return fail(cx, "value is not one of the allowed values");
	}
	if (HAS(k, KW_CONST) && !sch_json_equal(k->kw[KW_CONST], inst))
		return fail(cx, "value is not the constant %s", sch_shown(k->kw[KW_CONST]));

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
	if (!sch_is_object(schema))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JSON schema"),
				 errdetail("A schema must be an object or a boolean."),
				 errhint("Check the schema with mtmcp.check_json_schema().")));
	sch_read_keywords(schema->val.binary.data, &k);
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
	sch_root_value(schema, &cx.root);
	initStringInfo(&cx.path);
	appendStringInfoChar(&cx.path, '$');
	sch_root_value(instance, &inst);

	ok = validate_node(&cx, &cx.root, &inst);

	MemoryContextSwitchTo(caller);
	if (error != NULL)
		*error = ok ? NULL : pstrdup(cx.error ? cx.error : "$: invalid value");
	MemoryContextDelete(work);
	return ok;
}
