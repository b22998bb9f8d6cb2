-- strata 0.15.0 -> 0.16.0: compressed partitions (src/columnar/README.md): the policy in
-- create_partition_set / alter_partition_set, compress_partition, decompress_partition, the view
-- compressed_partitions and the state the read path uses.
\echo Use "ALTER EXTENSION strata UPDATE TO '0.16.0'" to load this file. \quit

-- The C functions keep their settings; the public forms take the compression policy too.
ALTER FUNCTION @extschema@.create_partition_set(regclass, name, text, integer, text, boolean, boolean, text[], name, text)
  RENAME TO _create_partition_set;
COMMENT ON FUNCTION @extschema@._create_partition_set(regclass, name, text, integer, text, boolean, boolean, text[], name, text) IS NULL;
DROP FUNCTION @extschema@.create_partition_set(regclass, name, interval, integer, interval, boolean, boolean, text[], name, text);
DROP FUNCTION @extschema@.create_partition_set(regclass, name, bigint, integer, bigint, boolean, boolean, text[], name, text);
ALTER FUNCTION @extschema@.alter_partition_set(regclass, integer, text, boolean, text[], name, boolean, boolean)
  RENAME TO _alter_partition_set;

-- create_partition_set's three forms (interval as text, interval, integer) with the compression policy
-- (NULL: none); the settings go to strata._create_partition_set, the policy to _set_compression_policy.
CREATE FUNCTION @extschema@.create_partition_set(
    parent regclass, control_column name, partition_interval text,
    premake integer DEFAULT 4, retention text DEFAULT NULL, retention_keep_table boolean DEFAULT false,
    default_partition boolean DEFAULT false, partition_options text[] DEFAULT '{}',
    partition_tablespace name DEFAULT NULL, start_partition text DEFAULT NULL,
    compress_after interval DEFAULT NULL, compress_segment_by text[] DEFAULT NULL, compress_order_by text DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE made integer;
BEGIN
  made := @extschema@._create_partition_set($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);
  IF $11 IS NOT NULL OR $12 IS NOT NULL OR $13 IS NOT NULL THEN
    PERFORM @extschema@._set_compression_policy($1, $11::text, $12::text, $13, false);
  END IF;
  RETURN made;
END $$;
COMMENT ON FUNCTION @extschema@.create_partition_set(regclass, name, text, integer, text, boolean, boolean, text[], name, text, interval, text[], text)
IS 'takes over a PARTITION BY RANGE table: creates partitions around now (or the data) and premake ahead';

CREATE FUNCTION @extschema@.create_partition_set(
    parent regclass, control_column name, partition_interval interval,
    premake integer DEFAULT 4, retention interval DEFAULT NULL, retention_keep_table boolean DEFAULT false,
    default_partition boolean DEFAULT false, partition_options text[] DEFAULT '{}',
    partition_tablespace name DEFAULT NULL, start_partition text DEFAULT NULL,
    compress_after interval DEFAULT NULL, compress_segment_by text[] DEFAULT NULL, compress_order_by text DEFAULT NULL)
RETURNS integer LANGUAGE sql CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.create_partition_set($1, $2, $3::text, $4, $5::text, $6, $7, $8, $9, $10, $11, $12, $13) $$;

CREATE FUNCTION @extschema@.create_partition_set(
    parent regclass, control_column name, partition_interval bigint,
    premake integer DEFAULT 4, retention bigint DEFAULT NULL, retention_keep_table boolean DEFAULT false,
    default_partition boolean DEFAULT false, partition_options text[] DEFAULT '{}',
    partition_tablespace name DEFAULT NULL, start_partition text DEFAULT NULL,
    compress_after interval DEFAULT NULL, compress_segment_by text[] DEFAULT NULL, compress_order_by text DEFAULT NULL)
RETURNS integer LANGUAGE sql CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.create_partition_set($1, $2, $3::text, $4, $5::text, $6, $7, $8, $9, $10, $11, $12, $13) $$;

-- Changes a set's settings; NULL leaves a setting as it is (clear_retention removes retention,
-- clear_compression the compression policy: compressed partitions stay compressed).
CREATE FUNCTION @extschema@.alter_partition_set(
    parent regclass, premake integer DEFAULT NULL, retention text DEFAULT NULL,
    retention_keep_table boolean DEFAULT NULL, partition_options text[] DEFAULT NULL,
    partition_tablespace name DEFAULT NULL, enabled boolean DEFAULT NULL, clear_retention boolean DEFAULT false,
    compress_after interval DEFAULT NULL, compress_segment_by text[] DEFAULT NULL, compress_order_by text DEFAULT NULL,
    clear_compression boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM @extschema@._alter_partition_set($1, $2, $3, $4, $5, $6, $7, $8);
  IF $9 IS NOT NULL OR $10 IS NOT NULL OR $11 IS NOT NULL OR $12 THEN
    PERFORM @extschema@._set_compression_policy($1, $9::text, $10::text, $11, $12);
  END IF;
END $$;

-------------------------------------------------------------------------------- compressed partitions
-- A partition set's compression policy (src/columnar/README.md): the worker compresses every partition
-- wholly older than compress_after, its rows cut into batches by segment_by values in order_by's order.
-- Dumped by pg_dump (pg_extension_config_dump), as the sets are.
CREATE TABLE @extschema@.columnar_policy (
    parent         regclass PRIMARY KEY,
    compress_after interval,
    segment_by     name[] NOT NULL DEFAULT '{}',
    order_by       name
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.columnar_policy', '');

-- The compressed partitions and the layout of their batch tables (read by every backend's planner,
-- changed only under an ACCESS EXCLUSIVE lock on the partition). Not dumped: a restore loads every
-- partition's rows as heap rows (COPY reads them through strata), and the worker compresses them again.
CREATE TABLE @extschema@.columnar_partition (
    leaf            oid PRIMARY KEY,
    sibling         oid NOT NULL,
    segment_attnums int2[] NOT NULL,
    batch_attnums   int2[] NOT NULL,
    order_attnum    int2,
    rows            bigint NOT NULL,
    batches         bigint NOT NULL,
    segment_by      name[] NOT NULL DEFAULT '{}',
    order_by        name,
    bytes_before    bigint NOT NULL,
    bytes_after     bigint NOT NULL,
    compressed_at   timestamptz NOT NULL,
    duration_ms     double precision NOT NULL,
    compressions    integer NOT NULL DEFAULT 1
);

CREATE FUNCTION @extschema@._set_compression_policy(parent regclass, compress_after text, segment_by text,
                                                    order_by text, clear boolean)
RETURNS void LANGUAGE C CALLED ON NULL INPUT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strata_set_compression_policy';

-- By hand; both idempotent, both the caller's transaction, both need the partition's owner.
CREATE FUNCTION @extschema@.compress_partition(partition regclass) RETURNS bigint
LANGUAGE C STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'strata_compress_partition';
COMMENT ON FUNCTION @extschema@.compress_partition(regclass)
IS 'converts a partition into compressed column batches (again, if rows were written since); returns the rows compressed';
CREATE FUNCTION @extschema@.decompress_partition(partition regclass) RETURNS bigint
LANGUAGE C STRICT SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'strata_decompress_partition';
COMMENT ON FUNCTION @extschema@.decompress_partition(regclass)
IS 'converts a compressed partition back into a heap; returns the rows moved';

CREATE VIEW @extschema@.compressed_partitions AS
SELECT c.leaf::pg_catalog.regclass AS partition,
       (SELECT i.inhparent::pg_catalog.regclass FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.leaf) AS parent,
       c.rows, c.batches, c.bytes_before, c.bytes_after,
       pg_catalog.round(c.bytes_before::numeric / NULLIF(c.bytes_after, 0), 2) AS ratio,
       pg_catalog.pg_total_relation_size(c.leaf) + COALESCE(pg_catalog.pg_total_relation_size(c.sibling), 0) AS bytes_now,
       COALESCE(pg_catalog.pg_stat_get_live_tuples(c.leaf), 0) AS heap_rows,
       c.segment_by, c.order_by, c.compressed_at, c.duration_ms, c.compressions
FROM @extschema@.columnar_partition c;
GRANT SELECT ON @extschema@.columnar_policy, @extschema@.columnar_partition, @extschema@.compressed_partitions TO PUBLIC;
