-- The analytics node (src/analytics/README.md): what the setup calls refuse on a node that cannot take
-- part (this cluster's wal_level is replica), who may call them, the heartbeat table's upsert, and the
-- views on a node without replication. Replication itself (two primaries, an analytics node, faults) is
-- tested on live clusters: test/cluster/t27_analytics.sh.
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
CREATE SCHEMA an;
SET search_path = an, public;
CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, v int, PRIMARY KEY (id, ts))
  PARTITION BY RANGE (ts);
CREATE TABLE ev_2026 PARTITION OF ev FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE noid (ts timestamptz, v int);

-- The primary's call: wal_level first, then nothing is created.
SELECT test_err($$CALL strata.create_analytics_publication(ARRAY['an.ev'::regclass])$$);
SELECT count(*) AS slots FROM pg_replication_slots;
SELECT count(*) AS publications FROM pg_publication;
-- The analytics node's call: superuser only; its arguments checked before anything is made.
CREATE ROLE an_user;
SET ROLE an_user;
SELECT test_err($$SELECT strata.create_analytics_subscription('s', 'host=127.0.0.1', 'p')$$);
RESET ROLE;
SELECT test_err($$SELECT strata.create_analytics_subscription('s', 'host=127.0.0.1', 'p', ARRAY['an.ev'::regclass],
                                                                partition_interval => '1 day')$$);
SELECT test_err($$SELECT strata.create_analytics_subscription('s', 'host=127.0.0.1', 'p', ARRAY['pg_catalog.pg_class_oid_index'::regclass])$$);
SELECT count(*) AS subscriptions FROM pg_subscription;
SELECT count(*) AS order_columns_added FROM pg_attribute WHERE attrelid = 'an.ev'::regclass AND attname = 'strata_order';

-- Heartbeats: one row per origin; a row for an origin already there updates it (a resync's initial copy).
INSERT INTO strata.heartbeat VALUES ('1/app', '2026-12-01 00:00:00+00', '0/1');
INSERT INTO strata.heartbeat VALUES ('1/app', '2026-12-01 00:00:05+00', '0/2');
SELECT origin, beat_at, lsn FROM strata.heartbeat;
SELECT tgenabled AS heartbeat_trigger_always FROM pg_trigger WHERE tgrelid = 'strata.heartbeat'::regclass;
DELETE FROM strata.heartbeat;

-- No slot, no subscription: the view is empty; rollups of a table that is no subscription's target show
-- no replicated_up_to.
SELECT count(*) AS health_rows FROM strata.replication_health;
SELECT strata.create_rollup('an.ev_daily', $$SELECT date_trunc('day', ts) AS day, count(*) AS n FROM an.ev GROUP BY 1$$) > 0 AS created;
SELECT name, replicated_up_to FROM strata.rollups WHERE name = 'an.ev_daily'::regclass;
SELECT row_triggers FROM strata.rollup_source WHERE source = 'an.ev'::regclass;
SELECT count(*) AS row_level_triggers FROM pg_trigger WHERE tgname LIKE 'strata_changes%' AND tgtype::int & 1 = 1;

SELECT strata.drop_rollup('an.ev_daily');
DROP ROLE an_user;
DROP SCHEMA an CASCADE;
