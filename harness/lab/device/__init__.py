"""One simulated device: its process, its links over the sandbox, its command log and the watcher
of its control folder."""
