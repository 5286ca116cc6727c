"""`harness platform admin|migrate|serve` as an administrator runs them: organisations, users, tokens
and keys from the command line take effect on the running server; secrets are shown once, alone;
bad input is one line and exit 2; a port already taken is exit 3."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from harness.platform.db.migrate import head_revision
from harness.report.signing import PUBLIC_NAME, init_key
from tests.platform_peers import PlatformServer, api, login, make_bundle, upload


def admin(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_PLATFORM_")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "harness", "platform", "admin", "--data", str(data), *args],
                          capture_output=True, text=True, env=environ, timeout=60)


# Fourteen `harness platform admin` processes (each loads the database stack) and a platform: on a
# loaded 2-core machine this passed the suite's 120 s per-test limit twice; it is not a hang.
@pytest.mark.timeout(300)
def test_admin_commands_take_effect_on_the_running_platform(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for slug, kind in (("platform", "platform"), ("lab-x", "lab"), ("acme", "vendor")):
        made = admin(data, "org", "add", slug, "--kind", kind, "--name", f"{slug} name")
        assert made.returncode == 0 and f"organisation {slug} ({kind})" in made.stdout, made.stderr
    assert admin(data, "org", "add", "acme", "--kind", "vendor").stderr.strip() == (
        "harness: error: organisation 'acme': exists already")
    wrong = admin(data, "user", "add", "eve", "--org", "acme", "--role", "officer")
    assert wrong.returncode == 2 and "a vendor organisation (acme) has roles lab, vendor" in wrong.stderr
    officer = admin(data, "user", "add", "olga", "--org", "platform", "--role", "officer")
    assert officer.returncode == 0 and "shown once" in officer.stderr
    password = officer.stdout.strip()  # alone on stdout, for a script to capture
    assert len(password) >= 20 and password not in officer.stderr
    short = admin(data, "user", "add", "bob", "--org", "acme", "--role", "vendor", "--password-env", "BOB_PW",
                  BOB_PW="tiny-pw")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr and "tiny-pw" not in short.stderr

    keys = tmp_path / "keys"
    init_key(keys)
    registered = admin(data, "key", "add", str(keys / PUBLIC_NAME), "--org", "lab-x", "--label", "bench 1")
    assert registered.returncode == 0, registered.stderr
    key_id = registered.stdout.split()[1]
    assert admin(data, "key", "add", str(keys / PUBLIC_NAME), "--org", "acme").returncode == 2  # another org's
    token = admin(data, "token", "add", "--org", "lab-x", "--role", "lab", "--name", "nightly", "--expires-in", "2h")
    assert token.returncode == 0 and token.stdout.strip().startswith("hpt_"), token.stderr
    secret = token.stdout.strip()
    assert secret not in admin(data, "token", "list").stdout
    assert admin(data, "token", "add", "--org", "lab-x", "--role", "lab", "--name", "x",
                 "--expires-in", "soon").returncode == 2

    server = PlatformServer(data).start()
    try:
        assert api(server, secret).get("/api/v1/whoami").json()["organisation"]["slug"] == "lab-x"
        bundle = make_bundle(tmp_path / "run", keys, "admin-run")
        assert upload(server, secret, bundle, vendor="acme").status_code == 201
        assert login(server, "olga", password).get("/submissions/1").status_code == 200
        assert admin(data, "key", "revoke", key_id, "--reason", "host retired").returncode == 0
        again = upload(server, secret, make_bundle(tmp_path / "run2", keys, "admin-run-2"), vendor="acme")
        assert again.status_code == 422 and "revoked" in again.json()["detail"]
        assert admin(data, "token", "revoke", secret[:12]).returncode == 0
        assert api(server, secret).get("/api/v1/whoami").status_code == 401
        assert admin(data, "user", "disable", "olga").returncode == 0
        client = httpx.Client(base_url=server.url)
        client.get("/login")
        login_attempt = client.post("/login", data={"username": "olga", "password": password,
                                                    "csrf_token": client.cookies["harness_login_csrf"]})
        assert login_attempt.status_code == 401
    finally:
        server.stop()


def test_migrate_and_a_port_already_taken(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_PLATFORM_")}
    migrated = subprocess.run([sys.executable, "-m", "harness", "platform", "migrate", "--data", str(tmp_path)],
                              capture_output=True, text=True, env=environ, timeout=60)
    assert migrated.returncode == 0 and f"schema at revision {head_revision()} (current)" in migrated.stdout
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = subprocess.run([sys.executable, "-m", "harness", "platform", "serve", "--data", str(tmp_path),
                                 "--port", str(port)], capture_output=True, text=True, env=environ, timeout=60)
    assert served.returncode == 3 and f"cannot listen on 127.0.0.1:{port}" in served.stderr
    bad_db = subprocess.run([sys.executable, "-m", "harness", "platform", "migrate", "--db", "mysql://u:secret@h/d"],
                            capture_output=True, text=True, env=environ, timeout=60)
    assert bad_db.returncode == 2 and "secret" not in bad_db.stderr and "postgresql+psycopg" in bad_db.stderr
