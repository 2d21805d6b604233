"""The managed side: which offerings a profile may use, and what its tokens cost on one.

Candidates are the offerings of the tier that can keep processing inside an allowed
jurisdiction and, for HIPAA data, whose platform signs a BAA. The comparator is the model the
caller names (``current_model``), else the cheapest offering of the providers it prefers, else
the cheapest closed-weight model of the tier: "a managed API" of that tier. A host selling an
open-weight model is a different proposition (the same model class one could self-host), so it
is listed beside the comparator, not silently put in its place; naming it as the current model
or its host as a preferred provider makes it the comparator. The small model a hybrid routes
simple work to is simply the cheapest of the small tier. Token prices apply the
caller's prompt-cache and batch shares with each offering's own cache-read and batch prices.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from advisor.costs.assumptions import Resolved
from advisor.costs.catalog import ManagedOffering
from advisor.costs.money import MILLION, cents, num, rate
from advisor.domain.profile import Capability, Profile
from advisor.domain.recommendation import LineItem, SourceRef
from advisor.domain.regions import RegionTable


class Choice(msgspec.Struct, frozen=True, kw_only=True):
    offering: ManagedOffering | None
    alternatives: tuple[ManagedOffering, ...]
    unavailable_reason: str | None = None
    note: str | None = None  # e.g. the current model was set aside, and why


class ManagedPricer:
    def __init__(self, profile: Profile, assumptions: Resolved, regions: RegionTable, price_factor: Decimal) -> None:
        self.profile, self.assumptions, self.regions, self.factor = profile, assumptions, regions, price_factor
        w = profile.workload
        self.out = Decimal(repr(w.output_share))
        self.cached = Decimal(repr(w.cached_input_share))
        self.batch = Decimal(repr(w.batch_share))
        self.days = assumptions.catalog.catalog.days_per_month
        self._blended: dict[str, Decimal] = {}

    # ------------------------------------------------------------------ who may serve
    def placed(self, capability: Capability) -> list[ManagedOffering]:
        """Offerings of the tier that can keep processing inside the allowed jurisdictions."""
        wanted = self.profile.compliance.data_residency
        # Sovereign government clouds sell only to government bodies.
        government = "government" in self.profile.compliance.regimes
        return [o for o in self.assumptions.catalog.managed_offerings
                if o.capability == capability and (government or o.deployment != "government")
                and (not wanted or (o.regions and self.regions.serves(o.regions, wanted)))]

    def needs_baa(self) -> bool:
        c = self.profile.compliance
        return "hipaa" in c.regimes and c.baa_available

    def candidates(self, capability: Capability) -> list[ManagedOffering]:
        found = self.placed(capability)
        if self.needs_baa():
            found = [o for o in found if self.assumptions.catalog.platform(o.platform).baa == "yes"]
        return sorted(found, key=lambda o: (self.blended(o), o.id))

    def baa_platforms(self, capability: Capability) -> list[str]:
        catalog = self.assumptions.catalog
        return sorted({o.platform for o in self.placed(capability) if catalog.platform(o.platform).baa == "yes"})

    def choose(self, capability: Capability, *, comparator: bool = True) -> Choice:
        """The offering to price (cheapest first), with up to two other models of the tier."""
        found = self.candidates(capability)
        if not found:
            return Choice(offering=None, alternatives=(), unavailable_reason=self._why_none(capability))
        w = self.profile.workload
        note = None
        pool = found
        if comparator and w.current_model is not None:
            mine = [o for o in found if w.current_model in (o.model, o.id)]
            if mine:
                pool = mine
            else:
                note = (f"current model {w.current_model!r} has no {capability} offering here that meets the residency"
                        " and compliance needs; priced against the cheapest that does")
        elif comparator and w.preferred_providers:
            mine = [o for o in found if o.provider in w.preferred_providers or o.platform in w.preferred_providers]
            if mine:
                pool = mine
            else:
                note = (f"no {capability} offering of {', '.join(w.preferred_providers)} meets the residency and"
                        " compliance needs; priced against the cheapest that does")
        elif comparator:
            pool = [o for o in found if not o.open_weights] or found
        chosen = pool[0]
        alternatives: list[ManagedOffering] = []
        hosted_open = next((o for o in found if o.open_weights and o.model != chosen.model), None)
        if hosted_open is not None and not chosen.open_weights:
            alternatives.append(hosted_open)
        for o in found:
            if len(alternatives) == 2:
                break
            if o.model != chosen.model and all(o.model != a.model for a in alternatives):
                alternatives.append(o)
        return Choice(offering=chosen, alternatives=tuple(alternatives), note=note)

    def _why_none(self, capability: Capability) -> str:
        regions = ", ".join(self.profile.compliance.data_residency)
        cat = self.assumptions.catalog.catalog.id
        if not self.placed(capability):
            return f"catalog {cat} lists no {capability} managed offering processed in {regions}"
        return (f"catalog {cat} lists no {capability} managed offering{' in ' + regions if regions else ''} whose"
                " platform is known to sign a BAA")

    # ------------------------------------------------------------------ what tokens cost
    def blended(self, o: ManagedOffering) -> Decimal:
        """USD per 1M tokens at the profile's output, cache and batch shares (before the price factor)."""
        found = self._blended.get(o.id)
        if found is None:
            out, cached, batch = self.out, self.cached, self.batch
            cache_read = o.cached_input_per_1m if o.cached_input_per_1m is not None else o.input_per_1m
            live_in = (1 - cached) * o.input_per_1m + cached * cache_read
            live = (1 - out) * live_in + out * o.output_per_1m
            b_in = o.batch_input_per_1m if o.batch_input_per_1m is not None else o.input_per_1m
            b_out = o.batch_output_per_1m if o.batch_output_per_1m is not None else o.output_per_1m
            batched = (1 - out) * b_in + out * b_out
            found = (1 - batch) * live + batch * batched
            self._blended[o.id] = found
        return found

    def monthly(self, o: ManagedOffering, daily_tokens: Decimal) -> Decimal:
        return daily_tokens * self.days / MILLION * self.blended(o) * self.factor

    def token_line(self, o: ManagedOffering, daily_tokens: Decimal, what: str = "") -> LineItem:
        monthly_tokens = daily_tokens * self.days
        parts = [f"{num((1 - self.out) * 100)}% input at {rate(o.input_per_1m)}/1M"]
        if self.cached:
            read = rate(o.cached_input_per_1m) if o.cached_input_per_1m is not None else "list (no cache price)"
            parts.append(f"{num(self.cached * 100)}% of input from cache at {read}/1M")
        parts.append(f"{num(self.out * 100)}% output at {rate(o.output_per_1m)}/1M")
        if self.batch:
            known = o.batch_input_per_1m is not None and o.batch_output_per_1m is not None
            parts.append(f"{num(self.batch * 100)}% through the batch API at "
                         + (f"{rate(o.batch_input_per_1m)}/{rate(o.batch_output_per_1m)} per 1M"  # type: ignore[arg-type]
                            if known else "list price (no batch price in the catalog)"))
        factor = "" if self.factor == 1 else f" x {num(self.factor)} managed price factor"
        where = ", ".join(o.regions) if o.regions else "global"
        basis = (f"{what}{num(daily_tokens)} tokens/day x {num(self.days)} days = {num(monthly_tokens)} tokens/month x "
                 f"{rate(self.blended(o))}/1M blended ({'; '.join(parts)}){factor} on {o.id} ({o.deployment}, {where})")
        inputs: tuple[SourceRef, ...] = (SourceRef(entry="profile.workload.output_share", as_of="request",
                                                   assumption=True),)
        return LineItem(category="managed_tokens", monthly_usd=cents(self.monthly(o, daily_tokens)), basis=basis,
                        source=self.assumptions.entry_ref("managed_offerings", o.id, o.as_of, o.unsourced),
                        inputs=inputs)
