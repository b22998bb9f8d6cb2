-- strata 0.7.0 -> 0.8.0: the vacuum scheduler also vacuums rollup data tables for the index entries
-- their refreshes left pointing at dead tuples (updates that were not HOT, deletes). vacuum_state keeps
-- each table's count of such changes at strata's last vacuum of it; vacuum_activity lists the action.
\echo Use "ALTER EXTENSION strata UPDATE TO '0.8.0'" to load this file. \quit

-- entries_at_vacuum: the table's cumulative (updates - HOT updates + deletes) when strata last vacuumed
-- it, or first saw it. NULL: not known yet.
ALTER TABLE @extschema@.vacuum_state ADD COLUMN entries_at_vacuum bigint;

CREATE OR REPLACE VIEW @extschema@.vacuum_activity AS
SELECT r.id, r.job_kind AS action, r.target AS relation, r.started_at, r.finished_at,
       r.finished_at - r.started_at AS duration, r.status, r.message AS reason,
       r.details -> 'before' AS facts_before, r.details -> 'after' AS facts_after, r.details -> 'buffers' AS buffers,
       r.run_as
FROM @extschema@.job_runs r
WHERE r.job_kind IN ('vacuum_urgent', 'vacuum_freeze', 'vacuum_freeze_hot', 'analyze_parent', 'analyze_hot',
                     'vacuum_dead', 'insert_handover', 'vacuum_rollup');
