"""The shipped JSON Schema of results.json (harness/schemas/results.schema.json), compiled once, and
the one check of a parsed document against it that the reader and the platform share."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "results.schema.json"


@lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
    text = resources.files("harness").joinpath("schemas/results.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def json_path(error: Any) -> str:
    """Where a violation is, as `$.devices[0].verdict`."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def first_violation(document: Any) -> str | None:
    """`<json path>: <why>` of the first place `document` breaks the schema; None when it holds."""
    error = next(iter(validator().iter_errors(document)), None)
    return None if error is None else f"{json_path(error)}: {error.message}"
