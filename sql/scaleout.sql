--
-- scaleout: what scale-out keeps in every mtmcp database, without PL/Proxy:
-- the directory and placement, the Citus-compatible shape of the schema,
-- export -> import round trip and its refusals, per-table content hashes,
-- the progress view, the router setting.  (Routing, moves and drift across
-- real clusters: test/scaleout/run.sh.)
--
\i test/fixtures/base.sql
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- Citus-compatible: every table holding a tenant's rows has tenant_id ...
SELECT tbl, tenant_column, copied, append_only FROM mtmcp._tenant_row_tables();
-- ... the tables without it are configuration (reference tables) or the
-- tenant-less records (auth failures: nobody proved whose they are)
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'mtmcp' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
 ORDER BY 1;
-- ... and no foreign key joins two tenant tables except through tenant_id
SELECT con.conrelid::regclass AS from_table, con.confrelid::regclass AS to_table
  FROM pg_constraint con
 WHERE con.contype = 'f'
   AND con.conrelid IN (SELECT tbl FROM mtmcp._tenant_row_tables())
   AND con.confrelid IN (SELECT tbl FROM mtmcp._tenant_row_tables())
   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = con.conrelid AND a.attname = 'tenant_id'
					  AND a.attnum = ANY (con.conkey));

-- The directory and placement (no router here: "least loaded" counts tenants)
SELECT mtmcp.place_tenant('acme', 'nowhere');
INSERT INTO mtmcp.shards (shard, shard_no, conninfo) VALUES ('s0', 0, 'dbname=s0'), ('s1', 1, 'dbname=s1');
SELECT mtmcp.place_tenant('acme', 's0');
SELECT mtmcp.place_tenant('acme', 's1');
SELECT mtmcp.place_tenant('globex');
SELECT mtmcp.place_tenant('initech');
SELECT mtmcp.place_tenant('Not Valid');
UPDATE mtmcp.shards SET accepting = false;
SELECT mtmcp.place_tenant('hooli');
SELECT shard, tenant_id, state, row_count FROM mtmcp.shard_tenants ORDER BY 1, 2;
-- what needs a router says so
CALL mtmcp.move_tenant('acme', 's1');
SELECT * FROM mtmcp.config_drift();
SELECT * FROM mtmcp.admin_all('SELECT 1');
-- the router setting is for superusers (a gateway cannot turn routing on or off)
SHOW mtmcp.router;
SET ROLE regress_shim;
SET mtmcp.router = on;
RESET ROLE;

-- Export -> import: the same rows, counts and content hashes
CALL mtmcp.create_tenant('roundtrip', 'pro', 'Round Trip', ARRAY['https://idp.test']);
INSERT INTO app.documents VALUES ('roundtrip', 1, 'One', 'first'), ('roundtrip', 2, 'Two', 'second');
SELECT mtmcp.set_term('roundtrip', 'document', 'file');
SELECT mtmcp.set_tenant_feature('roundtrip', 'analytics', false);
SELECT result_text(call(tok('roundtrip'), 'get_document', '{"doc_id": 1}')) AS works;
CREATE TEMP TABLE before AS SELECT * FROM mtmcp.tenant_table_hashes('roundtrip');
SELECT table_name, row_count FROM before WHERE row_count > 0 ORDER BY 1;
CREATE TEMP TABLE archive AS SELECT mtmcp.export_tenant('roundtrip') AS a;
-- an archive of an id that exists is refused
SELECT mtmcp.import_tenant(a) FROM archive;
-- remove the tenant completely (as a move's purge does), then import it back
SELECT mtmcp._purge_tenant_rows('roundtrip', 'test') ->> 'app.documents' AS documents_purged;
SELECT mtmcp._tenant_rows_here('roundtrip') AS left_behind;
SELECT mtmcp.import_tenant(a) FROM archive;
SELECT count(*) AS tables_differing FROM
  ((SELECT * FROM before EXCEPT SELECT * FROM mtmcp.tenant_table_hashes('roundtrip'))
   UNION ALL (SELECT * FROM mtmcp.tenant_table_hashes('roundtrip') EXCEPT SELECT * FROM before)) d;
SELECT status FROM mtmcp.tenants WHERE tenant_id = 'roundtrip';
SELECT result_text(call(tok('roundtrip'), 'get_document', '{"doc_id": 2}')) AS works_again;
-- refusals: not an archive, unregistered table, rows of another tenant, unknown section
SELECT mtmcp.import_tenant('{"format": "something-else"}');
SELECT mtmcp.import_tenant(jsonb_set(jsonb_set(a, '{tenant_id}', '"rt2"'), '{sections,tenant,mtmcp.tenants,0,tenant_id}', '"rt2"')) FROM archive;
SELECT mtmcp.import_tenant(jsonb_set(jsonb_set(jsonb_set(a, '{tenant_id}', '"rt2"'), '{sections,tenant,mtmcp.tenants,0,tenant_id}', '"rt2"'),
	'{sections,data}', jsonb_build_object('app.secrets', a #> '{sections,data,app.documents}'))) FROM archive;
SELECT mtmcp.import_tenant(jsonb_set(jsonb_set(jsonb_set(a, '{tenant_id}', '"rt2"'), '{sections,tenant,mtmcp.tenants,0,tenant_id}', '"rt2"'),
	'{sections,extra}', '{}')) FROM archive;
SELECT count(*) AS nothing_of_rt2 FROM mtmcp.tenants WHERE tenant_id = 'rt2';

-- Progress: what one backend reports, everyone sees; done clears it
SELECT mtmcp._progress('import', 'acme', 'data', 'app.documents', 10, 40);
SELECT operation, tenant_id, phase, table_name, rows_done, rows_total, percent
  FROM mtmcp.operation_progress WHERE pid = pg_backend_pid();
SELECT mtmcp._progress(NULL, NULL, NULL);
SELECT count(*) FROM mtmcp.operation_progress WHERE pid = pg_backend_pid();
-- an operation that fails leaves no stale progress behind
BEGIN;
SELECT mtmcp._progress('export', 'acme', 'data');
ROLLBACK;
SELECT count(*) FROM mtmcp.operation_progress WHERE pid = pg_backend_pid();
