"""Load and check the rule files under ``rules/``.

A typo in a rule file must stop the service at start-up, not silently never fire: every
condition is checked against the fact's field names and types, every id is unique.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import msgspec

from advisor.domain.facts import FACT_FIELDS
from advisor.domain.rules import Clause, Rule, Rulebook

RULE_FILE_ORDER = ("overrides", "checklist", "hidden_costs", "routing")


class RuleFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    rule: tuple[Rule, ...]


class RulebookError(ValueError):
    pass


def _check_clause(rule_id: str, clause: Clause) -> None:
    for name, condition in clause.items():
        expected = FACT_FIELDS.get(name)
        if expected is None:
            raise RulebookError(f"{rule_id}: unknown fact field {name!r}")
        values = condition.values() if isinstance(condition, dict) else (condition,)
        for value in values:
            ok = isinstance(value, expected) or (expected is float and type(value) is int)
            if not ok or (expected is not bool and isinstance(value, bool)):
                raise RulebookError(f"{rule_id}: {name!r} compares with {value!r}, expects {expected.__name__}")


def check_rule(rule: Rule) -> None:
    if not rule.when and not rule.when_any:
        pass  # unconditional: fires for every profile
    _check_clause(rule.id, rule.when)
    for clause in rule.when_any:
        if not clause:
            raise RulebookError(f"{rule.id}: empty alternative in when_any")
        _check_clause(rule.id, clause)
    if rule.effect != "info" and not rule.options:
        raise RulebookError(f"{rule.id}: effect {rule.effect!r} needs options")
    if (rule.effect == "cost") != (rule.cost_item is not None):
        raise RulebookError(f"{rule.id}: cost_item goes with effect 'cost' and only with it")
    if (rule.effect == "timeline") != (rule.weeks_item is not None):
        raise RulebookError(f"{rule.id}: weeks_item goes with effect 'timeline' and only with it")
    if rule.decisive and rule.effect != "prefer":
        raise RulebookError(f"{rule.id}: only a 'prefer' rule can be decisive")


def read_rule_files(directory: Path) -> dict[str, bytes]:
    """The rule files' exact bytes by stem: what the digest covers, and what a kept version stores."""
    return {stem: (directory / f"{stem}.toml").read_bytes() for stem in RULE_FILE_ORDER}


def load_rulebook(directory: Path) -> Rulebook:
    return rulebook_from_files(read_rule_files(directory), str(directory))


def rulebook_from_files(files: Mapping[str, bytes], where: str = "rulebook") -> Rulebook:
    """A rulebook from its files' bytes (a directory's, or a version kept in the database)."""
    digest = hashlib.sha256()
    rules: list[Rule] = []
    for stem in RULE_FILE_ORDER:
        raw = files.get(stem)
        if raw is None:
            raise RulebookError(f"{where}: no {stem}.toml")
        digest.update(stem.encode() + b"\0" + raw + b"\0")
        try:
            rules.extend(msgspec.toml.decode(raw, type=RuleFile).rule)
        except msgspec.ValidationError as exc:
            raise RulebookError(f"{where}/{stem}.toml: {exc}") from exc
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RulebookError(f"duplicate rule id {rule.id}")
        seen.add(rule.id)
        check_rule(rule)
    return Rulebook(rules=tuple(rules), digest="sha256:" + digest.hexdigest(),
                    files=tuple((stem, files[stem]) for stem in RULE_FILE_ORDER))
