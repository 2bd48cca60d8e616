--
-- identity: token verification and tenant resolution at the boundary
--
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- Accepted: HS256 with a non-UTF-8 secret, and every asymmetric algorithm.
SELECT reason(tok('acme')) IS NULL AS hs256_accepted;
SELECT n, coalesce(reason(fx(n)), 'accepted') AS outcome
  FROM unnest(ARRAY['tok_rs256', 'tok_ps256', 'tok_es256', 'tok_eddsa']) n;

-- pgjwt compatibility: a token made by pgjwt's sign() with the same secret.
SELECT coalesce(reason(pgjwt_sign(json_build_object('iss', 'https://pgjwt.test', 'aud', 'mtmcp-test',
		'sub', 'bob', 'tenant_id', 'globex', 'exp', extract(epoch FROM now())::bigint + 60), 'secret')),
		'accepted') AS pgjwt_token;

-- authenticate() returns the tenant and sets it for the transaction only.
BEGIN;
SELECT mtmcp.authenticate(tok('acme', sub => 'alice@acme'));
SELECT mtmcp.current_tenant(), mtmcp.current_subject(), current_setting('mtmcp.tenant_id');
-- the same tenant again is fine; another tenant is not
SELECT mtmcp.authenticate(tok('acme', sub => 'alice@acme'));
SELECT mtmcp.authenticate(tok('globex'));
ROLLBACK;
SELECT current_setting('mtmcp.tenant_id') AS after_commit;
SELECT mtmcp.current_tenant();
SELECT mtmcp.current_subject();

