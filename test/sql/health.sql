-- Ingest health (src/health/README.md): strata.ingest_health, strata.horizon_holders, strata.lock_waits and
-- strata.health_alerts, their thresholds from the strata.health_* settings, the worker's pass
-- (strata._health_pass, run here by hand) and what a role without privileges sees. Sessions holding the
-- horizon, lock chains and alerts in the server log are tested on a live cluster (test/cluster/t26_health.sh).
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
CREATE SCHEMA ih;
SET search_path = ih, public;
SELECT set_config('strata.test_now', '2026-11-20 00:00:00+00', false) IS NOT NULL AS clock_set;
CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int) PARTITION BY RANGE (ts);
SELECT strata.create_partition_set('ih.ev', 'ts', '1 day', premake => 2, default_partition => true,
                                   start_partition => '2026-11-18') > 0 AS created;
CREATE INDEX ON ev (ts);
INSERT INTO ev (ts, channel) SELECT '2026-11-18'::timestamptz + i * interval '1 minute', i % 5 FROM generate_series(0, 3000) i;
-- Rows the set has no partition for: far in the future (premake ran out) and long before it began.
INSERT INTO ev (ts, channel) VALUES ('2027-01-01', 1), ('2027-01-02', 1), ('2020-01-01', 2);
ANALYZE ev;
-- The pass reads the cumulative statistics: this session's counts are flushed at its next statement.
SELECT count(*) AS flushed FROM pg_stat_force_next_flush();
CREATE TABLE plain (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int);
CREATE INDEX ON plain (id);
SELECT strata.create_rollup('ih.plain_hourly', $$SELECT date_trunc('hour', ts) AS hour, channel, count(*) AS n
  FROM ih.plain GROUP BY 1, 2$$) > 0 AS rollup_created;

-- The worker's pass, by hand: samples every watched table and returns the alerts due now.
SELECT condition, message FROM strata._health_pass() ORDER BY 1;
-- Again at once: nothing new to log (each condition is logged once, then after strata.health_alert_repeat).
SELECT count(*) AS logged_again FROM strata._health_pass();
SELECT condition FROM strata.health_alerts ORDER BY 1;
SELECT count(DISTINCT relid) AS tables_sampled FROM strata.ingest_sample;

SELECT relation, kind, time_column, newest_value, partitions_ahead, premake, default_rows, default_beyond_newest,
       default_null_key, default_below_oldest, status, reason
FROM strata.ingest_health ORDER BY relation::text;

-- Thresholds come from the settings: with room for 3 rows in the default partition and no premade
-- partition required, the set is ok.
SET strata.health_max_default_rows = 3;
SET strata.health_min_partitions_ahead = 0;
SELECT relation, status, reason FROM strata.ingest_health WHERE relation = 'ih.ev'::regclass;
RESET strata.health_max_default_rows;
RESET strata.health_min_partitions_ahead;

-- No session holds the horizon here; a prepared transaction would (test/cluster/t26_health.sh).
SELECT count(*) AS holders FROM strata.horizon_holders WHERE kind = 'session';
SELECT count(*) AS waits FROM strata.lock_waits;

-- A role sees only the tables it may read, and alert messages (which name sessions and users) only with
-- pg_read_all_stats.
CREATE ROLE ih_viewer;
GRANT USAGE ON SCHEMA ih TO ih_viewer;
SET ROLE ih_viewer;
SELECT count(*) AS visible_tables FROM strata.ingest_health;
SELECT DISTINCT message FROM strata.health_alerts;
RESET ROLE;
GRANT SELECT ON ev TO ih_viewer;
SET ROLE ih_viewer;
SELECT relation, default_rows, default_beyond_newest FROM strata.ingest_health;
RESET ROLE;
-- The settings are superuser-set: a role cannot lift a threshold.
SET ROLE ih_viewer;
SET strata.health_max_default_rows = 100;
RESET ROLE;
REVOKE ALL ON ev FROM ih_viewer;
REVOKE USAGE ON SCHEMA ih FROM ih_viewer;
DROP ROLE ih_viewer;

-- Conditions that clear are forgotten.
DELETE FROM ev WHERE ts >= '2027-01-01' OR ts < '2026-01-01';
SELECT count(*) AS flushed FROM pg_stat_force_next_flush();
SELECT condition FROM strata._health_pass() ORDER BY 1;
SELECT condition FROM strata.health_alerts ORDER BY 1;

SELECT strata.drop_rollup('ih.plain_hourly');
SELECT strata.undo_partition_set('ih.ev');
DROP SCHEMA ih CASCADE;
RESET strata.test_now;
