"""Where the platform keeps its data and what it accepts: one record built from flags and environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DATA_ENV = "HARNESS_PLATFORM_DATA"
DB_ENV = "HARNESS_PLATFORM_DB"
JOBS_DB_ENV = "HARNESS_PLATFORM_JOBS_DB"
JOBS_ORG_ENV = "HARNESS_PLATFORM_JOBS_ORG"
DEFAULT_DATA = Path(".platform")
DB_FILE = "platform.db"
MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What an upload may be. The defaults fit a large real run (100,000 results, full logs)."""

    max_upload: int = 256 * MiB  # bytes on the wire
    max_entries: int = 50_000  # files in the zip
    max_uncompressed: int = 2048 * MiB  # total declared uncompressed size
    max_ratio: int = 200  # uncompressed/compressed, per entry above ratio_floor bytes
    ratio_floor: int = 1 * MiB
    max_results_json: int = 512 * MiB


@dataclass(frozen=True)
class SessionPolicy:
    lifetime_s: int = 12 * 3600  # a web session ends 12 h after login, whatever happens
    idle_s: int = 2 * 3600  # ... or after 2 h without a request
    touch_every_s: int = 60  # last-seen is written at most once a minute


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5  # failed logins per user name, or per client address, ...
    window_s: int = 15 * 60  # ... within this window lock further attempts until the window passes


@dataclass(frozen=True)
class PlatformConfig:
    data_dir: Path
    db_url: str
    limits: Limits = field(default_factory=Limits)
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    secure_cookies: str = "auto"  # auto: Secure when the request came over HTTPS; always; never
    base_url: str = ""  # the public URL, for links shown in the API and the CLI (optional)
    # The lab's job queue (harness agent's PostgreSQL), read to show jobs; "" : no jobs pages (404).
    jobs_db: str = ""
    jobs_org: str = ""  # slug of the lab organisation that runs the queue: its lab users see the jobs

    @property
    def bundles_dir(self) -> Path:
        return self.data_dir / "bundles"

    @property
    def incoming_dir(self) -> Path:
        return self.data_dir / "incoming"


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DATA)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / DB_FILE).resolve()}"


def make_config(data_dir: Path | None = None, db_url: str | None = None, **extra: object) -> PlatformConfig:
    data = (data_dir or default_data_dir()).resolve()
    url = db_url or os.environ.get(DB_ENV) or sqlite_url(data)
    extra.setdefault("jobs_db", os.environ.get(JOBS_DB_ENV, ""))
    extra.setdefault("jobs_org", os.environ.get(JOBS_ORG_ENV, ""))
    return PlatformConfig(data_dir=data, db_url=url, **extra)  # type: ignore[arg-type]


def masked_url(url: str) -> str:
    """The database URL as it may be printed: the password replaced."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown as its scheme only
        return url.split(":", 1)[0] + ":..."
