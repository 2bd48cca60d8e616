--
-- bench/setup.sql -- what bench/dispatch.sh adds to the demo (demo/demo.sql):
-- a trivial tool, one issuer per asymmetric algorithm trusted for acme,
-- and a table of pre-minted tokens.
--
-- psql variables: rsa_pem, ec_pem (SPKI PEM public keys from bench/keys.mjs),
-- rs_issuer, es_issuer, asym_audience.
--
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\o /dev/null

-- The cheapest possible tool: what mcp_dispatch costs on top of it is the overhead.
CREATE SCHEMA bench;
CREATE FUNCTION bench.noop(args jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('ok', true) $$;
GRANT USAGE ON SCHEMA bench TO mtmcp_tool;
GRANT EXECUTE ON FUNCTION bench.noop(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('noop', 'Does nothing; for benchmarks.',
	'{"type": "object", "properties": {}, "additionalProperties": false}', 'bench.noop(jsonb)');

-- RS256 and ES256 issuers, each trusted for acme.
SELECT mtmcp.add_issuer(:'rs_issuer', :'asym_audience');
SELECT mtmcp.add_key(:'rs_issuer', 'bench-rsa-1', 'RS256', convert_to(:'rsa_pem', 'UTF8'));
SELECT mtmcp.trust_issuer('acme', :'rs_issuer');
SELECT mtmcp.add_issuer(:'es_issuer', :'asym_audience');
SELECT mtmcp.add_key(:'es_issuer', 'bench-ec-1', 'ES256', convert_to(:'ec_pem', 'UTF8'));
SELECT mtmcp.trust_issuer('acme', :'es_issuer');

-- Pre-minted tokens for the fresh-token variants (loaded by dispatch.sh).
CREATE TABLE bench.tokens (
	alg text NOT NULL,
	n integer NOT NULL,
	token text NOT NULL,
	PRIMARY KEY (alg, n)
);
\o
