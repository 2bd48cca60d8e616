/*
 * jsonschema.h -- JSON Schema 2020-12 (the subset tools need), over jsonb
 * (jsonschema.c)
 *
 * Tool input and output schemas are checked once at registration
 * (mtmcp_schema_check raises ERRCODE_INVALID_PARAMETER_VALUE for a malformed
 * schema) and every call's arguments and result are validated against them
 * (mtmcp_schema_validate returns true, or false with *error set to
 * "<path>: <message>", palloc'd, for the first violation found).
 */
#ifndef MTMCP_JSONSCHEMA_H
#define MTMCP_JSONSCHEMA_H

#include "utils/jsonb.h"

extern void mtmcp_schema_check(Jsonb *schema);
extern bool mtmcp_schema_validate(Jsonb *schema, Jsonb *instance, char **error);

#endif							/* MTMCP_JSONSCHEMA_H */
