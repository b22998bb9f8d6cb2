-- strata 0.13.0 -> 0.14.0: the health pass in C++ after the partition pass (src/health/README.md), and the
-- durations of the workers' last pass in strata.workers.
\echo Use "ALTER EXTENSION strata UPDATE TO '0.14.0'" to load this file. \quit

-- A source that is a logical replication subscription's target: UPDATE and DELETE tracked by row triggers.
ALTER TABLE @extschema@.rollup_source ADD COLUMN row_triggers boolean NOT NULL DEFAULT false;

DROP VIEW @extschema@.workers;
DROP FUNCTION @extschema@._worker_slots();
CREATE FUNCTION @extschema@._worker_slots(
    OUT datname text, OUT pid integer, OUT state text, OUT started_at timestamptz, OUT last_pass_at timestamptz,
    OUT passes bigint, OUT naptime_ms integer, OUT failures integer, OUT last_error text,
    OUT waiting_since timestamptz, OUT last_pass_ms double precision, OUT last_health_ms double precision)
RETURNS SETOF record LANGUAGE C
AS 'MODULE_PATHNAME', 'strata_worker_status';
-- The background workers of this cluster (empty when strata is not in shared_preload_libraries).
CREATE VIEW @extschema@.workers AS
SELECT w.datname, w.pid, w.state, w.started_at, w.last_pass_at, w.passes, w.naptime_ms, w.failures, w.last_error,
       w.waiting_since, pg_catalog.clock_timestamp() - w.waiting_since AS waiting_for, w.last_pass_ms, w.last_health_ms
FROM @extschema@._worker_slots() w;
GRANT SELECT ON @extschema@.workers TO PUBLIC;

-- A threshold setting, with its default when strata is not loaded in the session.
CREATE OR REPLACE FUNCTION @extschema@._health_setting(name text, fallback bigint) RETURNS bigint
LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'strata_health_setting';

DROP FUNCTION @extschema@._health_pass();

-- The health pass's alert state (src/health/README.md; the pass itself is C: strata._health_pass() runs it
-- by hand): records lock waits on watched tables (check_locks: a session of this database waits for a
-- lock), reads the horizon holders (check_holders: one may hold), takes the sets' conditions the pass
-- found (partitions ahead below the threshold, default partitions above it), and returns the alerts to log
-- now (new, changed, or repeated after strata.health_alert_repeat); cleared conditions are removed, but
-- not those of sets left out of the pass (behind a lock queue).
CREATE FUNCTION @extschema@._health_alerts(ahead_sets oid[], ahead_counts integer[], default_sets oid[],
    default_counts bigint[], left_out oid[], check_locks boolean, check_holders boolean, check_replication boolean,
    OUT condition text, OUT message text)
RETURNS SETOF record LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms' AS $$
DECLARE
  lock_ms bigint := @extschema@._health_setting('health_lock_wait', 1000);
  repeat_s bigint := @extschema@._health_setting('health_alert_repeat', 3600);
  min_ahead bigint := @extschema@._health_setting('health_min_partitions_ahead', 1);
  max_default bigint := @extschema@._health_setting('health_max_default_rows', 0);
  max_slot_mb bigint := @extschema@._health_setting('health_max_slot_wal', 1024);
  seen text[] := '{}';
  cond record;
