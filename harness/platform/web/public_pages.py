"""What anyone may see without logging in: the list of certified products (opt-in), a certificate's
verification page (valid, expired or revoked), the certificate itself (signed JSON and a printable
bilingual page), the signed revocation list and the platform's public key. Pages and JSON."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from ..api import cert_schemas as cs
from ..api.common import api_router
from ..api.schemas import Problem
from ..services import certificates, public_list
from . import render
from .access import lang_of, page_viewer, platform_of, route_name

router = APIRouter()
api = api_router()  # /api/v1/public/...: no token, unknown query parameters refused as everywhere
CERT_ID = re.compile(r"^HPC-\d{4}-[0-9A-F]{10}$")
CertId = Annotated[str, Path(min_length=1, max_length=40, description="the certificate's ID (HPC-YYYY-...)")]
PUBLIC_CACHE = {"Cache-Control": "no-cache"}


def _lookup(request: Request, cert_id: str) -> tuple[certificates.Certificate | None, str]:
    platform = platform_of(request)
    if not CERT_ID.match(cert_id):
        return None, "unknown"
    with platform.db.read() as db:
        cert = certificates.by_public_id(db, cert_id)
        if cert is None:
            return None, "unknown"
        # Read what the page shows while the session is open.
        _ = (cert.vendor.name, cert.product.model, cert.derived_from)
        return cert, certificates.status_of(cert, platform.now())


@router.get("/public/products", name=route_name("page.public_products", None))
def public_products_page(request: Request) -> Response:
    platform = platform_of(request)
    with platform.db.read() as db:
        items = public_list.public_products(db, platform.now())
    return render.page(
        "public_products.html.j2", lang=lang_of(request), viewer=page_viewer(request), items=items
    )


@router.get("/public/certificates/{cert_id}", name=route_name("page.public_certificate", None))
def verification_page(request: Request, cert_id: CertId) -> Response:
    cert, status = _lookup(request, cert_id)
    return render.page(
        "verify.html.j2",
        404 if cert is None else 200,
        lang=lang_of(request),
        viewer=page_viewer(request),
        cert=cert,
        verdict=status,
        cert_id=cert_id,
    )


@router.get(
    "/public/certificates/{cert_id}/certificate.json", name=route_name("page.public_certificate_json", None)
)
def certificate_json(request: Request, cert_id: CertId) -> Response:
    cert, _ = _lookup(request, cert_id)
    if cert is None:
        return JSONResponse({"detail": "no certificate has this ID"}, status_code=404)
    return Response(
        cert.body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{cert.cert_id}.json"', **PUBLIC_CACHE},
    )


@router.get("/public/certificates/{cert_id}/print", name=route_name("page.public_certificate_print", None))
def certificate_print(request: Request, cert_id: CertId) -> Response:
    cert, status = _lookup(request, cert_id)
    if cert is None:
        return render.page(
            "verify.html.j2",
            404,
            lang=lang_of(request),
            viewer=page_viewer(request),
            cert=None,
            verdict="unknown",
            cert_id=cert_id,
        )
    body = certificates.envelope_of(cert).body
    return render.page(
        "certificate_print.html.j2", lang=lang_of(request), viewer=None, cert=cert, body=body, verdict=status
    )


@router.get("/public/revocations.json", name=route_name("page.public_revocations", None))
def revocations(request: Request) -> Response:
    platform = platform_of(request)
    with platform.db.read() as db:
        envelope = certificates.revocation_list(db, platform.signer, platform.now())
    return Response(
        envelope.text(),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="revocations.json"', **PUBLIC_CACHE},
    )


@router.get("/public/platform-key", name=route_name("page.public_platform_key", None))
def platform_key(request: Request) -> Response:
    signer = platform_of(request).signer
    return Response(
        signer.public_text(),
        media_type="text/plain",
        headers={
            "Content-Disposition": 'attachment; filename="platform-signing.pub"',
            "X-Key-Id": signer.key_id,
        },
    )


@api.get(
    "/public/products",
    name=route_name("api.public_products", None),
    response_model=list[cs.PublicProduct],
    openapi_extra={"security": []},
)
def public_products_api(request: Request) -> list[cs.PublicProduct]:
    """The public list of certified products (no token needed)."""
    platform = platform_of(request)
    with platform.db.read() as db:
        items = public_list.public_products(db, platform.now())
    return [
        cs.PublicProduct(**item.__dict__, verify_url=f"/public/certificates/{item.certificate_id}")
        for item in items
    ]


@api.get(
    "/public/certificates/{cert_id}",
    name=route_name("api.public_certificate", None),
    response_model=cs.PublicStatus,
    responses={404: {"model": Problem, "description": "no such certificate"}},
    openapi_extra={"security": []},
)
def public_certificate_api(request: Request, cert_id: CertId) -> Response:
    """A certificate's status: valid, expired or revoked (no token needed)."""
    cert, status = _lookup(request, cert_id)
    if cert is None:
        return JSONResponse({"detail": "no certificate has this ID"}, status_code=404)
    return JSONResponse(cs.PublicStatus.of(cert, status).model_dump(mode="json"))
