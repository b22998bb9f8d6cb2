-- strata 0.14.0 -> 0.15.0: column batches of compressed cold partitions (src/columnar/README.md).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.15.0'" to load this file. \quit

-- One column's values as one compressed batch and back; a batch decodes only as the type it was made
-- from, and damaged bytes are refused (XX001).
CREATE FUNCTION @extschema@._columnar_encode(column_values anyarray) RETURNS bytea
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_columnar_encode';
CREATE FUNCTION @extschema@._columnar_decode(batch bytea, value_type anyelement) RETURNS anyarray
LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_columnar_decode';
-- A decoded batch hands Postgres the stored bytes of its type: not for PUBLIC.
REVOKE ALL ON FUNCTION @extschema@._columnar_encode(anyarray) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._columnar_decode(bytea, anyelement) FROM PUBLIC;
-- A table's rows as batches in a new table beside it, one row per batch of at most 1,000 rows of one
-- segment value in order_by's order (the conversion's build step); returns the rows read.
CREATE FUNCTION @extschema@._columnar_build(leaf regclass, sibling name, segment_by name[] DEFAULT '{}',
                                             order_by name DEFAULT NULL) RETURNS bigint
LANGUAGE C SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'strata_columnar_build';
REVOKE ALL ON FUNCTION @extschema@._columnar_build(regclass, name, name[], name) FROM PUBLIC;
