-- Partition sets: creation, naming, premake, templates, retention, default partition, undo.
-- Integer sets give fixed names; time sets run under a fixed clock (strata.test_now), so names and counts
-- are the same on any day; the history check also runs over several faked dates and once on the real clock.
SET strata.test_now = '2026-12-04 10:30:00+00';
CREATE ROLE strata_app;
CREATE ROLE strata_reader;
CREATE TABLE videos (video_id bigint NOT NULL, title text, score int GENERATED ALWAYS AS (length(title)) STORED,
                     CHECK (video_id >= 0)) PARTITION BY RANGE (video_id);
CREATE INDEX ON videos (title);
ALTER TABLE videos OWNER TO strata_app;
GRANT SELECT ON videos TO strata_reader;
INSERT INTO videos (video_id, title) VALUES (1, 'x') ;  -- no partition yet: fails
SELECT strata.create_partition_set('videos', 'video_id', 1000, premake => 2,
       partition_options => '{fillfactor=90,autovacuum_vacuum_scale_factor=0.01}');
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound, c.reloptions, c.relowner::regrole,
       has_table_privilege('strata_reader', c.oid, 'SELECT') AS reader_can_select,
       (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid) AS indexes
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'videos'::regclass ORDER BY c.relname;
SELECT parent, control_column, key_type, partition_interval, premake, partition_count, oldest_bound, newest_bound,
       partitions_ahead, default_rows, actions_due FROM strata.partition_sets;
