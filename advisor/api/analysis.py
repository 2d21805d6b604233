"""The review board's analytical questions over HTTP: compare two records, what-if, cost against volume.

Nothing here is stored. A stored record is read as ``GET /assessments/{id}`` reads it (checked
against the log first; an assessor sees only its own, another client's is 404 as if it did not
exist); curves and what-ifs evaluate its profile under today's rules and catalogs and say so.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import Body, QueryParameter
from msgspec import UNSET, UnsetType

from advisor import __version__
from advisor.analysis.compare import Comparison, compare
from advisor.analysis.curve import DEFAULT_POINTS, MAX_POINTS, MIN_POINTS, Curve
from advisor.analysis.service import Analysis
from advisor.analysis.what_if import Shocks, WhatIf
from advisor.api.access import READ_ASSESSMENTS, allow, principal_of
from advisor.api.openapi_docs import INTEGRITY_RESPONSES, PROBLEM_RESPONSES
from advisor.api.openapi_schema import STORABLE
from advisor.api.problems import problem
from advisor.api.stored import readable_assessment
from advisor.api.strict_json import PathText
from advisor.application.evaluate import Advisor
from advisor.domain.profile import Profile
from advisor.domain.recommendation import Versions
from advisor.store.repository import Repository

# Who may analyse: whoever may read the records (assessors only their own, enforced per record).
ANALYSE = READ_ASSESSMENTS
ANALYSIS_RESPONSES = {**INTEGRITY_RESPONSES, 422: PROBLEM_RESPONSES[422]}
Points = Annotated[int, QueryParameter(ge=MIN_POINTS, le=MAX_POINTS, description=(
    f"How many log-spaced volumes ({MIN_POINTS}..{MAX_POINTS}) from 1/100 to 100 times the profile's; its own "
    "volume is added where it is not one of them"), examples=[Example(summary="a chart's worth", value=25),
                                                          Example(summary="a coarse table", value=7)])]


class WhatIfRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A profile, or a stored assessment whose profile is used, and the shocks to apply to it."""

    profile: Annotated[Profile, msgspec.Meta(description=(
        "The organisation profile, as for POST /assess; give this or `assessment_id`"))] | UnsetType = UNSET
    assessment_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=STORABLE, description=(
        "A stored assessment whose profile is used (an assessor may name only its own)"))] | UnsetType = UNSET
    shocks: Annotated[Shocks, msgspec.Meta(description="The changes to apply; each defaults to none")] = (
        msgspec.field(default_factory=Shocks))
    points: Annotated[int, msgspec.Meta(ge=MIN_POINTS, le=MAX_POINTS, description=(
        "How many log-spaced volumes the curve under the shocks has"))] = DEFAULT_POINTS


# Exactly one of the two, as JSON Schema says it (the OpenAPI document and the body's screening both read it).
ONE_SOURCE = {"oneOf": [{"required": ["profile"]}, {"required": ["assessment_id"]}]}


class AssessmentCurve(Curve, frozen=True, kw_only=True):
    """A stored assessment's cost curve, evaluated under today's rules and catalogs."""

    assessment_id: Annotated[str, msgspec.Meta(description="The assessment whose profile was used")]
    versions: Annotated[Versions, msgspec.Meta(description="The code, rules and catalog the curve was computed with")]
    same_versions: Annotated[bool, msgspec.Meta(description=(
        "The rules and catalog are the record's own (same digests), so the point at the profile's volume repeats "
        "the record's costs and decision; false: they changed since, see `versions`"))]


WHAT_IF_EXAMPLES = [
    Example(summary="A stored assessment with GPU prices 30% higher", value={
        "assessment_id": "0b7e1c9a-4a52-4d0e-9d5e-2f1f7f0c8a11", "shocks": {"gpu_price": 0.3}}),
    Example(summary="A profile with managed prices 20% lower and twice the volume", value={
        "profile": {"organization": {"name": "Acme Health"}, "workload": {"daily_tokens": 50_000_000},
                    "team": {"ml_infra_engineers": 2}},
        "shocks": {"managed_price": -0.2, "daily_tokens": 2}}),
]
WhatIfBody = Annotated[WhatIfRequest, Body(
    description="A profile or an assessment id (exactly one), and shocks. Unknown fields, wrong types and "
    "out-of-range values are rejected with 400 naming the field.", examples=WHAT_IF_EXAMPLES, schema_extra=ONE_SOURCE)]


