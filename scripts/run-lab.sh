#!/bin/sh
# `make run`: the main job on the simulated lab. Starts the lab of ./devices.toml, shows its devices,
# runs every suite on every device in parallel, stops the lab, then publishes the run to the local
# adaptation test platform (SQLite in ./.platform). The last line is the one command that serves the
# platform, with the URL of the run's submission (the signed bundle's path is printed just before).
# Exit status 0 when the run completed and was published, whatever the verdicts (the lab's
# non-conforming board is meant to fail: `harness run` itself exits 1 for it); otherwise the run's own
# code (2 usage, 3 lab trouble), or the publish's (1 refused, 3 platform trouble).
set -u
bin=${BIN:-.venv/bin}
"$bin/harness" lab down >/dev/null 2>&1
"$bin/harness" lab up || exit 3
"$bin/harness" devices || { "$bin/harness" lab down >/dev/null 2>&1; exit 3; }
"$bin/harness" run --all
rc=$?
"$bin/harness" lab down >/dev/null 2>&1
[ "$rc" -le 1 ] || exit "$rc"
"$bin/harness" platform local latest
