--
-- setup: the extension, token signers, plans, tenants, demo-like data
--
-- Fixtures for asymmetric algorithms come from test/gen_asym_fixtures.mjs.
--
CREATE EXTENSION mtmcp;
SELECT extversion FROM pg_extension WHERE extname = 'mtmcp';
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- pgjwt's sign(payload json, secret text, algorithm), written from its
-- published algorithm: base64url(header) "." base64url(payload) with the
-- padding and newlines removed, HMAC over that with the text secret.
CREATE FUNCTION pgjwt_url_encode(data bytea) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT translate(encode(data, 'base64'), E'+/=\n', '-_') $$;
CREATE FUNCTION pgjwt_sign(payload json, secret text, algorithm text DEFAULT 'HS256') RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	WITH h AS (SELECT pgjwt_url_encode(convert_to('{"alg":"' || algorithm || '","typ":"JWT"}', 'utf8')) AS d),
		 p AS (SELECT pgjwt_url_encode(convert_to(payload::text, 'utf8')) AS d)
	SELECT h.d || '.' || p.d || '.' ||
		   pgjwt_url_encode(hmac(h.d || '.' || p.d, secret,
								 CASE algorithm WHEN 'HS256' THEN 'sha256' WHEN 'HS384' THEN 'sha384' ELSE 'sha512' END))
	  FROM h, p
$$;

-- A general HS* signer over raw header/claims and a bytea secret.
CREATE FUNCTION sign_hs(header jsonb, claims jsonb, secret bytea) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	WITH s AS (SELECT pgjwt_url_encode(convert_to(header::text, 'utf8')) || '.' ||
					  pgjwt_url_encode(convert_to(claims::text, 'utf8')) AS d)
	SELECT s.d || '.' || pgjwt_url_encode(hmac(convert_to(s.d, 'utf8'), secret,
		CASE header ->> 'alg' WHEN 'HS384' THEN 'sha384' WHEN 'HS512' THEN 'sha512' ELSE 'sha256' END))
	  FROM s
$$;

-- The test issuer's secret is not valid UTF-8 and contains a NUL byte.
CREATE FUNCTION test_secret() RETURNS bytea LANGUAGE sql IMMUTABLE
AS $$ SELECT '\x00ff10e2c3a4b5c6d7e8f9000102030405060708090a0b0c0d0e0f1011121314'::bytea $$;

-- A token from the test issuer; claims can be overridden or removed (null).
CREATE FUNCTION tok(tenant text, sub text DEFAULT 'alice', scope text DEFAULT 'tools docs:read',
					ttl integer DEFAULT 600, extra jsonb DEFAULT '{}',
					header jsonb DEFAULT '{"alg":"HS256","typ":"JWT"}',
					secret bytea DEFAULT test_secret()) RETURNS text
LANGUAGE sql VOLATILE AS $$
	SELECT sign_hs(header,
		jsonb_strip_nulls(jsonb_build_object(
			'iss', 'https://idp.test', 'aud', 'mtmcp-test', 'sub', sub, 'tenant_id', tenant,
			'scope', scope, 'iat', extract(epoch FROM now())::bigint - 5,
			'exp', extract(epoch FROM now())::bigint + ttl) || extra),
		secret)
$$;

