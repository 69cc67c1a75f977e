"""A property-based run against /api/openapi.json (issue 7 acceptance; the role
schemathesis plays, done with hypothesis): for every operation described, requests built
from its schema, and requests with arbitrary JSON, never get a server error (5xx).

The app runs in-process as a logged-in operator with a valid CSRF token, so the requests
reach the handlers. Root passwords go to a scratch system root and the update commands are
harmless, and remote support has a scratch root without configuration, so the run
changes nothing on this machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tandem.web.app import create_app
from tandem.web.settings import WebSettings
from tests.web.conftest import PASSWORD, free_port, install

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


def system_root(root: Path) -> Path:
    """A scratch root for chpasswd -R: only root's lines, never this machine's."""
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    (root / "etc" / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc" / "shadow").chmod(0o600)
    return root


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("fuzz")
    etc = install(root, free_port())["node1"]
    settings_ = WebSettings(
        etc_dir=etc, state_dir=root / "state", run_dir=root / "run", node="node1",
        peer_timeout=0.2, system_root=system_root(root / "sysroot"),
        apt_commands={"refresh": ["true"], "apply": ["true"]},
        vz_dir=root / "vz",  # not mounted: container requests are refused, never carried out
        support_root=root / "support",  # no configuration: support is never switched on here
    )  # fmt: skip
    with TestClient(create_app(settings_, background=False), base_url="https://testserver") as c:
        yield c
    shutil.rmtree(root, ignore_errors=True)


def log_in(client: TestClient) -> None:
    client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf"]
    password = client.app.state.password  # type: ignore[attr-defined]
    reply = client.post("/api/login", json={"user": "admin", "password": password})
    assert reply.status_code == 200, reply.text
    client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf"]


def resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def from_schema(schema: dict[str, Any], spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    schema = resolve(schema, spec)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, spec) for s in schema[key]])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        fixed = {k: from_schema(v, spec) for k, v in props.items() if k in required}
        optional = {k: from_schema(v, spec) for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(fixed, optional=optional)
    if kind == "array":
        items = from_schema(schema.get("items", {}), spec)
        return st.lists(items, max_size=min(schema.get("maxItems", 5), 5))
    if kind == "string":
        return st.text(max_size=min(schema.get("maxLength", 40), 40))
    if kind == "integer":
        return st.integers(schema.get("minimum", -(10**6)), schema.get("maximum", 10**6))
    if kind == "number":
        return st.floats(schema.get("minimum", -1e6), schema.get("maximum", 1e6), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    return JSON


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if path != "/api/logout"  # ends the run's own session; covered in test_auth
    ]


def request_for(
    spec: dict[str, Any], op: tuple[str, str, dict[str, Any]]
) -> st.SearchStrategy[Any]:
    method, path, details = op
    params = {p["name"]: (p["in"], from_schema(p["schema"], spec))
              for p in details.get("parameters", [])}  # fmt: skip
    body_schema = (details.get("requestBody", {}).get("content", {})
                   .get("application/json", {}).get("schema"))  # fmt: skip
    body = st.none() if body_schema is None else st.one_of(from_schema(body_schema, spec), JSON)
    values = st.fixed_dictionaries({name: s for name, (_, s) in params.items()})
    return st.tuples(st.just(method), st.just(path), st.just(params), values, body)


def test_no_operation_answers_with_a_server_error(client: TestClient) -> None:
    client.app.state.password = PASSWORD  # type: ignore[attr-defined]
    log_in(client)
    spec = client.get("/api/openapi.json").json()
    ops = operations(spec)
    assert len(ops) >= 12
    seen: set[tuple[str, str]] = set()

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of([request_for(spec, op) for op in ops]))
    def run(request: tuple[str, str, dict[str, Any], dict[str, Any], Any]) -> None:
        method, path, params, values, body = request
        url = path
        query = {}
        for name, (where, _) in params.items():
            if where == "path":
                url = url.replace("{" + name + "}", quote(str(values[name]), safe="") or "x")
            else:
                query[name] = values[name]
        if method == "POST" and path == "/api/passwords" and isinstance(body, dict):
            body.pop("target", None)  # the admin password is set in test_auth, not at random
            body["target"] = "root-node1"
        reply = client.request(method, url, params=query, json=body)
        if reply.status_code == 401:  # a random language or password change: log in again
            log_in(client)
            reply = client.request(method, url, params=query, json=body)
        assert reply.status_code < 500, (method, url, body, reply.text)
        seen.add((method, path))

    run()
    assert seen == {(m, p) for m, p, _ in ops}
