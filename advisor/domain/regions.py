"""Regions as data: countries inside blocs, so that residency is a containment question.

A residency requirement lists the jurisdictions data may be processed in (``eu``, ``de``,
``us``): a place is allowed when it lies inside one of them. Frankfurt (``de``) is inside
``eu``; an EU data zone (``eu``) is not inside ``de``, because it may process in France. The
table is ``rules/regions.toml``; an unknown code is a caller error, never a silent mandate.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Annotated, Literal

import msgspec

RegionKind = Literal["country", "bloc", "zone"]
ON_PREM = "on_prem"


class Region(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A region code: a country, a bloc of countries or a provider's zone, and what contains it."""

    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,10}$", description=(
        "The code used in `compliance.data_residency` and in catalogs (ISO 3166-1 alpha-2 for countries, "
        "except `uk`)"))]
    name: Annotated[str, msgspec.Meta(description="Its name")]
    kind: Annotated[RegionKind, msgspec.Meta(description=(
        "`country`, `bloc` (a group of countries, such as `eu`) or `zone` (a provider's zone inside its parent, "
        "such as a sovereign government cloud)"))]
    parent: Annotated[str | None, msgspec.Meta(description=(
        "Code of the bloc or country that contains it: a residency requirement naming the parent allows it; "
        "null at the top"))] = None
    notes: Annotated[str, msgspec.Meta(description="What it covers, where that needs saying")] = ""


class RegionTable(msgspec.Struct, frozen=True, kw_only=True, dict=True):  # dict: room for cached lookups
    """Every known region code with its parent; ``within`` walks the parent chain."""

    regions: tuple[Region, ...]

    def __post_init__(self) -> None:
        codes = [r.code for r in self.regions]
        if len(set(codes)) != len(codes):
            raise ValueError("duplicate region codes")
        known = set(codes)
        for region in self.regions:
            if region.parent is not None and region.parent not in known:
                raise ValueError(f"region {region.code!r} names unknown parent {region.parent!r}")
        for region in self.regions:  # no cycles: every chain ends
            self.ancestors(region.code)

    def codes(self) -> frozenset[str]:
        return frozenset(r.code for r in self.regions)

    @functools.cached_property
    def _parents(self) -> dict[str, str | None]:
        return {r.code: r.parent for r in self.regions}

    @functools.cached_property
    def _chains(self) -> dict[str, tuple[str, ...]]:
        return {}

    def parent_of(self, code: str) -> str | None:
        return self._parents[code]

    def ancestors(self, code: str) -> tuple[str, ...]:
        """``code`` and every bloc that contains it, nearest first."""
        found = self._chains.get(code)
        if found is None:
            found = self._chains[code] = self._walk(code)
        return found

    def _walk(self, code: str) -> tuple[str, ...]:
        chain = [code]
        parent = self.parent_of(code)
        while parent is not None:
            if parent in chain or len(chain) > len(self.regions):
                raise ValueError(f"region cycle through {code!r}")
            chain.append(parent)
            parent = self.parent_of(parent)
        return tuple(chain)

    def within(self, place: str, jurisdiction: str) -> bool:
        """Does processing in ``place`` keep data inside ``jurisdiction``?"""
        return jurisdiction in self.ancestors(place)

    def allowed(self, place: str, jurisdictions: Iterable[str]) -> bool:
        """Is processing in ``place`` inside one of the allowed jurisdictions?"""
        return any(self.within(place, j) for j in jurisdictions)

    def serves(self, places: Iterable[str], jurisdictions: Iterable[str]) -> bool:
        """Can an offering pinned to one of ``places`` (the customer's choice) process inside the allowed ones?"""
        wanted = tuple(jurisdictions)
        return any(self.allowed(p, wanted) for p in places)


def load_region_table(raw: bytes) -> RegionTable:
    class _File(msgspec.Struct, forbid_unknown_fields=True):
        region: tuple[Region, ...]

    return RegionTable(regions=msgspec.toml.decode(raw, type=_File).region)
