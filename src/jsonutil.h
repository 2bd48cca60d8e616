/*
 * jsonutil.h -- reading jsonb and writing JSON text in the backend (jsonutil.c)
 *
 * Requests arrive as jsonb and are read with the container API; responses
 * are written as JSON text into a StringInfo and converted to jsonb once at
 * the end.  These are the small helpers every backend module uses for both.
 */
#ifndef MTMCP_JSONUTIL_H
#define MTMCP_JSONUTIL_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* value of key in an object container, or NULL (also when not an object) */
extern JsonbValue *jsonb_object_get(JsonbContainer *obj, const char *key);
/* a palloc'd copy of a string value, or NULL when v is NULL or not a string */
extern char *jsonb_value_cstring(JsonbValue *v);
/* is v a container of the given kind (object/array)? */
extern bool jsonb_value_is_object(JsonbValue *v);
extern bool jsonb_value_is_array(JsonbValue *v);

/* JSON text output */
extern void json_append_string(StringInfo buf, const char *s);
extern void json_append_value(StringInfo buf, JsonbValue *v);
extern void json_append_jsonb(StringInfo buf, Jsonb *jb);
extern Jsonb *json_text_to_jsonb(const char *text);
extern Jsonb *jsonb_value_to_jsonb(JsonbValue *v);

/* escapes in JSON, JSON Pointers and URIs */
extern int	hex_digit_value(char c);

#endif							/* MTMCP_JSONUTIL_H */