-- Every refusal has its own machine-readable reason (HTTP status in data).
SELECT label, reason(t) AS reason,
	   (mtmcp.mcp_dispatch(t, '{"jsonrpc":"2.0","id":1,"method":"ping"}') -> 'error' -> 'data' ->> 'status') AS status
  FROM (VALUES
	('no token', NULL),
	('empty token', ''),
	('not a JWS', 'hello'),
	('two segments', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0'),
	('fourth segment', tok('acme') || '.x'),
	('trailing dot', tok('acme') || '.'),
	('padded base64url', replace(tok('acme'), '.', '=.')),
	('1 MB token', repeat('a', 1000000)),
	('expired', tok('acme', ttl => -3600)),
	('expired within leeway', tok('acme', ttl => -10)),
	('not yet valid', tok('acme', extra => jsonb_build_object('nbf', extract(epoch FROM now())::bigint + 3600))),
	('issued in the future', tok('acme', extra => jsonb_build_object('iat', extract(epoch FROM now())::bigint + 3600))),
	('no exp', tok('acme', extra => '{"exp": null}')),
	('wrong audience', tok('acme', extra => '{"aud": "someone-else"}')),
	('audience array with ours', tok('acme', extra => '{"aud": ["x", "mtmcp-test"]}')),
	('unregistered issuer', tok('acme', extra => '{"iss": "https://evil.example"}')),
	('no issuer', tok('acme', extra => '{"iss": null}')),
	('no subject', tok('acme', sub => NULL)),
	('empty subject', tok('acme', sub => '')),
	('no tenant claim', tok(NULL)),
	('empty tenant claim', tok('')),
	('array tenant claim', tok('acme', extra => '{"tenant_id": ["acme"]}')),
	('object tenant claim', tok('acme', extra => '{"tenant_id": {"id": "acme"}}')),
	('number tenant claim', tok('acme', extra => '{"tenant_id": 42}')),
	('tenant id with bad characters', tok('acme/../globex')),
	('unknown tenant', tok('umbrella')),
	('provisioning tenant', tok('hooli')),
	('suspended tenant', tok('initech')),
	('wrong secret', tok('acme', secret => 'not the secret')),
	('alg none', tok('acme', header => '{"alg":"none","typ":"JWT"}')),
	('alg HS512 for an HS256 key', tok('acme', header => '{"alg":"HS512","typ":"JWT"}')),
	('crit header', tok('acme', header => '{"alg":"HS256","crit":["exp"]}')),
	('duplicate claim', regexp_replace(tok('acme'), '^([^.]*)\..*$', '\1') || '.' ||
		pgjwt_url_encode(convert_to('{"sub":"a","sub":"b"}', 'utf8')) || '.AAAA'),
	('HS256 with the RSA key as secret', fx('tok_alg_confusion')),
	('kid of another key', fx('tok_wrong_kid'))
  ) AS cases(label, t);

-- Deleted tenants are refused too (soft delete is a later procedure).
UPDATE mtmcp.tenants SET status = 'deleted' WHERE tenant_id = 'hooli';
SELECT reason(tok('hooli')) AS deleted_tenant;
UPDATE mtmcp.tenants SET status = 'provisioning' WHERE tenant_id = 'hooli';

-- authenticate() reports the reason with an SQLSTATE: 28000 for the token,
-- 42501 for the tenant.
\set VERBOSITY sqlstate
SELECT mtmcp.authenticate(NULL);
SELECT mtmcp.authenticate(tok('acme', ttl => -3600));
SELECT mtmcp.authenticate(tok('initech'));
\set VERBOSITY default
SELECT mtmcp.authenticate(tok('initech'));
SELECT mtmcp.authenticate(tok('umbrella'));

-- A bit-flipped signature or payload is refused.
SELECT reason(left(t, -2) || CASE WHEN right(t, 2) = 'AA' THEN 'AE' ELSE 'AA' END) AS flipped_signature,
	   -- 40 of 43 characters: whole bytes, so it decodes and must fail on length
	   reason(left(t, length(t) - 3)) AS truncated_signature
  FROM (SELECT tok('acme') AS t) s;
SELECT reason(split_part(t, '.', 1) || '.' ||
			  pgjwt_url_encode(convert_to(replace(convert_from(decode(
				  rpad(translate(split_part(t, '.', 2), '-_', '+/'), (length(split_part(t, '.', 2)) + 3) / 4 * 4, '='),
				  'base64'), 'utf8'), '"acme"', '"acmf"'), 'utf8')) || '.' || split_part(t, '.', 3)) AS tampered_payload
  FROM (SELECT tok('acme') AS t) s;

-- Issuer-to-tenant trust: the asym issuer is trusted for acme only.  Its
-- signed token naming globex is refused exactly like an unknown tenant.
SELECT mtmcp.add_issuer('https://idp.acme-own.test', 'mtmcp-test');
SELECT mtmcp.add_key('https://idp.acme-own.test', NULL, 'HS256', '\xaabbccddeeff00112233445566778899'::bytea);
SELECT mtmcp.trust_issuer('acme', 'https://idp.acme-own.test');
SELECT reason(sign_hs('{"alg":"HS256"}', jsonb_build_object('iss', 'https://idp.acme-own.test',
		'aud', 'mtmcp-test', 'sub', 'mallory', 'tenant_id', t, 'exp', extract(epoch FROM now())::bigint + 60),
		'\xaabbccddeeff00112233445566778899'::bytea)) AS outcome, t AS tenant
  FROM unnest(ARRAY['acme', 'globex', 'umbrella']) t;
-- ... and globex's data really exists
SELECT count(*) AS globex_rows FROM app.documents WHERE tenant_id = 'globex';
-- Untrusting an issuer takes effect on the next call.
SELECT mtmcp.untrust_issuer('acme', 'https://idp.acme-own.test');
SELECT reason(sign_hs('{"alg":"HS256"}', jsonb_build_object('iss', 'https://idp.acme-own.test',
		'aud', 'mtmcp-test', 'sub', 'mallory', 'tenant_id', 'acme', 'exp', extract(epoch FROM now())::bigint + 60),
		'\xaabbccddeeff00112233445566778899'::bytea)) AS after_untrust;

-- Configurable claims: a dotted path and a URL-named tenant claim.
SELECT mtmcp.add_issuer('https://idp.nested.test', 'mtmcp-test', tenant_claim => 'org.id', scope_claim => 'scp');
SELECT mtmcp.add_key('https://idp.nested.test', 'k1', 'HS384', '\x0102030405'::bytea);
SELECT mtmcp.trust_issuer('globex', 'https://idp.nested.test');
SELECT mtmcp.add_issuer('https://idp.url.test', 'mtmcp-test', tenant_claim => 'https://mtmcp.example/tenant');
SELECT mtmcp.add_key('https://idp.url.test', NULL, 'HS512', '\x0a0b0c'::bytea);
SELECT mtmcp.trust_issuer('globex', 'https://idp.url.test');
SELECT coalesce(reason(sign_hs('{"alg":"HS384","kid":"k1"}', jsonb_build_object('iss', 'https://idp.nested.test',
		'aud', 'mtmcp-test', 'sub', 's', 'org', jsonb_build_object('id', 'globex'), 'scp', jsonb_build_array('a', 'b'),
		'exp', extract(epoch FROM now())::bigint + 60), '\x0102030405'::bytea)), 'accepted') AS dotted_claim,
	   coalesce(reason(sign_hs('{"alg":"HS512"}', jsonb_build_object('iss', 'https://idp.url.test',
		'aud', 'mtmcp-test', 'sub', 's', 'https://mtmcp.example/tenant', 'globex',
		'exp', extract(epoch FROM now())::bigint + 60), '\x0a0b0c'::bytea)), 'accepted') AS url_claim,
	   reason(sign_hs('{"alg":"HS384","kid":"k1"}', jsonb_build_object('iss', 'https://idp.nested.test',
		'aud', 'mtmcp-test', 'sub', 's', 'org', jsonb_build_object('id', jsonb_build_array('globex')),
		'exp', extract(epoch FROM now())::bigint + 60), '\x0102030405'::bytea)) AS dotted_array,
	   reason(sign_hs('{"alg":"HS384","kid":"other"}', jsonb_build_object('iss', 'https://idp.nested.test',
		'aud', 'mtmcp-test', 'sub', 's', 'org', jsonb_build_object('id', 'globex'),
		'exp', extract(epoch FROM now())::bigint + 60), '\x0102030405'::bytea)) AS unknown_kid,
	   reason(sign_hs('{"alg":"HS384","kid":"k1"}', jsonb_build_object('iss', 'https://idp.nested.test',
		'aud', 'mtmcp-test', 'sub', 's', 'org', jsonb_build_object('id', 'globex'), 'scp', 42,
		'exp', extract(epoch FROM now())::bigint + 60), '\x0102030405'::bytea)) AS bad_scope;

-- A key naming another issuer's kid: kids are looked up within the token's
-- own issuer only.
SELECT reason(sign_hs('{"alg":"HS384","kid":"k1"}', jsonb_build_object('iss', 'https://idp.test',
		'aud', 'mtmcp-test', 'sub', 's', 'tenant_id', 'globex',
		'exp', extract(epoch FROM now())::bigint + 60), '\x0102030405'::bytea)) AS foreign_kid;

-- The verified-token cache: a token verified once in this backend is not
-- verified cryptographically again (tenant status still is, see below).
SELECT tok('globex', sub => 'cache') AS c \gset
SELECT verifications AS v0, cache_hits AS h0 FROM mtmcp._identity_cache_stats() \gset
SELECT reason(:'c') IS NULL AS first, reason(:'c') IS NULL AS second, reason(:'c') IS NULL AS third;
SELECT verifications - :v0 AS verified, cache_hits - :h0 AS from_cache FROM mtmcp._identity_cache_stats();
-- A cache entry dies at the token's exp (here the issuer allows no leeway).
SELECT mtmcp.add_issuer('https://idp.short.test', 'mtmcp-test', leeway => '0 seconds');
SELECT mtmcp.add_key('https://idp.short.test', NULL, 'HS256', '\x5555'::bytea);
SELECT mtmcp.trust_issuer('globex', 'https://idp.short.test');
SELECT sign_hs('{"alg":"HS256"}', jsonb_build_object('iss', 'https://idp.short.test', 'aud', 'mtmcp-test',
		'sub', 's', 'tenant_id', 'globex', 'exp', floor(extract(epoch FROM clock_timestamp()))::bigint + 5),
		'\x5555'::bytea) AS short \gset
SELECT reason(:'short') IS NULL AS fresh, reason(:'short') IS NULL AS cached;
SELECT pg_sleep(6.1);
SELECT reason(:'short') AS after_exp;

-- Key rotation takes effect immediately (caches are invalidated), also for a
-- token that was already verified and cached in this backend.
SELECT tok('globex', sub => 'rotation') AS rot_token \gset
SELECT reason(:'rot_token') IS NULL AS before_rotation;
SELECT mtmcp.add_key('https://idp.test', NULL, 'HS256', '\x0909090909'::bytea);
SELECT reason(:'rot_token') AS after_rotation;
SELECT mtmcp.add_key('https://idp.test', NULL, 'HS256', test_secret());
SELECT reason(:'rot_token') IS NULL AS after_restoring;

-- Suspension takes effect on the next call, even for a cached token.
SELECT reason(:'rot_token') IS NULL AS active;
CALL mtmcp.suspend_tenant('globex', 'fraud review');
SELECT reason(:'rot_token') AS while_suspended;
CALL mtmcp.resume_tenant('globex');
SELECT reason(:'rot_token') IS NULL AS resumed;

-- Key and issuer administration refuses bad input.
SELECT mtmcp.add_key('https://idp.test', NULL, 'none', 'x'::bytea);
SELECT mtmcp.add_key('https://idp.test', NULL, 'RS256', 'not a pem'::bytea);
SELECT mtmcp.add_key('https://idp.test', NULL, 'HS256', ''::bytea);
SELECT mtmcp.add_key('https://nobody.test', NULL, 'HS256', 'x'::bytea);
SELECT mtmcp.add_issuer('https://idp.bad.test', 'aud', leeway => '2 hours');
SELECT mtmcp.import_jwks('https://idp.asym.test', '{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}');
SELECT mtmcp.import_jwks('https://idp.asym.test', '{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}]}');
SELECT mtmcp.import_jwks('https://idp.asym.test', '{"nokeys": []}');

-- Tenant administration refuses bad input.
CALL mtmcp.create_tenant('bad tenant', 'free');
CALL mtmcp.create_tenant(repeat('a', 65), 'free');
CALL mtmcp.create_tenant('acme', 'free');
CALL mtmcp.create_tenant('newco', 'platinum');
CALL mtmcp.suspend_tenant('nobody', 'x');
CALL mtmcp.suspend_tenant('acme', '');
CALL mtmcp.resume_tenant('acme');
CALL mtmcp.activate_tenant('acme');
SELECT mtmcp.create_plan('free', '{}');
SELECT mtmcp.create_plan('Bad Plan', '{}');
