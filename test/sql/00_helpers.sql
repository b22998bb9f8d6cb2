-- Helpers shared by the regression tests (files run in test/schedule's order in one database).
-- test_err(sql): runs sql and shows SQLSTATE, message, detail and hint of its error (or 'no error').
CREATE FUNCTION test_err(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE s text; m text; d text; h text;
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RETURN s || ': ' || m || coalesce(E'\n  detail: ' || nullif(d, ''), '') || coalesce(E'\n  hint: ' || nullif(h, ''), '');
END $f$;

-- The rollup tests' fixtures (rollups_*.sql; each file drops what it made).
-- test_make_ev(): ev, a table partitioned by day from 2026-01-01 (four days) with an identity order column
-- and its index, holding 3,000 rows over its 96 hours (run with TimeZone UTC).
CREATE FUNCTION test_make_ev() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, channel int, viewer bigint,
                   watch_ms int, kind text, label text) PARTITION BY RANGE (ts);
  CREATE TABLE ev_p20260101 PARTITION OF ev FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');
  CREATE TABLE ev_p20260102 PARTITION OF ev FOR VALUES FROM ('2026-01-02') TO ('2026-01-03');
  CREATE TABLE ev_p20260103 PARTITION OF ev FOR VALUES FROM ('2026-01-03') TO ('2026-01-04');
  CREATE TABLE ev_p20260104 PARTITION OF ev FOR VALUES FROM ('2026-01-04') TO ('2026-01-05');
  CREATE INDEX ON ev (id);
  INSERT INTO ev (ts, channel, viewer, watch_ms, kind, label)
  SELECT timestamptz '2026-01-01' + (g % 96) * interval '1 hour' + (g % 7) * interval '1 minute', g % 3, g % 41,
         (g * 37) % 5000, CASE WHEN g % 9 = 0 THEN 'ad' ELSE 'view' END, 'l' || (g % 4)
  FROM generate_series(1, 3000) g;
END $f$;
-- test_make_ev_hourly(): ev_hourly, the rollup of ev with every measure; true once created.
CREATE FUNCTION test_make_ev_hourly() RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
  RETURN strata.create_rollup('ev_hourly', $q$
    SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views, count(watch_ms) AS watched,
           sum(watch_ms) AS watch, min(watch_ms) AS shortest, max(watch_ms) AS longest, avg(watch_ms) AS avg_watch,
           strata.hll_agg(viewer) AS viewers, strata.qsketch_agg(watch_ms) AS watch_q, strata.topk_agg(label, 3) AS labels
    FROM ev WHERE kind = 'view' GROUP BY 1, 2 $q$, batch_size => 1000) > 0;
END $f$;
-- test_make_ev_direct(): ev_direct, the view ev_hourly must equal: the same query over the raw rows.
CREATE FUNCTION test_make_ev_direct() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  CREATE VIEW ev_direct AS
    SELECT date_trunc('hour', ts) AS bucket, channel, count(*) AS views, count(watch_ms) AS watched,
           sum(watch_ms) AS watch, min(watch_ms) AS shortest, max(watch_ms) AS longest, avg(watch_ms) AS avg_watch,
           strata.hll_agg(viewer)::text AS viewers, strata.qsketch_agg(watch_ms)::text AS watch_q,
           strata.topk_agg(label, 3)::text AS labels
    FROM ev WHERE kind = 'view' GROUP BY 1, 2;
END $f$;
-- rollup_diff(v): the rows in which the rollup view v and ev_direct differ (0: equal).
CREATE FUNCTION rollup_diff(v regclass) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE n bigint; cols text := 'bucket, channel, views, watched, watch, shortest, longest, avg_watch, '
                                'viewers::text, watch_q::text, labels::text';
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT %s FROM %s EXCEPT ALL SELECT * FROM ev_direct) UNION ALL '
                 '(SELECT * FROM ev_direct EXCEPT ALL SELECT %s FROM %s)) d', cols, v, cols, v) INTO n;
  RETURN n;
END $f$;
-- test_change_ev(): new, late (also into a partition directly), updated and deleted rows of ev, as
-- rollups_merge makes them step by step.
CREATE FUNCTION test_change_ev() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO ev (ts, channel, viewer, watch_ms, kind, label) VALUES
    ('2026-01-04 10:05', 1, 7, 100, 'view', 'l1'), ('2026-01-01 00:10', 2, 900, 10, 'view', 'l9');
  INSERT INTO ev_p20260102 (ts, channel, viewer, watch_ms, kind, label) VALUES ('2026-01-02 03:00', 0, 901, 5, 'view', 'l0');
  UPDATE ev SET watch_ms = watch_ms + 1 WHERE id % 50 = 0;
  UPDATE ev SET channel = NULL WHERE id = 4;
  DELETE FROM ev WHERE id % 97 = 0;
END $f$;
