"""The repository's own tooling, never in the wheel: the load test, the chaos run (conductor,
crowd, ledger, faults, readback), the throwaway PostgreSQL/Redis/SeaweedFS/SMTP servers, peak
memory and child processes. Used by the demo's commands (export_load, export_bench, serve) and
by the tests; `exports` imports nothing from here (tests/test_hosts.py checks)."""