def versions_of(advisor: Advisor, profile: Profile) -> Versions:
    """The versions an evaluation of ``profile`` uses today (as a new recommendation would name them)."""
    loaded = advisor.catalog_for(profile)
    return Versions(advisor=__version__, rules_digest=advisor.rulebook.digest, catalog_id=loaded.id,
                    catalog_digest=loaded.digest)


def source(body: WhatIfRequest) -> Profile | str:
    """The body's profile, or the assessment id to read one from (exactly one: 400 otherwise)."""
    given = [value for value in (body.profile, body.assessment_id) if value is not UNSET]
    if len(given) != 1:
        raise problem(400, "invalid-field", "Invalid request field",
                      "Give either `profile` or `assessment_id`, not both and not neither", field="profile")
    found = given[0]
    assert isinstance(found, Profile | str)
    return found


class AnalysisController(Controller):
    tags = ["analysis"]

    @get("/assessments/{record_id:str}/curve", summary="Cost against volume for a stored assessment",
         description="Each eligible option's monthly cost over log-spaced daily volumes from 1/100 to 100 times "
         "the profile's, the decision at each, the volumes where options cross and where the decision changes. "
         "Evaluated under today's rules and catalogs (`versions`, `same_versions`). Not stored.",
         responses=ANALYSIS_RESPONSES, operation_id="assessmentCurve", sync_to_thread=True, opt=allow(ANALYSE))
    def curve(self, record_id: PathText, request: Request[Any, Any, Any], analysis: NamedDependency[Analysis],
              repository: NamedDependency[Repository], points: Points = DEFAULT_POINTS) -> AssessmentCurve:
        record = readable_assessment(repository, principal_of(request), record_id)
        curve = analysis.curve(record.profile, points)
        now = versions_of(analysis.advisor, record.profile)
        same = (now.rules_digest, now.catalog_digest) == (record.versions.rules_digest, record.versions.catalog_digest)
        return AssessmentCurve(**msgspec.structs.asdict(curve), assessment_id=record.id, versions=now,
                               same_versions=same)

    @post("/what-if", status_code=200, summary="What if prices, staff cost or volume changed",
          description="Assesses a profile (given, or a stored assessment's) under shocks: relative changes of "
          "managed token prices, GPU and server prices and the engineer's cost, and a multiplier on the volume. "
          "Returns the recommendation under the shocks, for each factor and direction the smallest further "
          "change that flips the decision (searched within -90%..+900% over the same model), and the cost curve "
          "under the shocks. Nothing is stored.",
          responses=ANALYSIS_RESPONSES, operation_id="whatIf", sync_to_thread=True, opt=allow(ANALYSE))
    def what_if(self, data: WhatIfBody, request: Request[Any, Any, Any], analysis: NamedDependency[Analysis],
                repository: NamedDependency[Repository]) -> WhatIf:
        given = source(data)
        if isinstance(given, str):
            given = readable_assessment(repository, principal_of(request), given).profile
        return analysis.what_if(given, data.shocks, data.points)

    @get("/assessments/{record_id:str}/compare/{other_id:str}", summary="Compare two stored assessments",
         description="Profile fields and versions that differ, decision and strength, each option's monthly cost "
         "and cost categories side by side with deltas (second minus first), findings added and removed.",
         responses=INTEGRITY_RESPONSES, operation_id="compareAssessments", sync_to_thread=True,
         opt=allow(ANALYSE))
    def compare(self, record_id: PathText, other_id: PathText, request: Request[Any, Any, Any],
                repository: NamedDependency[Repository]) -> Comparison:
        principal = principal_of(request)
        a = readable_assessment(repository, principal, record_id)
        b = readable_assessment(repository, principal, other_id)
        return compare(a.id, a, b.id, b)
