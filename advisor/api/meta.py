"""Operational and reference routes: health, readiness, the rules, the catalogs, the public keys."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi.spec import Example
from litestar.params import QueryParameter

from advisor.api.access import ANY_ROLE, PUBLIC_SECURITY, allow
from advisor.api.openapi_docs import AUTH_RESPONSES, READ_RESPONSES
from advisor.api.strict_json import PathText
from advisor.application.evaluate import Advisor
from advisor.costs.catalog import Catalog
from advisor.domain.facts import FACT_FIELDS
from advisor.domain.regions import Region
from advisor.domain.rules import Rule
from advisor.store.database import Database, head_revision
from advisor.store.keyring import jwks
from advisor.store.versions import VersionStore

DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
DigestQuery = Annotated[str | None, QueryParameter(
    pattern=DIGEST_PATTERN, required=False,
    description="A digest a record names (`versions.rules_digest`, `versions.catalog_digest`): that exact version",
    examples=[Example(summary="A record's digest",
                      value="sha256:5f2b0c6e1d9a4b7c8e3f2a1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b")])]
NOT_KEPT = ("versions are kept from the first time a server loads them (revision 0005); one used only before "
            "that is unknown")


class Health(msgspec.Struct, frozen=True):
    """Liveness."""

    status: Annotated[str, msgspec.Meta(description="`ok` whenever the process answers")]


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    """Readiness: can this replica serve?"""

    status: Annotated[str, msgspec.Meta(
        description="`ready`, or `unavailable` (database unreachable or schema not at the migration head)")]
    database: Annotated[str, msgspec.Meta(description="`ok` or `unreachable`")]
    schema_revision: Annotated[str | None, msgspec.Meta(description="The database's Alembic revision")]
    schema_head: Annotated[str | None, msgspec.Meta(description="The revision this code needs")]


class RulesDocument(msgspec.Struct, frozen=True, kw_only=True):
    """The whole rulebook."""

    digest: Annotated[str, msgspec.Meta(
        description="Digest of the rules (every signed record names the digest that decided it)")]
    fact_fields: Annotated[dict[str, str], msgspec.Meta(
        description="The fact fields a rule's condition may use, with their types")]
    rules: Annotated[tuple[Rule, ...], msgspec.Meta(description="Every rule")]


class CatalogSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One pricing catalog, in brief."""

    id: Annotated[str, msgspec.Meta(description="The catalog's id, as `assumptions.catalog` names it")]
    title: Annotated[str, msgspec.Meta(description="Its title")]
    as_of: Annotated[str, msgspec.Meta(description="The date its figures are from")]
    preset: Annotated[bool, msgspec.Meta(
        description="A named preset (e.g. a source article's own figures), not sourced prices")]
    digest: Annotated[str, msgspec.Meta(description="Digest of its content (signed records name it)")]
    default: Annotated[bool, msgspec.Meta(description="Used when a profile names no catalog")]


class CatalogDocument(msgspec.Struct, frozen=True, kw_only=True):
    """One pricing catalog with every figure and its source."""

    digest: Annotated[str, msgspec.Meta(description="Digest of its content (signed records name it)")]
    catalog: Annotated[Catalog, msgspec.Meta(description="The catalog itself")]


class RegionsDocument(msgspec.Struct, frozen=True, kw_only=True):
    """Codes accepted in ``compliance.data_residency``; a bloc allows every country whose parent it is."""

    regions: Annotated[tuple[Region, ...], msgspec.Meta(description="Every known region code with its parent")]


class MetaController(Controller):
    tags = ["service"]

    @get("/health", summary="Liveness: the process answers", exclude_from_auth=True, security=PUBLIC_SECURITY,
         operation_id="health")
    async def health(self) -> Health:
        return Health(status="ok")

    @get("/ready", summary="Readiness: database reachable and schema at head", exclude_from_auth=True,
         security=PUBLIC_SECURITY, sync_to_thread=True, operation_id="ready")
    def ready(self, db: NamedDependency[Database]) -> Response[Readiness]:
        head = head_revision()
        try:
            db.ping()
            revision = db.revision()
        except Exception:
            return Response(Readiness(status="unavailable", database="unreachable", schema_revision=None,
                                      schema_head=head), status_code=503, headers={"Retry-After": "5"})
        ok = revision == head
        return Response(Readiness(status="ready" if ok else "unavailable", database="ok",
                                  schema_revision=revision, schema_head=head),
                        status_code=200 if ok else 503)

    @get("/rules", summary="Every rule: id, title, source, condition, effect", tags=["reference"],
         description="Today's rules; with `digest`, exactly the version a record names (kept since revision 0005), "
         "or 404: never today's rules in its place.",
         operation_id="listRules", opt=allow(ANY_ROLE), responses=READ_RESPONSES, sync_to_thread=True)
    def rules(self, advisor: NamedDependency[Advisor], versions: NamedDependency[VersionStore],
              digest: DigestQuery = None) -> RulesDocument:
        book = advisor.rulebook
        if digest is not None and digest != book.digest:
            kept = versions.rulebook(digest)
            if kept is None:
                raise NotFoundException(f"no kept rulebook {digest}: {NOT_KEPT}")
            book = kept
        return RulesDocument(digest=book.digest, rules=book.rules,
                             fact_fields={k: v.__name__ for k, v in FACT_FIELDS.items()})

    @get("/catalogs", summary="The pricing catalogs", tags=["reference"], operation_id="listCatalogs",
         opt=allow(ANY_ROLE), responses=AUTH_RESPONSES)
    async def catalogs(self, advisor: NamedDependency[Advisor]) -> list[CatalogSummary]:
        return [CatalogSummary(id=c.id, title=c.data.catalog.title, as_of=c.data.catalog.as_of,
                               preset=c.data.catalog.preset, digest=c.digest, default=c.id == advisor.default_catalog)
                for c in advisor.catalogs.values()]

    @get("/catalogs/{catalog_id:str}", summary="One pricing catalog with every source", tags=["reference"],
         description="Today's version of the catalog; with `digest`, exactly the version a record names (kept since "
         "revision 0005), or 404: never today's version in its place.",
         responses=READ_RESPONSES, operation_id="getCatalog", opt=allow(ANY_ROLE), sync_to_thread=True)
    def catalog(self, catalog_id: PathText, advisor: NamedDependency[Advisor], versions: NamedDependency[VersionStore],
                digest: DigestQuery = None) -> CatalogDocument:
        loaded = advisor.catalogs.get(catalog_id)
        if digest is not None and (loaded is None or loaded.digest != digest):
            loaded = versions.catalog(catalog_id, digest)
            if loaded is None:
                raise NotFoundException(f"no kept version {digest} of catalog {catalog_id}: {NOT_KEPT}")
        if loaded is None:
            raise NotFoundException(f"no catalog {catalog_id}")
        return CatalogDocument(digest=loaded.digest, catalog=loaded.data)

    @get("/regions", summary="Region codes for data residency: countries inside blocs", tags=["reference"],
         operation_id="listRegions", opt=allow(ANY_ROLE), responses=AUTH_RESPONSES)
    async def regions(self, advisor: NamedDependency[Advisor]) -> RegionsDocument:
        return RegionsDocument(regions=advisor.regions.regions)

    @get("/.well-known/jwks.json", summary="Every public key that ever signed a record", tags=["audit"],
         exclude_from_auth=True, security=PUBLIC_SECURITY, sync_to_thread=True, operation_id="jwks")
    def jwks(self, db: NamedDependency[Database]) -> dict[str, Any]:
        with db.connect() as conn:
            return jwks(conn)
