-- Upgrades: install 0.1.0, use it, ALTER EXTENSION UPDATE step by step, and compare with a fresh install
-- (strata--<current>.sql): the member objects and, object by object, every property a script sets.
-- strata_schema(): one line per property of the extension's schema, described by names (not OIDs).
CREATE FUNCTION strata_schema() RETURNS TABLE (kind text, object text, detail text) LANGUAGE sql AS $f$
  WITH ext AS (SELECT oid, extnamespace AS nsp FROM pg_extension WHERE extname = 'strata'),
  members AS (SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
               WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
  rels AS (SELECT c.* FROM pg_class c, ext WHERE c.relnamespace = ext.nsp),
  procs AS (SELECT p.* FROM pg_proc p, ext WHERE p.pronamespace = ext.nsp)
  SELECT 'member', pg_describe_object(classid, objid, objsubid), '' FROM members
  UNION ALL
  SELECT 'extension', e.extname, concat_ws(' | ', e.extrelocatable, e.extnamespace::regnamespace,
         pg_get_userbyid(e.extowner), nspacl, pg_get_userbyid(nspowner))
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'strata'
  UNION ALL
  SELECT 'config table', c.n::text || ' ' || c.rel::regclass::text, coalesce(e.extcondition[c.n], '<none>')
    FROM pg_extension e, unnest(e.extconfig) WITH ORDINALITY c(rel, n) WHERE e.extname = 'strata'
  UNION ALL
  SELECT 'function', p.oid::regprocedure::text,
         concat_ws(E'\n', pg_get_functiondef(p.oid), 'acl: ' || coalesce(p.proacl::text, 'default'),
                   'config: ' || coalesce(p.proconfig::text, 'none'), 'security definer: ' || p.prosecdef,
                   'owner: ' || pg_get_userbyid(p.proowner))
    FROM procs p WHERE p.prokind <> 'a'
  UNION ALL
  SELECT 'aggregate', p.oid::regprocedure::text,
         concat_ws(' | ', a.aggkind, a.aggnumdirectargs, a.aggtransfn::regprocedure, a.aggfinalfn, a.aggcombinefn,
                   a.aggserialfn, a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn, a.aggfinalextra,
                   a.aggmfinalextra, a.aggfinalmodify, a.aggmfinalmodify, a.aggsortop, format_type(a.aggtranstype, NULL),
                   a.aggtransspace, a.aggmtranstype, a.aggmtransspace, a.agginitval, a.aggminitval, p.proparallel,
                   p.proacl, pg_get_userbyid(p.proowner))
    FROM procs p JOIN pg_aggregate a ON a.aggfnoid = p.oid
  UNION ALL
  SELECT 'relation', c.relname,
         concat_ws(' | ', c.relkind, c.relpersistence, pg_get_userbyid(c.relowner), c.relacl, c.reloptions,
                   c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relispartition, c.relhasrules,
                   c.relhastriggers, c.reltablespace, c.relam)
    FROM rels c
  UNION ALL
  SELECT 'view', c.relname, pg_get_viewdef(c.oid) FROM rels c WHERE c.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'column', c.relname || '.' || a.attnum || ' ' || a.attname,
         concat_ws(' | ', format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
                   co.collname, a.attidentity, a.attgenerated, a.attisdropped, a.attstorage, a.attcompression,
                   a.attstattarget, a.attacl)
    FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
  UNION ALL
  SELECT 'constraint', c.relname || ' ' || k.conname,
         concat_ws(' | ', k.contype, pg_get_constraintdef(k.oid), k.condeferrable, k.condeferred, k.convalidated)
    FROM rels c JOIN pg_constraint k ON k.conrelid = c.oid
  UNION ALL
  SELECT 'index', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM rels c JOIN pg_index i ON i.indrelid = c.oid
  UNION ALL
  SELECT 'trigger', c.relname || ' ' || t.tgname, concat_ws(' | ', pg_get_triggerdef(t.oid), t.tgenabled)
    FROM rels c JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
  UNION ALL
  SELECT 'rule', c.relname || ' ' || r.rulename, pg_get_ruledef(r.oid)
    FROM rels c JOIN pg_rewrite r ON r.ev_class = c.oid AND r.rulename <> '_RETURN'
  UNION ALL
  SELECT 'policy', c.relname || ' ' || p.polname,
         concat_ws(' | ', p.polcmd, p.polpermissive, p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid),
                   pg_get_expr(p.polwithcheck, p.polrelid))
    FROM rels c JOIN pg_policy p ON p.polrelid = c.oid
  UNION ALL
  SELECT 'sequence', c.relname,
         concat_ws(' | ', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache,
                   s.seqcycle, (SELECT d.refobjid::regclass || '.' || d.refobjsubid || ' ' || d.deptype::text FROM pg_depend d
                                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
    FROM rels c JOIN pg_sequence s ON s.seqrelid = c.oid
  UNION ALL
  SELECT 'type', t.oid::regtype::text,
         concat_ws(' | ', t.typtype, t.typlen, t.typbyval, t.typcategory, t.typispreferred, t.typdelim, t.typrelid::regclass,
                   t.typelem::regtype, t.typarray::regtype, t.typinput, t.typoutput, t.typreceive, t.typsend,
                   t.typmodin, t.typmodout, t.typanalyze, t.typalign, t.typstorage, t.typnotnull,
                   t.typbasetype::regtype, t.typcollation, t.typdefault, t.typacl, pg_get_userbyid(t.typowner))
    FROM pg_type t, ext WHERE t.typnamespace = ext.nsp
  UNION ALL
  SELECT 'cast', format('%s -> %s', k.castsource::regtype, k.casttarget::regtype),
         concat_ws(' | ', k.castfunc::regprocedure, k.castcontext, k.castmethod)
    FROM pg_cast k, ext WHERE k.oid IN (SELECT objid FROM members WHERE classid = 'pg_cast'::regclass)
       OR k.castsource IN (SELECT oid FROM pg_type WHERE typnamespace = ext.nsp)
       OR k.casttarget IN (SELECT oid FROM pg_type WHERE typnamespace = ext.nsp)
  UNION ALL
  SELECT 'operator', o.oid::regoperator::text, concat_ws(' | ', o.oprcode, o.oprrest, o.oprjoin, o.oprcom::regoperator,
         o.oprnegate::regoperator, o.oprcanmerge, o.oprcanhash)
    FROM pg_operator o, ext WHERE o.oprnamespace = ext.nsp
  UNION ALL
  SELECT 'operator class', c.opcname || ' ' || am.amname, concat_ws(' | ', c.opcintype::regtype, c.opcdefault, c.opckeytype)
    FROM pg_opclass c JOIN pg_am am ON am.oid = c.opcmethod, ext WHERE c.opcnamespace = ext.nsp
  UNION ALL
  SELECT 'event trigger', e.evtname,
         concat_ws(' | ', e.evtevent, e.evtfoid::regprocedure, e.evtenabled, e.evttags, pg_get_userbyid(e.evtowner))
    FROM pg_event_trigger e WHERE e.oid IN (SELECT objid FROM members WHERE classid = 'pg_event_trigger'::regclass)
  UNION ALL
  SELECT 'comment', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description
    FROM pg_description d
   WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM members)
      OR (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM rels))
  UNION ALL
  SELECT 'initial privileges', pg_describe_object(i.classoid, i.objoid, i.objsubid), concat_ws(' ', i.privtype, i.initprivs)
    FROM pg_init_privs i
   WHERE (i.classoid, i.objoid) IN (SELECT classid, objid FROM members)
      OR (i.classoid = 'pg_class'::regclass AND i.objoid IN (SELECT oid FROM rels))
