"""Running suites on devices: one worker process per device, journals, resume, retry, shard, merge, gate."""