BEGIN
  -- Lock waits longer than strata.health_lock_wait on a watched table or one of its partitions, each
  -- with its chain of blockers (pg_blocking_pids, to a session that waits for nobody).
  WITH RECURSIVE waiting AS (
    SELECT l.pid, l.relation, l.mode, l.waitstart FROM pg_locks l
    WHERE check_locks AND NOT l.granted AND l.locktype = 'relation'
      AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
      AND l.waitstart < now() - make_interval(secs => lock_ms / 1000.0)),
  up(relation, relid) AS (  -- each waited-for relation and its ancestors (pg_inherits: no lock)
    SELECT DISTINCT w.relation, w.relation FROM waiting w
    UNION ALL
    SELECT u.relation, i.inhparent FROM up u JOIN pg_inherits i ON i.inhrelid = u.relid),
  waits AS (  -- one watched table per wait (trees may nest: the innermost)
    SELECT DISTINCT ON (w.pid, w.relation) w.pid, w.relation, w.mode, w.waitstart, t.relid::oid AS watched
    FROM waiting w JOIN up u ON u.relation = w.relation JOIN @extschema@._health_tables() t ON t.relid::oid = u.relid
    ORDER BY w.pid, w.relation, t.relid <> w.relation, t.relid),
  chain(waiter, relation, pid, depth) AS (  -- UNION: each blocker once per depth (no path explosion)
    SELECT w.pid, w.relation, w.pid, 0 FROM waits w
    UNION
    SELECT c.waiter, c.relation, b.pid, c.depth + 1
    FROM chain c CROSS JOIN LATERAL unnest(pg_blocking_pids(c.pid)) b(pid)
    WHERE b.pid <> c.waiter AND c.depth < 8),
  described AS (
    SELECT DISTINCT ON (c.waiter, c.relation, c.pid) c.waiter, c.relation, c.depth, c.pid, a.usename, a.state, a.xact_start, a.query, a.wait_event_type,
           (SELECT l.mode FROM pg_locks l WHERE l.pid = c.pid AND NOT l.granted LIMIT 1) AS waits_for,
           cardinality(pg_blocking_pids(c.pid)) = 0 AS is_root
    FROM chain c LEFT JOIN pg_stat_activity a ON a.pid = c.pid
    ORDER BY c.waiter, c.relation, c.pid, c.depth),
  per_wait AS (
    SELECT w.pid, w.relation, w.mode, w.waitstart, w.watched,
           jsonb_agg(jsonb_build_object('pid', d.pid, 'depth', d.depth, 'user', d.usename, 'state', d.state,
                                        'waits_for', d.waits_for, 'xact_start', d.xact_start, 'query', left(d.query, 200))
                     ORDER BY d.depth, d.pid) AS chain,
           (array_agg(d.pid ORDER BY d.is_root DESC, d.depth DESC, d.pid))[1] AS root_pid
    FROM waits w JOIN described d ON d.waiter = w.pid AND d.relation = w.relation
    GROUP BY w.pid, w.relation, w.mode, w.waitstart, w.watched)
  INSERT INTO @extschema@.lock_wait AS t (relation, relation_name, watched, waiting_pid, waiting_user, waiting_query,
      lock_mode, waiting_since, last_seen, chain, root_pid, root_user, root_state, root_xact_start, root_query, summary)
  SELECT p.relation, p.relation::regclass::text, p.watched, p.pid, wa.usename, wa.query, p.mode, p.waitstart, now(), p.chain,
         p.root_pid, ra.usename, ra.state, ra.xact_start, ra.query,
         format('pid %s (%s) waited %s for %s on %s behind %s', p.pid, left(regexp_replace(COALESCE(wa.query, '?'), '\s+', ' ', 'g'), 60),
                date_trunc('second', now() - p.waitstart), p.mode, p.relation::regclass,
                (SELECT string_agg(format('pid %s (%s%s)', e ->> 'pid', COALESCE(e ->> 'state', '?'),
                                          CASE WHEN e ->> 'waits_for' IS NOT NULL THEN ', waiting for ' || (e ->> 'waits_for') ELSE '' END
                                          || CASE WHEN e ->> 'xact_start' IS NOT NULL
                                                  THEN ', in a transaction for ' || date_trunc('second', now() - (e ->> 'xact_start')::timestamptz) ELSE '' END),
                                   ' behind ' ORDER BY (e ->> 'depth')::int)
                   FROM jsonb_array_elements(p.chain) e WHERE (e ->> 'depth')::int > 0))
  FROM per_wait p
  LEFT JOIN pg_stat_activity wa ON wa.pid = p.pid
  LEFT JOIN pg_stat_activity ra ON ra.pid = p.root_pid
  ON CONFLICT (waiting_pid, waiting_since, relation) DO UPDATE
    SET last_seen = excluded.last_seen, chain = excluded.chain, root_pid = excluded.root_pid, root_user = excluded.root_user,
        root_state = excluded.root_state, root_xact_start = excluded.root_xact_start, root_query = excluded.root_query,
        summary = excluded.summary;
  DELETE FROM @extschema@.lock_wait w WHERE w.last_seen < now() - interval '7 days';

  -- The conditions now: each a key, a signature (what makes it a new condition) and a message.
  FOR cond IN
    -- A holder is one condition while its transaction lasts (its start, or a slot's name, as signature).
    SELECT 'horizon:' || h.kind || ':' || COALESCE(h.pid::text, h.application) AS key,
           COALESCE(h.since::text, h.application) AS signature,
           CASE WHEN h.state LIKE '%catalog rows only%'
                THEN format('strata: replication slot %s (%s) holds back the catalog xmin horizon of database %s (xid age %s): vacuum of system catalogs removes no row version newer; the slot also retains WAL',
                            quote_literal(h.application), h.state, current_database(), h.xmin_age)
                ELSE format('strata: %s %s (user %s, %s) holds back the xmin horizon of database %s (xid age %s%s): vacuum removes no row version deleted or updated since; %s dead tuples accumulated in watched tables since',
                            h.kind, COALESCE(h.pid::text, quote_literal(h.application)), COALESCE(h.user_name::text, '-'), COALESCE(h.state, '-'),
                            current_database(), h.xmin_age, CASE WHEN h.held_for IS NOT NULL THEN ', for ' || date_trunc('second', h.held_for) ELSE '' END,
                            COALESCE(h.dead_tuples_since::text, 'unknown')) END AS msg
    FROM @extschema@.horizon_holders h
    WHERE check_holders AND (h.kind <> 'replication slot' OR h.state LIKE 'inactive%')
    UNION ALL
    -- A lock queue is one condition per watched table and root blocker, however many wait in it.
    SELECT 'lock:' || w.watched || ':' || w.root_pid, w.root_pid::text,
           format('strata: lock queue on %s: %s session(s) waiting behind pid %s; the longest: %s', w.watched::regclass, count(*),
                  w.root_pid, (array_agg(w.summary ORDER BY w.waiting_since))[1])
    FROM @extschema@.lock_wait w WHERE w.last_seen = now() GROUP BY w.watched, w.root_pid
    UNION ALL
    SELECT 'ahead:' || x.parent::regclass, x.partitions_ahead::text,
           format('strata: partition set %s has %s premade partition(s) ahead of the newest one holding rows (premake %s, alert below %s): rows beyond go to the default partition or fail',
                  x.parent::regclass, x.partitions_ahead, s.premake, min_ahead)
    FROM unnest(ahead_sets, ahead_counts) AS x(parent, partitions_ahead)
    JOIN @extschema@.partition_set s ON s.parent::oid = x.parent
    UNION ALL
    -- Rows arriving in a default partition change its count each pass: one condition while it holds more.
    SELECT 'default:' || x.parent::regclass, '',
           format('strata: the default partition of %s holds %s row(s) (alert above %s): see strata.ingest_health for why', x.parent::regclass,
                  x.default_rows, max_default)
    FROM unnest(default_sets, default_counts) AS x(parent, default_rows)
    JOIN @extschema@.partition_set s ON s.parent::oid = x.parent
    UNION ALL
    -- An analytics node's slot retaining more WAL than strata.health_max_slot_wal, or about to be (or)
    -- lost; a subscription disabled (after an apply error).
    SELECT 'slot:' || r.name, r.wal_status,
           format('strata: logical replication slot %s retains %s of WAL (%s; alert above %s MB): its subscriber is down or behind; %s',
                  quote_ident(r.name), pg_size_pretty(r.retained_bytes), r.wal_status, max_slot_mb, r.status)
    FROM @extschema@.replication_health r
    WHERE check_replication AND r.side = 'publisher'
      AND (r.retained_bytes > max_slot_mb * 1024 * 1024 OR r.wal_status IN ('unreserved', 'lost'))
    UNION ALL
    SELECT 'subscription:' || r.name, 'disabled',
           format('strata: subscription %s is disabled: %s', quote_ident(r.name), r.status)
    FROM @extschema@.replication_health r
    WHERE check_replication AND r.side = 'subscriber' AND NOT r.running
  LOOP
    seen := seen || cond.key;
    INSERT INTO @extschema@.health_alert AS a (condition, signature, message, first_seen, last_seen, last_logged)
    VALUES (cond.key, COALESCE(cond.signature, ''), cond.msg, now(), now(), now())
    ON CONFLICT ON CONSTRAINT health_alert_pkey DO UPDATE
      SET last_seen = now(), message = excluded.message,
          signature = excluded.signature,
          last_logged = CASE WHEN a.signature IS DISTINCT FROM excluded.signature
                               OR a.last_logged < now() - make_interval(secs => repeat_s) THEN now() ELSE a.last_logged END;
    IF (SELECT a.last_logged = now() FROM @extschema@.health_alert a WHERE a.condition = cond.key) THEN
      condition := cond.key;
      message := cond.msg;
      RETURN NEXT;
    END IF;
  END LOOP;
  -- Cleared conditions go; a set left out of the figures (behind a lock queue) keeps its own.
  DELETE FROM @extschema@.health_alert a WHERE a.condition <> ALL (seen)
     AND NOT EXISTS (SELECT FROM unnest(left_out) AS x(parent)
                      WHERE a.condition IN ('ahead:' || x.parent::regclass, 'default:' || x.parent::regclass));
END $$;
REVOKE ALL ON FUNCTION @extschema@._health_alerts(oid[], integer[], oid[], bigint[], oid[], boolean, boolean, boolean) FROM PUBLIC;

-- The worker's health pass run by hand, in the caller's transaction (everything read afresh): samples the
-- watched tables' counters that moved, then strata._health_alerts; returns the alerts the worker would
-- log now.
CREATE FUNCTION @extschema@._health_pass(OUT condition text, OUT message text)
RETURNS SETOF record LANGUAGE C SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms'
AS 'MODULE_PATHNAME', 'strata_health_pass';
REVOKE ALL ON FUNCTION @extschema@._health_pass() FROM PUBLIC;

-------------------------------------------------------------------------------- analytics node
-- A primary publishes its tables and strata.heartbeat to an analytics node, which subscribes and holds
-- the rollups (src/analytics/README.md).

-- One row per publishing node and database, written by its worker every strata.heartbeat_interval and
-- replicated with its tables: on the analytics node, every transaction the origin committed before
-- beat_at has been applied once its row shows beat_at.
CREATE TABLE @extschema@.heartbeat (
    origin  text PRIMARY KEY,       -- the publishing cluster's system identifier / database
    beat_at timestamptz NOT NULL,   -- when the origin wrote the row
    lsn     pg_lsn NOT NULL         -- the origin's WAL position then
);
GRANT SELECT ON @extschema@.heartbeat TO PUBLIC;
-- A row for an origin already here (a subscription made again after a resync copies the origin's row
-- anew) updates it: the initial copy must not fail on the key. ENABLE ALWAYS: it fires in apply and in
-- the initial copy; its names are qualified and its search_path its own (apply runs with an empty one).
CREATE FUNCTION @extschema@._heartbeat_upsert() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE @extschema@.heartbeat h SET beat_at = NEW.beat_at, lsn = NEW.lsn WHERE h.origin = NEW.origin;
  IF FOUND THEN RETURN NULL; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER heartbeat_upsert BEFORE INSERT ON @extschema@.heartbeat FOR EACH ROW
EXECUTE FUNCTION @extschema@._heartbeat_upsert();
ALTER TABLE @extschema@.heartbeat ENABLE ALWAYS TRIGGER heartbeat_upsert;

-- The primary's side: a publication of the tables (and strata.heartbeat) with publish_via_partition_root,
-- then its logical replication slot. A procedure, called on its own (not inside BEGIN ... COMMIT): the
-- publication is committed first, and the slot is made in the next transaction (a slot cannot be made
-- after a write in its transaction, and one made before the publication commits cannot decode what
-- commits in between: "publication does not exist"); when the slot cannot be made, the publication is
-- dropped again and the error raised. Refuses what breaks the contract: wal_level below logical, a table
-- without a replica identity for UPDATE/DELETE, an existing publication or slot of that name. Warns when
-- max_slot_wal_keep_size is -1 (a subscriber that stays down retains WAL without limit). As the caller:
-- the owner of the tables and of strata.heartbeat (the extension's owner, or a superuser), with the
-- REPLICATION attribute. Returns the slot's name in `slot`.
CREATE PROCEDURE @extschema@.create_analytics_publication(tables regclass[], publication name DEFAULT 'strata_analytics',
    INOUT slot name DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  the_slot name := COALESCE(slot, publication);
  t regclass;
  bad text;
  failed text;
  failed_state text;
BEGIN
  -- (A procedure that commits cannot have SET clauses: the path is set per transaction.)
  SET LOCAL search_path = pg_catalog, pg_temp;
  IF current_setting('wal_level') <> 'logical' THEN
    RAISE EXCEPTION 'wal_level is %, logical replication needs logical', current_setting('wal_level')
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'ALTER SYSTEM SET wal_level = logical, then restart the server.';
  END IF;
  IF tables IS NULL OR cardinality(tables) = 0 THEN
    RAISE EXCEPTION 'no tables to publish' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT FROM pg_publication p WHERE p.pubname = publication) THEN
    RAISE EXCEPTION 'publication % already exists', quote_ident(publication) USING ERRCODE = 'duplicate_object';
  END IF;
  IF EXISTS (SELECT FROM pg_replication_slots s WHERE s.slot_name = the_slot) THEN
    RAISE EXCEPTION 'replication slot % already exists', quote_ident(the_slot) USING ERRCODE = 'duplicate_object',
      HINT = 'Name another with slot => ..., or drop it with pg_drop_replication_slot() if nothing uses it.';
  END IF;
  FOREACH t IN ARRAY tables LOOP
    IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = t AND c.relkind IN ('r', 'p')) THEN
      RAISE EXCEPTION '% is not a table', t USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT pg_has_role((SELECT c.relowner FROM pg_class c WHERE c.oid = t), 'USAGE') THEN
      RAISE EXCEPTION 'must be owner of table %', t USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- UPDATE and DELETE replicate only with a replica identity: on each table that holds rows (the leaves).
    SELECT string_agg(c.oid::regclass::text, ', ') INTO bad
    FROM (SELECT l.relid FROM pg_partition_tree(t) l WHERE l.isleaf UNION SELECT t) l JOIN pg_class c ON c.oid = l.relid
    WHERE c.relkind = 'r' AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (
            SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)));
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'table % has no replica identity for UPDATE and DELETE (%)', t, bad
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'A publication of a table without one fails every UPDATE and DELETE on the primary.',
              HINT = format('Add a primary key, or ALTER TABLE %s REPLICA IDENTITY FULL (each row sent whole).', t);
    END IF;
  END LOOP;
  IF current_setting('max_slot_wal_keep_size') = '-1' THEN
    RAISE WARNING 'max_slot_wal_keep_size is -1: a subscriber that stays down makes this server keep WAL without limit'
      USING HINT = 'Set max_slot_wal_keep_size (the slot is then lost past it, and the analytics node needs a resync: see src/analytics/README.md).';
  END IF;
  EXECUTE format('CREATE PUBLICATION %I FOR TABLE %s, @extschema@.heartbeat WITH (publish_via_partition_root = true)',
                 publication, (SELECT string_agg(x::text, ', ') FROM unnest(tables) x));
  COMMIT;
  SET LOCAL search_path = pg_catalog, pg_temp;
  BEGIN
    PERFORM pg_create_logical_replication_slot(the_slot, 'pgoutput');
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS failed = MESSAGE_TEXT, failed_state = RETURNED_SQLSTATE;
  END;
  IF failed IS NOT NULL THEN
    EXECUTE format('DROP PUBLICATION %I', publication);
    COMMIT;
    RAISE EXCEPTION 'could not create replication slot %: % (the publication was dropped again)', quote_ident(the_slot), failed
      USING ERRCODE = failed_state;
  END IF;
  INSERT INTO @extschema@.job_runs (job_kind, target, status, message, finished_at, run_as)
  VALUES ('analytics_publication', quote_ident(publication), 'ok',
          format('publication %s of %s table(s) and strata.heartbeat, slot %s', quote_ident(publication),
                 cardinality(tables), quote_ident(the_slot)), clock_timestamp(), current_user);
  slot := the_slot;
