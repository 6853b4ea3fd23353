# No `from __future__ import annotations` here: FastAPI reads the route annotations at runtime.
"""The helpdesk lookup and the inventory report: `router`, over the `Sources` provided to the app.

    GET /api/v1/lookup?q=maria.k          the caller's picture (also at /api/lookup)
    GET /api/v1/reports/inventory?format=json|csv

Reading needs the `viewer` role, like the rest of the API: looking a caller up changes
nothing on their PC (running a diagnostic does, and needs `helpdesk`).
"""

from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter, Depends, Query, Response

from collector.api.auth import Viewer
from collector.http import part
from collector.inventory import report
from collector.inventory.lookup import Sources, lookup

_encoder = msgspec.json.Encoder()


Src = Annotated[Sources, Depends(part(Sources))]
router = APIRouter(tags=["lookup"])


def find(_: Viewer, src: Src, q: Annotated[str, Query(min_length=1, max_length=256)]) -> Response:
    return Response(_encoder.encode(lookup(q, src)), media_type="application/json")


router.add_api_route("/api/v1/lookup", find, methods=["GET"], summary="The caller's picture")
# the spelling of the route, kept so links written from it work
router.add_api_route("/api/lookup", find, methods=["GET"], include_in_schema=False)


@router.get("/api/v1/reports/inventory", tags=["reports"])
def inventory_report(
    _: Viewer,
    src: Src,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    package: Annotated[list[str] | None, Query(max_length=50)] = None,
) -> Response:
    built = report.build(src.inventories.all_latest(), src.clock(), packages=tuple(package or ()))
    if format == "csv":
        return Response(report.render_csv(built), media_type="text/csv")
    return Response(_encoder.encode(built), media_type="application/json")