$f$;
CREATE TABLE schema_fresh AS SELECT * FROM strata_schema();
-- Every kind of property is there to compare (casts, operators and operator classes: strata has none).
SELECT kind, count(*) > 0 AS compared FROM schema_fresh GROUP BY 1 ORDER BY 1;
DROP EXTENSION strata CASCADE;
CREATE EXTENSION strata VERSION '0.1.0';
CREATE TABLE up (id int NOT NULL) PARTITION BY RANGE (id);
SELECT strata.create_partition_set('up', 'id', 10, premake => 1);
ALTER EXTENSION strata UPDATE TO '0.2.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
-- The set survived the update and the new types work.
SELECT parent, partition_count FROM strata.partition_sets;
SELECT strata.distinct_count(strata.hll_agg(g)) FROM generate_series(1, 42) g;
-- 0.2.0 -> 0.3.0 (rollups); the worker and retention cope with a database still at 0.2.0.
ALTER EXTENSION strata UPDATE TO '0.3.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT count(*) AS rollups FROM strata.rollups;
-- 0.3.0 -> 0.4.0 (vacuum scheduling); the worker skips the scheduler in a database still at 0.3.0.
ALTER EXTENSION strata UPDATE TO '0.4.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT count(*) AS planned_for_up FROM strata.vacuum_plan() WHERE relation LIKE 'public.up%';
-- 0.4.0 -> 0.5.0 (insert-vacuum handover: vacuum_activity lists it).
ALTER EXTENSION strata UPDATE TO '0.5.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT pg_get_viewdef('strata.vacuum_activity') LIKE '%insert_handover%' AS lists_handover;
-- 0.5.0 -> 0.6.0 (a rollup whose objects are dropped outside drop_rollup() is unregistered).
ALTER EXTENSION strata UPDATE TO '0.6.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT prosrc LIKE '%unregistered%' AS unregisters_rollups FROM pg_proc WHERE oid = 'strata._on_sql_drop()'::regprocedure;
-- 0.6.0 -> 0.7.0 (keysets, which real-time views of integer-keyed rollups use).
ALTER EXTENSION strata UPDATE TO '0.7.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT strata.keyset_lacks((SELECT strata.keyset_agg(g) FROM generate_series(1, 3) g), 2) AS lacks_2,
       strata.keyset_lacks((SELECT strata.keyset_agg(g) FROM generate_series(1, 3) g), 4) AS lacks_4;
