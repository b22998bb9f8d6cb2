-- strata 0.13.0 -> 0.14.0: the health pass in C++ after the partition pass (src/health/README.md), and the
-- durations of the workers' last pass in strata.workers.
\echo Use "ALTER EXTENSION strata UPDATE TO '0.14.0'" to load this file. \quit

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
    default_counts bigint[], left_out oid[], check_locks boolean, check_holders boolean,
    OUT condition text, OUT message text)
RETURNS SETOF record LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms' AS $$
DECLARE
  lock_ms bigint := @extschema@._health_setting('health_lock_wait', 1000);
  repeat_s bigint := @extschema@._health_setting('health_alert_repeat', 3600);
  min_ahead bigint := @extschema@._health_setting('health_min_partitions_ahead', 1);
  max_default bigint := @extschema@._health_setting('health_max_default_rows', 0);
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
REVOKE ALL ON FUNCTION @extschema@._health_alerts(oid[], integer[], oid[], bigint[], oid[], boolean, boolean) FROM PUBLIC;

-- The worker's health pass run by hand, in the caller's transaction (everything read afresh): samples the
-- watched tables' counters that moved, then strata._health_alerts; returns the alerts the worker would
-- log now.
CREATE FUNCTION @extschema@._health_pass(OUT condition text, OUT message text)
RETURNS SETOF record LANGUAGE C SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms'
AS 'MODULE_PATHNAME', 'strata_health_pass';
REVOKE ALL ON FUNCTION @extschema@._health_pass() FROM PUBLIC;
