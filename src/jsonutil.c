/*
 * jsonutil.c -- reading jsonb and writing JSON text in the backend
 *
 * Requests arrive as jsonb and are read with the container API; responses
 * are written as JSON text into a StringInfo (escaped with escape_json) and
 * converted to jsonb once at the end.  This keeps response building cheap
 * and readable without a jsonb builder state machine.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "jsonutil.h"

JsonbValue *
jsonb_object_get(JsonbContainer *obj, const char *key)
{
	if (obj == NULL || !JsonContainerIsObject(obj))
		return NULL;
	return getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
}

char *
jsonb_value_cstring(JsonbValue *v)
{
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

bool
jsonb_value_is_object(JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

bool
jsonb_value_is_array(JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data);
}

void
json_append_string(StringInfo buf, const char *s)
{
	escape_json(buf, s);
}

/* Append any jsonb value (scalar or container) as JSON text. */
void
json_append_value(StringInfo buf, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(buf, "null");
			break;
		case jbvBool:
			appendStringInfoString(buf, v->val.boolean ? "true" : "false");
			break;
		case jbvString:
			{
				char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

				escape_json(buf, s);
				pfree(s);
				break;
			}
		case jbvNumeric:
			appendStringInfoString(buf,
								   DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(v->val.numeric))));
			break;
		case jbvBinary:
			(void) JsonbToCString(buf, v->val.binary.data, v->val.binary.len);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

void
json_append_jsonb(StringInfo buf, Jsonb *jb)
{
	(void) JsonbToCString(buf, &jb->root, VARSIZE(jb));
}

Jsonb *
json_text_to_jsonb(const char *text)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

Jsonb *
jsonb_value_to_jsonb(JsonbValue *v)
{
	return JsonbValueToJsonb(v);
}

/* The value of a hexadecimal digit, or -1. */
int
hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
