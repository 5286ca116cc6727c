"""The running platform: its configuration, database, bundle store and signing key, made once per
process; `now()` is the platform's clock (tests replace it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import PlatformConfig
from .db.engine import Database
from .db.types import utcnow
from .signer import PlatformSigner, load_or_create
from .store.blobs import BlobStore


@dataclass
class Platform:
    config: PlatformConfig
    db: Database
    store: BlobStore
    signer: PlatformSigner
    clock: Callable[[], dt.datetime] = field(default=utcnow)

    @classmethod
    def open(cls, config: PlatformConfig) -> Platform:
        config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the database holds password hashes
        return cls(
            config,
            Database(config.db_url),
            BlobStore(config.bundles_dir, config.incoming_dir),
            load_or_create(config.data_dir),
        )

    def now(self) -> dt.datetime:
        return self.clock()

    def close(self) -> None:
        self.db.dispose()
