--
-- jsonschema: argument validation (JSON Schema 2020-12 subset)
--
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- Each row: a label, a schema, an instance; the result is NULL when the
-- instance conforms, else the first violation as "<path>: <message>".

-- type
SELECT label, mtmcp.validate_json(s::jsonb, i::jsonb) AS result
FROM (VALUES
	('null ok',              '{"type":"null"}',    'null'),
	('null bad',             '{"type":"null"}',    '0'),
	('boolean ok',           '{"type":"boolean"}', 'false'),
	('boolean bad',          '{"type":"boolean"}', '"true"'),
	('object ok',            '{"type":"object"}',  '{}'),
	('object bad',           '{"type":"object"}',  '[]'),
	('array ok',             '{"type":"array"}',   '[]'),
	('array bad',            '{"type":"array"}',   '{}'),
	('number ok',            '{"type":"number"}',  '1.5'),
	('number takes 3',       '{"type":"number"}',  '3'),
	('number bad',           '{"type":"number"}',  '"1"'),
	('string ok',            '{"type":"string"}',  '""'),
	('string bad',           '{"type":"string"}',  'null'),
	('integer 1',            '{"type":"integer"}', '1'),
	('integer 1.0',          '{"type":"integer"}', '1.0'),
	('integer 1.50e1',       '{"type":"integer"}', '1.50e1'),
	('integer -0.000',       '{"type":"integer"}', '-0.000'),
	('integer 1.5',          '{"type":"integer"}', '1.5'),
	('integer "1"',          '{"type":"integer"}', '"1"'),
	('list ok',              '{"type":["string","null"]}', 'null'),
	('list bad',             '{"type":["string","null"]}', '1'),
	('list of three',        '{"type":["string","number","null"]}', 'true'),
	('list with integer',    '{"type":["integer","boolean"]}', '2.5')
) t(label, s, i);

-- enum and const: JSON equality (object key order does not matter, 1 = 1.0)
SELECT label, mtmcp.validate_json(s::jsonb, i::jsonb) AS result
FROM (VALUES
	('enum ok',              '{"enum":["fast","slow"]}', '"slow"'),
	('enum bad',             '{"enum":["fast","slow"]}', '"Slow"'),
	('enum 1 vs 1.0',        '{"enum":[1,"1"]}', '1.0'),
	('enum "1"',             '{"enum":[1,"1"]}', '"1"'),
	('enum null vs false',   '{"enum":[null]}', 'false'),
	('enum object ok',       '{"enum":[{"a":1,"b":[1,2]},{"c":null}]}', '{"b":[1,2],"a":1}'),
	('enum object numeric',  '{"enum":[{"a":1,"b":[1,2]},{"c":null}]}', '{"a":1.0,"b":[1,2.00]}'),
	('enum object order',    '{"enum":[{"a":1,"b":[1,2]},{"c":null}]}', '{"a":1,"b":[2,1]}'),
	('enum object extra',    '{"enum":[{"a":1,"b":[1,2]},{"c":null}]}', '{"c":null,"d":null}'),
	('const object ok',      '{"const":{"x":1,"y":{"z":[true]}}}', '{"y":{"z":[true]},"x":1}'),
	('const object bad',     '{"const":{"x":1,"y":{"z":[true]}}}', '{"y":{"z":[false]},"x":1}'),
	('const 1 vs 1.0',       '{"const":1}', '1.0'),
	('const 1 vs "1"',       '{"const":1}', '"1"'),
	('const false vs 0',     '{"const":false}', '0'),
	('const null',           '{"const":null}', 'null'),
	('const array order',    '{"const":[1,2]}', '[2,1]'),
	('const long shown cut', '{"const":"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"}', '"abc"')
) t(label, s, i);

-- numbers: numeric comparison, no floating point
SELECT label, mtmcp.validate_json(s::jsonb, i::jsonb) AS result
FROM (VALUES
	('minimum ok',           '{"minimum":0}', '0'),
	('minimum bad',          '{"minimum":0}', '-1'),
	('maximum ok',           '{"maximum":100}', '100.0'),
	('maximum bad',          '{"maximum":100}', '500'),
	('maximum by a hair',    '{"maximum":100}', '100.000000000000000000001'),
	('exclusiveMinimum ok',  '{"exclusiveMinimum":0}', '0.001'),
	('exclusiveMinimum bad', '{"exclusiveMinimum":0}', '0'),
	('exclusiveMaximum ok',  '{"exclusiveMaximum":1}', '0.999'),
	('exclusiveMaximum bad', '{"exclusiveMaximum":1}', '1.0'),
	('multipleOf 0.1 ok',    '{"multipleOf":0.1}', '0.3'),
	('multipleOf 0.1 bad',   '{"multipleOf":0.1}', '0.35'),
	('multipleOf 5 bad',     '{"multipleOf":5}', '7'),
	('huge number shown cut','{"maximum":1}', '1e50'),
	('not a number: ignored','{"minimum":5,"multipleOf":2}', '"abc"')
) t(label, s, i);