END $$;

-- The analytics node's side: the subscription (its slot made by create_analytics_publication, not
-- here: CREATE SUBSCRIPTION can make one only outside a transaction), with disable_on_error (an apply
-- error stops and says so in strata.replication_health instead of retrying forever). Before it, for each
-- local table of the publication: a subscriber-local order column (order_column, filled by a sequence
-- with CACHE 1 in the order rows arrive), and with partition_interval, a partition set on time_column
-- from start_partition (the oldest time the primary holds), premake ahead and a default partition, so
-- apply never meets a missing partition (retention kept here longer than on the primary). The local tables must exist with the publisher's columns (pg_dump --schema-only of them).
-- Superuser only (CREATE SUBSCRIPTION).
CREATE FUNCTION @extschema@.create_analytics_subscription(subscription name, conninfo text, publication name DEFAULT 'strata_analytics',
    tables regclass[] DEFAULT NULL, slot name DEFAULT NULL, order_column name DEFAULT 'strata_order',
    time_column name DEFAULT NULL, partition_interval text DEFAULT NULL, premake integer DEFAULT 4,
    retention text DEFAULT NULL, start_partition text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t regclass;
  seq text;
  made integer := 0;
  sets integer := 0;
BEGIN
  IF EXISTS (SELECT FROM pg_subscription s WHERE s.subname = subscription) THEN
    RAISE EXCEPTION 'subscription % already exists', quote_ident(subscription) USING ERRCODE = 'duplicate_object';
  END IF;
  IF partition_interval IS NOT NULL AND time_column IS NULL THEN
    RAISE EXCEPTION 'partition_interval needs time_column' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH t IN ARRAY COALESCE(tables, '{}') LOOP
    IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = t AND c.relkind IN ('r', 'p')) THEN
      RAISE EXCEPTION '% is not a table', t USING ERRCODE = 'wrong_object_type';
    END IF;
    -- The order column: the order rows are applied in (the publisher's own ids follow its insert order,
    -- not its commit order, and arrive as data).
    IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = t AND a.attname = order_column AND NOT a.attisdropped) THEN
      seq := format('%I.%I', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = t),
                    left((SELECT c.relname FROM pg_class c WHERE c.oid = t), 40) || '_' || order_column || '_seq');
      EXECUTE format('CREATE SEQUENCE %s CACHE 1', seq);
      EXECUTE format('ALTER TABLE %s ADD COLUMN %I bigint NOT NULL DEFAULT pg_catalog.nextval(%L::pg_catalog.regclass)',
                     t, order_column, seq);
      EXECUTE format('ALTER SEQUENCE %s OWNED BY %s.%I', seq, t, order_column);
      EXECUTE format('CREATE INDEX ON %s (%I)', t, order_column);
      made := made + 1;
    ELSIF pg_get_serial_sequence(t::text, order_column) IS NULL THEN
      RAISE EXCEPTION 'column % of % is not filled by a sequence', quote_ident(order_column), t
        USING ERRCODE = 'invalid_table_definition',
              HINT = 'The order column must be local to this node (not sent by the publisher) and filled by a sequence; name another with order_column => ...';
    END IF;
    IF partition_interval IS NOT NULL AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t) = 'p'
       AND NOT EXISTS (SELECT FROM @extschema@.partition_set s WHERE s.parent = t) THEN
      -- With a default partition: a row older than the partitions (history the initial copy brings,
      -- late rows) lands there and partition maintenance moves it out; apply never stops on it.
      PERFORM @extschema@.create_partition_set(t, time_column, partition_interval, premake => premake, retention => retention,
                                               default_partition => true, start_partition => start_partition);
      sets := sets + 1;
    END IF;
  END LOOP;
  EXECUTE format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I WITH (create_slot = false, slot_name = %L, disable_on_error = true)',
                 subscription, conninfo, publication, COALESCE(slot, publication));
  IF NOT EXISTS (SELECT FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = subscription) THEN
    RAISE EXCEPTION 'publication % on the publisher has no tables (or does not exist)', quote_ident(publication)
      USING ERRCODE = 'undefined_object', HINT = 'Run strata.create_analytics_publication(...) on the primary first.';
  END IF;
  -- Every table of the publication must be known locally: CREATE SUBSCRIPTION checked that; their
  -- partition sets premake ahead.
  INSERT INTO @extschema@.job_runs (job_kind, target, status, message, finished_at, run_as)
  VALUES ('analytics_subscription', quote_ident(subscription), 'ok',
          format('subscription %s to publication %s: %s order column(s) added, %s partition set(s) created',
                 quote_ident(subscription), quote_ident(publication), made, sets), clock_timestamp(), current_user);
  RETURN format('subscription %s: %s tables', quote_ident(subscription),
                (SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = subscription));
