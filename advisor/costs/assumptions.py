"""Resolve the figures a pricing run uses: catalog values, unless the caller overrides them."""

from __future__ import annotations

from decimal import Decimal

from advisor.costs.catalog import Assumption, Catalog, LoadedCatalog
from advisor.domain.profile import Profile
from advisor.domain.recommendation import SourceRef


class UnknownAssumption(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class Resolved:
    """The assumptions of one pricing run, each with where it came from."""

    def __init__(self, loaded: LoadedCatalog, profile: Profile) -> None:
        self.catalog: Catalog = loaded.data
        self._by_id: dict[str, Assumption] = {a.id: a for a in self.catalog.assumptions}
        overrides: dict[str, Decimal] = {}
        for key, value in profile.assumptions.overrides.items():
            if key not in self._by_id:
                raise UnknownAssumption(key)
            overrides[key] = Decimal(repr(value))
        a = profile.assumptions
        if a.utilisation_target is not None:
            overrides["utilisation_target"] = Decimal(repr(a.utilisation_target))
        if a.redundancy is not None:
            overrides["redundancy_spare_replicas"] = Decimal(a.redundancy)
        self._overrides = overrides

    def entry(self, assumption_id: str) -> Assumption:
        return self._by_id[assumption_id]

    def value(self, assumption_id: str) -> Decimal:
        if assumption_id in self._overrides:
            return self._overrides[assumption_id]
        return self._by_id[assumption_id].value

    def ref(self, assumption_id: str) -> SourceRef:
        if assumption_id in self._overrides:
            return SourceRef(entry=f"profile.assumptions.{assumption_id}", as_of="request", assumption=True)
        entry = self._by_id[assumption_id]
        return SourceRef(entry=f"assumptions.{assumption_id}", as_of=entry.as_of, assumption=entry.unsourced)

    @staticmethod
    def entry_ref(kind: str, entry_id: str, as_of: str, unsourced: bool) -> SourceRef:
        return SourceRef(entry=f"{kind}.{entry_id}", as_of=as_of, assumption=unsourced)