-- strings: lengths count characters, pattern matches anywhere (ARE)
SELECT label, mtmcp.validate_json(s::jsonb, i::jsonb) AS result
FROM (VALUES
	('minLength ok',         '{"minLength":1}', '"a"'),
	('minLength bad',        '{"minLength":1}', '""'),
	('minLength é',          '{"minLength":2}', '"é"'),
	('maxLength héé',        '{"maxLength":3}', '"héé"'),
	('maxLength 日本語',     '{"maxLength":3}', '"日本語"'),
	('maxLength 日本語x',    '{"maxLength":3}', '"日本語x"'),
	('maxLength emoji',      '{"maxLength":2}', '"😀😀"'),
	('maxLength 1',          '{"maxLength":1}', '"ab"'),
	('pattern ok',           '{"pattern":"^[a-z]+$"}', '"abc"'),
	('pattern bad',          '{"pattern":"^[a-z]+$"}', '"Abc"'),
	('pattern unanchored',   '{"pattern":"b"}', '"abc"'),
	('pattern \d ok',        '{"pattern":"\\d{3}"}', '"ab123"'),
	('pattern \d bad',       '{"pattern":"\\d{3}"}', '"ab12"'),
	('pattern characters',   '{"pattern":"^.{2}$"}', '"é日"'),
	('pattern alternation',  '{"pattern":"^(fast|slow)$"}', '"medium"'),
	('pattern long shown',   '{"pattern":"^(aaaaaaaaaa|bbbbbbbbbb|cccccccccc|dddddddddd)$"}', '"x"'),
	('not a string: ignored','{"minLength":3,"pattern":"x"}', '12')
) t(label, s, i);

-- arrays
SELECT label, mtmcp.validate_json(s::jsonb, i::jsonb) AS result
FROM (VALUES
	('minItems ok',          '{"minItems":1}', '[0]'),
	('minItems bad',         '{"minItems":1}', '[]'),
	('maxItems bad',         '{"maxItems":2}', '[1,2,3]'),
	('items ok',             '{"items":{"type":"string"}}', '["a","b"]'),
	('items bad',            '{"items":{"type":"string"}}', '["a","b",3]'),
	('prefixItems ok',       '{"prefixItems":[{"type":"number"},{"type":"string"}],"items":false}', '[1,"a"]'),
	('prefixItems short',    '{"prefixItems":[{"type":"number"},{"type":"string"}],"items":false}', '[1]'),
	('prefixItems bad',      '{"prefixItems":[{"type":"number"},{"type":"string"}],"items":false}', '["a"]'),
	('items false extra',    '{"prefixItems":[{"type":"number"},{"type":"string"}],"items":false}', '[1,"a",true]'),
	('prefixItems, no items','{"prefixItems":[{"type":"number"}]}', '[1,"a",{}]'),
	('items after prefix',   '{"prefixItems":[{"type":"number"}],"items":{"type":"string"}}', '[1,"a",2]'),
	('uniqueItems ok',       '{"uniqueItems":true}', '[1,"1",[1],{"a":1},true,null,0,false]'),
	('uniqueItems 1 vs 1.0', '{"uniqueItems":true}', '[1,2,1.0]'),
	('uniqueItems objects',  '{"uniqueItems":true}', '[{"a":1,"b":2},{"b":2,"a":1}]'),
	('uniqueItems first dup','{"uniqueItems":true}', '[3,1,2,1,3]'),
	('uniqueItems nulls',    '{"uniqueItems":true}', '[null,null]'),
	('uniqueItems false',    '{"uniqueItems":false}', '[1,1]'),
	('contains ok',          '{"contains":{"type":"integer"}}', '["a",1]'),
	('contains bad',         '{"contains":{"type":"integer"}}', '["a","b"]'),
	('minContains bad',      '{"contains":{"type":"integer"},"minContains":2}', '[1,"a"]'),
	('maxContains bad',      '{"contains":{"type":"integer"},"maxContains":1}', '[1,2]'),
	('minContains 0',        '{"contains":{"type":"integer"},"minContains":0}', '[]'),
	('not an array: ignored','{"minItems":1,"items":false}', '"x"')
) t(label, s, i);