END $$;
REVOKE ALL ON FUNCTION @extschema@.create_analytics_subscription(name, text, name, regclass[], name, name, name, text, integer, text, text) FROM PUBLIC;

-- Replication as both sides see it: on a primary, each logical slot of this database (its WAL status,
-- WAL retained, how much more it may retain before it is lost, how far its subscriber is behind, in
-- bytes and time); on an analytics node, each subscription (enabled, the origin's last heartbeat: "complete
-- up to", apply and sync errors) and each origin whose heartbeats arrive. status says what is wrong. As
-- the reader (security_invoker): pg_stat_replication's details only for pg_read_all_stats.
CREATE VIEW @extschema@.replication_health WITH (security_invoker = true) AS
SELECT 'publisher'::text AS side, s.slot_name::text AS name, NULL::text AS origin, s.active AS running,
       s.wal_status, pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::bigint AS retained_bytes,
       s.safe_wal_size AS safe_wal_bytes,
       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint AS lag_bytes,
       r.replay_lag AS lag_time, NULL::timestamptz AS complete_up_to, NULL::bigint AS apply_errors,
       NULL::bigint AS sync_errors,
       CASE WHEN s.wal_status = 'lost' THEN 'lost: the subscriber needs a resync (src/analytics/README.md)'
            WHEN s.wal_status = 'unreserved' THEN 'about to be lost: WAL past max_slot_wal_keep_size'
            WHEN NOT s.active THEN 'inactive: no subscriber connected, WAL retained'
            ELSE 'ok' END AS status
FROM pg_catalog.pg_replication_slots s
LEFT JOIN pg_catalog.pg_stat_replication r ON r.pid = s.active_pid
WHERE s.slot_type = 'logical' AND s.database = pg_catalog.current_database()
  AND NOT pg_catalog.pg_is_in_recovery()
UNION ALL
SELECT 'subscriber', s.subname::text, NULL, s.subenabled, NULL, NULL, NULL,
       pg_catalog.pg_wal_lsn_diff(w.received_lsn, w.latest_end_lsn)::bigint,
       pg_catalog.now() - w.last_msg_receipt_time,
       (SELECT pg_catalog.min(h.beat_at) FROM @extschema@.heartbeat h), st.apply_error_count, st.sync_error_count,
       CASE WHEN NOT s.subenabled THEN 'disabled (by hand, or by an apply error: see the server log; fix, then ALTER SUBSCRIPTION ... ENABLE)'
            WHEN w.pid IS NULL THEN 'no apply worker running'
            ELSE 'ok' END
FROM pg_catalog.pg_subscription s
LEFT JOIN pg_catalog.pg_stat_subscription w ON w.subid = s.oid AND w.relid IS NULL
LEFT JOIN pg_catalog.pg_stat_subscription_stats st ON st.subid = s.oid
WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
UNION ALL
SELECT 'origin', NULL, h.origin, NULL, NULL, NULL, NULL, NULL, pg_catalog.now() - h.beat_at, h.beat_at, NULL, NULL,
       CASE WHEN pg_catalog.now() - h.beat_at > pg_catalog.make_interval(secs => 10 * @extschema@._health_setting('heartbeat_interval', 5))
            THEN 'no heartbeat for ' || pg_catalog.date_trunc('second', pg_catalog.now() - h.beat_at) ELSE 'ok' END
FROM @extschema@.heartbeat h
WHERE EXISTS (SELECT FROM pg_catalog.pg_subscription s
              WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()));
