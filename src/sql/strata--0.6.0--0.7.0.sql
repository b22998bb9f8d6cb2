-- strata 0.6.0 -> 0.7.0: keysets, sets of integer-valued keys carried as bytea values. The real-time
-- view of a rollup whose key columns are integers, dates or timestamps drops the stored groups its tail
-- touches with strata.keyset_lacks (a probe per stored row) instead of an anti-join; views made before
-- keep their form until they are re-created (alter_rollup(realtime => true) does it).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.7.0'" to load this file. \quit

CREATE FUNCTION @extschema@._keyset_trans(internal, VARIADIC "any") RETURNS internal
LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_keyset_trans';
CREATE FUNCTION @extschema@._keyset_final(internal) RETURNS bytea
LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_keyset_final';

-- The set of the keys given. `=` never matches NULL: a key whose first column is NULL is left out; one
-- with a NULL in a later column is kept by its first column apart (keyset_lacks of such a key asks
-- whether that first column is there: the real-time view re-aggregates the stored groups with a NULL
-- dimension in the buckets where its tail has one).
CREATE AGGREGATE @extschema@.keyset_agg(VARIADIC "any") (
    SFUNC = @extschema@._keyset_trans, STYPE = internal, FINALFUNC = @extschema@._keyset_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.keyset_agg(VARIADIC "any") IS
    'set of the keys (smallint, integer, bigint, date, timestamp or timestamptz columns) given, for keyset_lacks';

-- True unless the keyset holds the key: a NULL keyset or a key with a NULL first column is never held;
-- a key with a NULL later column is held when the keyset has its first column apart (see keyset_agg).
-- A keyset of fewer columns than the key given matches on the key's first columns.
CREATE FUNCTION @extschema@.keyset_lacks(keyset bytea, VARIADIC "any") RETURNS boolean
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'strata_keyset_lacks';
COMMENT ON FUNCTION @extschema@.keyset_lacks(bytea, VARIADIC "any") IS
    'true unless the keyset (from keyset_agg) holds the key given as separate columns';
