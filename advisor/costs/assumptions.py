"""Resolve the figures a pricing run uses: catalog values, unless the caller overrides them.

Each override is checked against the range the catalog gives that assumption, so the cost
arithmetic only ever sees values it was built for (no zero utilisation, no 10^12 discount).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from advisor.costs.catalog import Assumption, Catalog, LoadedCatalog
from advisor.domain.profile import Profile
from advisor.domain.recommendation import SourceRef

BandEnd = Literal["low", "high"]


class AssumptionError(ValueError):
    """An override names an unknown assumption or lies outside its allowed range."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field  # under profile.assumptions
        self.message = message


class Resolved:
    """The assumptions of one pricing run, each with where it came from."""

    def __init__(self, loaded: LoadedCatalog, profile: Profile,
                 band: Mapping[str, Decimal] | None = None) -> None:
        self.loaded = loaded
        self.catalog: Catalog = loaded.data
        self._by_id: dict[str, Assumption] = {a.id: a for a in self.catalog.assumptions}
        overrides: dict[str, Decimal] = {}
        for key, value in profile.assumptions.overrides.items():
            overrides[key] = self._checked(key, Decimal(repr(value)), f"overrides.{key}")
        a = profile.assumptions
        if a.utilisation_target is not None:
            overrides["utilisation_target"] = self._checked("utilisation_target", Decimal(repr(a.utilisation_target)),
                                                            "utilisation_target")
        if a.redundancy is not None:
            overrides["redundancy_spare_replicas"] = self._checked("redundancy_spare_replicas", Decimal(a.redundancy),
                                                                   "redundancy")
        self._overrides = overrides
        self.profile = profile
        self._band = dict(band or {})

    def _checked(self, key: str, value: Decimal, field: str) -> Decimal:
        entry = self._by_id.get(key)
        if entry is None:
            raise AssumptionError(field, f"unknown assumption {key!r} in catalog {self.catalog.catalog.id}; "
                                       "see GET /catalogs/{id} for the assumptions and their ranges")
        if not (value.is_finite() and entry.min <= value <= entry.max):
            raise AssumptionError(field, f"{key} must be between {entry.min} and {entry.max} {entry.unit}, got {value}")
        return value

    def with_band(self, band: Mapping[str, Decimal]) -> Resolved:
        """The same run with some catalog values replaced by band ends (caller overrides still win)."""
        return Resolved(self.loaded, self.profile, band)

    def entry(self, assumption_id: str) -> Assumption:
        return self._by_id[assumption_id]

    def overridden(self, assumption_id: str) -> bool:
        return assumption_id in self._overrides

    def value(self, assumption_id: str) -> Decimal:
        if assumption_id in self._overrides:
            return self._overrides[assumption_id]
        if assumption_id in self._band:
            return self._band[assumption_id]
        return self._by_id[assumption_id].value

    def ref(self, assumption_id: str) -> SourceRef:
        if assumption_id in self._overrides:
            return SourceRef(entry=f"profile.assumptions.{assumption_id}", as_of="request", assumption=True)
        entry = self._by_id[assumption_id]
        return SourceRef(entry=f"assumptions.{assumption_id}", as_of=entry.as_of, assumption=entry.unsourced)

    @staticmethod
    def entry_ref(kind: str, entry_id: str, as_of: str, unsourced: bool) -> SourceRef:
        return SourceRef(entry=f"{kind}.{entry_id}", as_of=as_of, assumption=unsourced)
