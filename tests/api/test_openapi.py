"""The committed OpenAPI document matches the code; regenerate with `advisor openapi`."""

from __future__ import annotations

import json

from litestar import Litestar
from litestar.testing import TestClient

from advisor.cli.main import OPENAPI_PATH, openapi_document


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


def test_committed_document_is_valid_openapi_3_1() -> None:
    """An independent validator, as a client generator would meet the document."""
    from openapi_spec_validator import OpenAPIV31SpecValidator

    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
              for e in OpenAPIV31SpecValidator(json.loads(OPENAPI_PATH.read_text())).iter_errors()]
    assert errors == []


def test_every_schema_field_has_a_description() -> None:
    document = json.loads(OPENAPI_PATH.read_text())
    missing = []
    checked = 0
    for name, schema in document["components"]["schemas"].items():
        for prop, prop_schema in schema.get("properties", {}).items():
            checked += 1
            if not prop_schema.get("description"):
                missing.append(f"{name}.{prop}")
    assert missing == [], f"schema fields without a description: {missing}"
    assert checked >= 60, "the test skipped (almost) everything"
