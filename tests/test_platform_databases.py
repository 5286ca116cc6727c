"""The platform on both databases: the shipped migrations build exactly the models' schema on SQLite
and on a real PostgreSQL (a private cluster, tests/pg_peer.py); several app processes share one
PostgreSQL and one data folder; concurrent publishers lose nothing and duplicate nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from harness.platform.db.engine import Database
from harness.platform.db.migrate import current_revision, head_revision, upgrade
from harness.platform.db.models import Base, Product, Submission
from tests.pg_peer import PostgresCluster, postgres  # noqa: F401  (the session's cluster)
from tests.platform_peers import PlatformServer, Seeded, api, login, make_bundle, seed, upload

PUBLISHERS = 12


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'platform.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database(f"t_{hashlib.sha1(str(tmp_path).encode()).hexdigest()[:10]}")


@pytest.mark.peer("postgresql")
def test_migrations_build_the_models_schema(db_url: str) -> None:
    database = Database(db_url)
    try:
        assert current_revision(database.engine) is None
        assert upgrade(database.engine) == head_revision()
        assert upgrade(database.engine) == head_revision()  # again: nothing to do, no error
        with database.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert differences == [], differences
    finally:
        database.dispose()


def _publish_concurrently(seeded: Seeded, server: PlatformServer) -> None:
    distinct = [make_bundle(seeded.base / f"c{i}", seeded.keys["lab-a"], f"conc-{i}") for i in range(PUBLISHERS - 4)]
    same = distinct[0]
    jobs = distinct + [same] * 4
    with ThreadPoolExecutor(PUBLISHERS) as pool:
        # Every device declares one product model: concurrent uploads race to create it.
        answers = list(pool.map(lambda b: upload(server, seeded.tokens["lab-a-user"], b,
                                                 declared={"dev-a": {"model": "Race-1"}}), jobs))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers if a.status_code >= 300]
    assert sum(a.status_code == 201 for a in answers) == len(distinct)
    assert len({a.json()["id"] for a in answers}) == len(distinct)
    with seeded.platform.db.read() as db:
        shas = list(db.scalars(select(Submission.sha256)))
        assert sorted(shas) == sorted({hashlib.sha256(b.read_bytes()).hexdigest() for b in distinct})
        assert db.scalar(select(func.count()).select_from(Product).where(Product.model == "Race-1")) == 1


@pytest.mark.peer("postgresql")
def test_concurrent_publishers_lose_nothing_and_duplicate_nothing(db_url: str, tmp_path: Path) -> None:
    seeded = seed(tmp_path, db_url)
    server = PlatformServer(tmp_path / "data", db_url).start()
    try:
        _publish_concurrently(seeded, server)
    finally:
        server.stop()
        seeded.platform.close()


@pytest.fixture
def shared(postgres: PostgresCluster, tmp_path: Path) -> Iterator[tuple[Seeded, PlatformServer, PlatformServer]]:  # noqa: F811
    url = postgres.create_database("shared")
    seeded = seed(tmp_path, url)
    first = PlatformServer(tmp_path / "data", url, args=("--workers", "2")).start()
    second = PlatformServer(tmp_path / "data", url).start()
    try:
        yield seeded, first, second
    finally:
        first.stop()
        second.stop()
        seeded.platform.close()


@pytest.mark.peer("postgresql")
def test_several_app_processes_share_one_postgresql_and_one_data_folder(
    shared: tuple[Seeded, PlatformServer, PlatformServer], postgres: PostgresCluster  # noqa: F811
) -> None:
    seeded, first, second = shared
    bundle = make_bundle(seeded.base / "shared", seeded.keys["lab-a"], "shared-run")
    made = upload(first, seeded.tokens["lab-a-user"], bundle)
    assert made.status_code == 201, made.text
    with api(second, seeded.tokens["vendor-a-user"]) as client:  # the other process serves it
        assert client.get(f"/api/v1/submissions/{made.json()['id']}/bundle").content == bundle.read_bytes()
    browser = login(first, "officer")  # a session made by one process is good on the other
    assert browser.get(second.url + "/submissions").status_code == 200
    log = first.log.read_text() + second.log.read_text()
    assert postgres.password not in log and "***" in log  # the database password is never printed