-- objects
SELECT label, mtmcp.validate_json(s::jsonb, i::jsonb) AS result
FROM (VALUES
	('required ok',          '{"required":["doc_id"]}', '{"doc_id":1}'),
	('required bad',         '{"required":["doc_id"]}', '{"docid":1}'),
	('required second',      '{"required":["a","b"]}', '{"a":1}'),
	('properties ok',        '{"properties":{"a":{"type":"integer"}}}', '{"a":1,"b":"x"}'),
	('properties bad',       '{"properties":{"a":{"type":"integer"}}}', '{"a":"x"}'),
	('additional false ok',  '{"properties":{"a":{}},"additionalProperties":false}', '{"a":1}'),
	('additional false bad', '{"properties":{"a":{}},"additionalProperties":false}', '{"a":1,"extra":2}'),
	('additional schema ok', '{"properties":{"a":{}},"additionalProperties":{"type":"string"}}', '{"a":1,"b":"x"}'),
	('additional schema bad','{"properties":{"a":{}},"additionalProperties":{"type":"string"}}', '{"a":1,"b":2}'),
	('patternProperties ok', '{"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":false}', '{"x-a":"s"}'),
	('patternProperties bad','{"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":false}', '{"x-a":1}'),
	('pattern: additional',  '{"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":false}', '{"y":1}'),
	('minProperties bad',    '{"minProperties":1}', '{}'),
	('maxProperties ok',     '{"maxProperties":1}', '{"a":1}'),
	('maxProperties bad',    '{"maxProperties":1}', '{"a":1,"b":2}'),
	('propertyNames ok',     '{"propertyNames":{"pattern":"^[a-z]+$"}}', '{"abc":1}'),
	('propertyNames bad',    '{"propertyNames":{"pattern":"^[a-z]+$"}}', '{"abc":1,"Abc":2}'),
	('propertyNames length', '{"properties":{"o":{"propertyNames":{"maxLength":3}}}}', '{"o":{"abcd":1}}'),
	('dependentRequired ok', '{"dependentRequired":{"card":["billing"]}}', '{"card":1,"billing":2}'),
	('dependentRequired no', '{"dependentRequired":{"card":["billing"]}}', '{}'),
	('dependentRequired bad','{"dependentRequired":{"card":["billing"]}}', '{"card":1}'),
	('dependentSchemas bad', '{"dependentSchemas":{"a":{"required":["b"]}}}', '{"a":1}'),
	('not an object: ignored','{"required":["a"],"minProperties":1,"additionalProperties":false}', '[]')
) t(label, s, i);

-- paths: $ for the root, .name for identifiers, ["..."] otherwise, [n] for indexes
SELECT label, mtmcp.validate_json(s::jsonb, i::jsonb) AS result
FROM (VALUES
	('nested',       '{"properties":{"items":{"items":{"properties":{"name":{"type":"string"}}}}}}',
	                 '{"items":[{"name":"a"},{"name":5}]}'),
	('root index',   '{"items":{"type":"integer"}}', '[1,"x"]'),
	('index twice',  '{"items":{"items":{"type":"integer"}}}', '[[1],[2,"x"]]'),
	('space',        '{"properties":{"weird key":{"type":"integer"}}}', '{"weird key":"x"}'),
	('quote',        '{"properties":{"a\"b":{"type":"integer"}}}', '{"a\"b":"x"}'),
	('digit first',  '{"properties":{"1a":{"type":"integer"}}}', '{"1a":"x"}'),
	('underscore',   '{"properties":{"_ok9":{"type":"integer"}}}', '{"_ok9":"x"}'),
	('non-ascii',    '{"properties":{"clé":{"type":"integer"}}}', '{"clé":"x"}'),
	('empty key',    '{"properties":{"":{"type":"integer"}}}', '{"":"x"}'),
	('long key cut', '{"additionalProperties":{"type":"integer"}}',
	                 '{"abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz":"x"}'),
	('tags[2]',      '{"properties":{"tags":{"type":"array","items":{"type":"string"}}}}', '{"tags":["a","b",3]}')
) t(label, s, i);

