-- strata 0.2.0 -> 0.3.0: incremental rollups.
\echo Use "ALTER EXTENSION strata UPDATE TO '0.3.0'" to load this file. \quit

-- One row per rollup: its definition (as parsed and deparsed by Postgres), its schedule and its
-- progress. Progress (watermark, backfill_cursor) is updated in the same transaction as the rollup
-- table, so it is exact after any crash. Dumped by pg_dump with the rollup tables it describes.
CREATE TABLE @extschema@.rollup (
    id               serial PRIMARY KEY,
    view             regclass NOT NULL UNIQUE,  -- what readers query
    data_table       regclass NOT NULL UNIQUE,  -- the materialized groups
    pending_table    regclass NOT NULL,         -- buckets waiting for a recompute
    source           regclass NOT NULL,         -- the table aggregated (a rollup's data table for rollups of rollups)
    source_rollup    integer REFERENCES @extschema@.rollup (id),
    level            integer NOT NULL DEFAULT 0, -- refresh order: sources before dependents
    query            text NOT NULL,             -- as given
    order_column     name,                      -- raw sources: sequence-filled column defining "new rows"
    order_sequence   regclass,
    bucket_name      name NOT NULL,
    bucket_expr      text NOT NULL,
    bucket_type      text NOT NULL,
    bucket_width     text NOT NULL,
    time_column      name NOT NULL,
    time_zone        text NOT NULL DEFAULT '',  -- timestamptz buckets are cut in this zone
    change_function  text,                      -- raw sources: the statement trigger function
    where_clause     text NOT NULL DEFAULT '',
    realtime         boolean NOT NULL DEFAULT true,
    enabled          boolean NOT NULL DEFAULT true,
    refresh_interval interval NOT NULL DEFAULT '1 minute' CHECK (refresh_interval >= '0'),
    batch_size       bigint NOT NULL DEFAULT 1000000 CHECK (batch_size > 0),
    watermark        bigint,                    -- rows with order_column <= watermark are processed...
    backfill_cursor  bigint,                    -- ...except those <= backfill_cursor (NULL: backfill done)
    backfill_floor   bigint,                    -- the lowest order value that existed at creation, minus 1
    frozen_before    timestamptz,               -- raw data before this was dropped: buckets are final
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_refresh_at  timestamptz,
    caught_up_at     timestamptz,
    last_duration_ms double precision,
    last_rows        bigint,
    rows_processed   bigint NOT NULL DEFAULT 0,
    buckets_recomputed bigint NOT NULL DEFAULT 0,
    last_error       text,
    last_error_at    timestamptz
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_id_seq', '');

-- The dimensions and measures of each rollup, in column order.
CREATE TABLE @extschema@.rollup_column (
    rollup_id   integer NOT NULL REFERENCES @extschema@.rollup (id) ON DELETE CASCADE,
    ord         integer NOT NULL,
    role        text NOT NULL CHECK (role IN ('dimension', 'measure')),
    name        name NOT NULL,
    kind        text,          -- measures: count, sum, min, max, avg, hll_agg, qsketch_agg, topk_agg, merge
    expr        text NOT NULL, -- dimensions: the column; measures: the argument list
    state_type  text,
    result_type text,
    PRIMARY KEY (rollup_id, ord)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_column', '');

-- Buckets that could not be recomputed after an UPDATE/DELETE because their raw rows were dropped by
-- retention: the rollup keeps their last values.
CREATE TABLE @extschema@.rollup_frozen_bucket (
    rollup_id integer NOT NULL REFERENCES @extschema@.rollup (id) ON DELETE CASCADE,
    bucket    text NOT NULL,
    noted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (rollup_id, bucket)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rollup_frozen_bucket', '');

CREATE FUNCTION @extschema@.create_rollup(
    name text, query text, realtime boolean DEFAULT true, refresh_interval interval DEFAULT '1 minute',
    batch_size bigint DEFAULT 1000000, order_column name DEFAULT NULL, backfill boolean DEFAULT true)
RETURNS integer LANGUAGE C AS 'MODULE_PATHNAME', 'strata_create_rollup';
COMMENT ON FUNCTION @extschema@.create_rollup(text, text, boolean, interval, bigint, name, boolean) IS
    'defines an incrementally maintained rollup: a table, a view named "name" and a catalog row';

CREATE FUNCTION @extschema@.refresh_rollup(name text, max_steps integer DEFAULT NULL)
RETURNS jsonb LANGUAGE C AS 'MODULE_PATHNAME', 'strata_refresh_rollup';

CREATE FUNCTION @extschema@.drop_rollup(name text, if_exists boolean DEFAULT false)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'strata_drop_rollup';

CREATE FUNCTION @extschema@.alter_rollup(
    name text, refresh_interval interval DEFAULT NULL, realtime boolean DEFAULT NULL,
    batch_size bigint DEFAULT NULL, enabled boolean DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'strata_alter_rollup';

-- Waits (polling, never queueing on a lock) until every transaction that currently holds a write lock
-- on the table or any of its partitions has ended; false after timeout_ms.
CREATE FUNCTION @extschema@.wait_for_writers(rel regclass, timeout_ms integer)
RETURNS boolean LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'strata_wait_for_writers';

-- Progress lookups used by the real-time views (stable: evaluated once per scan).
CREATE FUNCTION @extschema@.rollup_watermark(rollup_id integer) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT watermark FROM @extschema@.rollup WHERE id = rollup_id $$;
CREATE FUNCTION @extschema@.rollup_backfill_cursor(rollup_id integer) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT backfill_cursor FROM @extschema@.rollup WHERE id = rollup_id $$;

-- Lag of one rollup: source rows not yet absorbed (by order value, so gaps left by rollbacks count) and
-- buckets waiting for a recompute.
CREATE FUNCTION @extschema@._rollup_lag(rollup_id integer, OUT lag_rows bigint, OUT pending_buckets bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE r record;
BEGIN
    SELECT * INTO r FROM @extschema@.rollup WHERE id = rollup_id;
    IF r.order_sequence IS NOT NULL THEN
        lag_rows := GREATEST(COALESCE(pg_catalog.pg_sequence_last_value(r.order_sequence), 0) - r.watermark, 0)
                    + COALESCE(r.backfill_cursor - r.backfill_floor, 0);
    END IF;
    EXECUTE pg_catalog.format('SELECT count(DISTINCT b) FROM %s', r.pending_table) INTO pending_buckets;
END $$;

CREATE VIEW @extschema@.rollups AS
SELECT r.view AS name, r.source, src.view AS source_rollup, r.level, r.realtime, r.enabled, r.refresh_interval,
       r.batch_size, r.watermark, l.lag_rows,
       CASE WHEN l.lag_rows > 0 OR l.pending_buckets > 0
            THEN pg_catalog.now() - COALESCE(r.caught_up_at, r.created_at) ELSE interval '0' END AS lag_time,
       l.pending_buckets, r.backfill_cursor IS NULL AS backfill_done,
       CASE WHEN r.backfill_cursor IS NULL THEN 1.0
            ELSE round(1 - (r.backfill_cursor - r.backfill_floor)::numeric
                           / NULLIF(r.watermark - r.backfill_floor, 0), 4) END AS backfill_progress,
       r.last_refresh_at, r.last_duration_ms, r.last_rows, r.rows_processed, r.buckets_recomputed,
       (SELECT count(*) FROM @extschema@.rollup_frozen_bucket f WHERE f.rollup_id = r.id) AS frozen_buckets,
       r.last_error, r.last_error_at, r.data_table, r.query
FROM @extschema@.rollup r
LEFT JOIN @extschema@.rollup src ON src.id = r.source_rollup
CROSS JOIN LATERAL @extschema@._rollup_lag(r.id) l;

GRANT SELECT ON @extschema@.rollup, @extschema@.rollup_column, @extschema@.rollup_frozen_bucket,
    @extschema@.rollups TO PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.wait_for_writers(regclass, integer) FROM PUBLIC;
