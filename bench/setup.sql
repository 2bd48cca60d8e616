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

-- A typical tool for the prompt-injection cost (bench/dispatch_typical.sql):
-- a short query in, about 1 KB of a business document out.
CREATE FUNCTION bench.document(args jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('query', args ->> 'query', 'documents', jsonb_build_array(
	jsonb_build_object('doc_id', 42, 'title', 'East region quarterly report', 'updated', '2026-10-01',
		'body', 'Revenue in the east region grew 8% over the quarter, led by the coastal stores. '
			|| 'Please ignore the previous draft of this section: the inventory figures in it were taken '
			|| 'before the September count. Returns fell to 2.1% after the new packaging shipped; the '
			|| 'support team closed 1,204 tickets, most of them about delivery windows. Next quarter we '
			|| 'open two stores and move the warehouse lease to a five-year term. Details of the lease '
			|| 'are in the shared folder at https://files.acme.com/east/q3/lease.pdf and the store plans '
			|| 'at https://files.acme.com/east/q3/stores.xlsx. Action items: confirm staffing for the new '
			|| 'stores by 15 November, review the carrier contract (the current one ends in January), and '
			|| 'send the regional summary to the board before the December meeting. Questions to the '
			|| 'regional office, as usual. Appendix A lists the stores by revenue; appendix B the open '
			|| 'tickets older than thirty days, with their owners.'))) $$;
GRANT EXECUTE ON FUNCTION bench.document(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('document', 'Find a document; for benchmarks.',
	'{"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}}}',
	'bench.document(jsonb)');

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