-- The refusal reason mcp_dispatch gives for a token (NULL when accepted).
CREATE FUNCTION reason(token text) RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT mtmcp.mcp_dispatch(token, '{"jsonrpc":"2.0","id":1,"method":"ping"}') -> 'error' -> 'data' ->> 'reason'
$$;
-- Call a tool; returns the whole JSON-RPC response.
CREATE FUNCTION call(token text, tool text, args jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	SELECT mtmcp.mcp_dispatch(token, jsonb_build_object('jsonrpc', '2.0', 'id', 7, 'method', 'tools/call',
		'params', jsonb_build_object('name', tool, 'arguments', args)))
$$;
-- The text of a tool result's first content block.
CREATE FUNCTION result_text(resp jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT resp -> 'result' -> 'content' -> 0 ->> 'text'
$$;

-- Plans, issuers, tenants.
SELECT mtmcp.create_plan('free', ARRAY['documents']);
SELECT mtmcp.create_plan('pro', ARRAY['documents', 'documents.write', 'analytics']);
SELECT mtmcp.add_issuer('https://idp.test', 'mtmcp-test');
SELECT mtmcp.add_key('https://idp.test', NULL, 'HS256', test_secret());
CALL mtmcp.create_tenant('acme', 'pro', 'Acme Corp', ARRAY['https://idp.test']);
CALL mtmcp.create_tenant('globex', 'free', 'Globex', ARRAY['https://idp.test']);
CALL mtmcp.create_tenant('initech', 'free', 'Initech', ARRAY['https://idp.test']);
CALL mtmcp.suspend_tenant('initech', 'unpaid invoice');
CALL mtmcp.create_tenant('hooli', 'free', 'Hooli', ARRAY['https://idp.test'], activate => false);
SELECT tenant_id, plan, status FROM mtmcp.tenants ORDER BY tenant_id;

-- Tenant data: both tenants have a document 1 (ids are tenant-namespaced).
CREATE SCHEMA app;
CREATE TABLE app.documents (
	tenant_id text NOT NULL,
	doc_id integer NOT NULL,
	title text NOT NULL,
	body text NOT NULL,
	PRIMARY KEY (tenant_id, doc_id)
);
INSERT INTO app.documents VALUES
	('acme', 1, 'Acme roadmap', 'Rockets, anvils and giant magnets.'),
	('acme', 2, 'Acme pricing', 'Anvils are 10% off this quarter.'),
	('globex', 1, 'Globex secret plans', 'Project Hammock: take over the east coast.'),
	('globex', 3, 'Globex payroll', 'Hank Scorpio: one million dollars.'),
	('initech', 1, 'TPS reports', 'New cover sheets for every report.');
SELECT mtmcp.register_tenant_table('app.documents');
GRANT USAGE ON SCHEMA app TO mtmcp_tool;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.documents TO mtmcp_tool;

-- Tools.
CREATE FUNCTION app.search_documents(args jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('documents', coalesce(jsonb_agg(jsonb_build_object('doc_id', d.doc_id, 'title', d.title)
															  ORDER BY d.doc_id), '[]'))
	  FROM app.documents d
	 WHERE d.title || ' ' || d.body ILIKE '%' || coalesce(args ->> 'query', '') || '%'
$$;
CREATE FUNCTION app.get_document(args jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	d app.documents;
BEGIN
	SELECT * INTO d FROM app.documents WHERE doc_id = (args ->> 'doc_id')::integer;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'document % not found', args ->> 'doc_id' USING ERRCODE = 'no_data_found';
	END IF;
	RETURN jsonb_build_object('doc_id', d.doc_id, 'title', d.title, 'body', d.body);
END
$$;
GRANT EXECUTE ON FUNCTION app.search_documents(jsonb), app.get_document(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('search_documents', 'Search the documents by words in their title or body.',
	'{"type":"object","properties":{"query":{"type":"string"}}}', 'app.search_documents(jsonb)',
	required_feature => 'documents', annotations => '{"readOnlyHint":true}');
SELECT mtmcp.register_tool('get_document', 'Fetch one document by its id.',
	'{"type":"object","properties":{"doc_id":{"type":"integer"}},"required":["doc_id"]}', 'app.get_document(jsonb)',
	required_feature => 'documents', annotations => '{"readOnlyHint":true}');

-- Asymmetric keys: an issuer whose keys come from a JWK set.
\set asym_jwks '{"keys":[{"kty":"RSA","n":"1mJ-PyqgdueBKbQZ25oHkNf4nn5jHPUF6P6KoFsueL2QOk8MEttn5GyJ6-eOv31xuwMkckaHQ_ONJl3_nZSNzhhpswJ7AxhXnspBZBpgiqoGIv7hd_Y9VIdWHyqbBHaT7FUAR1Y_FgzJp91LwM-l3yl1cTf15fqmH1n7_KeaW0YMCAlbcsPO1fYfSmwQqeI5hBMmMbLvBoak5MM5tETEanW1ZLpQFlyqQOKQoUFbA2VdB5331-K22V4WvQ0O6yoIcckx_iy7qkUVh1eZsmgOBq35uJKrcoqv0m-DbBAKJ6yckbX1XKWWoiPoJWFKt7hqtn_3Wkju9a0tKKFQqIjygw","e":"AQAB","kid":"rsa-1","alg":"RS256","use":"sig"},{"kty":"RSA","n":"wdFQ-xdF4Ng79oY0fDVYJag9mLRNa726QtsapsUV7VNHAVD9dY25UhB85UK1B5j1ehFecsnAYrwFmJD1TnKKpqKrt3XGAAIDaFcZA8V9PyUXI7Lf5EV9DqPOhEPQ_T83hsmq55OFMSL37KQO-dHeJpEvPSyaqYfmFUWHvcjEJ_rSUGiaLXnQOT0BfDw1fbue7hmwiIgdPBJn-QFOJX-WLZy5S5nPoDKRkoaEasAFmJY6FSK3rOOqkvpodCaL1M5z6QZsDgPcrHg6vSFDeiDgcOCs9QauTR3JUMLPsvxkl7ECSyFmxFWcP12KTiNe1sTpvrAURJHtpMGFlsZKERQnNQ","e":"AQAB","kid":"ps-1","alg":"PS256","use":"sig"},{"kty":"EC","x":"XEE_7Oii28nv9MBJhRJC03MyApqFO3XljOzBKB9k2xA","y":"CsRW26hA6j9fEqlGb6owmvpcnXL0gHWgN0y6dgVSyuA","crv":"P-256","kid":"ec-1","use":"sig"},{"crv":"Ed25519","x":"suCAk-Dx6XyDA4pajzWLQJQTacHBugYPV3oWDNPdz_Y","kty":"OKP","kid":"ed-1"},{"kty":"RSA","kid":"enc-1","use":"enc","n":"AQAB","e":"AQAB"}]}'
\set tok_rs256 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJzYS0xIn0.eyJpc3MiOiJodHRwczovL2lkcC5hc3ltLnRlc3QiLCJhdWQiOiJtdG1jcC10ZXN0Iiwic3ViIjoicnMtdXNlciIsInRlbmFudF9pZCI6ImFjbWUiLCJzY29wZSI6InRvb2xzIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQxMDI0NDQ4MDB9.Q00ND8KgT2iMU3pT4S_3lZruxwe8KlLAdWHsBA_j0dcH2iWnSPJd0JG8YLEU0QcJgKVnJA59TqNvmj3Fm6wVZtY3FgrkpCgxEQ7JmHKqdciXbZ2QwNHNvocGZq9fPaknbnBUyISOOy0Yjo_PzOralYjqiFZt4PqsqYLCB27vSf-n-td0iexZup4sl56-gDHj9U2y3gh6vxi9KKO9jMmbxZLLGXflwf6mRm-gcirxSPW2AecX48-aPjpnaAF1igABJjRdsh7WFVw7xBjLnHHZJ1U3xEwaljmxP-6XRP-6AfW1uPhJv8RLm7EOhmsLxSYpT9SS38cThWeEgTfrL4CdZQ'
\set tok_ps256 'eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InBzLTEifQ.eyJpc3MiOiJodHRwczovL2lkcC5hc3ltLnRlc3QiLCJhdWQiOiJtdG1jcC10ZXN0Iiwic3ViIjoicHMtdXNlciIsInRlbmFudF9pZCI6ImFjbWUiLCJzY29wZSI6InRvb2xzIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQxMDI0NDQ4MDB9.OrGef2H4dJNDCqdNoVOtL4aD7n4Emh1C8yFED8TFs24_pqzM4qXomb6UuKvgT7vnscf-cj2UhA2R-W1_Qhg8wgnoQmEMwmr63KZNbCX0XFuy2LqFpIbU5jBtHUcfH7Pi1Yo_A7Gm88b_7LUWWVPuPl6CSDFi2gMLeRQCkNn5qdYLr5nv2zO4WTSEOlDKZEw70RiLaIR7B7R6yGw0ROlLwgVSY_lyeaUcfi2JXQW49KgQGKllapb-dRfWAdGyHFvAs-a8LuWzRRfrSAAs5xF6q0ymhHS2xoVaTUe6QXugcA42igB651ibLj3O7Yg7IfRT_0_J5M0lePO-3qdjC3VSXg'
\set tok_es256 'eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImVjLTEifQ.eyJpc3MiOiJodHRwczovL2lkcC5hc3ltLnRlc3QiLCJhdWQiOiJtdG1jcC10ZXN0Iiwic3ViIjoiZXMtdXNlciIsInRlbmFudF9pZCI6ImFjbWUiLCJzY29wZSI6InRvb2xzIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQxMDI0NDQ4MDB9.qbouebKxw41HFAMo-dPwWQUAVWpVoC7gZLMHOCT57n4S2UDpbArxq5fzIvozDpBq4ZCZ2rU2Cbwgt6mYnxEqyA'
\set tok_eddsa 'eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCIsImtpZCI6ImVkLTEifQ.eyJpc3MiOiJodHRwczovL2lkcC5hc3ltLnRlc3QiLCJhdWQiOiJtdG1jcC10ZXN0Iiwic3ViIjoiZWQtdXNlciIsInRlbmFudF9pZCI6ImFjbWUiLCJzY29wZSI6InRvb2xzIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQxMDI0NDQ4MDB9.LQLPFbh-lu9qpdc0I8MZYrLOu4-OM3B0YnCnYl63AKKmwQsn9shIHxQtU4rht2noVx82RsuX9UX_raTYIUfqDQ'
\set tok_wrong_kid 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InBzLTEifQ.eyJpc3MiOiJodHRwczovL2lkcC5hc3ltLnRlc3QiLCJhdWQiOiJtdG1jcC10ZXN0Iiwic3ViIjoicnMtdXNlciIsInRlbmFudF9pZCI6ImFjbWUiLCJzY29wZSI6InRvb2xzIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQxMDI0NDQ4MDB9.kz6sPcuCsuW5j9iy38juQHxbRNcDjYE_aG_jZRnQa1eM8FA32RmE4OZNUvDhT19E32Un1fqDQQ9vDajw_7f8Rvm-RaD00ecwwCkEqzDGTVRxIh44VCZ6IL0aUe0Ps16QEicSVlU_evBbj8pC1BlI6B6GMH3H9Ngw8jrdd-6LovChGO2fVrA4HQ-ragI-7iEY9t4jEQdoB0L5t2DzibL53gNjH2ox4jPQTJXJOvyXW_-ohrPnHvnSQhUQ253fIMvtNO4ZtMbl_2HS__SvZjevqbw-DB87FKaak-wxp_Q6xs4bwDqjss0VkXMPDo9aKKAn7fOGtnndMlcyTKZyALW57Q'
\set tok_alg_confusion 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJzYS0xIn0.eyJpc3MiOiJodHRwczovL2lkcC5hc3ltLnRlc3QiLCJhdWQiOiJtdG1jcC10ZXN0Iiwic3ViIjoiY29uZnVzZWQiLCJ0ZW5hbnRfaWQiOiJhY21lIiwic2NvcGUiOiJ0b29scyIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjo0MTAyNDQ0ODAwfQ.ni16rdt7m1OGgsl-mPw3-GrnbNw3pkfTm43VtviP_E8'
CREATE TABLE fixtures (name text PRIMARY KEY, value text NOT NULL);
INSERT INTO fixtures VALUES ('tok_rs256', :'tok_rs256'), ('tok_ps256', :'tok_ps256'), ('tok_es256', :'tok_es256'),
	('tok_eddsa', :'tok_eddsa'), ('tok_wrong_kid', :'tok_wrong_kid'), ('tok_alg_confusion', :'tok_alg_confusion');
CREATE FUNCTION fx(n text) RETURNS text LANGUAGE sql STABLE AS $$ SELECT value FROM fixtures WHERE name = n $$;
SELECT mtmcp.add_issuer('https://idp.asym.test', 'mtmcp-test');
SELECT mtmcp.import_jwks('https://idp.asym.test', :'asym_jwks'::jsonb);
SELECT kid, alg, length(key) > 100 AS has_pem FROM mtmcp.signing_keys
 WHERE issuer = 'https://idp.asym.test' ORDER BY kid;
SELECT mtmcp.trust_issuer('acme', 'https://idp.asym.test');

-- pgjwt-compatible issuer: plain text secret, tokens without kid.
SELECT mtmcp.add_issuer('https://pgjwt.test', 'mtmcp-test');
SELECT mtmcp.add_key('https://pgjwt.test', NULL, 'HS256', convert_to('secret', 'UTF8'));
SELECT mtmcp.trust_issuer('globex', 'https://pgjwt.test');
