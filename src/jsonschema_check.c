/*
 * jsonschema_check.c -- is a schema well-formed?
 *
 * mtmcp_schema_check, run when a tool is registered: every keyword's value
 * has the right shape, every "pattern" compiles, every "$ref" resolves
 * locally, the three 2020-12 keywords we do not implement are refused, and
 * no $ref cycle can recurse without descending into the instance (a
 * depth-first search over the in-place applicator edges).  Shares the
 * keyword table and jsonb helpers of jsonschema.c.
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

static void check_schema(CCtx *cx, JsonbValue *schema);

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
				   sch_shown(ref));
	ptr = sch_ref_pointer(s, len);
	if (ptr == NULL)
		bad_schema(cx, "reference %s is not supported; only JSON Pointer references within the schema (\"#/...\") are.",
				   sch_shown(ref));
	if (!sch_pointer_get(&cx->root, ptr, target))
		bad_schema(cx, "reference %s does not resolve within the schema.", sch_shown(ref));
	if (target->type != jbvBool && !sch_is_object(target))
		bad_schema(cx, "reference %s does not point to a schema.", sch_shown(ref));
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

	if (!sch_is_object(target))
		return;
	t = schema_node(cx, target->val.binary.data);
	if (t->color == NODE_BLACK)
		return;
	if (t->color == NODE_GREY)
	{
		if (ref != NULL)
			bad_schema(cx, "reference %s leads back to this schema without descending into the instance.",
					   sch_shown(ref));
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
	sch_read_keywords(schema->val.binary.data, &k);

	if (HAS(&k, KW_REF) && k.kw[KW_REF]->type == jbvString)
	{
		JsonbValue *ref = k.kw[KW_REF];
		char	   *ptr = sch_ref_pointer(ref->val.string.val, ref->val.string.len);
		JsonbValue	target;

		if (ptr != NULL && sch_pointer_get(&cx->root, ptr, &target))
		{
			pointer_push(&cx->path, "$ref", 4);
			inplace_follow(cx, &target, ref, ptr);
			pointer_pop(&cx->path, pathlen);
		}
	}
	for (int i = 0; i < lengthof(lists); i++)
	{
		const char *name = schema_keyword_names[lists[i]];
		JsonbIterator *it;
		JsonbValue	sub;
		int			j = 0;

		if (!HAS(&k, lists[i]) || !sch_is_array(k.kw[lists[i]]))
			continue;
		it = JsonbIteratorInit(k.kw[lists[i]]->val.binary.data);
		while (sch_array_next(&it, &sub))
		{
			pointer_push(&cx->path, name, strlen(name));
			pointer_push_index(&cx->path, j++);
			inplace_follow(cx, &sub, NULL, NULL);
			pointer_pop(&cx->path, pathlen);
		}
	}
	for (int i = 0; i < lengthof(single); i++)
	{
		const char *name = schema_keyword_names[single[i]];

		if (!HAS(&k, single[i]))
			continue;
		pointer_push(&cx->path, name, strlen(name));
		inplace_follow(cx, k.kw[single[i]], NULL, NULL);
		pointer_pop(&cx->path, pathlen);
	}
	if (HAS(&k, KW_DEPENDENT_SCHEMAS) && sch_is_object(k.kw[KW_DEPENDENT_SCHEMAS]))
	{
		JsonbIterator *it = JsonbIteratorInit(k.kw[KW_DEPENDENT_SCHEMAS]->val.binary.data);
		JsonbValue	key;
		JsonbValue	sub;

		while (sch_object_next(&it, &key, &sub))
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
	if (v->type != jbvNumeric || !sch_numeric_is_whole(v->val.numeric) ||
		sch_numeric_is_negative(v->val.numeric))
		bad_schema(cx, "must be a non-negative integer.");
}

static void
check_pattern(CCtx *cx, const char *pat, int len)
{
	char	   *problem = sch_regex_problem(pat, len);

	if (problem != NULL)
		bad_schema(cx, "invalid regular expression %s: %s.", sch_quoted(pat, len), problem);
}

/* An array of unique strings (required, dependentRequired's lists). */
static void
check_name_list(CCtx *cx, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	name;
	int			i = 0;
	int			pathlen = cx->path.len;

	if (!sch_is_array(v))
		bad_schema(cx, "must be an array of property names.");
	it = JsonbIteratorInit(v->val.binary.data);
	while (sch_array_next(&it, &name))
	{
		JsonbValue *earlier;

		pointer_push_index(&cx->path, i);
		if (name.type != jbvString)
			bad_schema(cx, "must be a string.");
		for (int j = 0; j < i; j++)
		{
			earlier = getIthJsonbValueFromContainer(v->val.binary.data, j);
			if (sch_json_equal(earlier, &name))
				bad_schema(cx, "%s appears more than once.", sch_shown(&name));
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
		if (!sch_valid_type_name(v->val.string.val, v->val.string.len))
			bad_schema(cx, "%s is not a JSON Schema type (null, boolean, object, array, number, string or integer).",
					   sch_shown(v));
		return;
	}
	if (!sch_is_array(v) || JsonContainerSize(v->val.binary.data) == 0)
		bad_schema(cx, "must be a type name or a non-empty array of type names.");
	it = JsonbIteratorInit(v->val.binary.data);
	while (sch_array_next(&it, &t))
	{
		pointer_push_index(&cx->path, i);
		if (t.type != jbvString)
			bad_schema(cx, "must be a type name.");
		if (!sch_valid_type_name(t.val.string.val, t.val.string.len))
			bad_schema(cx, "%s is not a JSON Schema type (null, boolean, object, array, number, string or integer).",
					   sch_shown(&t));
		for (int j = 0; j < i; j++)
			if (sch_json_equal(getIthJsonbValueFromContainer(v->val.binary.data, j), &t))
				bad_schema(cx, "%s appears more than once.", sch_shown(&t));
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

	if (!sch_is_object(v))
		bad_schema(cx, "must be an object whose values are schemas.");
	it = JsonbIteratorInit(v->val.binary.data);
	while (sch_object_next(&it, &key, &sub))
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

	if (!sch_is_array(v) || JsonContainerSize(v->val.binary.data) == 0)
		bad_schema(cx, "must be a non-empty array of schemas.");
	it = JsonbIteratorInit(v->val.binary.data);
	while (sch_array_next(&it, &sub))
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
			if (!sch_is_array(v))
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
				sch_numeric_compare(v->val.numeric, int64_to_numeric(0)) <= 0)
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
			if (sch_is_array(v))
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

				if (!sch_is_object(v))
					bad_schema(cx, "must be an object whose values are arrays of property names.");
				it = JsonbIteratorInit(v->val.binary.data);
				while (sch_object_next(&it, &key, &names))
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
				if (sch_is_object(&target) &&
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
			bad_schema(cx, "keyword \"%s\" is not supported.", schema_keyword_names[w]);
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
	if (!sch_is_object(schema))
		bad_schema(cx, "must be a schema (an object or a boolean).");

	node = schema_node(cx, schema->val.binary.data);
	if (node->checked)
		return;
	node->checked = true;

	sch_read_keywords(schema->val.binary.data, &k);
	for (int w = 0; w < KW__COUNT; w++)
	{
		if (!HAS(&k, w))
			continue;
		pointer_push(&cx->path, schema_keyword_names[w], strlen(schema_keyword_names[w]));
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
	sch_root_value(schema, &cx.root);
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
