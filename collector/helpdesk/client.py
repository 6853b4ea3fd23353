"""The collector's REST API as the helpdesk CLI uses it: every answer decoded into a declared type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict, TypeVar, Unpack

import httpx
import msgspec

from collector.errors import CollectorError

T = TypeVar("T")

Params = Mapping[str, str | int | Sequence[str]]
Body = Mapping[str, object]


class Request(TypedDict, total=False):
    """What a request may carry besides its method and path."""

    params: Params
    json: Body
    timeout: float  # seconds; the client's default otherwise


class ApiError(CollectorError):
    """The API could not be reached, refused the request, or answered something unexpected."""


class _Problem(msgspec.Struct):
    """One item of a 422's list: where the request was wrong and why (pydantic's shape)."""

    loc: list[str | int] = []
    msg: str | None = None


class _Refusal(msgspec.Struct):
    detail: str | list[_Problem] | None = None


def _reason(response: httpx.Response) -> str:
    """The server's own words for a refusal, else the body as it came."""
    try:
        detail = msgspec.json.decode(response.content, type=_Refusal).detail
    except msgspec.MsgspecError:
        return response.text
    if detail is None:
        return response.text
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(str(p) for p in d.loc)}: {d.msg}" for d in detail)
    return detail


class Client:
    """The API over httpx; raises ApiError with the server's message on any non-2xx answer."""

    def __init__(self, api: str, token: str, timeout: float = 15.0) -> None:
        self.http = httpx.Client(
            base_url=api.rstrip("/") + "/api/v1",
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def call(self, method: str, path: str, **request: Unpack[Request]) -> httpx.Response:
        """One request; the response if the server took it."""
        try:
            response = self.http.request(
                method,
                path,
                params=request.get("params"),
                json=request.get("json"),
                timeout=request.get("timeout", self.http.timeout),
            )
        except httpx.HTTPError as err:
            raise ApiError(f"cannot reach the API: {err}") from err
        if response.status_code >= 400:
            raise ApiError(f"{response.status_code}: {_reason(response)}")
        return response

    def fetch(self, path: str, type: type[T], method: str = "GET", **request: Unpack[Request]) -> T:
        """The answer at `path` decoded into `type`; ApiError names the path if it does not fit."""
        response = self.call(method, path, **request)
        try:
            return msgspec.json.decode(response.content, type=type)
        except msgspec.MsgspecError as err:
            raise ApiError(f"unexpected answer from {method} {path}: {err}") from err
