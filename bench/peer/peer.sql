--
-- bench/peer/peer.sql -- the peer's schema, in the database that holds the
-- demo (demo/demo.sql, loaded first): the same documents, under the row-level
-- security a team would write by hand, and an audit table.
--
--   peer.documents  a copy of app.documents' rows; RLS forced, one policy keyed
--                   on current_setting('app.tenant') (set per transaction by
--                   the server with set_config(..., true))
--   peer.audit      one row per tools/call, written in the call's transaction
--   peer_app        the server's login: owns nothing, bypasses nothing
--
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS peer CASCADE;
CREATE SCHEMA peer;

CREATE TABLE peer.documents (
	tenant_id text NOT NULL,
	doc_id integer NOT NULL,
	title text NOT NULL,
	body text NOT NULL,
	PRIMARY KEY (tenant_id, doc_id)
);
INSERT INTO peer.documents SELECT tenant_id, doc_id, title, body FROM app.documents;
ALTER TABLE peer.documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE peer.documents FORCE ROW LEVEL SECURITY;
-- missing_ok: no tenant set means no rows, not an error
CREATE POLICY tenant_rows ON peer.documents
	USING (tenant_id = current_setting('app.tenant', true))
	WITH CHECK (tenant_id = current_setting('app.tenant', true));

CREATE TABLE peer.audit (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT clock_timestamp(),
	tenant_id text NOT NULL,
	subject text NOT NULL,
	session_id text,
	method text NOT NULL,
	tool text,
	arguments jsonb,
	outcome text NOT NULL,
	duration_us bigint
);
CREATE INDEX ON peer.audit (tenant_id, at);
ALTER TABLE peer.audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE peer.audit FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON peer.audit
	USING (tenant_id = current_setting('app.tenant', true))
	WITH CHECK (tenant_id = current_setting('app.tenant', true));

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'peer_app') THEN
		CREATE ROLE peer_app LOGIN;
	END IF;
	ALTER ROLE peer_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
END
$$;
GRANT USAGE ON SCHEMA peer TO peer_app;
GRANT SELECT ON peer.documents TO peer_app;
GRANT INSERT ON peer.audit TO peer_app;
GRANT USAGE ON SEQUENCE peer.audit_id_seq TO peer_app;
ANALYZE peer.documents;
RESET client_min_messages;
