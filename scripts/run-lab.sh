#!/bin/sh
# `make run`: the main job on the simulated lab. Starts the lab of ./devices.toml, shows its devices,
# runs every suite on every device in parallel, stops the lab. The last line is the signed bundle.
# Exit status 0 when the run completed, whatever the verdicts (the lab's non-conforming board is meant
# to fail: `harness run` itself exits 1 for it); otherwise the run's own code (2 usage, 3 lab trouble).
set -u
bin=${BIN:-.venv/bin}
"$bin/harness" lab down >/dev/null 2>&1
"$bin/harness" lab up || exit 3
"$bin/harness" devices || { "$bin/harness" lab down >/dev/null 2>&1; exit 3; }
"$bin/harness" run --all
rc=$?
"$bin/harness" lab down >/dev/null 2>&1
[ "$rc" -le 1 ] && exit 0
exit "$rc"
