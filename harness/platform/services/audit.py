"""The append-only audit trail: every entry hash-chained to the one before it.

entry hash = SHA-256(prev_hash + "\n" + the JSON list of the entry's fields in a fixed order, its
number first; see entry_hash).
Editing an entry breaks its hash; removing or reordering entries breaks the numbering and the
chain; cutting entries off the end no longer matches the head row, which is written with each entry
in the same transaction. Appends are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL: the head
row's lock), so the chain never forks. `verify` needs nothing but the rows: an exported trail can be
checked by anyone with the same code (`harness platform audit verify --export FILE`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.cert_models import AuditEntry, AuditHead

GENESIS = "0" * 64
HEAD_ID = 1
_FIELDS = (
    "seq", "at", "actor", "actor_role", "origin", "action", "object_kind", "object_id", "organisation",
    "before", "after", "detail",
)  # fmt: skip


@dataclass(frozen=True)
class Actor:
    """Who did it and from where: a user (login and role) and the request's origin (address, or
    'cli' for an admin command)."""

    login: str
    role: str
    origin: str


SYSTEM = Actor("", "system", "platform")


@dataclass(frozen=True)
class Record:
    action: str  # e.g. "submission.state", "waiver.approve", "certificate.issue"
    object_kind: str
    object_id: str
    organisation: str = ""
    before: str = ""
    after: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_ROW = (*_FIELDS, "prev_hash", "hash")  # a stored entry, as verify_rows reads it
_N = len(_FIELDS)


def _hash_values(prev_hash: str, values: Sequence[Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{_dumps(list(values))}".encode()).hexdigest()


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of one entry: its fields as a JSON list in _FIELDS order (no key sorting to do)."""
    return _hash_values(prev_hash, [fields[k] for k in _FIELDS])


def _head(db: Session) -> AuditHead:
    query = select(AuditHead).where(AuditHead.id == HEAD_ID)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    head = db.scalar(query)
    if head is None:
        head = AuditHead(id=HEAD_ID, seq=0, hash=GENESIS)
        db.add(head)
        db.flush()
    return head


def append(db: Session, actor: Actor, record: Record, at: dt.datetime) -> AuditEntry:
    """Add one entry in the caller's transaction (committed, or rolled back, with the change it records)."""
    head = _head(db)
    fields: dict[str, Any] = {
        "seq": head.seq + 1,
        "at": stamp(at),
        "actor": actor.login[:64],
        "actor_role": actor.role[:16],
        "origin": actor.origin[:200],
        "action": record.action[:64],
        "object_kind": record.object_kind[:32],
        "object_id": str(record.object_id)[:64],
        "organisation": record.organisation[:64],
        "before": record.before[:32],
        "after": record.after[:32],
        "detail": canonical(record.detail),
    }
    digest = entry_hash(head.hash, fields)
    entry = AuditEntry(**fields, prev_hash=head.hash, hash=digest)
    db.add(entry)
    head.seq, head.hash = fields["seq"], digest
    db.flush()
    return entry


@dataclass(frozen=True)
class Problem:
    seq: int
    what: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.what}"


@dataclass(frozen=True)
class Verification:
    entries: int
    head_seq: int | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {**{k: getattr(entry, k) for k in _FIELDS}, "prev_hash": entry.prev_hash, "hash": entry.hash}


def verify_entries(
    entries: Iterable[Mapping[str, Any]], head: tuple[int, str] | None, max_problems: int = 20
) -> Verification:
    """Check a trail of entries as dicts (an export, or rows read by name). Pure."""
    return verify_rows((tuple(e.get(k) for k in _ROW) for e in entries), head, max_problems)


def verify_rows(
    rows: Iterable[Sequence[Any]], head: tuple[int, str] | None, max_problems: int = 20
) -> Verification:
    """Check a trail, entries in the order they are stored (by number), each a sequence of the _ROW
    fields. Pure: rows from the database or from an export."""
    problems: list[Problem] = []
    prev, expected, count = GENESIS, 1, 0
    hash_values, n = _hash_values, _N
    for row in rows:
        count += 1
        try:
            seq = int(row[0])
        except (TypeError, ValueError):
            seq = -1
        if seq != expected:
            what = "missing before this one" if seq > expected else "out of order or duplicated"
            problems.append(Problem(seq, f"number {seq} where {expected} was due ({what})"))
        prev_hash, digest = row[n], row[n + 1]
        if prev_hash != prev:
            problems.append(
                Problem(seq, "does not chain to the entry before it (removed, inserted or reordered)")
            )
        if any(v is None for v in row) or hash_values(str(prev_hash), row[:n]) != digest:
            problems.append(Problem(seq, "its content does not match its hash (edited)"))
        prev, expected = str(digest), seq + 1
        if len(problems) >= max_problems:
            break
    if head is not None and not problems:
        head_seq, head_hash = head
        if head_seq != expected - 1 or head_hash != prev:
            problems.append(
                Problem(
                    head_seq,
                    f"the trail ends at entry {expected - 1} but its head says {head_seq} "
                    "(entries removed from the end, or the head edited)",
                )
            )
    return Verification(count, head[0] if head else None, tuple(problems))


def stream_rows(db: Session, batch: int = 5000) -> Iterator[Sequence[Any]]:
    """Every entry by number as a tuple of the _ROW fields, in batches (100,000 entries never sit
    in memory at once)."""
    after = 0
    columns = [getattr(AuditEntry, k) for k in _ROW]
    while True:
        rows = db.execute(
            select(*columns).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def stream(db: Session, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every entry by number, as a dict."""
    for row in stream_rows(db, batch):
        yield dict(zip(_ROW, row, strict=True))


def head_of(db: Session) -> tuple[int, str] | None:
    head = db.get(AuditHead, HEAD_ID)
    return (head.seq, head.hash) if head else None


def verify(db: Session) -> Verification:
    head = head_of(db)
    return verify_rows(stream_rows(db), head or (0, GENESIS))


def entries_for(db: Session, object_kind: str, object_id: str) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.object_kind == object_kind, AuditEntry.object_id == object_id)
    return list(db.scalars(query.order_by(AuditEntry.seq)))


def page(db: Session, before_seq: int | None, limit: int) -> list[AuditEntry]:
    query = select(AuditEntry)
    if before_seq is not None:
        query = query.where(AuditEntry.seq < before_seq)
    return list(db.scalars(query.order_by(AuditEntry.seq.desc()).limit(limit)))


def export_lines(db: Session) -> Iterator[str]:
    """JSON Lines: a header with the head, then every entry (what `audit verify --export` checks)."""
    head = head_of(db) or (0, GENESIS)
    yield canonical({"format": "harness-audit/1", "head_seq": head[0], "head_hash": head[1]}) + "\n"
    for entry in stream(db):
        yield canonical(entry) + "\n"


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    d = as_dict(entry)
    d["detail"] = json.loads(entry.detail)
    return d
