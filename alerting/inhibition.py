"""Inhibition: a firing source alert mutes target alerts that share the ``equal`` labels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from alerting.matchers import Matcher, matches_all


@dataclass(frozen=True)
class InhibitRule:
    """Mute alerts matching ``target`` while one matching ``source`` fires with equal labels."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def inhibits(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        """True when the firing alert ``source`` mutes ``target`` under this rule."""
        return (
            matches_all(self.target, target)
            and matches_all(self.source, source)
            and all(source.get(name, "") == target.get(name, "") for name in self.equal)
        )


def is_inhibited(
    target_fingerprint: str,
    target: Mapping[str, str],
    firing: Iterable[tuple[str, Mapping[str, str]]],
    rules: Iterable[InhibitRule],
) -> bool:
    """True when any firing alert (other than the target itself) inhibits ``target``."""
    rules = [r for r in rules if matches_all(r.target, target)]
    if not rules:
        return False
    return any(
        fingerprint != target_fingerprint and rule.inhibits(labels, target)
        for fingerprint, labels in firing
        for rule in rules
    )
