"""Launchers of real peers for tests, the lab and the benchmarks: OpenSSH sshd, dropbear, the adb
server, and a socat serial console with its login program."""
