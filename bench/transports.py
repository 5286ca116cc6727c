"""Transport round trips against raw baselines measured in the same run.

    .venv/bin/python bench/transports.py [iterations]

For each link, the median of `run("true")` through our transport and of the rawest way to do the same
on the same peer, interleaved in one loop so machine noise hits both alike (see bench_ssh.py,
bench_adb.py, bench_serial.py, bench_hdc.py). The last line reads `ratios: ssh=X adb=X serial=X hdc=X`.
Targets: ssh <= 1.5, adb <= 2.0, serial <= 1.2 (against the same framing written and read raw),
hdc <= 1.5; ours >= 20x faster than spawning `ssh` per command, >= 5x faster than spawning `hdc shell`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_adb  # noqa: E402
import bench_hdc  # noqa: E402
import bench_serial  # noqa: E402
import bench_ssh  # noqa: E402


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    ssh = bench_ssh.measure(iterations)
    adb = bench_adb.measure(iterations)
    serial = bench_serial.measure(iterations)
    hdc = bench_hdc.measure(iterations)
    print(f"ssh:    ours {ssh['ours_ms']:.3f} ms  raw paramiko exec {ssh['raw_ms']:.3f} ms  "
          f"ratio {ssh['ratio']:.2f}")
    print(f"        spawning the ssh client per command {ssh['spawn_ssh_client_ms']:.1f} ms "
          f"({ssh['spawn_ssh_client_ms'] / ssh['ours_ms']:.0f}x ours)")
    print(f"adb:    ours {adb['ours_ms']:.3f} ms  raw host protocol {adb['raw_ms']:.3f} ms  "
          f"ratio {adb['ratio']:.2f}")
    print(f"        spawning `adb shell` per command {adb['spawn_adb_shell_ms']:.1f} ms "
          f"({adb['spawn_adb_shell_ms'] / adb['ours_ms']:.1f}x ours)")
    print(f"serial: ours {serial['ours_ms']:.3f} ms  same framing raw on the pty {serial['raw_ms']:.3f} ms "
          f"ratio {serial['ratio']:.2f}")
    print(f"hdc:    ours {hdc['ours_ms']:.3f} ms  raw client-server socket {hdc['raw_ms']:.3f} ms  "
          f"ratio {hdc['ratio']:.2f}")
    print(f"        spawning `hdc shell` per command {hdc['spawn_hdc_shell_ms']:.1f} ms "
          f"({hdc['spawn_hdc_shell_ms'] / hdc['ours_ms']:.2f}x ours)")
    print(f"ratios: ssh={ssh['ratio']:.2f} adb={adb['ratio']:.2f} serial={serial['ratio']:.2f} "
          f"hdc={hdc['ratio']:.2f}")


if __name__ == "__main__":
    main()
