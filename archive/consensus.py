"""Which of a cable's sources gives its preferred text: the one closest to all the others."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_TOKEN_RE = re.compile(r"\S+")

# Two similarities closer than this are a tie, settled by the tie-breakers.
_TIE = 1e-9


@dataclass
class Candidate:
    """One source of a cable as the consensus sees it."""

    key: str
    text: str
    lines_kept: bool
    family: str
    fetched_at: str
    url: str = ""


@dataclass
class Choice:
    """The preferred source, why, and each source's fidelity (mean similarity to the others)."""

    preferred: str
    reason: str
    fidelity: dict[str, float]


def similarity(a: Counter[str], b: Counter[str]) -> float:
    """Token-level similarity of two texts: the F1 of their token multisets (1.0 = same words)."""
    total = sum(a.values()) + sum(b.values())
    if total == 0:
        return 1.0
    common = sum((a & b).values())
    return 2.0 * common / total


def _is_viewer(family: str) -> bool:
    return "cablegate" in family or "viewer" in family


def choose(candidates: list[Candidate]) -> Choice:
    """Pick the preferred source: closest to the others, then line-preserving, viewer family, smallest URL.

    The choice depends on the sources' texts, families and URLs only, never on the order
    they were fetched or recorded in, so two equivalent crawls prefer the same text.
    """
    if not candidates:
        raise ValueError("a cable needs at least one source")
    if len(candidates) == 1:
        only = candidates[0]
        return Choice(only.key, "only source", {only.key: 1.0})
    candidates = sorted(candidates, key=lambda c: c.key)
    bags = {c.key: Counter(_TOKEN_RE.findall(c.text)) for c in candidates}
    fidelity: dict[str, float] = {}
    for c in candidates:
        sims = [similarity(bags[c.key], bags[o.key]) for o in candidates if o.key != c.key]
        fidelity[c.key] = round(sum(sims) / len(sims), 6)

    def rank(c: Candidate) -> tuple:
        return (-fidelity[c.key], not c.lines_kept, not _is_viewer(c.family), c.url, c.key)

    ordered = sorted(candidates, key=rank)
    best, runner = ordered[0], ordered[1]
    n_other = len(candidates) - 1
    others = f"the other {n_other} source{'s' if n_other != 1 else ''}"
    if fidelity[best.key] - fidelity[runner.key] > _TIE:
        reason = f"closest to {others} (mean token similarity {fidelity[best.key]:.4f})"
    elif best.lines_kept and not runner.lines_kept:
        reason = f"as close to {others} as another source; keeps the original line breaks"
    elif _is_viewer(best.family) and not _is_viewer(runner.family):
        reason = f"as close to {others} as another source; from a cablegate viewer mirror"
    elif best.url != runner.url:
        reason = f"as close to {others} as another source; first by URL"
    else:
        reason = f"as close to {others} as another source; first by source key"
    return Choice(best.key, reason, fidelity)
