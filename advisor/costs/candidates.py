"""Which deployments a pricing run searches: the candidate plans of a tier, shared between runs.

Building and pruning the plan list is the costly part of starting a run and depends on far fewer
inputs than a run does (not the volume, not the fired rules), so the result is kept, keyed by
exactly those inputs, and shared between requests.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Final

from advisor.costs.assumptions import Resolved
from advisor.costs.crossing import GRID
from advisor.costs.fleet import Plan, Sizer
from advisor.domain.profile import Capability, Profile

# Every assumption a plan list depends on (memory fit, unit prices, the pruning's sizing and staff).
_PLAN_INPUTS: Final = ("gpu_memory_usable_share", "reserved_1y_discount", "reserved_3y_discount", "spot_discount",
                       "onprem_amortisation_months", "onprem_pue", "onprem_electricity_usd_per_kwh",
                       "onprem_colocation_usd_per_kw_month", "onprem_support_share_per_year", "utilisation_target",
                       "redundancy_spare_replicas", "engineer_annual_usd", "loaded_cost_multiplier", "fte_per_node",
                       "oncall_min_fte", "ops_overhead_per_node_monthly_usd")
_PLANS: OrderedDict[tuple[object, ...], list[Plan]] = OrderedDict()
_PLANS_MAX: Final = 2048
_PLANS_LOCK = threading.Lock()


def candidate_plans(profile: Profile, assumptions: Resolved, sizer: Sizer, capability: Capability,
                    base_item: str) -> list[Plan]:
    """The plans a run searches, shared between runs (and requests) that would build the same.

    Where a latency need is met by some plan, only such plans are considered; plans that are
    never the cheapest at any volume of a fixed sample are dropped, so searches stay fast. The
    sample does not depend on the profile's volume, so neither do the cost curves.
    """
    a, w = assumptions, profile.workload
    key = (a.loaded.digest, capability, base_item, w.output_share, w.latency_p95_ms, w.peak_to_average,
           w.availability, profile.compliance.data_residency, sizer.owned_only,
           profile.infrastructure.gpu_procurement, sizer.provisioning, sizer.autoscaling,
           tuple((k, a.value(k), a.overridden(k)) for k in (*_PLAN_INPUTS, base_item)))
    with _PLANS_LOCK:
        found = _PLANS.get(key)
        if found is not None:
            _PLANS.move_to_end(key)
            return found
    found = _useful(profile, assumptions, sizer, _meeting_latency(sizer.plans(capability)), base_item)
    with _PLANS_LOCK:
        _PLANS[key] = found
        if len(_PLANS) > _PLANS_MAX:
            _PLANS.popitem(last=False)
    return found

def _useful(profile: Profile, assumptions: Resolved, sizer: Sizer, plans: list[Plan], base_item: str) -> list[Plan]:
    """The plans that are cheapest at some volume of a fixed sample (a quick float estimate)."""
    if len(plans) <= 3:
        return plans
    a = assumptions
    salary = float(a.value("engineer_annual_usd") * a.value("loaded_cost_multiplier") / 12)
    base, per_node = float(a.value(base_item)), float(a.value("fte_per_node"))
    floor = float(a.value("oncall_min_fte")) if profile.workload.availability == "24x7" else 0.0
    ops = float(a.value("ops_overhead_per_node_monthly_usd"))
    spare, peak, headroom = sizer.spare, float(sizer.peak_ratio), float(sizer.headroom)
    shapes = [(float(sizer.replica_tok_s(p)) * 86_400, float(p.pack), float(p.unit_monthly), p.unit_gpus,
               sizer.autoscaling and not p.owned) for p in plans]
    keep: set[int] = set()
    for v in (float(g) for g in GRID[::6]):
        best, best_i = math.inf, 0
        for i, (per_replica_day, pack, monthly, gpus, scaled) in enumerate(shapes):
            if scaled:  # as Sizer.size: the diurnal average times the headroom, fractional units
                units: float = (max(1.0, v / per_replica_day * headroom) + spare) / pack
            else:
                units = math.ceil((max(1, math.ceil(v * peak / per_replica_day)) + spare) / pack)
            nodes = math.ceil(units * gpus / 8)
            amount = units * monthly + max(base + per_node * nodes, floor) * salary + ops * nodes
            if amount < best:
                best, best_i = amount, i
        keep.add(best_i)
    return [p for i, p in enumerate(plans) if i in keep]


def _meeting_latency(plans: list[Plan]) -> list[Plan]:
    meeting = [p for p in plans if p.capacity.latency_met is True]
    return meeting or plans