-- anyOf, oneOf, allOf, not, if/then/else
SELECT label, mtmcp.validate_json(s::jsonb, i::jsonb) AS result
FROM (VALUES
	('allOf ok',     '{"allOf":[{"type":"string"},{"minLength":2}]}', '"ab"'),
	('allOf first',  '{"allOf":[{"type":"string"},{"minLength":2}]}', '1'),
	('allOf second', '{"allOf":[{"type":"string"},{"minLength":2}]}', '"a"'),
	('anyOf ok',     '{"anyOf":[{"type":"string"},{"type":"number"}]}', '1'),
	('anyOf bad',    '{"anyOf":[{"type":"string"},{"type":"number"}]}', 'null'),
	('anyOf nested', '{"properties":{"p":{"anyOf":[{"type":"string"},{"type":"number"}]}}}', '{"p":[]}'),
	('oneOf ok',     '{"oneOf":[{"type":"integer"},{"type":"number"}]}', '1.5'),
	('oneOf two',    '{"oneOf":[{"type":"integer"},{"type":"number"}]}', '1'),
	('oneOf three',  '{"oneOf":[{},true,{"type":"number"}]}', '1'),
	('oneOf none',   '{"oneOf":[{"type":"integer"},{"type":"number"}]}', '"x"'),
	('not ok',       '{"not":{"type":"null"}}', '1'),
	('not bad',      '{"not":{"type":"null"}}', 'null'),
	('if then ok',   '{"if":{"properties":{"kind":{"const":"circle"}},"required":["kind"]},"then":{"required":["radius"]},"else":{"required":["width"]}}',
	                 '{"kind":"circle","radius":1}'),
	('if then bad',  '{"if":{"properties":{"kind":{"const":"circle"}},"required":["kind"]},"then":{"required":["radius"]},"else":{"required":["width"]}}',
	                 '{"kind":"circle"}'),
	('if else bad',  '{"if":{"properties":{"kind":{"const":"circle"}},"required":["kind"]},"then":{"required":["radius"]},"else":{"required":["width"]}}',
	                 '{"kind":"square"}')
) t(label, s, i);

-- boolean schemas
SELECT label, mtmcp.validate_json(s::jsonb, i::jsonb) AS result
FROM (VALUES
	('true',          'true',  '{"anything":[1]}'),
	('false',         'false', 'null'),
	('false property','{"properties":{"a":false}}', '{"a":1}'),
	('empty object',  '{}',    '"x"')
) t(label, s, i);

-- $ref and $defs
SELECT label, mtmcp.validate_json(s::jsonb, i::jsonb) AS result
FROM (VALUES
	('defs ok',      '{"$defs":{"pos":{"type":"integer","minimum":1}},"properties":{"n":{"$ref":"#/$defs/pos"}}}', '{"n":1}'),
	('defs bad',     '{"$defs":{"pos":{"type":"integer","minimum":1}},"properties":{"n":{"$ref":"#/$defs/pos"}}}', '{"n":0}'),
	('~1 and ~0',    '{"$defs":{"a/b":{"type":"string"},"c~d":{"type":"number"}},"properties":{"x":{"$ref":"#/$defs/a~1b"},"y":{"$ref":"#/$defs/c~0d"}}}',
	                 '{"x":"s","y":"t"}'),
	('percent',      '{"$defs":{"with space":{"type":"string"}},"$ref":"#/$defs/with%20space"}', '1'),
	('array index',  '{"$defs":{"pair":{"prefixItems":[{"type":"string"},{"type":"integer"}]}},"items":{"$ref":"#/$defs/pair/prefixItems/1"}}',
	                 '[1,2,"3"]'),
	('ref siblings', '{"$defs":{"s":{"type":"string"}},"$ref":"#/$defs/s","maxLength":2}', '"abc"'),
	('tree ok',      '{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#"}}},"required":["value"],"additionalProperties":false}',
	                 '{"value":1,"children":[{"value":2},{"value":3,"children":[{"value":4,"children":[]}]}]}'),
	('tree bad',     '{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#"}}},"required":["value"],"additionalProperties":false}',
	                 '{"value":1,"children":[{"value":2},{"value":3,"children":[{"value":"4"}]}]}'),
	('tree extra',   '{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#"}}},"required":["value"],"additionalProperties":false}',
	                 '{"value":1,"children":[{"value":2,"colour":"red"}]}'),
	('list ok',      '{"$defs":{"node":{"type":"object","properties":{"v":{"type":"number"},"next":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/node"}]}}}},"$ref":"#/$defs/node"}',
	                 '{"v":1,"next":{"v":2,"next":{"v":3,"next":null}}}'),
	('list bad',     '{"$defs":{"node":{"type":"object","properties":{"v":{"type":"number"},"next":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/node"}]}}}},"$ref":"#/$defs/node"}',
	                 '{"v":1,"next":{"v":2,"next":{"v":"3"}}}'),
	('draft-07 definitions', '{"definitions":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/s"}}}', '{"a":1}')
) t(label, s, i);

