"""The rule engine adapter: the only module that imports durable_rules.

durable_rules 2.0.28 has sharp edges that this module contains (see the README):
- profiles are asserted as *facts* (every matching rule fires), never posted as events;
- each evaluation gets its own hex session id and its state is deleted in ``finally``;
- the host's dispatcher and timer threads are never started (they race with evaluations
  in other threads and can segfault), and evaluations are serialised by a lock;
- an action error is swallowed by the engine, so it is read back and raised;
- a nested ``$or`` fires once per matching branch, so fired rule ids are de-duplicated;
- it passes the session state and the next action's message through the standard ``json``
  module around every fired rule; pointed at msgspec (:class:`_MsgspecJson`), an evaluation
  takes about half the time (150 -> 80 us median on the benchmark's profiles).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable
from typing import Any

import msgspec
from durable import engine as _durable

from advisor.domain.facts import FACT_KIND
from advisor.domain.rules import Clause, Rule, Rulebook

_OPERATORS = {"eq": None, "ne": "$neq", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
_ruleset_names = itertools.count(1)
# One lock for every engine of the process: a replay runs past rules in an engine of their own beside
# today's, and durable_rules' C core keeps process-wide state, so no two evaluations ever overlap.
_EVALUATION_LOCK = threading.Lock()


class RuleEngineError(RuntimeError):
    """The engine failed to evaluate a profile; never a caller's fault."""


class _MsgspecJson:
    """The two calls durable_rules' engine module makes of ``json``, at msgspec's speed.

    It only ever encodes plain dicts of strings, numbers, booleans and nulls (facts and session
    state) and decodes what its own C core produced, so both encoders agree on everything it
    sends; tests/unit/test_engine.py evaluates every review-board case both ways.
    """

    _encoder = msgspec.json.Encoder()

    @classmethod
    def dumps(cls, obj: Any, ensure_ascii: bool = True) -> str:  # always UTF-8, never escaped
        return cls._encoder.encode(obj).decode("utf-8")

    loads = staticmethod(msgspec.json.decode)


def use_msgspec_json(enabled: bool = True) -> None:
    """Point durable_rules' module-level ``json`` at msgspec (or back at the standard library)."""
    import json

    _durable.json = _MsgspecJson if enabled else json


class _QuietHost(_durable.Host):  # type: ignore[misc]
    """A host that starts no background threads: we use neither timers nor async actions."""

    def _run(self) -> None:
        return None


def _term(name: str, condition: Any) -> dict[str, Any]:
    if not isinstance(condition, dict):
        return {name: condition}
    terms = []
    for op, value in condition.items():
        durable_op = _OPERATORS[op]
        terms.append({name: value} if durable_op is None else {durable_op: {name: value}})
    return terms[0] if len(terms) == 1 else {"$and": terms}


def _all_of(clause: Clause) -> list[dict[str, Any]]:
    return [_term(name, condition) for name, condition in clause.items()]


def to_durable_condition(rule: Rule) -> dict[str, Any]:
    """Translate a rule's ``when``/``when_any`` into one durable_rules condition.

    Every condition is guarded by ``kind == "profile"`` so that no rule can match the engine's
    own state fact, and alternatives stay inside a single condition (a top-level ``any``
    would fire the action once per alternative).
    """
    terms: list[dict[str, Any]] = [{"kind": FACT_KIND}, *_all_of(rule.when)]
    if rule.when_any:
        alternatives = [{"$and": _all_of(c)} if len(c) > 1 else _all_of(c)[0] for c in rule.when_any]
        terms.append({"$or": alternatives} if len(alternatives) > 1 else alternatives[0])
    return {"m": {"$and": terms}}


class RuleEngine:
    """Evaluates profile facts against a rulebook; one instance per worker process."""

    def __init__(self, rulebook: Rulebook) -> None:
        self._rulebook = rulebook
        self._lock = _EVALUATION_LOCK
        self._fired: list[str] = []
        self._sessions = itertools.count(1)
        self._name = f"advisor{next(_ruleset_names)}"
        # A rule without conditions fires for every profile: the engine has nothing to decide for it,
        # and each action it runs costs about 10 us of Python bookkeeping, so it is not registered.
        self._always = frozenset(r.id for r in rulebook.rules if not r.when and not r.when_any)
        definition = {
            f"r{index}": {"all": [to_durable_condition(rule)], "run": self._recorder(rule.id)}
            for index, rule in enumerate(rulebook.rules)
            if rule.id not in self._always
        }
        use_msgspec_json()
        self._host = _QuietHost()
        self._conditional = bool(definition)
        if self._conditional:
            self._host.set_rulesets({self._name: definition})

    def _recorder(self, rule_id: str) -> Callable[[Any], None]:
        def record(_context: Any) -> None:
            self._fired.append(rule_id)

        return record

    def evaluate(self, fact: dict[str, Any]) -> frozenset[str]:
        """Return the ids of every rule the fact satisfies."""
        if not self._conditional:
            return self._always
        with self._lock:
            sid = format(next(self._sessions), "x")
            self._fired = []
            try:
                state = self._host.assert_fact(self._name, {**fact, "sid": sid})
            except _durable.MessageNotHandledException:
                state = None
            except Exception as exc:  # the C engine raises bare Exceptions
                raise RuleEngineError(f"rule engine failed: {exc}") from exc
            finally:
                # Deleting a state that was never created raises (engine error 309); nothing to clean then.
                with contextlib.suppress(Exception):
                    self._host.delete_state(self._name, sid)
            if isinstance(state, dict) and "exception" in state:
                raise RuleEngineError(f"a rule action failed: {state['exception']}")
            return self._always.union(self._fired)
