-------------------------------------------------------------------------------
-- Audit trail (src/audit.c)
-------------------------------------------------------------------------------

-- One row per dispatched message of a verified tenant, in the caller's
-- transaction.  Range-partitioned by day (UTC); the default partition means
-- an insert never fails for lack of a partition, and maintain_partitions()
-- moves rows out of it into their day.
-- audit_log's CHECK constraints (C: an INSERT re-plans a partition's CHECK
-- expressions on every execution; an IN list of constants costs far more)
CREATE FUNCTION mtmcp._audit_result_kind_valid(result_kind text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mtmcp_audit_result_kind_valid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp._audit_result_kind_valid(text) IS
'audit_log.result_kind is one of ok, tool_error, denied, invalid, not_found, rate_limited, error, timeout, cancelled.';
CREATE FUNCTION mtmcp._audit_severity_valid(severity text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mtmcp_audit_severity_valid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp._audit_severity_valid(text) IS
'audit_log.severity is one of info, warning, security.';

CREATE TABLE mtmcp.audit_log (
	event_id	uuid NOT NULL,
	ts			timestamptz NOT NULL DEFAULT clock_timestamp(),
	tenant_id	text NOT NULL,
	session_id	text,
	subject		text NOT NULL,
	issuer		text,
	method		text NOT NULL,
	target		text,
	result_kind	text NOT NULL CONSTRAINT audit_result_kind CHECK (mtmcp._audit_result_kind_valid(result_kind)),
	severity	text NOT NULL CONSTRAINT audit_severity CHECK (mtmcp._audit_severity_valid(severity)),
	arguments	jsonb,
	error_code	text,
	request_id	text,
	trace_id	text NOT NULL,
	span_id		text NOT NULL,
	parent_span_id text,
	duration_us	bigint NOT NULL,
	detail		text,
	findings	jsonb,
	result		text,
	result_bytes bigint,
	result_sha256 text,
	result_truncated boolean
) PARTITION BY RANGE (ts);
CREATE TABLE mtmcp.audit_log_default PARTITION OF mtmcp.audit_log DEFAULT;
COMMENT ON TABLE mtmcp.audit_log IS
'The audit trail: one row per message of a verified tenant, tenant_id on every row, arguments redacted.';
COMMENT ON COLUMN mtmcp.audit_log.findings IS
'Prompt-injection findings of the call (src/inspect.c): [{direction, category, pattern, severity, action, offset, length, obfuscated}], never the matched text; NULL for none.';
COMMENT ON COLUMN mtmcp.audit_log.result IS
'The result of a tools/call, resources/read or prompts/get as built for the agent (also when withheld): JSON text, redacted like arguments, cut at the tenant''s audit_result_bytes.';
COMMENT ON COLUMN mtmcp.audit_log.result_bytes IS
'Length in bytes of the full result before redaction and truncation (its JSON text as the response carries it).';
COMMENT ON COLUMN mtmcp.audit_log.result_sha256 IS
'SHA-256 (hex) of the full result before redaction and truncation: what the agent was shown, provably.';
COMMENT ON COLUMN mtmcp.audit_log.result_truncated IS
'true when result holds only the first audit_result_bytes of the redacted result.';

-- Refusals before any tenant was verified.  No tenant column: nobody proved
-- whose they are, so no tenant's trail can ever include them.
CREATE TABLE mtmcp.auth_failures (
	event_id	uuid NOT NULL,
	ts			timestamptz NOT NULL DEFAULT clock_timestamp(),
	session_id	text,
	reason		text NOT NULL,
	http_status	integer NOT NULL,
	method		text,
	request_id	text,
	trace_id	text NOT NULL,
	span_id		text NOT NULL,
	detail		text,
	source		text,
	severity	text NOT NULL DEFAULT 'warning'
) PARTITION BY RANGE (ts);
CREATE TABLE mtmcp.auth_failures_default PARTITION OF mtmcp.auth_failures DEFAULT;
COMMENT ON TABLE mtmcp.auth_failures IS
'Messages refused at the auth boundary (admin only): reason, status, trace; deliberately no tenant.';
COMMENT ON COLUMN mtmcp.auth_failures.source IS
'What the message claimed to come from before verification: a registered issuer, "(unregistered issuer)" or "(no issuer)"; refusal budgets are per source and reason.';
COMMENT ON COLUMN mtmcp.auth_failures.severity IS
'security: an attack on a real tenant (never budgeted) or a refusal budget running out (reason refusals_suppressed); warning otherwise.';

CREATE TABLE mtmcp.audit_overflow (
	tenant_id	text NOT NULL,
	window_start timestamptz NOT NULL,
	dropped		bigint NOT NULL,
	PRIMARY KEY (tenant_id, window_start)
);
COMMENT ON TABLE mtmcp.audit_overflow IS
'Info-level audit rows a tenant produced beyond its observability budget: counted here instead of written.';

CREATE TABLE mtmcp.auth_failure_overflow (
	window_start timestamptz NOT NULL,
	dropped		bigint NOT NULL,
	source		text NOT NULL,
	reason		text NOT NULL,
	PRIMARY KEY (window_start, source, reason)
);
COMMENT ON TABLE mtmcp.auth_failure_overflow IS
'Refusals beyond mtmcp.auth_failure_budget per minute of one source and reason: counted here instead of written (each such window also has one refusals_suppressed row in mtmcp.auth_failures).';

-- What a tenant reads, after mtmcp.authenticate(token).  The filter is the
-- view's own (security_barrier: no caller function runs before it); with no
-- verified tenant the view raises an error rather than return anything.
CREATE VIEW mtmcp.tenant_audit WITH (security_barrier) AS
	SELECT a.event_id, a.ts, a.session_id, a.subject, a.method, a.target, a.result_kind, a.severity,
		   a.arguments, a.error_code, a.request_id, a.trace_id, a.span_id, a.parent_span_id,
		   a.duration_us, a.detail, a.findings, a.result, a.result_bytes, a.result_sha256, a.result_truncated
	  FROM mtmcp.audit_log a
	 WHERE a.tenant_id = (SELECT mtmcp.current_tenant());
COMMENT ON VIEW mtmcp.tenant_audit IS
'The verified tenant''s own audit trail (COPY (SELECT ...) TO STDOUT is the export path).';

CREATE VIEW mtmcp.tenant_audit_overflow WITH (security_barrier) AS
	SELECT o.window_start, o.dropped
	  FROM mtmcp.audit_overflow o
	 WHERE o.tenant_id = (SELECT mtmcp.current_tenant());
COMMENT ON VIEW mtmcp.tenant_audit_overflow IS
'How many of the verified tenant''s info-level rows were counted instead of written, per window.';

CREATE FUNCTION mtmcp.redact(args jsonb, paths text[] DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mtmcp_redact_sql'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp.redact(jsonb, text[]) IS
'Arguments as the audit trail stores them: secret-looking keys and the given dotted paths replaced by "[REDACTED]".';

-- Alerts a consumer can check: anyone may NOTIFY any channel, but only
-- mtmcp's alerts name a row that is there.
CREATE FUNCTION mtmcp.verify_security_notification(payload text)
RETURNS boolean
LANGUAGE plpgsql STABLE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p jsonb;
	id uuid;
BEGIN
	BEGIN
		p := payload::jsonb;
		id := (p ->> 'event_id')::uuid;
	EXCEPTION WHEN data_exception THEN
		RETURN false;
	END;
	IF jsonb_typeof(p) IS DISTINCT FROM 'object' OR id IS NULL THEN
		RETURN false;
	END IF;
	IF p ->> 'table' = 'mtmcp.audit_log' THEN
		RETURN EXISTS (SELECT 1 FROM mtmcp.audit_log a
						WHERE a.event_id = id AND a.severity = 'security' AND a.tenant_id = p ->> 'tenant'
						  AND coalesce(a.detail, a.result_kind) = p ->> 'kind');
	ELSIF p ->> 'table' = 'mtmcp.auth_failures' THEN
		RETURN p -> 'tenant' = 'null'::jsonb
		   AND EXISTS (SELECT 1 FROM mtmcp.auth_failures f WHERE f.event_id = id AND f.reason = p ->> 'kind');
	END IF;
	RETURN false;
END
$$;
COMMENT ON FUNCTION mtmcp.verify_security_notification(text) IS
'True when a mtmcp_security payload names a committed row of the table it names, with the same tenant and kind; a NOTIFY anyone else sent names none.';

-- Privileges and pg_dump marks of this section
GRANT SELECT ON mtmcp.tenant_audit, mtmcp.tenant_audit_overflow TO mtmcp_tenant, mtmcp_admin;
GRANT SELECT ON
	mtmcp.audit_log,
	mtmcp.auth_failures,
	mtmcp.audit_overflow,
	mtmcp.auth_failure_overflow
	TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.redact(jsonb, text[]) TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.verify_security_notification(text) TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.audit_log_default', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.auth_failures_default', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.audit_overflow', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.auth_failure_overflow', '');
