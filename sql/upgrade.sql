--
-- The upgrade path: installing 1.0 and walking ALTER EXTENSION ... UPDATE to
-- the current version must give exactly the schema of a fresh install.
--
\set ECHO none
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS mtmcp CASCADE;
\i test/upgrade/fingerprint.sql
\set ECHO all
CREATE EXTENSION mtmcp VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'mtmcp';
-- the walk: every upgrade script from 1.0 to the default version
SELECT count(*) > 0 AS has_path FROM pg_extension_update_paths('mtmcp')
 WHERE source = '1.0' AND target = (SELECT default_version FROM pg_available_extensions WHERE name = 'mtmcp') AND path IS NOT NULL;
ALTER EXTENSION mtmcp UPDATE;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'mtmcp') AS at_default
  FROM pg_extension WHERE extname = 'mtmcp';
CREATE TEMP TABLE updated AS SELECT * FROM pg_temp.mtmcp_fingerprint();
SELECT count(*) > 500 AS fingerprint_is_substantial FROM updated;
DROP EXTENSION mtmcp CASCADE;
CREATE EXTENSION mtmcp;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.mtmcp_fingerprint();
-- what the walk has that a fresh install lacks, and the reverse: both empty
(SELECT 'only after update' AS side, * FROM updated EXCEPT SELECT 'only after update', * FROM fresh)
UNION ALL
(SELECT 'only in fresh install', * FROM fresh EXCEPT SELECT 'only in fresh install', * FROM updated)
ORDER BY 2, 3, 1;
-- the fingerprint sees a difference when there is one (the test can fail)
ALTER FUNCTION mtmcp.current_tenant() COST 2;
SELECT count(*) AS differences_seen FROM
  ((SELECT * FROM pg_temp.mtmcp_fingerprint() EXCEPT SELECT * FROM fresh)
   UNION ALL (SELECT * FROM fresh EXCEPT SELECT * FROM pg_temp.mtmcp_fingerprint())) d;
DROP EXTENSION mtmcp CASCADE;
