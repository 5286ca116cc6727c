"""Multi-host runs: lab-host agents pull jobs from a PostgreSQL queue (procrastinate's schema and
functions), one job per device at a time, with reservations, health checks and quarantine.

Modules: names (queue/lock naming), dburl, db (a connection that reconnects), schema, registry (hosts
and devices), selection (which device a tag picks), queue (submit, fetch, finish, list), leases
(reservations), health (quarantine), runner (how a job runs: the existing runner), loop (the agent)."""
