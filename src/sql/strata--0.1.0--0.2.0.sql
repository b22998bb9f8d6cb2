-- strata 0.1.0 -> 0.2.0: mergeable sketch types and aggregates (hll, qsketch, topk).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.2.0'" to load this file. \quit

-------------------------------------------------------------------------------- hll
CREATE TYPE @extschema@.hll;
CREATE FUNCTION @extschema@.hll_in(cstring) RETURNS @extschema@.hll
  AS 'MODULE_PATHNAME', 'strata_hll_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_out(@extschema@.hll) RETURNS cstring
  AS 'MODULE_PATHNAME', 'strata_hll_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_recv(internal) RETURNS @extschema@.hll
  AS 'MODULE_PATHNAME', 'strata_hll_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_send(@extschema@.hll) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_hll_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.hll (
  INPUT = @extschema@.hll_in, OUTPUT = @extschema@.hll_out,
  RECEIVE = @extschema@.hll_recv, SEND = @extschema@.hll_send,
  INTERNALLENGTH = VARIABLE, STORAGE = external);
COMMENT ON TYPE @extschema@.hll IS 'HyperLogLog distinct-count sketch; merges exactly';

CREATE FUNCTION @extschema@.hll_trans(internal, anyelement) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_hll_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_trans(internal, anyelement, integer) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_hll_trans_p' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_final(internal) RETURNS @extschema@.hll
  AS 'MODULE_PATHNAME', 'strata_hll_final' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_combine(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_hll_combine' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_serial(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_hll_serial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_deserial(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_hll_deserial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_merge_trans(internal, @extschema@.hll) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_hll_merge_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

-- SSPACE: the dense state at the default precision (2^14 one-byte registers), so the planner sizes
-- hash aggregation honestly.
CREATE AGGREGATE @extschema@.hll_agg(anyelement) (
  SFUNC = @extschema@.hll_trans, STYPE = internal, SSPACE = 16500,
  FINALFUNC = @extschema@.hll_final, COMBINEFUNC = @extschema@.hll_combine,
  SERIALFUNC = @extschema@.hll_serial, DESERIALFUNC = @extschema@.hll_deserial, PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.hll_agg(anyelement, integer) (
  SFUNC = @extschema@.hll_trans, STYPE = internal, SSPACE = 16500,
  FINALFUNC = @extschema@.hll_final, COMBINEFUNC = @extschema@.hll_combine,
  SERIALFUNC = @extschema@.hll_serial, DESERIALFUNC = @extschema@.hll_deserial, PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.merge(@extschema@.hll) (
  SFUNC = @extschema@.hll_merge_trans, STYPE = internal, SSPACE = 16500,
  FINALFUNC = @extschema@.hll_final, COMBINEFUNC = @extschema@.hll_combine,
  SERIALFUNC = @extschema@.hll_serial, DESERIALFUNC = @extschema@.hll_deserial, PARALLEL = SAFE);
CREATE FUNCTION @extschema@.merge(@extschema@.hll, @extschema@.hll) RETURNS @extschema@.hll
  AS 'MODULE_PATHNAME', 'strata_hll_merge' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.distinct_count(@extschema@.hll) RETURNS bigint
  AS 'MODULE_PATHNAME', 'strata_hll_distinct_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.hll_precision(@extschema@.hll) RETURNS integer
  AS 'MODULE_PATHNAME', 'strata_hll_precision' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-------------------------------------------------------------------------------- qsketch
CREATE TYPE @extschema@.qsketch;
CREATE FUNCTION @extschema@.qsketch_in(cstring) RETURNS @extschema@.qsketch
  AS 'MODULE_PATHNAME', 'strata_qsketch_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_out(@extschema@.qsketch) RETURNS cstring
  AS 'MODULE_PATHNAME', 'strata_qsketch_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_recv(internal) RETURNS @extschema@.qsketch
  AS 'MODULE_PATHNAME', 'strata_qsketch_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_send(@extschema@.qsketch) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_qsketch_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.qsketch (
  INPUT = @extschema@.qsketch_in, OUTPUT = @extschema@.qsketch_out,
  RECEIVE = @extschema@.qsketch_recv, SEND = @extschema@.qsketch_send,
  INTERNALLENGTH = VARIABLE, STORAGE = external);
COMMENT ON TYPE @extschema@.qsketch IS 'quantile sketch with relative-error guarantee; merges exactly';

CREATE FUNCTION @extschema@.qsketch_trans(internal, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_qsketch_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_trans(internal, double precision, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_qsketch_trans_a' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_final(internal) RETURNS @extschema@.qsketch
  AS 'MODULE_PATHNAME', 'strata_qsketch_final' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_combine(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_qsketch_combine' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_serial(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_qsketch_serial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_deserial(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_qsketch_deserial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_merge_trans(internal, @extschema@.qsketch) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_qsketch_merge_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE AGGREGATE @extschema@.qsketch_agg(double precision) (
  SFUNC = @extschema@.qsketch_trans, STYPE = internal, SSPACE = 8192,
  FINALFUNC = @extschema@.qsketch_final, COMBINEFUNC = @extschema@.qsketch_combine,
  SERIALFUNC = @extschema@.qsketch_serial, DESERIALFUNC = @extschema@.qsketch_deserial, PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.qsketch_agg(double precision, double precision) (
  SFUNC = @extschema@.qsketch_trans, STYPE = internal, SSPACE = 8192,
  FINALFUNC = @extschema@.qsketch_final, COMBINEFUNC = @extschema@.qsketch_combine,
  SERIALFUNC = @extschema@.qsketch_serial, DESERIALFUNC = @extschema@.qsketch_deserial, PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.merge(@extschema@.qsketch) (
  SFUNC = @extschema@.qsketch_merge_trans, STYPE = internal, SSPACE = 8192,
  FINALFUNC = @extschema@.qsketch_final, COMBINEFUNC = @extschema@.qsketch_combine,
  SERIALFUNC = @extschema@.qsketch_serial, DESERIALFUNC = @extschema@.qsketch_deserial, PARALLEL = SAFE);
CREATE FUNCTION @extschema@.merge(@extschema@.qsketch, @extschema@.qsketch) RETURNS @extschema@.qsketch
  AS 'MODULE_PATHNAME', 'strata_qsketch_merge' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quantile(@extschema@.qsketch, double precision) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_quantile' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quantiles(@extschema@.qsketch, double precision[]) RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'strata_qsketch_quantiles' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_count(@extschema@.qsketch) RETURNS bigint
  AS 'MODULE_PATHNAME', 'strata_qsketch_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_min(@extschema@.qsketch) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_min' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_max(@extschema@.qsketch) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_max' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_mean(@extschema@.qsketch) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_mean' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.qsketch_accuracy(@extschema@.qsketch) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_accuracy' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-------------------------------------------------------------------------------- topk
CREATE TYPE @extschema@.topk;
CREATE FUNCTION @extschema@.topk_in(cstring) RETURNS @extschema@.topk
  AS 'MODULE_PATHNAME', 'strata_topk_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_out(@extschema@.topk) RETURNS cstring
  AS 'MODULE_PATHNAME', 'strata_topk_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_recv(internal) RETURNS @extschema@.topk
  AS 'MODULE_PATHNAME', 'strata_topk_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_send(@extschema@.topk) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_topk_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.topk (
  INPUT = @extschema@.topk_in, OUTPUT = @extschema@.topk_out,
  RECEIVE = @extschema@.topk_recv, SEND = @extschema@.topk_send,
  INTERNALLENGTH = VARIABLE, STORAGE = extended);
COMMENT ON TYPE @extschema@.topk IS 'heavy hitters (Misra-Gries) with a guaranteed error bound; mergeable';

CREATE FUNCTION @extschema@.topk_trans(internal, anyelement, integer) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_topk_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_final(internal) RETURNS @extschema@.topk
  AS 'MODULE_PATHNAME', 'strata_topk_final' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_combine(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_topk_combine' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_serial(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'strata_topk_serial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_deserial(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_topk_deserial' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_merge_trans(internal, @extschema@.topk) RETURNS internal
  AS 'MODULE_PATHNAME', 'strata_topk_merge_trans' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE AGGREGATE @extschema@.topk_agg(anyelement, integer) (
  SFUNC = @extschema@.topk_trans, STYPE = internal, SSPACE = 4096,
  FINALFUNC = @extschema@.topk_final, COMBINEFUNC = @extschema@.topk_combine,
  SERIALFUNC = @extschema@.topk_serial, DESERIALFUNC = @extschema@.topk_deserial, PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.merge(@extschema@.topk) (
  SFUNC = @extschema@.topk_merge_trans, STYPE = internal, SSPACE = 4096,
  FINALFUNC = @extschema@.topk_final, COMBINEFUNC = @extschema@.topk_combine,
  SERIALFUNC = @extschema@.topk_serial, DESERIALFUNC = @extschema@.topk_deserial, PARALLEL = SAFE);
CREATE FUNCTION @extschema@.merge(@extschema@.topk, @extschema@.topk) RETURNS @extschema@.topk
  AS 'MODULE_PATHNAME', 'strata_topk_merge' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.topk_items(@extschema@.topk, OUT item text, OUT count bigint, OUT error bigint)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'strata_topk_items' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