-- Nothing due: maintenance does nothing.
SELECT * FROM strata.run_maintenance('videos');
-- Data reaches the second partition: one more is due, named after its range.
INSERT INTO videos (video_id, title) SELECT g, 'v' || g FROM generate_series(0, 1500) g;
SELECT action, partition, status FROM strata.run_maintenance('videos');
SELECT * FROM strata.run_maintenance('videos');
-- Retention by key distance: partitions entirely below max - 2500 go; the data in them goes with them.
SELECT strata.alter_partition_set('videos', retention => '2500');
INSERT INTO videos (video_id, title) SELECT g, 'v' || g FROM generate_series(1501, 3999) g;
SELECT action, partition, status FROM strata.run_maintenance('videos') ORDER BY action, partition;
SELECT min(video_id), max(video_id), count(*) FROM videos;
SELECT relname FROM pg_class WHERE relname LIKE 'videos_p%' AND relkind = 'r' ORDER BY 1;
-- Keeping detached tables instead of dropping them.
SELECT strata.alter_partition_set('videos', retention => '1500', retention_keep_table => true);
SELECT action, partition, status FROM strata.run_maintenance('videos') ORDER BY action, partition;
SELECT relname, relispartition FROM pg_class WHERE relname IN ('videos_p1000', 'videos_p2000') ORDER BY 1;
SELECT count(*) AS kept_rows FROM videos_p1000;
DROP TABLE videos_p1000;
-- Settings survive a dump: the configuration table is registered with pg_extension_config_dump.
SELECT e.extconfig::regclass[] FROM pg_extension e WHERE e.extname = 'strata';
SELECT partition_interval, premake, retention, retention_keep_table, partition_options FROM strata.partition_set;
-- A daily timestamptz set: today's partition and two ahead, named from the UTC date.
CREATE TABLE events (id bigint, ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
SELECT strata.create_partition_set('events', 'ts', interval '1 day', premake => 2);
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1;
INSERT INTO events SELECT g, timestamptz '2026-12-04 10:30:00+00' + (g || ' hours')::interval FROM generate_series(0, 23) g;
-- start_partition: history back to a date, bounded. Monthly history from 95 days back is 5 or 6 months
-- depending on the day of the month; run it under several faked dates (month starts and ends, a leap
-- day, a year end) and compare with the count computed from the calendar: one month per range from the
-- month of the start to the current one, plus premake.
CREATE FUNCTION hist_history(today date, fake bool, OUT created int, OUT expected int, OUT first_partition name,
                             OUT last_partition name) LANGUAGE plpgsql AS $$
BEGIN
  IF fake THEN PERFORM set_config('strata.test_now', today::text || ' 12:00', true); END IF;
  CREATE TABLE hist (d date NOT NULL) PARTITION BY RANGE (d);
  created := strata.create_partition_set('hist', 'd', '1 month', premake => 1, start_partition => (today - 95)::text);
  expected := (extract(year FROM age(date_trunc('month', today), date_trunc('month', today - 95))) * 12 +
               extract(month FROM age(date_trunc('month', today), date_trunc('month', today - 95))))::int + 1 + 1;
  SELECT min(c.relname), max(c.relname) INTO first_partition, last_partition
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'hist'::regclass;
  DROP TABLE hist;
END $$;
BEGIN;
SELECT d AS faked_today, h.* FROM unnest('{2026-12-04,2026-12-05,2026-01-01,2026-01-31,2024-02-29,2026-03-01,2026-12-31}'::date[]) d,
       LATERAL hist_history(d, true) h;
COMMIT;
-- ... and on the real clock, whatever today is.
RESET strata.test_now;
SELECT created = expected AS history_matches_calendar FROM hist_history(current_date, false);
SET strata.test_now = '2026-12-04 10:30:00+00';
DROP FUNCTION hist_history(date, bool);
-- A default partition: late rows are moved home, far-future and NULL keys stay (and are reported).
CREATE TABLE late (id int, ts timestamp NOT NULL, payload text) PARTITION BY RANGE (ts);
SELECT strata.create_partition_set('late', 'ts', '1 hour', premake => 1, default_partition => true);
-- (the wall clock of 2026-12-04 10:30 UTC in the regression time zone, PST8PDT, is 02:30)
INSERT INTO late VALUES (1, '2026-12-03 21:30', 'late'), (2, '2026-12-03 21:45', 'late'),
                        (3, '2026-12-02 21:30', 'later'), (4, '2036-12-04 02:30', 'future');
SELECT default_rows FROM strata.partition_sets WHERE parent = 'late'::regclass;
SELECT action, partition, status, message FROM strata.run_maintenance('late') ORDER BY action, partition;
SELECT id, tableoid::regclass = 'late_default'::regclass AS in_default FROM late ORDER BY id;
SELECT default_rows FROM strata.partition_sets WHERE parent = 'late'::regclass;
-- Anyone may read the view; rows in a default partition they may not read show as NULL.
SET ROLE strata_reader;
SELECT parent, partition_count, default_rows FROM strata.partition_sets WHERE parent = 'late'::regclass;
RESET ROLE;
-- The default partition gets the template too: owner and grants of the parent, the set's options.
CREATE TABLE owned (id int NOT NULL) PARTITION BY RANGE (id);
ALTER TABLE owned OWNER TO strata_app;
GRANT SELECT ON owned TO strata_reader;
SELECT strata.create_partition_set('owned', 'id', 100, premake => 0, default_partition => true, partition_options => '{fillfactor=70}');
SELECT c.relname, c.relowner::regrole, c.reloptions, has_table_privilege('strata_reader', c.oid, 'SELECT') AS reader_can_select
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'owned'::regclass ORDER BY 1;
DROP TABLE owned;
-- The default-partition trap: a key beyond the horizon waits in the default partition; when premake
-- reaches its range, the partition is created by moving that row, not by an ATTACH that would fail.
CREATE TABLE trap (id int NOT NULL) PARTITION BY RANGE (id);
SELECT strata.create_partition_set('trap', 'id', 100, premake => 1, default_partition => true);
INSERT INTO trap VALUES (50), (450);
SELECT action, partition, status, message FROM strata.run_maintenance('trap') ORDER BY 1, 2;
INSERT INTO trap SELECT g FROM generate_series(100, 399) g;  -- 200..399 land in the default
SELECT action, partition, status FROM strata.run_maintenance('trap') ORDER BY 1, 2;
SELECT action, partition, status FROM strata.run_maintenance('trap') ORDER BY 1, 2;
SELECT tableoid::regclass AS part, count(*) FROM trap GROUP BY 1 ORDER BY 1;
DROP TABLE trap;
-- Names fit 63 bytes and stay unique for any parent name, and identifiers are always quoted.
CREATE TABLE "Events; DROP TABLE videos" (id int NOT NULL) PARTITION BY RANGE (id);
SELECT strata.create_partition_set('"Events; DROP TABLE videos"', 'id', 10, premake => 1);
CREATE TABLE "a_very_long_parent_table_name_that_goes_on_and_on_and_on_forever" (id int NOT NULL) PARTITION BY RANGE (id);
SELECT strata.create_partition_set('"a_very_long_parent_table_name_that_goes_on_and_on_and_on_forever"', 'id', 10, premake => 0);
SELECT c.relname, length(c.relname) AS len FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent IN ('"Events; DROP TABLE videos"'::regclass,
                       '"a_very_long_parent_table_name_that_goes_on_and_on_and_on_forever"'::regclass) ORDER BY 1;
SELECT to_regclass('videos') IS NOT NULL AS videos_still_there;
-- Every call was recorded.
SELECT job_kind, status, count(*) FROM strata.job_runs GROUP BY 1, 2 ORDER BY 1, 2;
-- Undo stops management and keeps every partition and row; dropping a parent forgets its set.
SELECT strata.undo_partition_set('events');
SELECT count(*) AS rows_kept, (SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass) AS partitions_kept FROM events;
SELECT parent FROM strata.partition_set ORDER BY parent::text;
DROP TABLE videos, events, late, "Events; DROP TABLE videos", "a_very_long_parent_table_name_that_goes_on_and_on_and_on_forever";
SELECT count(*) AS sets_left FROM strata.partition_set;
DROP ROLE strata_app;
DROP ROLE strata_reader;
