"""Every request the client sends matches Rhombus's published OpenAPI spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from clipbot.config import Secret
from clipbot.records import Clip
from clipbot.rhombus import RhombusAuth, RhombusClient
from tests.fakes.rhombus import API_KEY, FakeRhombus, clip

SPEC = json.loads((Path(__file__).parent / "data" / "rhombus-clips-openapi.json").read_text())
# Fields the API notes ask for that the cut of the spec does not list.
DOCUMENTED_EXTRAS = {"/api/event/createSharedClipGroupV3": {"description"}}
SCHEMES = {"api-token", "partner-api-token"}  # the notes' list; the spec's enum is narrower
TYPES = {"integer": int, "string": str, "boolean": bool, "array": list, "object": dict}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def violations(path: str, body: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """What in `body` the spec's `schema` does not allow (empty when it fits)."""
    schema = resolve(schema)
    expected = TYPES.get(schema.get("type", "object"), object)
    if not isinstance(body, expected) or (expected is int and isinstance(body, bool)):
        return [f"{path}{where}: {body!r} is not {schema.get('type')}"]
    problems: list[str] = []
    if isinstance(body, dict):
        props = schema.get("properties", {})
        for key, value in body.items():
            if key in props:
                problems += violations(path, value, props[key], f"{where}.{key}")
            elif key not in DOCUMENTED_EXTRAS.get(path, set()):
                problems.append(f"{path}: field {where}.{key} is not in the spec")
    if isinstance(body, list):
        for i, item in enumerate(body):
            problems += violations(path, item, schema.get("items", {}), f"{where}[{i}]")
    return problems


def test_requests_match_spec(rhombus: FakeRhombus) -> None:
    """Feed paging, details, cameras, users and sharing send spec-shaped bodies and headers."""
    rhombus.add(*(clip(f"C{i}", 1_764_000_000_000 + i) for i in range(5)))
    with httpx.Client(timeout=5) as http:
        client = RhombusClient(
            http, RhombusAuth(Secret(API_KEY)), rhombus.api_url, rhombus.media_url, page_size=2
        )
        client.clips_since(1_764_000_000_001)
        list(client.recent())
        client.clip("C1")
        client.camera_names(("CAM0000000000000000001",))
        client.user_name("USER000000000000000001")
        client.share(
            Clip("C1"), title="Clip C1", description="Shared from Slack", expires_secs=3600
        )
    api_requests = [r for r in rhombus.requests if r.path.startswith("/api/")]
    assert {r.path for r in api_requests} == {
        "/api/event/getSavedClipsV2",
        "/api/event/getSavedClipDetails",
        "/api/camera/getMinimalCameraStateList",
        "/api/user/getUsersInOrg",
        "/api/event/createSharedClipGroupV3",
    }
    for request in api_requests:
        operation = SPEC["paths"][request.path]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert violations(request.path, request.body, schema) == []
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-auth-scheme"] in SCHEMES
        assert request.headers["x-auth-apikey"] == API_KEY


def test_validator_catches_a_wrong_body() -> None:
    """The check above can fail: a misspelt field and a wrong type are both caught."""
    path = "/api/event/getSavedClipsV2"
    schema = SPEC["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert violations(path, {"maxPagesize": 1, "pageTimestampMs": "soon"}, schema) == [
        "/api/event/getSavedClipsV2: field .maxPagesize is not in the spec",
        "/api/event/getSavedClipsV2.pageTimestampMs: 'soon' is not integer",
    ]
