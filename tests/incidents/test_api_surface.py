"""The collector's whole HTTP surface as `collector run` builds it (collector.app.build):
the helpdesk API, diagnostics, lookup, /metrics and /openapi.json, walked route by route.

The role table below must name exactly the routes the app has: a new route without a
decided role fails here before it ships unguarded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from hypothesis import HealthCheck, given, settings

from collector.app import build
from collector.auth import Role
from collector.auth.tokens import TokenStore
from collector.auth.users import UserStore
from collector.config import CollectorConfig, with_overrides
from tests.incidents.fleet import T0, batch, serve, state
from tests.support.services import free_port

PUBLIC, VIEWER, HELPDESK, ADMIN = 0, 1, 2, 3
ROLES = {"viewer": VIEWER, "helpdesk": HELPDESK, "admin": ADMIN}
# Every route and the least role that may use it (PUBLIC: no token needed).
REQUIRED = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): VIEWER,
    ("GET", "/openapi.json"): VIEWER,
    ("POST", "/api/v1/agents/{agent_id}/diagnostics"): HELPDESK,
    ("GET", "/api/v1/diagnostics"): HELPDESK,
    ("GET", "/api/v1/diagnostics/{audit_id}"): HELPDESK,
    ("POST", "/api/agents/{agent_id}/diagnostics"): HELPDESK,
    ("GET", "/api/diagnostics"): HELPDESK,
    ("GET", "/api/diagnostics/{audit_id}"): HELPDESK,
    ("GET", "/api/v1/incidents"): VIEWER,
    ("GET", "/api/v1/incidents/{incident_id}"): VIEWER,
    ("GET", "/api/v1/incidents/{incident_id}/timeline"): VIEWER,
    ("POST", "/api/v1/incidents/{incident_id}/ack"): HELPDESK,
    ("POST", "/api/v1/incidents/{incident_id}/assign"): HELPDESK,
    ("POST", "/api/v1/incidents/{incident_id}/comments"): HELPDESK,
    ("POST", "/api/v1/incidents/{incident_id}/resolve"): HELPDESK,
    ("GET", "/api/v1/agents"): VIEWER,
    ("GET", "/api/v1/agents/{agent_id}"): VIEWER,
    ("GET", "/api/v1/devices"): VIEWER,
    ("GET", "/api/v1/devices/{device}"): VIEWER,
    ("GET", "/api/v1/silences"): VIEWER,
    ("POST", "/api/v1/silences"): HELPDESK,
    ("GET", "/api/v1/silences/{silence_id}"): VIEWER,
    ("DELETE", "/api/v1/silences/{silence_id}"): HELPDESK,
    ("GET", "/api/v1/kb"): VIEWER,
    ("GET", "/api/v1/kb/{slug}"): VIEWER,
    ("GET", "/api/v1/reports"): VIEWER,
    ("GET", "/api/v1/lookup"): VIEWER,
    ("GET", "/api/lookup"): VIEWER,
    ("GET", "/api/v1/reports/inventory"): VIEWER,
}
# The helpdesk console's pages and forms (collector/console), signed in with a session
# cookie instead of a token: a stranger is sent to the login page, a role too low is refused.
CONSOLE = {
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): VIEWER,
    ("GET", "/"): VIEWER,
    ("GET", "/me"): VIEWER,
    ("GET", "/tickets/{incident_id}"): VIEWER,
    ("POST", "/tickets/{incident_id}/ack"): HELPDESK,
    ("POST", "/tickets/{incident_id}/assign"): HELPDESK,
    ("POST", "/tickets/{incident_id}/comment"): HELPDESK,
    ("POST", "/tickets/{incident_id}/resolve"): HELPDESK,
    ("GET", "/search"): VIEWER,
    ("GET", "/search/suggest"): VIEWER,
    ("GET", "/pc/{agent_id}"): VIEWER,
    ("POST", "/pc/{agent_id}/checks"): HELPDESK,
    ("GET", "/devices"): VIEWER,
    ("GET", "/devices/{device}"): VIEWER,
    ("GET", "/agents"): VIEWER,
    ("GET", "/silences"): VIEWER,
    ("POST", "/silences"): HELPDESK,
    ("POST", "/silences/{silence_id}/remove"): HELPDESK,
    ("GET", "/reports"): VIEWER,
    ("GET", "/reports.csv"): VIEWER,
    ("GET", "/users"): ADMIN,
}
PASSWORD = "a long enough password"
PATH_VALUES = {
    "incident_id": "1",
    "audit_id": "1",
    "silence_id": "1",
    "agent_id": "pc-1",
    "device": "SN1",
    "slug": "paper-jam",
}
# /healthz says 503 while the broker is unreachable, as here (it is never started)
UNHEALTHY = ("GET", "/healthz")
QUERY_VALUES = {"/api/v1/lookup": {"q": "pc-1"}, "/api/lookup": {"q": "pc-1"}}


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, from its own routing (not its schema)."""
    return {
        (method, str(route.path))
        for route in iter_route_contexts(app.routes)
        for method in (route.methods or ())
        if method != "HEAD"
    }


