-- strata 0.8.0 -> 0.9.0: hardening (no crash, no privilege escalation, no silent loss under ordinary
-- DDL, roles and settings).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.9.0'" to load this file. \quit

-- == QSKETCH_QUANTILE_CONT ==
-- quantile() now follows percentile_disc (rank ceil(q * n)); quantile_cont() is percentile_cont's
-- interpolation on the sketch.
CREATE FUNCTION @extschema@.quantile_cont(@extschema@.qsketch, double precision) RETURNS double precision
  AS 'MODULE_PATHNAME', 'strata_qsketch_quantile_cont' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quantile_cont(@extschema@.qsketch, double precision)
IS 'the q-quantile as percentile_cont computes it (linear interpolation), within the sketch''s relative accuracy';
COMMENT ON FUNCTION @extschema@.quantile(@extschema@.qsketch, double precision)
IS 'the q-quantile as percentile_disc defines it, within the sketch''s relative accuracy';
