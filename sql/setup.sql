--
-- setup: the shared fixture every file starts from (test/fixtures/base.sql)
-- loads, and holds what the other files expect: the extension, token
-- signers, plans, tenants, demo-like data.
--
\i test/fixtures/base.sql
SELECT extversion FROM pg_extension WHERE extname = 'mtmcp';
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT plan, features FROM mtmcp.plans ORDER BY plan;
SELECT tenant_id, plan, status FROM mtmcp.tenants ORDER BY tenant_id;
SELECT tenant_id, doc_id, title FROM app.documents ORDER BY 1, 2;
SELECT name, required_feature FROM mtmcp.tools ORDER BY name;
-- the asymmetric issuer's keys came from its JWK set (the "enc" key is skipped)
SELECT kid, alg, length(key) > 100 AS has_pem FROM mtmcp.signing_keys
 WHERE issuer = 'https://idp.asym.test' ORDER BY kid;
-- which issuer vouches for which tenant
SELECT tenant_id, string_agg(issuer, ', ' ORDER BY issuer) AS trusted_issuers
  FROM mtmcp.tenant_issuers GROUP BY 1 ORDER BY 1;
-- a token from the test issuer is accepted
SELECT reason(tok('acme')) IS NULL AS accepted;

-- Every stage of test/fixtures/app.sql loads (files later in the list start
-- from some of them, drill from all): what the earlier files built.
\set fixture_after lifecycle
\i test/fixtures/base.sql
SELECT string_agg(name, ', ' ORDER BY name) AS tools FROM mtmcp.tools;
SELECT string_agg(tbl::text, ', ' ORDER BY tbl::text) AS tenant_tables FROM mtmcp.tenant_tables;
SELECT tenant_id, count(*) AS documents FROM app.documents GROUP BY 1 ORDER BY 1;
SELECT tenant_id, status FROM mtmcp.tenants ORDER BY 1;