-- 0.7.0 -> 0.8.0 (the vacuum scheduler's rule for rollup tables: a baseline column, the action listed).
ALTER EXTENSION strata UPDATE TO '0.8.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT pg_get_viewdef('strata.vacuum_activity') LIKE '%vacuum_rollup%' AS lists_rollup_vacuum,
       count(*) AS entries_column FROM pg_attribute WHERE attrelid = 'strata.vacuum_state'::regclass AND attname = 'entries_at_vacuum';
-- 0.8.0 -> 0.9.0 (hardening).
ALTER EXTENSION strata UPDATE TO '0.9.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
-- 0.9.0 -> 0.10.0 (one change capture per source; its migration of rollups is in test/cluster/t23).
ALTER EXTENSION strata UPDATE TO '0.10.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
SELECT to_regprocedure('strata._rollup_share_capture()') IS NULL AS migration_function_gone,
       (SELECT count(*) FROM strata.rollup_sources) AS sources;
-- 0.10.0 -> 0.11.0 (query routing).
ALTER EXTENSION strata UPDATE TO '0.11.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
-- 0.11.0 -> 0.12.0 (routing through rollups of rollups, tree changes tracked, rows saved).
ALTER EXTENSION strata UPDATE TO '0.12.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
-- 0.12.0 -> 0.13.0 (the rollup advisor, freshness in the metrics catalog).
ALTER EXTENSION strata UPDATE TO '0.13.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
-- 0.13.0 -> 0.14.0 (the health pass in C++, pass durations in strata.workers).
ALTER EXTENSION strata UPDATE TO '0.14.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
-- 0.14.0 -> 0.15.0 (column batches of compressed partitions).
ALTER EXTENSION strata UPDATE TO '0.15.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
-- 0.15.0 -> 0.16.0 (compressed partitions: policy, conversion, read path state).
ALTER EXTENSION strata UPDATE TO '0.16.0';
SELECT extversion FROM pg_extension WHERE extname = 'strata';
-- Nothing differs: each line names its side, its kind, its object and the property that differs.
SELECT side, kind, object, detail FROM (
  SELECT 'only in a fresh install' AS side, * FROM (SELECT * FROM schema_fresh EXCEPT SELECT * FROM strata_schema()) f
  UNION ALL
  SELECT 'only after the upgrades', * FROM (SELECT * FROM strata_schema() EXCEPT SELECT * FROM schema_fresh) u) d
ORDER BY kind, object, side;
DROP TABLE up, schema_fresh;
DROP FUNCTION strata_schema();
