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
from harness.platform.web.access import ACCESS, Access, RouteEntry, flat_routes
from harness.platform.web.app import create_app
from tests.platform_peers import USERS, PlatformServer, Seeded, api, csrf_of, login, make_bundle, seed, upload


def _route_table() -> list[RouteEntry]:
    folder = Path(tempfile.mkdtemp(prefix="harness-routes-"))
    try:
        return flat_routes(create_app(make_config(folder / "data")).routes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


ROUTES = _route_table()
ROLE_USERS = {Role.ADMIN: "admin", Role.OFFICER: "officer", Role.LAB: "lab-a-user", Role.VENDOR: "vendor-a-user"}
OBJECT_KINDS = {"submission", "product", "token"}
MISSING_ID = 987654
# The body a state-changing route is called with (the CSRF token is added for pages).
FORMS: dict[str, dict[str, str]] = {
    "page.login_submit": {"username": "nobody", "password": "wrong"},
    "page.logout": {},
    "page.token_create": {"name": "matrix", "days": "1"},
    "page.token_revoke": {},
    "api.publish": {},
    "api.token_revoke": {},
}
PUBLIC_PATHS = {"static": "/static/platform.css"}


@dataclass
class World:
    seeded: Seeded
    server: PlatformServer
    submissions: dict[str, int]  # "own" (lab-a for vendor-a) / "foreign" (lab-b for vendor-b)
    products: dict[str, int]
    sessions: dict[Role, httpx.Client]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("authz")
    seeded = seed(base)
    server = PlatformServer(base / "data").start()
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
        yield World(seeded, server, subs, products, sessions)
    finally:
        server.stop()


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