@pytest.fixture(scope="module")
def surface(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FastAPI, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("surface")
    config = with_overrides(
        CollectorConfig(),
        broker=f"mqtt://127.0.0.1:{free_port()}",  # never started: nothing here needs the broker
        metrics_url=f"http://127.0.0.1:{free_port()}",
        db=f"sqlite:///{tmp / 'collector.db'}",
        listen=f"127.0.0.1:{free_port()}",
    )
    config = msgspec.structs.replace(
        config, metrics=msgspec.structs.replace(config.metrics, buffer_dir=str(tmp / "buffer"))
    )
    collector = build(config)
    service, incidents = collector.service, collector.incidents
    for pc in ("pc-1", "pc-2"):
        incidents.engine.observe_batch(
            batch(pc, T0, states=[state("SN1", "printer_paper_jam", False, T0, text="jammed")]), T0
        )
    incidents.engine.evaluate(T0)
    tokens = {role: TokenStore(service.engine).create(role, f"{role}-user", T0) for role in ROLES}
    people = UserStore(service.engine)
    for role in ROLES:
        people.add(f"{role}-person", Role(role), PASSWORD, T0)
    with serve(service.app) as url:
        yield url, service.app, tokens
    service.engine.dispose()


def _request(
    client: httpx.Client, method: str, path: str, token: str | None, **kwargs: Any
) -> httpx.Response:
    url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return client.request(method, url, headers=headers, params=QUERY_VALUES.get(path), **body, **kwargs)


def test_the_role_table_names_every_route(surface: tuple[str, FastAPI, dict[str, str]]) -> None:
    _, app, _ = surface
    assert route_table(app) == set(REQUIRED) | set(CONSOLE)


def test_every_console_page_and_form_refuses_every_role_below_its_own(
    surface: tuple[str, FastAPI, dict[str, str]],
) -> None:
    url, _, _ = surface
    refused = accepted = 0
    for name, rank in [("none", PUBLIC), *ROLES.items()]:
        with httpx.Client(base_url=url, timeout=20) as client:
            if name != "none":
                form = client.get("/login")
                signed = client.post(
                    "/login",
                    data={"username": f"{name}-person", "password": PASSWORD, "csrf": _csrf(form.text)},
                )
                assert signed.status_code == 303, signed.text
            csrf = _csrf(client.get("/").text) if name != "none" else "x"
            # logging out last (the session it ends is the one walking the rest); logging in is
            # walked by tests/console (a form without its login CSRF token is refused there)
            routes = [r for r in CONSOLE.items() if r[0] != ("POST", "/login")]
            for (method, path), required in sorted(routes, key=lambda r: r[0] == ("POST", "/logout")):
                target = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
                data = {"csrf": csrf, "text": "x", "assignee": "x", "minutes": "5", "device": "SN1"}
                answer = client.request(method, target, data=data if method == "POST" else None)
                where = f"{method} {path} as {name}: {answer.status_code} {answer.text[:200]}"
                if rank < required:
                    wanted = (303,) if rank == PUBLIC else (403,)
                    assert answer.status_code in wanted, where
                    if rank == PUBLIC:
                        assert answer.headers["location"].startswith("/login"), where
                    refused += 1
                else:
                    assert answer.status_code not in (401, 403) and answer.status_code < 500, where
                    accepted += 1
    print(f"\nconsole routes x roles: {len(CONSOLE)} routes, {refused} refused, {accepted} let through")


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[-500:]
    return found.group(1)


def test_every_route_refuses_every_role_below_its_own(surface: tuple[str, FastAPI, dict[str, str]]) -> None:
    url, _, tokens = surface
    refused = accepted = 0
    with httpx.Client(base_url=url, timeout=20) as client:
        for (method, path), required in sorted(REQUIRED.items()):
            for name, rank in [("none", PUBLIC), ("bogus", PUBLIC), *ROLES.items()]:
                token = tokens.get(name, "not-a-token" if name == "bogus" else None)
                answer = _request(client, method, path, token)
                where = f"{method} {path} as {name}: {answer.status_code} {answer.text[:200]}"
                if rank < required:
                    want = 401 if rank == PUBLIC else 403
                    assert answer.status_code == want, where
                    assert answer.json()["detail"], where
                    refused += 1
                else:
                    healthy = answer.status_code < 500 or (
                        (method, path) == UNHEALTHY and answer.status_code == 503
                    )
                    assert answer.status_code not in (401, 403) and healthy, where
                    accepted += 1
    print(f"\nroutes x roles: {len(REQUIRED)} routes, {refused} refused, {accepted} let through")


def _integer_inputs(spec: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(method, path, where, name) of every integer parameter and top-level integer body field."""
    schemas = spec.get("components", {}).get("schemas", {})

    def is_integer(schema: dict[str, Any]) -> bool:
        options = schema.get("anyOf", [schema])
        return any(option.get("type") == "integer" for option in options)

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if is_integer(parameter["schema"]):
                    yield method.upper(), path, parameter["in"], parameter["name"]
            content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = content.get("schema", {}).get("$ref", "")
            for name, field in schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}).items():
                if is_integer(field):
                    yield method.upper(), path, "body", name


def test_out_of_range_numbers_are_422_everywhere(surface: tuple[str, FastAPI, dict[str, str]]) -> None:
    """incident_id=2**70 gave a 500 (an overflow in the database); every integer input is bounded."""
    url, app, tokens = surface
    found = list(_integer_inputs(app.openapi()))
    assert {(m, p, w, n) for m, p, w, n in found if w == "path"} >= {
        ("GET", "/api/v1/incidents/{incident_id}", "path", "incident_id"),
        ("GET", "/api/v1/diagnostics/{audit_id}", "path", "audit_id"),
    }
    assert ("POST", "/api/v1/agents/{agent_id}/diagnostics", "body", "incident_id") in found
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    with httpx.Client(base_url=url, timeout=20, headers=headers) as client:
        for method, path, where, name in found:
            for huge in (2**70, -(2**70), 2**63):
                values = dict(PATH_VALUES)
                kwargs: dict[str, Any] = {"params": dict(QUERY_VALUES.get(path, {}))}
                if where == "path":
                    values[name] = str(huge)
                elif where == "query":
                    kwargs["params"][name] = huge
                else:
                    kwargs["json"] = {"check": "memory", name: huge}
                target = re.sub(r"\{(\w+)\}", lambda m, v=values: v[m.group(1)], path)
                answer = client.request(method, target, **kwargs)
                assert answer.status_code == 422, (
                    f"{method} {path} {where} {name}={huge}: {answer.status_code}"
                )
        diag = client.post(
            "/api/v1/agents/pc-1/diagnostics", json={"check": "ping", "params": {"count": 2**70}}
        )
        assert diag.status_code == 422, diag.text  # a parameter's number too (it goes on the wire)
    print(f"\nout-of-range numbers: {len(found)} integer inputs x 3 values, all 422")


@pytest.mark.parametrize("role", ["none", "viewer", "helpdesk", "admin"])
def test_fuzzed_requests_never_cause_a_server_error(
    surface: tuple[str, FastAPI, dict[str, str]], role: str
) -> None:
    """schemathesis generates requests for every operation of the whole app's OpenAPI spec,
    with the diagnostics and lookup routers mounted, as each role."""
    url, app, tokens = surface
    headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}
    failures: list[str] = []
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    with httpx.Client(timeout=20) as http:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def check(case: schemathesis.Case) -> None:
                # schemathesis's own `requests` transport breaks on this urllib3; send with httpx
                kwargs = case.as_transport_kwargs(base_url=url, headers=headers)
                body = kwargs.pop("json", None)
                try:
                    response = http.request(
                        kwargs.pop("method"),
                        kwargs.pop("url"),
                        params=kwargs.get("params"),
                        headers=kwargs.get("headers"),
                        json=body,
                        content=kwargs.get("data") if body is None else None,
                    )
                except httpx.LocalProtocolError:
                    return  # a header httpx will not send (an empty generated bearer token)
                if response.status_code >= 500 and (case.method, case.path) != UNHEALTHY:
                    failures.append(
                        f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
                    )

            check()
    assert failures == []
