-- test/upgrade/fingerprint.sql: pg_temp.mtmcp_fingerprint() lists every
-- catalog fact about the installed mtmcp extension that a user could observe,
-- one row per fact (kind, object, detail), with no OIDs and no order
-- dependence beyond what is observable (column positions).  Two installs
-- have the same schema exactly when their fingerprints are equal.
CREATE FUNCTION pg_temp.mtmcp_fingerprint()
RETURNS TABLE (kind text, object text, detail text)
LANGUAGE sql STABLE AS $fp$
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'mtmcp'),
ns AS (SELECT oid FROM pg_namespace WHERE nspname = 'mtmcp'),
sorted_acl(acl, txt) AS (SELECT NULL::aclitem[], NULL::text WHERE false)
-- extension members
SELECT 'member', pg_describe_object(d.classid, d.objid, d.objsubid), NULL
  FROM pg_depend d, ext WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
UNION ALL
-- routines: full definition (body, language, volatility, strictness, parallel
-- safety, security, settings), privileges, comment
SELECT 'routine', p.oid::regprocedure::text,
	   pg_get_functiondef(p.oid)
	   || ' ACL ' || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(p.proacl) a), '-')
	   || ' COMMENT ' || coalesce(obj_description(p.oid, 'pg_proc'), '-')
  FROM pg_proc p, ns WHERE p.pronamespace = ns.oid AND p.prokind IN ('f', 'p', 'w')
UNION ALL
SELECT 'aggregate', p.oid::regprocedure::text, NULL
  FROM pg_proc p, ns WHERE p.pronamespace = ns.oid AND p.prokind = 'a'
UNION ALL
-- relations of every kind
SELECT 'relation', c.relname,
	   concat_ws(' ', c.relkind::text, c.relpersistence::text, 'rls=' || c.relrowsecurity, 'force=' || c.relforcerowsecurity,
				 'opts=' || coalesce(array_to_string(c.reloptions, ','), '-'),
				 'acl=' || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(c.relacl) a), '-'),
				 'comment=' || coalesce(obj_description(c.oid, 'pg_class'), '-'),
				 'partkey=' || coalesce(pg_get_partkeydef(c.oid), '-'),
				 'bound=' || coalesce(pg_get_expr(c.relpartbound, c.oid), '-'),
				 'parent=' || coalesce((SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid), '-'),
				 'view=' || CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) ELSE '-' END,
				 'replident=' || c.relreplident::text)
  FROM pg_class c, ns WHERE c.relnamespace = ns.oid AND c.relkind <> 'i'
UNION ALL
-- columns, by position among the live ones
SELECT 'column', c.relname || '.' || a.attname,
	   concat_ws(' ', 'pos=' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
				 format_type(a.atttypid, a.atttypmod), 'notnull=' || a.attnotnull,
				 'default=' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'),
				 'identity=' || a.attidentity::text, 'generated=' || a.attgenerated::text,
				 'collation=' || coalesce((SELECT collname FROM pg_collation WHERE oid = a.attcollation AND a.attcollation <> 0), '-'),
				 'acl=' || coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(a.attacl) x), '-'),
				 'comment=' || coalesce(col_description(c.oid, a.attnum), '-'))
  FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
 WHERE c.relkind <> 'i'
UNION ALL
SELECT 'constraint', conrelid::regclass::text || '.' || conname,
	   pg_get_constraintdef(co.oid) || ' deferrable=' || condeferrable || ' comment=' || coalesce(obj_description(co.oid, 'pg_constraint'), '-')
  FROM pg_constraint co, ns WHERE co.connamespace = ns.oid
UNION ALL
SELECT 'index', c.relname, pg_get_indexdef(c.oid)
  FROM pg_class c, ns WHERE c.relnamespace = ns.oid AND c.relkind = 'i'
UNION ALL
SELECT 'policy', pol.polrelid::regclass::text || '.' || pol.polname,
	   concat_ws(' ', pol.polcmd::text, pol.polpermissive,
				 (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END, ',' ORDER BY 1) FROM unnest(pol.polroles) r),
				 pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid))
  FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN ns ON c.relnamespace = ns.oid
UNION ALL
SELECT 'trigger', t.tgrelid::regclass::text || '.' || t.tgname, pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns ON c.relnamespace = ns.oid
 WHERE NOT t.tgisinternal
UNION ALL
SELECT 'type', t.typname, concat_ws(' ', t.typtype::text, t.typcategory::text, coalesce(obj_description(t.oid, 'pg_type'), '-'),
	   (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))
  FROM pg_type t, ns WHERE t.typnamespace = ns.oid AND t.typtype IN ('e', 'd', 'b', 'r')
UNION ALL
SELECT 'sequence', s.seqrelid::regclass::text,
	   concat_ws(' ', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle)
  FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN ns ON c.relnamespace = ns.oid
UNION ALL
SELECT 'config_dump', cfg::regclass::text, cond
  FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(cfg, cond)
UNION ALL
SELECT 'schema', n.nspname, concat_ws(' ', 'acl=' || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(n.nspacl) a), '-'),
	   'comment=' || coalesce(obj_description(n.oid, 'pg_namespace'), '-'))
  FROM pg_namespace n WHERE n.nspname = 'mtmcp'
UNION ALL
SELECT 'event_trigger', e.evtname, concat_ws(' ', e.evtevent, e.evtfoid::regproc, e.evtenabled::text, e.evttags::text)
  FROM pg_event_trigger e
UNION ALL
SELECT 'role', r.rolname, concat_ws(' ', r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, r.rolbypassrls,
	   (SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid))
  FROM pg_roles r WHERE r.rolname LIKE 'mtmcp\_%'
$fp$;
