-- strata 0.4.0 -> 0.5.0: the vacuum scheduler hands autovacuum's insert-triggered vacuums of hot
-- partitions over to its own hot freezes; vacuum_activity lists that action too.
\echo Use "ALTER EXTENSION strata UPDATE TO '0.5.0'" to load this file. \quit

CREATE OR REPLACE VIEW @extschema@.vacuum_activity AS
SELECT r.id, r.job_kind AS action, r.target AS relation, r.started_at, r.finished_at,
       r.finished_at - r.started_at AS duration, r.status, r.message AS reason,
       r.details -> 'before' AS facts_before, r.details -> 'after' AS facts_after, r.details -> 'buffers' AS buffers,
       r.run_as
FROM @extschema@.job_runs r
WHERE r.job_kind IN ('vacuum_urgent', 'vacuum_freeze', 'vacuum_freeze_hot', 'analyze_parent', 'analyze_hot',
                     'vacuum_dead', 'insert_handover');
