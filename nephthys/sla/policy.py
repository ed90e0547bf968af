"""SLA policies: targets in support minutes for the three clocks, and which one a ticket follows.

- The default policy comes from the settings (SLA_FIRST_RESPONSE_MINUTES,
  SLA_NEXT_RESPONSE_MINUTES, SLA_RESOLUTION_MINUTES; unset: no target for that clock) with
  SLA_WARN_AT, the share of a target at which its clock warns (0.75 by default).
- A team tag may have its own targets (``nephthys tags sla NAME --first --next --resolution``,
  or the App Home's Team tags view); ``--off`` removes them.
- For each clock a ticket follows the strictest (smallest) target among its team tags' own
  targets for that clock, and the default's when none of its tags sets one.

:func:`strictest` is that rule as a plain function; the clocks' SQL (nephthys/sla/clocks.py)
applies the same rule as ``coalesce(min(tag target), default target)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# A target is whole support minutes, at most a year of them (a bound on what a client may store).
MIN_TARGET_MINUTES = 1
MAX_TARGET_MINUTES = 525_600
DEFAULT_WARN_AT = 0.75
CLOCKS = ("first_response", "next_response", "resolution")


@dataclass(frozen=True)
class SlaTargets:
    """Targets in support minutes per clock; None: no target for that clock."""

    first_response: int | None = None
    next_response: int | None = None
    resolution: int | None = None

    @property
    def any(self) -> bool:
        return any(target is not None for target in self.as_tuple())

    def as_tuple(self) -> tuple[int | None, int | None, int | None]:
        return (self.first_response, self.next_response, self.resolution)

    def describe(self) -> str:
        """``first response 30, next response 60, resolution 480`` (support minutes), or ``no targets``."""
        parts = [
            f"{name.replace('_', ' ')} {target}"
            for name, target in zip(CLOCKS, self.as_tuple(), strict=True)
            if target is not None
        ]
        return ", ".join(parts) if parts else "no targets"


@dataclass(frozen=True)
class SlaPolicy:
    """The default targets and the warning share (the SLA settings)."""

    targets: SlaTargets = SlaTargets()
    warn_at: float = DEFAULT_WARN_AT

    @property
    def key(self) -> str:
        """Names the policy: two policies with the same key give every ticket the same clocks."""
        first, next_, resolution = (("-" if t is None else str(t)) for t in self.targets.as_tuple())
        return f"{first}/{next_}/{resolution}@{self.warn_at!r}"


class TargetError(ValueError):
    """A target that is not whole minutes from 1 to a year's; the message says so."""


def parse_target(value: str | int | None) -> int | None:
    """A target in whole support minutes (blank or None: no target)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        minutes = int(str(value).strip())
    except ValueError:
        raise TargetError(f"expected whole support minutes, got {value!r}") from None
    if not MIN_TARGET_MINUTES <= minutes <= MAX_TARGET_MINUTES:
        raise TargetError(
            f"expected support minutes from {MIN_TARGET_MINUTES} to {MAX_TARGET_MINUTES}, got {value!r}"
        )
    return minutes


def _smallest(values: Iterable[int | None]) -> int | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def strictest(tags: Iterable[SlaTargets], default: SlaTargets) -> SlaTargets:
    """The targets a ticket with team tags ``tags`` follows (module docstring): per clock, the
    smallest of the tags' own targets, else the default's."""
    tags = list(tags)
    chosen = []
    for index in range(len(CLOCKS)):
        own = _smallest(tag.as_tuple()[index] for tag in tags)
        chosen.append(own if own is not None else default.as_tuple()[index])
    return SlaTargets(*chosen)
