-- strata 0.14.0 -> 0.15.0: column batches of compressed cold partitions (src/columnar/README.md).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.15.0'" to load this file. \quit

-- One column's values as one compressed batch and back; the decoder refuses damaged bytes (XX001).
CREATE FUNCTION @extschema@._columnar_encode(column_values anyarray) RETURNS bytea
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_columnar_encode';
CREATE FUNCTION @extschema@._columnar_decode(batch bytea, value_type anyelement) RETURNS anyarray
LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_columnar_decode';
