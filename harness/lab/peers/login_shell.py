"""A tiny console login program for the lab: boot lines, `login: `, `Password: `, then a real shell.

Run behind a pty (harness.lab.peers.console starts it under socat). It stands in for a board's getty+login:
the serial transport must find and answer these prompts exactly as it would on a real board.

    python -m harness.lab.peers.login_shell --shell sh|bash|ash [--no-login] [--respawn] [--banner TEXT]

The expected user and password come from the environment (LAB_LOGIN_USER, LAB_LOGIN_PASSWORD), never
from the command line, where `ps` would show them."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import termios

USER_ENV = "LAB_LOGIN_USER"
PASSWORD_ENV = "LAB_LOGIN_PASSWORD"
HOME_ENV = "LAB_LOGIN_HOME"
BANNER_ENV = "LAB_LOGIN_BANNER"
PROMPT = "root@board:~# "

BOOT_LINES = (
    "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x412fd050]",
    "[    0.000000] Machine model: Example Modules EM-3568 (lab console)",
    "[    1.234567] Run /sbin/init as init process",
    "",
    "Lab Board OS 1.0 board ttyS0",
    "",
)


def shell_argv(name: str) -> list[str]:
    """The interactive shell to run: plain sh (dash here), bash (bracketed paste) or busybox ash (ESC[6n)."""
    if name == "bash":
        return ["bash", "--norc", "--noprofile", "-i"]
    if name == "ash":
        busybox = shutil.which("busybox")
        if busybox is None:
            raise SystemExit("busybox is not installed")
        return [busybox, "sh", "-i"]
    return ["/bin/sh", "-i"]


def shell_env(home: str, path: str) -> dict[str, str]:
    # A clean environment: nothing from the test process leaks into the board's shell.
    return {"HOME": home, "PATH": path, "PS1": PROMPT, "TERM": "xterm", "LANG": "C", "USER": "root"}


def write(text: str) -> None:
    os.write(1, text.encode())


def read_line() -> str | None:
    """One line from the console (canonical mode: the tty gives whole lines). None at end of input."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(0, 1024)
        if not chunk:
            return None
        data += chunk
    return data.decode(errors="replace").strip("\r\n")


def read_password() -> str | None:
    """Read a line with echo off, as login(1) does, and restore the terminal afterwards."""
    old = termios.tcgetattr(0)
    new = termios.tcgetattr(0)
    new[3] &= ~termios.ECHO
    termios.tcsetattr(0, termios.TCSADRAIN, new)
    try:
        return read_line()
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, old)
        write("\r\n")


def login(user: str, password: str) -> bool:
    """Prompt until the right user and password arrive; False at end of input."""
    while True:
        write("board login: ")
        given_user = read_line()
        if given_user is None:
            return False
        if not given_user:
            continue  # an empty line (someone waking the console) just asks again, like getty
        write("Password: ")
        given_password = read_password()
        if given_password is None:
            return False
        if given_user == user and given_password == password:
            return True
        write("\r\nLogin incorrect\r\n")


def run_shell(argv: list[str], env: dict[str, str]) -> None:
    """Run the shell as a child and take the terminal back when it ends (respawn mode)."""
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        os.tcsetpgrp(0, os.getpgrp())
        signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        os.execvpe(argv[0], argv, env)
    os.waitpid(pid, 0)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    os.tcsetpgrp(0, os.getpgrp())


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="login_shell")
    parser.add_argument("--shell", default="sh", choices=["sh", "bash", "ash"])
    parser.add_argument("--no-login", action="store_true", help="start the shell at once (already logged in)")
    parser.add_argument("--respawn", action="store_true", help="boot and log in again when the shell exits")
    parser.add_argument("--banner", default=os.environ.get(BANNER_ENV, ""), help="a first line")
    opts = parser.parse_args(args)

    user = os.environ.get(USER_ENV, "root")
    password = os.environ.get(PASSWORD_ENV, "")
    home = os.environ.get(HOME_ENV) or os.getcwd()
    argv = shell_argv(opts.shell)
    env = shell_env(home, os.environ.get("PATH", "/usr/bin:/bin"))
    os.chdir(home)

    while True:
        if opts.banner:
            write(opts.banner + "\r\n")
        write("\r\n".join(BOOT_LINES) + "\r\n")
        if not opts.no_login and not login(user, password):
            return 0
        if not opts.respawn:
            os.execvpe(argv[0], argv, env)
        run_shell(argv, env)
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
