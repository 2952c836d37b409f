"""The station table: posts as reference IDs name them, and the other spellings cables use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

_NON_ALNUM = re.compile(r"[^A-Z0-9]")
# A station's ID spelling: capitals only (09RIODEJANEIRO123 names RIODEJANEIRO).
STATION_ID = re.compile(r"^[A-Z]{2,24}$")


@lru_cache(maxsize=16384)
def compact(spelling: str) -> str:
    """A spelling reduced to capitals and digits (Rio de Jan. -> RIODEJAN), as the table compares them."""
    return _NON_ALNUM.sub("", spelling.upper())


@dataclass(frozen=True)
class Stations:
    """Posts by ID, with every spelling (IDs and aliases, compacted) that names each one."""

    names: dict[str, str] = field(default_factory=dict)
    # compact spelling -> station ID; `text` only holds the spellings safe to read in free text
    ids: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    prefixes: tuple[str, ...] = ()
    longest: int = 1  # most words of any spelling, for reading names out of free text

    def resolve(self, spelling: str) -> str | None:
        """The station ID a spelling names (SECSTATE -> STATE, RIO DE JAN -> RIODEJANEIRO), else None."""
        return self.ids.get(compact(spelling))

    def in_text(self, spelling: str) -> str | None:
        """Like resolve, for a spelling read out of free text: aliases seen only in IDs (BRAZIL) do not count."""
        return self.text.get(compact(spelling))

    def strip_office(self, spelling: str) -> str:
        """The spelling without an office word in front (AMEMBASSY PARIS -> PARIS)."""
        c = compact(spelling)
        for p in self.prefixes:
            if c.startswith(p) and len(c) > len(p):
                return c[len(p) :]
        return c

    def nearest(self, token: str) -> str | None:
        """The one station whose spelling is a single typo away from `token` (SOIA -> SOFIA), else None."""
        if len(token) < 3 or token in self.ids:
            return self.ids.get(token)
        found = {sid for spelling, sid in self.ids.items() if one_edit(token, spelling)}
        return found.pop() if len(found) == 1 else None


def one_edit(a: str, b: str) -> bool:
    """True when a and b differ by exactly one insertion, deletion, substitution or swap."""
    la, lb = len(a), len(b)
    if abs(la - lb) > 1 or a == b or min(la, lb) < 3:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    if la < lb:
        return a[i:] == b[i + 1 :]
    return a[i + 1 :] == b[i:]


def build_stations(data: dict[str, Any]) -> Stations:
    """The table from validated rules data (`[stations]`, `[offices]`); see ruleset for the checks."""
    names: dict[str, str] = {}
    ids: dict[str, str] = {}
    text: dict[str, str] = {}
    offices = data.get("offices", {})
    longest = 1
    for sid, entry in data.get("stations", {}).items():
        names[sid] = entry.get("name", sid)
        ids[sid] = text[sid] = sid
        for alias in entry.get("aliases", []):
            key = compact(alias)
            ids[key] = text[key] = sid
            longest = max(longest, len(alias.split()))
        for alias in entry.get("id_aliases", []):
            ids[compact(alias)] = sid
        # The post's own name spells it too (Port-au-Prince, The Hague), where it names no other.
        name_key = compact(entry.get("name", ""))
        if name_key and name_key not in ids:
            ids[name_key] = text[name_key] = sid
            longest = max(longest, len(entry["name"].split()))
    prefixes = tuple(sorted({compact(p) for p in offices.get("prefixes", [])}, key=len, reverse=True))
    return Stations(names=names, ids=ids, text=text, prefixes=prefixes, longest=longest)


def station_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with stations data, as (the key or value to point at, the message) pairs."""
    problems: list[tuple[str, str]] = []
    stations = data.get("stations", {})
    if not isinstance(stations, dict) or not stations:
        return [("[stations]", "[stations] must be a table of station IDs")]
    owner: dict[str, str] = {}
    for sid, entry in stations.items():
        if not STATION_ID.match(sid):
            problems.append((sid, f"station ID {sid!r} must be 2 to 24 capital letters"))
            continue
        if not isinstance(entry, dict):
            problems.append((sid, f"stations.{sid} must be a table (name, aliases)"))
            continue
        unknown = set(entry) - {"name", "aliases", "id_aliases"}
        if unknown:
            problems.append((sid, f"stations.{sid}: unknown key {sorted(unknown)[0]!r}"))
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append((sid, f"stations.{sid}.name must be a non-empty string"))
        aliases = entry.get("aliases", [])
        id_aliases = entry.get("id_aliases", [])
        if not all(isinstance(x, list) and all(isinstance(a, str) for a in x) for x in (aliases, id_aliases)):
            problems.append((sid, f"stations.{sid}.aliases and id_aliases must be lists of strings"))
            continue
        aliases = [*aliases, *id_aliases]
        owner.setdefault(sid, sid)
        for alias in aliases:
            key = compact(alias)
            if not key:
                problems.append((alias, f"stations.{sid}: alias {alias!r} has no letters"))
            elif key in stations and key != sid:
                problems.append((alias, f"stations.{sid}: alias {alias!r} is the ID of station {key}"))
            elif owner.get(key, sid) != sid:
                problems.append((alias, f"stations.{sid}: alias {alias!r} already names {owner[key]}"))
            else:
                owner[key] = sid
    prefixes = data.get("offices", {}).get("prefixes", [])
    if not isinstance(prefixes, list) or not all(isinstance(p, str) and compact(p) for p in prefixes):
        problems.append(("prefixes", "offices.prefixes must be a list of words"))
    return problems
