/*
 * jsonschema_int.h -- what the files of the JSON Schema module share
 *
 * The module is jsonschema.c (the keyword table, jsonb and message helpers,
 * the SQL functions), jsonschema_validate.c (instances against schemas)
 * and jsonschema_check.c (schemas at registration).  This header holds the
 * keywords in evaluation order, one schema object's keywords as read in one
 * pass, and the helpers both walkers use; only those three files include it.
 */
#ifndef MTMCP_JSONSCHEMA_INT_H
#define MTMCP_JSONSCHEMA_INT_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

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

extern const char *const schema_keyword_names[KW__COUNT];

/* The known keywords of one schema object; values point into the schema. */
typedef struct Keywords
{
	JsonbValue *kw[KW__COUNT];	/* NULL when absent */
	JsonbValue *values;			/* storage for the above */
} Keywords;

#define HAS(k, w)	((k)->kw[w] != NULL)

extern void sch_root_value(Jsonb *jb, JsonbValue *v);
extern bool sch_is_object(JsonbValue *v);
extern bool sch_is_array(JsonbValue *v);
extern bool sch_array_next(JsonbIterator **it, JsonbValue *elem);
extern bool sch_object_next(JsonbIterator **it, JsonbValue *key, JsonbValue *val);
extern int	sch_numeric_compare(Numeric a, Numeric b);
extern bool sch_numeric_is_whole(Numeric n);
extern bool sch_numeric_is_negative(Numeric n);
extern bool sch_json_equal(JsonbValue *a, JsonbValue *b);
extern const char *sch_json_type_name(JsonbValue *v);
extern bool sch_type_accepts(const char *name, int len, JsonbValue *v);
extern bool sch_valid_type_name(const char *name, int len);
extern void sch_read_keywords(JsonbContainer *schema, Keywords *k);
extern void sch_append_quoted(StringInfo buf, const char *s, int len);
extern char *sch_quoted(const char *s, int len);
extern char *sch_shown(JsonbValue *v);
extern char *sch_ref_pointer(const char *ref, int len);
extern bool sch_pointer_get(JsonbValue *root, const char *ptr, JsonbValue *out);
extern char *sch_regex_problem(const char *pat, int len);
extern bool sch_regex_matches(const char *pat, int patlen, const char *s, int len);

#endif							/* MTMCP_JSONSCHEMA_INT_H */
