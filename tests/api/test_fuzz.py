"""Fuzzing against the committed OpenAPI document (schemathesis): no 5xx, no response the document does not describe.

Every operation of ``openapi/openapi.json`` gets a bounded number of generated requests, valid
(``positive``) and invalid (``negative``), sent in-process to the ASGI app with a key of a role the
operation admits. Schemathesis' checks then hold each response to the document: status code,
content type, headers and body schema, no server error, and that the operation rejects requests
without the key (``ignored_auth``). Deterministic: Hypothesis is derandomised and keeps no database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis.errors import Unsatisfiable
from litestar import Litestar
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.python.asgi import shutdown_lifespans

from advisor.auth.clients import Role
from advisor.cli.main import OPENAPI_PATH
from advisor.settings import Settings
from tests.conftest import issue_key, running_app

SCHEMA = schemathesis.openapi.from_path(OPENAPI_PATH)
RESULTS = list(SCHEMA.get_all_operations())
assert all(isinstance(result, Ok) for result in RESULTS), "the committed document has an unusable operation"
OPERATIONS = sorted(result.ok().label for result in RESULTS if isinstance(result, Ok))
EXAMPLES_PER_OPERATION = 25

# A role each operation admits (the role matrix in test_access.py checks the rest).
ROLE_FOR_TAG = {"clients": Role.ADMIN, "audit": Role.AUDITOR}


def role_for(label: str) -> Role:
    if label == "POST /assess":
        return Role.ASSESSOR
    if label == "GET /metrics":
        return Role.MONITOR
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    for tag in operation.tags or ():
        if tag in ROLE_FOR_TAG:
            return ROLE_FOR_TAG[tag]
    return Role.REVIEWER


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Litestar]:
    """One app for the module (SQLite), no rate limit (fuzzing is a burst).

    Schemathesis runs the app's lifespan (so its writer) on the first request and keeps it until
    ``shutdown_lifespans``.
    """
    scratch = tmp_path_factory.mktemp("fuzz")
    config = Settings(database_url=f"sqlite:///{scratch}/fuzz.db", keys_dir=scratch / "keys",
                      rate_limit_per_minute=0)
    with running_app(config) as application:
        yield application
        shutdown_lifespans()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app: Litestar) -> schemathesis.BaseSchema:
    """The committed document, bound to the app: every request (and every probe) goes to it in-process."""
    schema = schemathesis.openapi.from_path(OPENAPI_PATH)
    schema.app = fuzz_app
    schema.config.update(base_url="http://testserver")
    # A well-formed profile may still name a catalog or assumption that does not exist: 422, as documented.
    schema.config.checks.positive_data_acceptance.expected_statuses.append("422")
    return schema


def known_regions(app: Litestar) -> frozenset[str]:
    return frozenset(app.state.services.advisor.regions.codes())


def residency(body: Any) -> list[Any]:
    compliance = body.get("compliance") if isinstance(body, dict) else None
    codes = compliance.get("data_residency") if isinstance(compliance, dict) else None
    return codes if isinstance(codes, list) else []


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_conforms_to_the_document(fuzz_app: Litestar, fuzz_schema: schemathesis.BaseSchema, label: str,
                                            mode: GenerationMode) -> None:
    operation = fuzz_schema.find_operation_by_label(label)
    assert operation is not None
    if mode == GenerationMode.NEGATIVE and not (operation.definition.raw.get("parameters")
                                                or operation.definition.raw.get("requestBody")):
        pytest.skip("no parameters or body: nothing to make invalid")
    auth = {"Authorization": f"Bearer {issue_key(fuzz_app, role_for(label))}"}
    public = operation.definition.raw.get("security") == [{}]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case[Any]) -> None:
        # The key is sent as explicit auth, so the `ignored_auth` check probes each operation without it
        # and with a wrong one; a case whose only fault is a missing key would get the key back: skip it.
        assume(public or not fuzz_schema.is_security_param_negated(case))
        if mode == GenerationMode.POSITIVE and label == "POST /assess":
            # The document says a region code's shape; which codes exist is GET /regions. An unknown code is
            # a 400 naming it (test_bad_input), not a well-formed profile's 422: not positive data here.
            assume(all(code in known_regions(fuzz_app) for code in residency(case.body)))
        case.call_and_validate(headers=None if public else auth)

    try:
        run()
    except Unsatisfiable:
        pytest.skip("nothing but the key can be made invalid here (the role matrix covers missing keys)")