-- Recursion that descends is bounded by the instance, not by a $ref count:
-- a tree 200 levels deep validates, and a violation at the bottom is found.
SELECT mtmcp.validate_json(s, (repeat('{"value":1,"children":[', 200) || '{"value":1}' || repeat(']}', 200))::jsonb) AS deep_ok,
       right(mtmcp.validate_json(s, (repeat('{"value":1,"children":[', 200) || '{"value":true}' || repeat(']}', 200))::jsonb), 60) AS deep_bad
FROM (VALUES ('{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#"}}},"required":["value"]}'::jsonb)) t(s);

-- An MCP tool's inputSchema, as a client library would generate it.
SELECT label, mtmcp.validate_json(
	'{
	   "$schema": "https://json-schema.org/draft/2020-12/schema",
	   "$id": "urn:example:search-docs",
	   "$comment": "generated",
	   "title": "search_docs",
	   "description": "Search the tenant''s documents.",
	   "type": "object",
	   "$defs": {
	     "tag": {"type": "string", "minLength": 1, "maxLength": 32, "pattern": "^[a-z0-9-]+$"}
	   },
	   "properties": {
	     "q":      {"type": "string", "minLength": 1, "description": "Query text", "examples": ["invoice"]},
	     "limit":  {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
	     "mode":   {"enum": ["fast", "exact"], "deprecated": false},
	     "tags":   {"type": "array", "items": {"$ref": "#/$defs/tag"}, "uniqueItems": true, "maxItems": 5},
	     "doc_id": {"type": ["string", "null"], "format": "uuid", "readOnly": false, "writeOnly": false},
	     "since":  {"type": "string", "format": "date-time"}
	   },
	   "required": ["q"],
	   "additionalProperties": false,
	   "x-vendor-extension": {"anything": "goes"}
	 }'::jsonb, i::jsonb) AS result
FROM (VALUES
	('minimal',        '{"q":"invoice"}'),
	('full',           '{"q":"invoice","limit":10.0,"mode":"fast","tags":["a","b-2"],"doc_id":null,"since":"not checked"}'),
	('missing q',      '{"limit":5}'),
	('limit too big',  '{"q":"x","limit":500}'),
	('limit fraction', '{"q":"x","limit":2.5}'),
	('bad mode',       '{"q":"x","mode":"slow"}'),
	('bad tag',        '{"q":"x","tags":["ok","Not-OK"]}'),
	('tag not string', '{"q":"x","tags":["a","b",3]}'),
	('duplicate tags', '{"q":"x","tags":["a","b","a"]}'),
	('empty q',        '{"q":""}'),
	('extra',          '{"q":"x","extra":true}'),
	('not an object',  '["q"]')
) t(label, i);

-- Checking schemas: a malformed schema is an error naming the problem and
-- where it is (a JSON Pointer into the schema).
CREATE FUNCTION pg_temp.schema_problem(s jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	PERFORM mtmcp.check_json_schema(s);
	RETURN 'ok';
EXCEPTION WHEN invalid_parameter_value THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN detail;
END
$$;

SELECT label, pg_temp.schema_problem(s::jsonb) AS problem
FROM (VALUES
	('empty',                '{}'),
	('true',                 'true'),
	('false',                'false'),
	('annotations',          '{"$schema":"http://json-schema.org/draft-07/schema#","$id":"x","$comment":"c","title":"t","description":"d","default":[1],"examples":[1],"deprecated":true,"readOnly":true,"writeOnly":false,"format":"email","x-unknown":{"type":5}}'),
	('not object/boolean',   '[]'),
	('string schema',        '"string"'),
	('number schema',        '1'),
	('null schema',          'null'),
	('bad type name',        '{"type":"strin"}'),
	('bad type in list',     '{"type":["string","float"]}'),
	('duplicate type',       '{"type":["string","string"]}'),
	('empty type list',      '{"type":[]}'),
	('type not a string',    '{"type":1}'),
	('required not array',   '{"required":"a"}'),
	('required non-string',  '{"required":["a",1]}'),
	('required duplicate',   '{"required":["a","b","a"]}'),
	('negative minLength',   '{"minLength":-1}'),
	('fractional maxItems',  '{"maxItems":1.5}'),
	('minProperties string', '{"minProperties":"1"}'),
	('integral 2.0 is fine', '{"minLength":2.0}'),
	('maximum not number',   '{"properties":{"limit":{"maximum":"100"}}}'),
	('exclusiveMinimum bool','{"exclusiveMinimum":true}'),
	('multipleOf zero',      '{"multipleOf":0}'),
	('pattern not a string', '{"pattern":5}'),
	('pattern bad regex',    '{"properties":{"name":{"pattern":"^[a-z+$"}}}'),
	('pattern bad parens',   '{"pattern":"(a"}'),
	('patternProperties key','{"patternProperties":{"a(":{}}}'),
	('enum not array',       '{"enum":"a"}'),
	('uniqueItems string',   '{"uniqueItems":"yes"}'),
	('items array',          '{"items":[{"type":"string"}]}'),
	('items not schema',     '{"items":1}'),
	('prefixItems empty',    '{"prefixItems":[]}'),
	('not not schema',       '{"not":"x"}'),
	('additionalProperties', '{"additionalProperties":"no"}'),
	('properties not object','{"properties":[]}'),
	('property not schema',  '{"properties":{"a":{"type":"string"},"b":5}}'),
	('$defs not schemas',    '{"$defs":{"a":[]}}'),
	('anyOf empty',          '{"anyOf":[]}'),
	('oneOf not array',      '{"oneOf":{}}'),
	('allOf bad member',     '{"allOf":[{},null]}'),
	('nested deep',          '{"properties":{"a":{"items":{"anyOf":[{"properties":{"b/c~d":{"minItems":-2}}}]}}}}'),
	('dependentRequired',    '{"dependentRequired":{"a":"b"}}'),
	('title not string',     '{"title":5}'),
	('remote $ref',          '{"$ref":"https://example.com/schema.json"}'),
	('relative $ref',        '{"$ref":"other.json#/$defs/a"}'),
	('anchor $ref',          '{"$ref":"#anchor"}'),
	('$ref not string',      '{"$ref":1}'),
	('unresolvable $ref',    '{"$defs":{"a":{}},"properties":{"x":{"$ref":"#/$defs/b"}}}'),
	('$ref to non-schema',   '{"$defs":{"a":5},"$ref":"#/$defs/a"}'),
	('$ref into array',      '{"anyOf":[{"type":"string"}],"$defs":{"x":{"$ref":"#/anyOf/0"}}}'),
	('$ref to root',         '{"properties":{"child":{"$ref":"#"}}}'),
	('empty $ref is the root','{"properties":{"child":{"$ref":""}}}'),
	('$ref escapes',         '{"$defs":{"a/b":{},"c~d":{},"e f":{}},"allOf":[{"$ref":"#/$defs/a~1b"},{"$ref":"#/$defs/c~0d"},{"$ref":"#/$defs/e%20f"}]}'),
	('$ref bad escape',      '{"$defs":{"a":{}},"$ref":"#/$defs/~2a"}'),
	('$ref target checked',  '{"definitions":{"a":{"minLength":"x"}},"$ref":"#/definitions/a"}'),
	('self $ref loop',       '{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}'),
	('two-step $ref loop',   '{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}},"properties":{"p":{"$ref":"#/$defs/a"}}}'),
	('root $ref loop',       '{"anyOf":[{"type":"string"},{"$ref":"#"}]}'),
	('descending recursion', '{"properties":{"next":{"$ref":"#"}},"not":{"required":["stop"]}}'),
	('$dynamicRef',          '{"$dynamicRef":"#meta"}'),
	('unevaluatedProperties','{"unevaluatedProperties":false}')
) t(label, s);

-- The error itself, and validate_json checks the schema before validating.
SELECT mtmcp.check_json_schema('{"properties":{"q":{"minLength":-1}}}');
SELECT mtmcp.validate_json('{"type":"text"}', '"x"');
SELECT mtmcp.validate_json('{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}', '1');
SELECT mtmcp.check_json_schema('{"pattern":"a{2,1}"}');
