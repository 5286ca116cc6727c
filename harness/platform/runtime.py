"""The running platform: its configuration, database and bundle store, made once per process."""

from __future__ import annotations

from dataclasses import dataclass

from .config import PlatformConfig
from .db.engine import Database
from .store.blobs import BlobStore


@dataclass
class Platform:
    config: PlatformConfig
    db: Database
    store: BlobStore

    @classmethod
    def open(cls, config: PlatformConfig) -> Platform:
        config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the database holds password hashes
        return cls(config, Database(config.db_url), BlobStore(config.bundles_dir, config.incoming_dir))

    def close(self) -> None:
        self.db.dispose()
