"""The committed OpenAPI document matches the code; regenerate with `advisor openapi`."""

from __future__ import annotations

import json

from litestar import Litestar
from litestar.testing import TestClient

from advisor.cli import OPENAPI_PATH, openapi_document


def test_committed_document_matches_the_code() -> None:
    committed = OPENAPI_PATH.read_bytes()
    assert committed == openapi_document(), "openapi/openapi.json is stale: run `advisor openapi` and commit it"


def test_document_is_openapi_3_1_with_problem_responses() -> None:
    document = json.loads(OPENAPI_PATH.read_text())
    assert document["openapi"].startswith("3.1")
    responses = document["paths"]["/assess"]["post"]["responses"]
    assert set(responses) >= {"201", "400", "413", "415", "422", "503"}
    assert "application/problem+json" in responses["400"]["content"]
    body = document["paths"]["/assess"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Profile"}


def test_served_document_and_docs_ui(client: TestClient[Litestar]) -> None:
    assert client.get("/docs/openapi.json").json()["info"]["title"] == "LLM Hosting Advisor"
    assert client.get("/docs").status_code == 200
