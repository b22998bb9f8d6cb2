-- The C++/Postgres error boundary: every kind of error leaves the session usable and keeps its SQLSTATE.
SELECT strata._guard_selftest('ok');
SELECT test_err($$SELECT strata._guard_selftest('strata')$$);
SELECT 1 AS still_usable;
SELECT test_err($$SELECT strata._guard_selftest('postgres')$$);
SELECT test_err($$SELECT strata._guard_selftest('bad_alloc')$$);
SELECT test_err($$SELECT strata._guard_selftest('std')$$);
SELECT test_err($$SELECT strata._guard_selftest('unknown')$$);
-- Inside a transaction with a savepoint: the error rolls back to it and the transaction goes on.
BEGIN;
CREATE TABLE guard_t (x int);
SAVEPOINT s;
SELECT strata._guard_selftest('postgres');
ROLLBACK TO SAVEPOINT s;
INSERT INTO guard_t VALUES (1);
COMMIT;
SELECT * FROM guard_t;
DROP TABLE guard_t;
-- Many errors in a row leak nothing that breaks later calls.
DO $$
BEGIN
  FOR i IN 1..200 LOOP
    BEGIN
      PERFORM strata._guard_selftest(CASE i % 3 WHEN 0 THEN 'strata' WHEN 1 THEN 'postgres' ELSE 'std' END);
    EXCEPTION WHEN others THEN NULL;
    END;
  END LOOP;
END $$;
SELECT strata._guard_selftest('ok');
