--
-- isolation: tenant A's agent attacks tenant B through the real code paths.
-- Every probe runs against B's data that really exists.
--
\set fixture_after tools
\i test/fixtures/base.sql
-- the layers below the prompt-injection policy: it would refuse these attacks first (sql/injection.sql tests it)
SET mtmcp.injection_detection = off;
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- The victim: globex's documents (as the superuser sees them).
INSERT INTO app.documents VALUES ('globex', 50, 'Globex merger memo', 'Confidential.');
SELECT tenant_id, doc_id, title FROM app.documents WHERE tenant_id = 'globex' ORDER BY doc_id;
CREATE TEMP TABLE victim_before AS SELECT * FROM app.documents WHERE tenant_id = 'globex';

SELECT tok('acme', scope => 'tools docs:read docs:write') AS a \gset

-- Read: search and fetch see acme only; globex's doc 1 is not acme's doc 1.
SELECT result_text(call(:'a', 'search_documents', '{"query": "Globex"}')) AS search_victim_title;
SELECT result_text(call(:'a', 'search_documents', '{"query": "Hammock"}')) AS search_victim_body;
SELECT result_text(call(:'a', 'get_document', '{"doc_id": 1}')) AS doc_1_for_acme;
SELECT result_text(call(tok('globex'), 'get_document', '{"doc_id": 1}')) AS doc_1_for_globex;
SELECT result_text(call(:'a', 'get_document', '{"doc_id": 3}')) AS doc_3_for_acme;
-- A tenant id in the arguments is refused outright: identity comes from the token.
SELECT result_text(call(:'a', 'search_documents', '{"query": "", "tenant_id": "globex"}')) AS with_tenant_arg;

-- Write attacks through a generic tool that runs the agent's own SQL as
-- mtmcp_tool (the worst case: a tool with a SQL injection hole).
CREATE FUNCTION app.run_sql(args jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	r jsonb;
BEGIN
	IF args ->> 'mode' = 'query' THEN
		EXECUTE 'SELECT coalesce(jsonb_agg(x), ''[]'') FROM (' || (args ->> 'sql') || ') x' INTO r;
		RETURN r;
	END IF;
	EXECUTE args ->> 'sql';
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN jsonb_build_object('rows', n);
EXCEPTION WHEN OTHERS THEN
	-- report the refusal the attack met (its writes are rolled back)
	RETURN jsonb_build_object('refused', SQLERRM);
END $$;
GRANT EXECUTE ON FUNCTION app.run_sql(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('run_sql', 'Runs SQL (deliberately unsafe).', '{"type":"object"}', 'app.run_sql(jsonb)');

SELECT label, result_text(call(:'a', 'run_sql', jsonb_build_object('sql', q, 'mode', m))) AS outcome
  FROM (VALUES
	('select victim rows', 'query', 'SELECT * FROM app.documents WHERE tenant_id = ''globex'''),
	('select all rows', 'query', 'SELECT tenant_id, doc_id FROM app.documents ORDER BY 1, 2'),
	('update victim', 'exec', 'UPDATE app.documents SET body = ''pwned'' WHERE tenant_id = ''globex'''),
	('delete victim', 'exec', 'DELETE FROM app.documents WHERE tenant_id = ''globex'''),
	('insert as victim', 'exec', 'INSERT INTO app.documents VALUES (''globex'', 99, ''planted'', ''x'')'),
	('move own row to victim', 'exec', 'UPDATE app.documents SET tenant_id = ''globex'' WHERE doc_id = 1'),
	('truncate', 'exec', 'TRUNCATE app.documents'),
	('disable RLS', 'exec', 'ALTER TABLE app.documents DISABLE ROW LEVEL SECURITY'),
	('drop policy', 'exec', 'DROP POLICY mtmcp_tenant_isolation ON app.documents'),
	('forge setting', 'exec', 'SELECT set_config(''mtmcp.tenant_id'', ''globex'', true)'),
	('set role', 'exec', 'SET ROLE postgres'),
	('read tenants', 'query', 'SELECT * FROM mtmcp.tenants'),
	('read keys', 'query', 'SELECT * FROM mtmcp.signing_keys'),
	('authenticate', 'query', 'SELECT mtmcp.authenticate(''x'')'),
	('nested dispatch', 'query', 'SELECT mtmcp.mcp_dispatch(''x'', ''{}'')'),
	('copy out', 'exec', 'COPY app.documents TO ''/tmp/x'''),
	('existence oracle via unique check', 'exec', 'INSERT INTO app.documents VALUES (''acme'', 50, ''x'', ''y'')')
  ) AS attacks(label, m, q);

-- The victim's rows are exactly as before.
SELECT count(*) AS victim_rows,
	   count(*) FILTER (WHERE (d.*) IS NOT DISTINCT FROM (b.*)) AS unchanged
  FROM app.documents d FULL JOIN victim_before b USING (tenant_id, doc_id)
 WHERE coalesce(d.tenant_id, b.tenant_id) = 'globex';
SELECT tenant_id, doc_id, title FROM app.documents WHERE title IN ('planted', 'x') ORDER BY 1, 2;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'app.documents'::regclass;

-- A partition queried by name is confined too.
CREATE TABLE app.notes (tenant_id text NOT NULL, note_id integer NOT NULL, body text NOT NULL,
	PRIMARY KEY (tenant_id, note_id)) PARTITION BY LIST (tenant_id);
CREATE TABLE app.notes_acme PARTITION OF app.notes FOR VALUES IN ('acme');
CREATE TABLE app.notes_rest PARTITION OF app.notes DEFAULT;
INSERT INTO app.notes VALUES ('acme', 1, 'acme note'), ('globex', 1, 'globex note'), ('globex', 2, 'globex note 2');
SELECT mtmcp.register_tenant_table('app.notes');
GRANT SELECT ON app.notes, app.notes_acme, app.notes_rest TO mtmcp_tool;
SELECT p AS partition, result_text(call(:'a', 'run_sql', jsonb_build_object('mode', 'query',
		'sql', 'SELECT tenant_id, note_id FROM ' || p || ' ORDER BY 1, 2'))) AS seen_by_acme
  FROM unnest(ARRAY['app.notes', 'app.notes_acme', 'app.notes_rest']) p;
SELECT count(*) AS globex_notes_exist FROM app.notes_rest WHERE tenant_id = 'globex';

-- Tokens for the victim that the attacker might hold are refused: expired,
-- wrong audience, signed by an issuer the victim does not trust.
SELECT reason(tok('globex', ttl => -3600)) AS expired,
	   reason(tok('globex', extra => '{"aud": "other-service"}')) AS other_audience,
	   reason(fx('tok_rs256')) IS NULL AS asym_ok_for_acme;

DELETE FROM mtmcp.tools WHERE name = 'run_sql';
