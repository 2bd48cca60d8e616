-------------------------------------------------------------------------------
-- Privileges: the default for everything in the schema
-------------------------------------------------------------------------------

-- Nothing in the schema is PUBLIC unless named here; each section grants its
-- own objects to the roles that need them.  This section runs last, so the
-- revokes below also catch every function the earlier sections created.
REVOKE ALL ON ALL ROUTINES IN SCHEMA mtmcp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA mtmcp FROM PUBLIC;
GRANT USAGE ON SCHEMA mtmcp TO mtmcp_gateway, mtmcp_tool, mtmcp_admin, mtmcp_tenant;

-- Policies and argument checks call these as whoever runs the query.
GRANT EXECUTE ON FUNCTION mtmcp.reserved_argument_names() TO PUBLIC;
GRANT EXECUTE ON FUNCTION mtmcp.current_tenant(), mtmcp.current_subject() TO PUBLIC;
GRANT EXECUTE ON FUNCTION
	mtmcp.validate_json(jsonb, jsonb),
	mtmcp.check_json_schema(jsonb)
	TO PUBLIC;