GRANT SELECT ON @extschema@.replication_health TO PUBLIC;

-- Rollups over a subscription's target show how complete the replicated data is.
CREATE OR REPLACE VIEW @extschema@.rollups AS
SELECT r.view AS name, r.source, src.view AS source_rollup, r.level, r.realtime, r.enabled, r.refresh_interval,
       r.batch_size, r.watermark, l.lag_rows,
       CASE WHEN l.lag_rows > 0 OR l.pending_buckets > 0
            THEN pg_catalog.now() - COALESCE(r.caught_up_at, r.created_at)
            WHEN l.figures_error IS NOT NULL THEN NULL ELSE interval '0' END AS lag_time,
       l.pending_buckets, r.backfill_cursor IS NULL AS backfill_done,
       CASE WHEN r.backfill_cursor IS NULL THEN 1.0
            ELSE round(1 - (r.backfill_cursor - r.backfill_floor)::numeric
                           / NULLIF(r.watermark - r.backfill_floor, 0), 4) END AS backfill_progress,
       r.last_refresh_at, r.last_duration_ms, r.last_rows, r.rows_processed, r.buckets_recomputed,
       (SELECT count(*) FROM @extschema@.rollup_frozen_bucket f WHERE f.rollup_id = r.id) AS frozen_buckets,
       r.last_error, r.last_error_at, r.data_table, r.query, l.figures_error, r.broken,
       r.refresh_steps,
       -- On an analytics node: the raw table is a subscription's target, complete up to the oldest
       -- origin's last heartbeat.
       CASE WHEN rs.row_triggers THEN (SELECT pg_catalog.min(h.beat_at) FROM @extschema@.heartbeat h) END AS replicated_up_to
FROM @extschema@.rollup r
LEFT JOIN @extschema@.rollup src ON src.id = r.source_rollup
LEFT JOIN @extschema@.rollup_source rs ON rs.source = r.source AND r.source_rollup IS NULL
CROSS JOIN LATERAL @extschema@._rollup_live(r.id) l;
