"""schemathesis against the OpenAPI document the real server serves: generated requests for every
operation (valid ones, then invalid ones) must never get a 500, and every response must match its
documented status, content type, headers and schema. Bounded: a few dozen examples per operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.platform_peers import PlatformServer, Seeded, make_bundle, seed, upload

MAX_EXAMPLES = 20  # per operation; 30 operations since the certification API


@schemathesis.serializer("application/zip")
def zip_body(context: Any, value: Any) -> dict[str, Any]:
    """The upload body is raw bytes (generated ones: the server must refuse them cleanly)."""
    return {"data": value if isinstance(value, bytes) else str(value).encode()}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Seeded, PlatformServer]]:
    base = tmp_path_factory.mktemp("schemathesis")
    seeded = seed(base)
    server = PlatformServer(base / "data").start()
    bundle = make_bundle(base / "one", seeded.keys["lab-a"], "schema-run")
    assert upload(server, seeded.tokens["lab-a-user"], bundle).status_code == 201
    try:
        yield seeded, server
    finally:
        server.stop()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_api_matches_its_openapi_document(platform: tuple[Seeded, PlatformServer], mode: GenerationMode) -> None:
    seeded, server = platform
    schema = schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 26
    failures: list[str] = []
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def run(case: Any) -> None:
            # A fresh token per request: a generated DELETE /tokens/{id} may revoke the token in use.
            role, org = ("lab", "lab-a") if case.method == "POST" else ("officer", "platform")
            token = seeded.token(f"schemathesis {case.method} {case.path}", org, role)
            # A generated body cannot be a signed bundle, nor name a submission in the right state or a
            # certificate that exists: that valid-looking ones are refused (403, 404, 409) is right.
            excluded = [positive_data_acceptance] if case.method != "GET" else []
            case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                                   excluded_checks=excluded)

        try:
            run()
        except Unsatisfiable:  # a public operation without parameters has no invalid request to make
            if mode is not GenerationMode.NEGATIVE:
                failures.append(f"{operation.method.upper()} {operation.path}: no request could be generated")
        except Exception as exc:  # one operation's failure; keep checking the others
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
