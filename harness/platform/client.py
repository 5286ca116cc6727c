"""The publish client: `harness publish RUN|ZIP --to URL` and `harness run ... --publish URL`.

The token comes from an environment variable, never from the command line (which shells keep in
history and CI logs print). The bundle is streamed as the request body; the server answers with the
submission, or the check that refused it and why."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..errors import ConfigError
from ..inventory import load_inventory
from ..results.run_info import RUN_JSON, parse_run_info

TOKEN_ENV = "HARNESS_PLATFORM_TOKEN"
VENDOR_ENV = "HARNESS_PLATFORM_VENDOR"
API = "/api/v1/submissions"
EXIT_ACCEPTED, EXIT_REFUSED, EXIT_USAGE, EXIT_TROUBLE = 0, 1, 2, 3


@dataclass(frozen=True)
class PublishResult:
    code: int  # EXIT_*
    message: str  # one line for the user
    url: str = ""  # the submission's page, when accepted
    submission_id: int | None = None
    created: bool = False


def token_from_env(var: str | None) -> str:
    name = var or TOKEN_ENV
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"no platform token: set ${name} (a token from the platform's API tokens page)")
    return value


def base_url(url: str) -> str:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"--to {url!r}: give the platform's URL, http(s)://HOST[:PORT]")
    return str(parsed).rstrip("/")


def declared_devices(inventory: Path | None, bundle: Path) -> dict[str, dict[str, str]]:
    """Model and SoC of the bundle's devices as the inventory declares them (what the platform files
    the products under). The inventory is the one given, else the one recorded in the run's run.json
    when it is on this machine; none found: the platform uses what the devices reported."""
    names: list[str] = []
    recorded = ""
    try:
        with zipfile.ZipFile(bundle) as zf:
            run_json = [n for n in zf.namelist() if n.endswith(f"/{RUN_JSON}") or n == RUN_JSON]
            if run_json:
                member = min(run_json, key=len)
                info = parse_run_info(zf.read(member), f"{bundle}:{member}", lenient=True)
                names = [str(d) for d in info.devices or []]
                recorded = str(info.inventory or "")
    except (zipfile.BadZipFile, OSError, ConfigError, TypeError):
        return {}
    path = inventory or (Path(recorded) if recorded else None)
    if path is None or not path.is_file():
        return {}
    try:
        specs = load_inventory(path).devices
    except ConfigError:
        return {}
    out: dict[str, dict[str, str]] = {}
    for name in names:
        spec = specs.get(name)
        if spec is None:
            continue
        values = {k: v for k, v in (("model", spec.model), ("soc", spec.soc)) if v}
        if values:
            out[name] = values
    return out


def publish_bundle(
    url: str,
    token: str,
    bundle: Path,
    *,
    vendor: str | None = None,
    declared: dict[str, dict[str, str]] | None = None,
    answers: int | None = None,
    timeout: float = 600.0,
) -> PublishResult:
    base = base_url(url)
    params = {"vendor": vendor or ""}
    if answers is not None:
        params["answers"] = str(answers)
    if declared:
        params["declared"] = json.dumps(declared, ensure_ascii=False, separators=(",", ":"))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/zip"}
    try:
        with bundle.open("rb") as body, httpx.Client(timeout=httpx.Timeout(timeout, connect=15.0)) as client:
            response = client.post(base + API, params=params, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return PublishResult(
            EXIT_TROUBLE, f"cannot reach the platform at {base}: {exc or type(exc).__name__}"
        )
    except OSError as exc:
        raise ConfigError(f"{bundle}: {exc.strerror or exc}") from None
    try:
        body_json = response.json()
    except ValueError:
        body_json = {}
    detail = str(body_json.get("detail") or response.reason_phrase) if isinstance(body_json, dict) else ""
    if response.status_code in (200, 201) and isinstance(body_json, dict) and "id" in body_json:
        page = base + str(body_json.get("url") or f"/submissions/{body_json['id']}")
        created = bool(body_json.get("created"))
        what = "accepted as" if created else "already published as"
        return PublishResult(
            EXIT_ACCEPTED, f"{what} submission {body_json['id']}", page, int(body_json["id"]), created
        )
    if response.status_code in (401, 403, 413, 422):
        step = body_json.get("step") if isinstance(body_json, dict) else None
        where = f" at the {step} check" if step else ""
        return PublishResult(EXIT_REFUSED, f"refused{where} ({response.status_code}): {detail}")
    return PublishResult(EXIT_TROUBLE, f"the platform at {base} answered {response.status_code}: {detail}")
