-- strata 0.8.0 -> 0.9.0: hardening (no crash, no privilege escalation, no silent loss under ordinary
-- DDL, roles and settings).
\echo Use "ALTER EXTENSION strata UPDATE TO '0.9.0'" to load this file. \quit
