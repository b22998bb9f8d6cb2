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
