"""The authorisation matrix, generated from the app's route table: every page and API route x every
role (and nobody) x an object of the principal's own organisation, of another organisation, and
none at all. The expected answer is the policy's decision for that role, action and object; a
vendor or lab asking for another organisation's object gets 404, never 403.

A route added without a rule fails here twice: the app refuses to build (no declaration), and a
declared route whose objects or request this test does not know how to make fails
`test_every_route_has_a_rule_and_a_way_to_call_it`."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.platform.auth.policy import Action, Decision, Principal, Role, Scope, decide
from harness.platform.config import make_config
from harness.platform.db.cert_models import Certificate
from harness.platform.db.models import Submission
from harness.platform.db.types import utcnow
from harness.platform.services import certificates, lifecycle, public_list, waiver_service
from harness.platform.services.lifecycle import State
from harness.platform.web.access import ACCESS, Access, RouteEntry, flat_routes
from harness.platform.web.app import create_app
from tests.cert_peers import ALL_PASS, make_bundle_with, publish_in_process
from tests.cert_peers import actor as cert_actor
from tests.cert_peers import principal as cert_principal
from tests.pg_peer import PostgresCluster, postgres  # noqa: F401  (the session's cluster: the job queue)
from tests.platform_peers import USERS, PlatformServer, Seeded, api, csrf_of, login, make_bundle, seed, upload


def _route_table() -> list[RouteEntry]:
    folder = Path(tempfile.mkdtemp(prefix="harness-routes-"))
    try:
        return flat_routes(create_app(make_config(folder / "data")).routes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


ROUTES = _route_table()
ROLE_USERS = {Role.ADMIN: "admin", Role.OFFICER: "officer", Role.LAB: "lab-a-user", Role.VENDOR: "vendor-a-user"}
OBJECT_KINDS = {"submission", "product", "token", "waiver", "certificate", "job"}
MISSING_ID = 987654
# The body a state-changing route is called with (the CSRF token is added for pages).
FORMS: dict[str, dict[str, str]] = {
    "page.login_submit": {"username": "nobody", "password": "wrong"},
    "page.logout": {},
    "page.token_create": {"name": "matrix", "days": "1"},
    "page.token_revoke": {},
    "api.publish": {},
    "api.token_revoke": {},
    # Certification (issue 13): valid requests, so that what answers is the authorisation, not a 422.
    "page.submission_state": {"state": "in_review"},
    "page.submission_certify": {"days": "30"},
    "page.waiver_request": {"requirement": "DEMO-2", "reason": "matrix"},
    "page.waiver_decide": {"decision": "refuse"},
    "page.certificate_revoke": {"reason": "matrix"},
    "page.product_listing": {"listed": "1"},
    "page.product_derive": {"source": "HPC-2026-0000000000", "os_name": "x", "os_version": "1"},
    "api.submission_state": {"state": "in_review"},
    "api.submission_certify": {"days": 30},
    "api.certificate_revoke": {"reason": "matrix"},
    "api.product_derive": {"source": "HPC-2026-0000000000", "os_name": "x", "os_version": "1"},
    "api.product_listing": {"listed": True},
    "api.waiver_request": {"requirement": "DEMO-2", "reason": "matrix"},
    "api.waiver_decide": {"approve": False, "note": "matrix"},
}
JSON_ROUTES = {n for n in FORMS if n.startswith("api.") and FORMS[n]}
PUBLIC_PATHS = {"static": "/static/platform.css"}
# Public routes naming a certificate: filled with a real certificate's ID by the world fixture.
CERT_PATHS = {
    "page.public_certificate": "/public/certificates/{cert}",
    "page.public_certificate_json": "/public/certificates/{cert}/certificate.json",
    "page.public_certificate_print": "/public/certificates/{cert}/print",
    "api.public_certificate": "/api/v1/public/certificates/{cert}",
}
PUBLIC_PATHS.update(CERT_PATHS)


@dataclass
class World:
    seeded: Seeded
    server: PlatformServer
    submissions: dict[str, int]  # "own" (lab-a for vendor-a) / "foreign" (lab-b for vendor-b)
    products: dict[str, int]
    sessions: dict[Role, httpx.Client]
    waivers: dict[str, int]
    certificates: dict[str, int]
    job: int  # a job of the lab's queue (run by lab-a: --jobs-org)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresCluster) -> Iterator[World]:  # noqa: F811
    base = tmp_path_factory.mktemp("authz")
    seeded = seed(base)
    queue = postgres.create_database("authz_queue")
    job = queue_one_job(queue)
    server = PlatformServer(base / "data", args=("--jobs-db", queue, "--jobs-org", "lab-a")).start()
    try:
        subs, products = {}, {}
        for which, lab, vendor in (("own", "lab-a", "vendor-a"), ("foreign", "lab-b", "vendor-b")):
            bundle = make_bundle(base / which, seeded.keys[lab], f"{which}-run")
            made = upload(server, seeded.tokens[f"{lab}-user"], bundle, vendor=vendor,
                          declared={"dev-a": {"model": f"{which}-model"}, "dev-b": {"model": f"{which}-model"}})
            assert made.status_code == 201, made.text
            subs[which] = made.json()["id"]
            detail = api(server, seeded.tokens["officer"]).get(f"/api/v1/submissions/{subs[which]}").json()
            products[which] = detail["devices"][0]["product_id"]
        sessions = {role: login(server, user) for role, user in ROLE_USERS.items()}
        waivers, certs = _certification_objects(seeded, base)
        with seeded.platform.db.read() as db:
            cert_id = db.get(Certificate, certs["own"]).cert_id  # type: ignore[union-attr]
        for name, template in CERT_PATHS.items():
            PUBLIC_PATHS[name] = template.format(cert=cert_id)
        yield World(seeded, server, subs, products, sessions, waivers, certs, job)
    finally:
        server.stop()


def queue_one_job(url: str) -> int:
    """The lab's queue with one job in it, made by the queue's own code (as `harness submit` does)."""
    import psycopg
    from psycopg.rows import dict_row

    from harness.agent import queue as jobq
    from harness.agent.dburl import conninfo
    from harness.agent.schema import ensure_schema

    with psycopg.connect(conninfo(url), autocommit=True, row_factory=dict_row) as conn:
        ensure_schema(conn)
        job = jobq.submit(conn, jobq.JobRequest(device="bench-1", host="host-a", suites=("smoke",)))
    assert job is not None
    return job


def _certification_objects(seeded: Seeded, base: Path) -> tuple[dict[str, int], dict[str, int]]:
    """A requested waiver and a certificate of each vendor, made through the services."""
    waivers, certs = {}, {}
    for which, lab, vendor in (("own", "lab-a", "vendor-a"), ("foreign", "lab-b", "vendor-b")):
        user = f"{vendor}-user"
        with seeded.platform.db.write() as db:
            waivers[which] = waiver_service.request(db, cert_principal(seeded, user), cert_actor(user),
                                                    waiver_service.WaiverRequest("DEMO-2", "matrix"), utcnow()).id
        bundle = make_bundle_with(base / f"cert-{which}", seeded.keys[lab], f"cert-{which}", ALL_PASS)
        sub = publish_in_process(seeded, bundle, lab_user=f"{lab}-user", vendor=vendor)
        officer = cert_principal(seeded, "officer")
        for state in (State.IN_REVIEW, State.APPROVED):
            lifecycle.change_state(seeded.platform.db, cert_actor("officer"), officer, sub, state)
        certs[which] = certificates.certify(seeded.platform.db, seeded.platform.signer, cert_actor("officer"),
                                            officer, sub).id
    return waivers, certs


def principal(world: World, role: Role) -> Principal:
    user = ROLE_USERS[role]
    return Principal(role=role, org_id=world.seeded.org_ids[USERS[user][0]], user_id=world.seeded.user_ids[user])


def _token_id(world: World, secret: str) -> int:
    mine = api(world.server, secret).get("/api/v1/tokens").json()
    return next(t["id"] for t in mine if t["prefix"] == secret[:12])


def make_object(world: World, kind: str, which: str, role: Role) -> tuple[int, Scope]:
    """An object of `kind`: the asking role's own, another organisation's, or none at all."""
    s = world.seeded
    if which == "missing":
        return MISSING_ID, Scope()
    if kind == "submission":
        lab, vendor = ("lab-a", "vendor-a") if which == "own" else ("lab-b", "vendor-b")
        return world.submissions[which], Scope(orgs=frozenset({s.org_ids[lab], s.org_ids[vendor]}))
    if kind == "product":
        lab, vendor = ("lab-a", "vendor-a") if which == "own" else ("lab-b", "vendor-b")
        return world.products[which], Scope(orgs=frozenset({s.org_ids[lab], s.org_ids[vendor]}))
    if kind == "waiver":
        vendor = "vendor-a" if which == "own" else "vendor-b"
        return world.waivers[which], Scope(orgs=frozenset({s.org_ids[vendor]}))
    if kind == "certificate":
        lab, vendor = ("lab-a", "vendor-a") if which == "own" else ("lab-b", "vendor-b")
        return world.certificates[which], Scope(orgs=frozenset({s.org_ids[lab], s.org_ids[vendor]}))
    if kind == "job":  # one queue, run by lab-a: there is no other organisation's job to ask for, so
        # "foreign" is lab-a's job too (another lab's view of it: tests/test_platform_jobs.py)
        return world.job, Scope(orgs=frozenset({s.org_ids["lab-a"]}))
    if kind == "token":  # a fresh token each time: a revoke route may use it up
        user = ROLE_USERS[role] if which == "own" else "vendor-b-user"
        org, token_role = USERS[user]
        secret = s.token(f"object-{kind}-{which}", org, token_role, user=user)
        return _token_id(world, secret), Scope(orgs=frozenset({s.org_ids[org]}), owner_user=s.user_ids[user])
    raise AssertionError(f"no way to make a test {kind!r}")


def concrete_path(route: RouteEntry, values: dict[str, int]) -> str:
    if route.name in PUBLIC_PATHS:
        return PUBLIC_PATHS[route.name]
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values[m.group(1)]), route.path)


def method_of(route: RouteEntry) -> str:
    methods = sorted(route.methods - {"HEAD"}) or ["GET"]
    assert len(methods) == 1, route
    return methods[0]


def call(world: World, route: RouteEntry, role: Role | None, path: str) -> httpx.Response:
    method = method_of(route)
    is_api = route.path.startswith("/api/")
    form = dict(FORMS.get(route.name, {}))
    if is_api:
        token = world.seeded.tokens[ROLE_USERS[role]] if role else None
        client = api(world.server, token)
        if route.name in JSON_ROUTES:
            return client.request(method, path, json=form)
        content = b"" if method == "POST" else None
        return client.request(method, path, content=content, headers={"Content-Type": "application/zip"}
                              if content is not None else {})
    if role is None:
        client = httpx.Client(base_url=world.server.url)
    elif route.name == "page.logout":  # a session of its own, so the role's stays for the next checks
        client = login(world.server, ROLE_USERS[role])
    else:
        client = world.sessions[role]
    if method == "POST" and role is not None:
        form["csrf_token"] = csrf_of(client)
    return client.request(method, path, data=form if method == "POST" else None)


def verdict_of(response: httpx.Response, is_api: bool) -> str:
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if not is_api and status == 303 and response.headers.get("location", "").startswith("/login?next="):
        return Decision.LOGIN.value
    return {401: Decision.LOGIN.value, 403: Decision.DENY.value, 404: Decision.HIDE.value}.get(
        status, Decision.ALLOW.value)


def test_every_route_has_a_rule_and_a_way_to_call_it() -> None:
    assert len(ROUTES) >= 25
    for route in ROUTES:
        rule = ACCESS.get(route.name)
        assert isinstance(rule, Access), f"route {route.path} ({route.name}) has no authorisation rule"
        unknown = set(rule.objects.values()) - OBJECT_KINDS
        assert not unknown, f"route {route.path}: no test objects of kind {unknown}"
        params = set(re.findall(r"\{(\w+)", route.path))
        assert params <= set(rule.objects) or route.name in PUBLIC_PATHS, (
            f"route {route.path}: path parameters {params - set(rule.objects)} name no object kind")
        if method_of(route) != "GET":
            assert route.name in FORMS, f"route {route.path} ({route.name}): no request recipe in FORMS"


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_authorisation_matrix(world: World, route: RouteEntry) -> None:
    rule = ACCESS[route.name]
    is_api = route.path.startswith("/api/")
    wrong: list[str] = []
    for role in (None, *ROLE_USERS):
        for which in (("own", "foreign", "missing") if rule.objects else ("-",)):
            values: dict[str, int] = {}
            scope: Scope | None = None
            for param, kind in rule.objects.items():
                values[param], scope = make_object(world, kind, which, role or Role.VENDOR)
            response = call(world, route, role, concrete_path(route, values))
            seen = verdict_of(response, is_api)
            if rule.action is None:  # public: answers, whoever asks
                expected = Decision.ALLOW.value
                if route.name == "page.login_submit":
                    seen = Decision.ALLOW.value if response.status_code in (401, 403) else seen
            else:
                who = principal(world, role) if role else None
                expected = decide(who, rule.action, scope).value
                if which == "missing" and expected == Decision.ALLOW.value:
                    expected = Decision.HIDE.value  # nothing there: 404 for those who may look
            if seen != expected:
                wrong.append(f"{role and role.value or 'anonymous'} x {which}: expected {expected}, "
                             f"got {response.status_code} ({seen}) {response.text[:120]!r}")
    assert not wrong, f"{method_of(route)} {route.path}:\n" + "\n".join(wrong)


def _api_ids(world: World, role: Role, path: str) -> set[int]:
    body = api(world.server, world.seeded.tokens[ROLE_USERS[role]]).get(path).json()
    items = body["items"] if isinstance(body, dict) else body
    return {int(item["id"]) for item in items if "id" in item}


def _page_ids(world: World, role: Role, path: str, link: str) -> set[int]:
    html = world.sessions[role].get(path).text
    return {int(m) for m in re.findall(rf'href="{link}/(\d+)"', html)}


# What each list route shows, as ids, and which objects it lists.
LISTS: dict[str, tuple[str, Callable[[World, Role], set[int]]]] = {
    "api.submissions": ("submissions", lambda w, r: _api_ids(w, r, "/api/v1/submissions")),
    "page.submissions": ("submissions", lambda w, r: _page_ids(w, r, "/submissions", "/submissions")),
    "api.products": ("products", lambda w, r: _api_ids(w, r, "/api/v1/products")),
    "page.products": ("products", lambda w, r: _page_ids(w, r, "/products", "/products")),
}
LIST_ACTIONS = {Action.SUBMISSION_LIST, Action.PRODUCT_LIST}


def test_lists_show_only_what_the_role_may_see(world: World) -> None:
    listed = {r.name for r in ROUTES if ACCESS[r.name].action in LIST_ACTIONS}
    assert listed == set(LISTS), f"list routes without a visibility check here: {listed - set(LISTS)}"
    for name, (kind, ids_of) in LISTS.items():
        objects: dict[str, Any] = world.submissions if kind == "submissions" else world.products
        for role in ROLE_USERS:
            seen = ids_of(world, role)
            if role in (Role.ADMIN, Role.OFFICER):
                assert {objects["own"], objects["foreign"]} <= seen, (name, role)
            else:
                assert objects["own"] in seen and objects["foreign"] not in seen, (name, role, seen)


def test_keys_and_organisations_lists_are_narrowed(world: World) -> None:
    def key_orgs(role: Role) -> set[str]:
        keys = api(world.server, world.seeded.tokens[ROLE_USERS[role]]).get("/api/v1/keys")
        return {k["organisation"]["slug"] for k in keys.json()} if keys.status_code == 200 else {str(keys.status_code)}

    assert key_orgs(Role.OFFICER) == {"lab-a", "lab-b"}
    assert key_orgs(Role.LAB) == {"lab-a"}
    assert key_orgs(Role.VENDOR) == {"403"}
    orgs = api(world.server, world.seeded.tokens["vendor-a-user"]).get("/api/v1/organisations").json()
    assert [o["slug"] for o in orgs] == ["vendor-a"]


def test_waiver_and_certificate_lists_show_only_what_the_role_may_see(world: World) -> None:
    for path, objects in (("/api/v1/waivers", world.waivers), ("/api/v1/certificates", world.certificates)):
        for role in ROLE_USERS:
            response = api(world.server, world.seeded.tokens[ROLE_USERS[role]]).get(path)
            if role is Role.LAB and path.endswith("waivers"):
                assert response.status_code == 403
                continue
            seen = {item["id"] for item in response.json()}
            if role in (Role.ADMIN, Role.OFFICER):
                assert {objects["own"], objects["foreign"]} <= seen, (path, role)
            else:
                assert objects["own"] in seen and objects["foreign"] not in seen, (path, role, seen)


def test_anonymous_sees_the_opted_in_list_and_nothing_else(world: World) -> None:
    s = world.seeded
    # A fresh certificate (the matrix may have revoked the world's), listed by its vendor; the foreign
    # vendor's certified product is not opted in.
    bundle = make_bundle_with(s.base / "listed", s.keys["lab-a"], "listed-run", ALL_PASS)
    sub = publish_in_process(s, bundle, declared={"dev-a": {"model": "Listed-1"}, "dev-b": {"model": "Listed-1"}})
    officer = cert_principal(s, "officer")
    for state in (State.IN_REVIEW, State.APPROVED):
        lifecycle.change_state(s.platform.db, cert_actor("officer"), officer, sub, state)
    own = certificates.certify(s.platform.db, s.platform.signer, cert_actor("officer"), officer, sub)
    with s.platform.db.read() as db:
        foreign = db.get(Certificate, world.certificates["foreign"])
        listed_sub = db.get(Submission, sub)
        assert foreign is not None and listed_sub is not None
        foreign_product, foreign_id, own_id = foreign.product.model, foreign.cert_id, own.cert_id
        hidden = (listed_sub.sha256, listed_sub.run_id, listed_sub.signing_key.key_id)
    with s.platform.db.write() as db:
        public_list.set_listing(db, cert_principal(s, "vendor-a-user"), cert_actor("vendor-a-user"),
                                own.product_id, True)
    anonymous = httpx.Client(base_url=world.server.url)
    public_text = []
    for route in ROUTES:
        if method_of(route) != "GET" or route.name == "static":
            continue
        values = {p: make_object(world, kind, "own", Role.VENDOR)[0] for p, kind in ACCESS[route.name].objects.items()}
        response = anonymous.get(concrete_path(route, values))
        if ACCESS[route.name].action is not None:
            assert verdict_of(response, route.path.startswith("/api/")) == Decision.LOGIN.value, route.name
        elif route.name not in CERT_PATHS and route.name != "page.public_revocations":
            # (a certificate, asked for by its ID, shows what it certifies; the revocation list names
            # every revoked certificate, and is checked below)
            assert response.status_code in (200, 303), route.name  # home: to the login page
            public_text.append(response.text)
    listed = anonymous.get("/api/v1/public/products").json()
    assert [item["certificate_id"] for item in listed] == [own_id]
    assert set(listed[0]) == {"company", "product", "kind", "soc", "os_name", "os_version", "certificate_id",
                              "issued", "expires", "verify_url"}
    # A revoked certificate of its own (the matrix's revocations depend on what it ran before): the
    # revocation list names it, with when and why, and nothing more.
    gone_bundle = make_bundle_with(s.base / "revoked", s.keys["lab-a"], "revoked-run", ALL_PASS)
    gone_sub = publish_in_process(s, gone_bundle, declared={"dev-a": {"model": "Gone-1"}, "dev-b": {"model": "Gone-1"}})
    for state in (State.IN_REVIEW, State.APPROVED):
        lifecycle.change_state(s.platform.db, cert_actor("officer"), officer, gone_sub, state)
    gone = certificates.certify(s.platform.db, s.platform.signer, cert_actor("officer"), officer, gone_sub)
    certificates.revoke(s.platform.db, cert_actor("officer"), officer, gone.id, "authz test")
    revoked = anonymous.get("/public/revocations.json").json()["body"]["revoked"]
    assert gone.cert_id in [r["certificate_id"] for r in revoked]
    assert all(set(r) == {"certificate_id", "revoked_at", "reason"} for r in revoked)
    shown = "\n".join(public_text)
    assert "Listed-1" in shown and own_id in shown
    for secret in (foreign_product, foreign_id, *hidden, "Lab-A Org", "vendor-a-user"):
        assert secret not in shown, secret
