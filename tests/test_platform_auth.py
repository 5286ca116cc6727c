"""Logins, sessions, CSRF, throttling and API tokens against a real `harness platform serve`."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from harness.platform.auth.apitokens import create_token
from harness.platform.auth.policy import Role
from harness.platform.db.models import ApiToken, WebSession
from harness.platform.db.types import utcnow
from harness.platform.services import accounts
from tests.platform_peers import PASSWORD, PlatformServer, Seeded, api, csrf_of, login, seed


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Seeded, PlatformServer]]:
    base = tmp_path_factory.mktemp("auth")
    seeded = seed(base)
    server = PlatformServer(base / "data").start()
    try:
        yield seeded, server
    finally:
        server.stop()


def test_session_cookie_is_httponly_strict_and_logout_ends_it(platform: tuple[Seeded, PlatformServer]) -> None:
    seeded, server = platform
    client = httpx.Client(base_url=server.url)
    client.get("/login")
    response = client.post("/login", data={"username": "officer", "password": PASSWORD, "next": "/products",
                                           "csrf_token": client.cookies["harness_login_csrf"]})
    assert response.status_code == 303 and response.headers["location"] == "/products"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("harness_session="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags and "secure" not in flags  # plain http here
    value = client.cookies["harness_session"]
    with seeded.platform.db.read() as db:  # only the cookie's digest is kept
        assert db.get(WebSession, hashlib.sha256(value.encode()).hexdigest()) is not None
        assert db.get(WebSession, value) is None
    assert client.get("/submissions").status_code == 200
    assert client.get("/submissions").status_code == 200  # a reload keeps the session
    out = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    stale = httpx.Client(base_url=server.url, cookies={"harness_session": value})
    gone = stale.get("/submissions")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login?next=%2Fsubmissions")


def test_secure_cookies_behind_a_tls_proxy(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.mktemp("secure")
    seed(base)
    server = PlatformServer(base / "data", args=("--secure-cookies", "always")).start()
    try:
        form = httpx.get(server.url + "/login")
        login_cookie = form.headers["set-cookie"]
        assert "secure" in {part.strip().lower() for part in login_cookie.split(";")}
        csrf = login_cookie.split(";")[0].split("=", 1)[1]
        # A browser sends a Secure cookie only over HTTPS (here: through the proxy); say it by hand.
        response = httpx.post(server.url + "/login", headers={"Cookie": f"harness_login_csrf={csrf}"},
                              data={"username": "officer", "password": PASSWORD, "csrf_token": csrf})
        assert response.status_code == 303, response.text
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("harness_session="))
        assert "secure" in {part.strip().lower() for part in cookie.split(";")}
    finally:
        server.stop()


def token_count(seeded: Seeded) -> int:
    with seeded.platform.db.read() as db:
        return len(db.scalars(select(ApiToken)).all())


def test_state_changing_forms_refuse_a_missing_wrong_or_cross_site_token(platform: tuple[Seeded, PlatformServer]) -> None:
    seeded, server = platform
    client = login(server, "lab-a-user")
    csrf = csrf_of(client)
    before = token_count(seeded)
    assert client.post("/tokens", data={"name": "x", "days": "1"}).status_code == 403
    assert client.post("/tokens", data={"name": "x", "days": "1", "csrf_token": "forged"}).status_code == 403
    cross = client.post("/tokens", data={"name": "x", "days": "1", "csrf_token": csrf},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert token_count(seeded) == before  # nothing made
    victim = seeded.token("victim", "lab-a", "lab", user="lab-a-user")
    victim_id = next(t["id"] for t in api(server, victim).get("/api/v1/tokens").json() if t["name"] == "victim")
    assert client.post(f"/tokens/{victim_id}/revoke", data={}).status_code == 403
    assert api(server, victim).get("/api/v1/whoami").status_code == 200  # still valid
    assert client.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    assert client.get("/submissions").status_code == 200  # still logged in
    # The login form has its own token (there is no session yet): a forged login is refused too.
    fresh = httpx.Client(base_url=server.url)
    forged = fresh.post("/login", data={"username": "officer", "password": PASSWORD, "csrf_token": "x"})
    assert forged.status_code == 403 and "harness_session" not in fresh.cookies
    # With the right token, the same requests work.
    made = client.post("/tokens", data={"name": "ci", "days": "30", "csrf_token": csrf})
    assert made.status_code == 201 and token_count(seeded) == before + 2
    assert client.post(f"/tokens/{victim_id}/revoke", data={"csrf_token": csrf}).status_code == 303
    assert api(server, victim).get("/api/v1/whoami").status_code == 401


def test_a_token_made_on_the_page_is_shown_once_and_acts_as_its_user(platform: tuple[Seeded, PlatformServer]) -> None:
    seeded, server = platform
    client = login(server, "vendor-a-user")
    page = client.post("/tokens", data={"name": "vendor CI", "days": "7", "csrf_token": csrf_of(client)}).text
    secret = re.search(r'id="new-token-value">(hpt_[^<]+)<', page)
    assert secret, page
    token = secret.group(1)
    assert token not in client.get("/tokens").text  # once only
    with seeded.platform.db.read() as db:
        row = db.scalar(select(ApiToken).where(ApiToken.name == "vendor CI"))
        assert row is not None and row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.role == "vendor" and row.org_id == seeded.org_ids["vendor-a"]
        assert row.prefix == token[:12] and len(row.prefix) < len(token)
    who = api(server, token).get("/api/v1/whoami").json()
    assert who["role"] == "vendor" and who["organisation"]["slug"] == "vendor-a"


def test_expired_revoked_and_disabled_tokens_are_refused(platform: tuple[Seeded, PlatformServer]) -> None:
    seeded, server = platform
    with seeded.platform.db.write() as db:
        expired = create_token(db, org_id=seeded.org_ids["lab-a"], role=Role.LAB, name="old",
                               expires_at=utcnow() - dt.timedelta(seconds=1)).secret
    response = api(server, expired).get("/api/v1/whoami")
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")

    mine = seeded.token("self-revoke", "lab-a", "lab")
    own_id = next(t["id"] for t in api(server, mine).get("/api/v1/tokens").json())
    assert api(server, mine).delete(f"/api/v1/tokens/{own_id}").status_code == 204
    revoked = api(server, mine).get("/api/v1/submissions")
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]

    user_token = seeded.token("disable-me", "vendor-b", "vendor", user="vendor-b-user")
    assert api(server, user_token).get("/api/v1/whoami").status_code == 200
    with seeded.platform.db.write() as db:
        accounts.set_active(db, accounts.user_by_name(db, "vendor-b-user"), False)
    try:
        disabled = api(server, user_token).get("/api/v1/whoami")
        assert disabled.status_code == 401 and "disabled" in disabled.json()["detail"]
    finally:
        with seeded.platform.db.write() as db:
            accounts.set_active(db, accounts.user_by_name(db, "vendor-b-user"), True)

    assert api(server).get("/api/v1/whoami").status_code == 401  # no token at all
    basic = httpx.get(server.url + "/api/v1/whoami", headers={"Authorization": "Basic b2ZmaWNlcjpwdw=="})
    assert basic.status_code == 401 and "Bearer" in basic.json()["detail"]
    assert api(server, "hpt_" + "x" * 43).get("/api/v1/whoami").json()["detail"] == "unknown token"
    # The API takes no session cookie: a browser session cannot be used cross-site against it.
    browser = login(server, "officer")
    assert browser.get("/api/v1/whoami").status_code == 401


def test_login_redirects_only_within_the_site(platform: tuple[Seeded, PlatformServer]) -> None:
    _, server = platform
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        client = httpx.Client(base_url=server.url)
        client.get("/login")
        response = client.post("/login", data={"username": "officer", "password": PASSWORD, "next": target,
                                               "csrf_token": client.cookies["harness_login_csrf"]})
        assert response.headers["location"] == "/submissions", target


def attempt(server: PlatformServer, source: str, username: str, password: str) -> httpx.Response:
    """A login from a given loopback address (Linux answers on all of 127.0.0.0/8)."""
    client = httpx.Client(base_url=server.url, transport=httpx.HTTPTransport(local_address=source))
    client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": client.cookies["harness_login_csrf"]})


def test_login_throttling_by_user_name_and_by_address(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.mktemp("throttle")
    seed(base)
    server = PlatformServer(base / "data").start()  # its own: it locks loopback addresses out
    try:
        for i in range(5):  # five wrong passwords for one name, from five addresses
            assert attempt(server, f"127.0.1.{i + 1}", "officer", "wrong").status_code == 401
        locked = attempt(server, "127.0.1.9", "officer", PASSWORD)  # the right password, locked all the same
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert "harness_session" not in locked.cookies and "登录失败次数过多" in locked.text
        assert attempt(server, "127.0.1.9", "admin", PASSWORD).status_code == 303  # other names are not locked
        for i in range(5):  # five wrong names from one address
            assert attempt(server, "127.0.2.1", f"nobody{i}", "wrong").status_code == 401
        assert attempt(server, "127.0.2.1", "admin", PASSWORD).status_code == 429
        assert attempt(server, "127.0.2.2", "admin", PASSWORD).status_code == 303
    finally:
        server.stop()
