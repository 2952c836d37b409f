"""Cable IDs: the shapes viewers name cables by, and each cable's canonical ID.

The cable viewer named some cables by malformed IDs: the year written twice (7575LIBREVILLE1895
for 75LIBREVILLE1895), a section marker inside (09SECTION01OF03SANJOSE525, damaged as
08ECTION01OF02MANAMA492), a handling word or an office in front of the post (06EFTOBAKU1165,
09AMEMBASSYHANOI1284), a typo in the post (07SOIA828), a date-time group after the serial
(07OSLO000160ZDK164). The page's ID stays what the page says (all mirrors of a release share
it); the canonical ID is the one the cable's own header would give.
"""

from __future__ import annotations

import re

from cleaners.fields.stations import Stations, compact, one_edit

# What the viewers call a cable: two-digit year first, a serial last, capitals, digits and
# hyphens between, at most 64 characters (the archive's names are built from it).
VIEWER_ID = re.compile(r"^\d{2}[0-9A-Z-]{0,60}[A-Z][0-9A-Z-]*\d$")
VIEWER_ID_MAX = 64
_WELL_FORMED = re.compile(r"^(\d{2})([A-Z][A-Z-]*?)(\d+)$")
_DOUBLED_YEAR = re.compile(r"^(\d{2})\1([A-Z][A-Z-]*\d+)$")
# A section marker inside the ID, damaged or not: SECTION01OF03, SCTION02OF02, SECTIOQ1OF06, SECTION0QF05.
_SECTION = re.compile(r"^(\d{2})([A-Z]{3,9})([0-9OQ]{1,2})(?:[O0Q]?F|GF|O)([0-9OQ]{1,2})([A-Z][A-Z-]*?\d+)$")
# ... or with the word lost: 0901OF02RPODUBAI288.
_BARE_SECTION = re.compile(r"^(\d{2})\d{2}OF\d{2}([A-Z][A-Z-]*?\d+)$")
# After the serial, a date-time group and a second serial (MADRID002583ZFR2585), or the
# number of a telegram series (STATE255577TOSEC140323).
_TAIL = re.compile(r"^(\d{2})([A-Z][A-Z-]*?)(\d+)(?:Z[A-Z]{2}|TOSEC|SECTO)\d+$")
# Words the viewer left in front of a post: handling caveats, a cut-off "CLASSIFIED".
_DEBRIS = ("EFTO", "NOFORN", "SIFIED", "SENSITIVE", "LIMDIS", "EXDIS", "NODIS")


def full_year(yy: int) -> int:
    """A two-digit cable year as four digits: the published cables run from 1966 to 2010."""
    return yy + (1900 if yy >= 66 else 2000)


def is_viewer_id(ref: str | None) -> bool:
    """True when `ref` has the shape of an ID a viewer names a cable by (08ASTANA611, 7575LIBREVILLE1895)."""
    return bool(ref) and len(ref or "") <= VIEWER_ID_MAX and VIEWER_ID.fullmatch(ref or "") is not None


def _similar_to_section(word: str) -> bool:
    """SECTION, or SECTION with one letter lost, added or changed (SCTION, SECTIOQ, SECTINN)."""
    return word == "SECTION" or one_edit(word, "SECTION")


def station_of(token: str, stations: Stations) -> str:
    """The station an ID's origin names: aliases resolved, office words and debris dropped, one typo repaired."""
    found = stations.resolve(token)
    if found:
        return found
    c = compact(token)
    for prefix in (*_DEBRIS, *stations.prefixes):
        if c.startswith(prefix) and len(c) > len(prefix) + 1:
            rest = c[len(prefix) :]
            return stations.resolve(rest) or stations.nearest(rest) or rest
    return stations.nearest(c) or c


def canonical_id(ref: str | None, stations: Stations) -> str | None:
    """The canonical form of a cable ID (75LIBREVILLE1895 for 7575LIBREVILLE1895), or None."""
    if not ref or not is_viewer_id(ref):
        return None
    m = _DOUBLED_YEAR.match(ref)
    if m:
        ref = m.group(1) + m.group(2)
    m = _SECTION.match(ref)
    if m and _similar_to_section(m.group(2)):
        ref = m.group(1) + m.group(5)
    m = _BARE_SECTION.match(ref)
    if m:
        ref = m.group(1) + m.group(2)
    m = _TAIL.match(ref)
    if m:
        ref = m.group(1) + m.group(2) + m.group(3)
    m = _WELL_FORMED.match(ref)
    if not m:
        return ref
    year, origin, serial = m.groups()
    return f"{year}{station_of(origin, stations)}{int(serial)}"
