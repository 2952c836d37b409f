"""Read what a cable's header says about its ID: classification, origin, serial, dates, DECL, years.

The other header fields (subject, tags, references, signers...) are read by `cleaners.fields`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cleaners.fields.ids import is_viewer_id
from cleaners.fields.refs import reference_years
from cleaners.model import CleanerWarning as W
from cleaners.model import Warn

REF_ID = re.compile(r"^(\d{2})([A-Z][A-Z-]*?)(\d+)$")
# A reference ID anywhere in a string (URL, title, heading); the year keeps it from matching words.
REF_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])(\d{2}[A-Za-z][A-Za-z-]*?\d{1,6})(?![A-Za-z0-9])")

MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
LONG_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        1,
    )
}


def _spaced(word: str) -> str:
    """Regex for a word that cables write either plain or letter-spaced (C O N F I D E N T I A L)."""
    return r"\s?".join(re.escape(c) for c in word)


# Classification words as cables write them, some with a lost or doubled first letter.
_CLASS_WORDS = {
    "CONFIDENTIAL": [_spaced("CONFIDENTIAL"), r"C" + _spaced("CONFIDENTIAL"), _spaced("ONFIDENTIAL")],
    "SECRET": [_spaced("SECRET"), r"S" + _spaced("SECRET"), r"C" + _spaced("SECRET"), _spaced("ECRET")],
    "UNCLASSIFIED": [_spaced("UNCLASSIFIED"), r"UNCLAS"],
    "LIMITED OFFICIAL USE": [r"LIMITED\s+OFFICIAL\s+USE"],
}
_CLASS_ALT = "|".join(f"(?P<c{i}>{'|'.join(pats)})" for i, pats in enumerate(_CLASS_WORDS.values()))
_CLASS_NAMES = list(_CLASS_WORDS)
# The letters a classification line can open with (also with its first letter lost or doubled).
_CLASS_FIRST = frozenset("CSULOEcsuloe")
CLASS_LINE = re.compile(
    rf"^\s*(?:{_CLASS_ALT})"
    r"(?P<caveats>(?:\s+(?:NOFORN|SENSITIVE|SPECAT|E\s?F\s?T\s?O|EXDIS|NODIS|//\s?NOFORN|"
    r"FOR OFFICIAL USE ONLY))*)"
    r"(?:\s+SECTION\s+(?P<sec>\d+)\s+OF\s+(?P<of>\d+))?"
    r"\s+(?P<origin>[A-Z][A-Z .'/-]*?[A-Z])\s+(?P<serial>\d{3,8})\s*$",
    re.IGNORECASE,
)
ROUTING_DE = re.compile(r"^\s*DE\s+RUE[A-Z]+\s+#(?P<serial>\d{1,6})(?:/\d+)?\s+\d{7}")
DTG = re.compile(
    r"\b(?P<day>[0-3]\d)(?P<hh>[0-2]\d)(?P<mm>[0-5]\d)Z\s?(?P<mon>[A-Za-z]{3})\s?(?P<yy>\d{2})\b"
)
DATE_LINE = re.compile(
    r"^\s*(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday),\s+(?P<day>\d{1,2})\s+"
    r"(?P<mon>[A-Za-z]+)\s+(?P<year>\d{4}),\s+(?P<hh>\d{1,2}):(?P<mm>\d{2})\s*$"
)
FM_LINE = re.compile(r"^\s*FM\s+(?P<who>.+?)\s*$")
DECL = re.compile(
    r"DECL(?:ASSIFY)?\s*:?\s*(?:ON\s+)?(?P<m>\d{1,2})\s*/\s*(?P<d>\d{1,2})\s*/\s*(?P<y>\d{2,4})", re.I
)
DECL_ISO = re.compile(r"DECL\s*:?\s*(?P<y>\d{4})\s*/\s*\d{1,2}\s*/\s*\d{1,2}", re.I)
SUBJECT = re.compile(r"^\s*(?:SUBJECT|SUBJ)\s*:?\s*(?P<rest>.*)$", re.I)
TAGS = re.compile(r"^\s*TAGS?\s*:?\s+(?P<rest>.*)$", re.I)
PARA = re.compile(r"^\s*(?:¶\s?)?(?P<n>\d{1,3})\s?\.\s*\(")
PARA_MARK = re.compile(r"^\s*¶\s?\d{1,3}\b")
# Either, counted over the whole text in one pass (a line counts once).
# (Searched in "\n" + text: the pattern opens with a literal newline, which makes the search fast.)
_PARAS = re.compile(r"\n[ \t]*(?:(?:¶[ \t]?)?\d{1,3}[ \t]?\.[ \t]*\(|¶[ \t]?\d{1,3}\b)")
# FM lines: the office prefix is not part of the ID's origin.
_FM_PREFIX = re.compile(
    r"^(?:AMEMBASSY|AMCONSUL|USMISSION|USINT|US\s?MISSION|USDEL|USOFFICE|AIT|AMEMB|EMBASSY|CONSULATE|"
    r"US\s+EMBASSY|AMERICAN\s+EMBASSY)\s+",
    re.I,
)


@dataclass
class Header:
    """What the header of one cable says; fields are None where the cable does not say."""

    classification: str | None = None
    class_origin: str | None = None
    serial: int | None = None
    routing_serial: int | None = None
    fm_origin: str | None = None
    section: str | None = None
    year: str | None = None
    year_source: str | None = None
    dtg: str | None = None
    decl_year: int | None = None
    # whether the header has SUBJECT and TAGS lines of its own (else it may be a reflowed one)
    has_subject: bool = False
    has_tags: bool = False
    ref_years: set[str] = field(default_factory=set)
    paragraphs: int = 0
    caveats: list[str] = field(default_factory=list)
    years_mentioned: dict[int, int] = field(default_factory=dict)


def origin_token(origin: str) -> str:
    """The origin as reference IDs spell it: letters only, upper case (RIO DE JANEIRO → RIODEJANEIRO)."""
    return re.sub(r"[^A-Z]", "", origin.upper())


def is_ref_id(ref: str) -> bool:
    """True when `ref` has the shape of an ID a page names a cable by (08ASTANA611, 7575LIBREVILLE1895)."""
    return is_viewer_id(ref)


def split_ref(ref: str) -> tuple[str, str, int] | None:
    """(year, origin, serial) of a reference ID, or None."""
    m = REF_ID.match(ref)
    if not m:
        return None
    return m.group(1), m.group(2), int(m.group(3))


def _class_name(m: re.Match[str]) -> str:
    """The classification named by a CLASS_LINE match."""
    for i, name in enumerate(_CLASS_NAMES):
        if m.group(f"c{i}"):
            return name
    return "UNCLASSIFIED"


def _fm_origin(who: str) -> str | None:
    """ID origin from an FM line: SECSTATE WASHDC → STATE, AMEMBASSY PARIS → PARIS."""
    who = who.strip().upper()
    if who.startswith("SECSTATE"):
        return "STATE"
    who = re.sub(r"\s+(?:IMMEDIATE|PRIORITY|ROUTINE|FLASH|NIACT)\b.*$", "", who)
    who = re.sub(r"\s+\d+$", "", who)
    who = _FM_PREFIX.sub("", who)
    if not who or len(who) > 40:
        return None
    token = origin_token(who)
    return token or None


_CLASS_FLAT = re.compile(
    CLASS_LINE.pattern.replace(r"^\s*", r"(?<![A-Za-z])").replace(r"\s*$", r"(?=\s|$)"), re.IGNORECASE
)
_ROUTING_FLAT = re.compile(r"\bDE\s+RUE[A-Z]+\s+#(?P<serial>\d{1,6})(?:/\d+)?\s+\d{7}")
_DATE_FLAT = re.compile(DATE_LINE.pattern.replace("^", "").replace(r"\s*$", ""))
_FM_FLAT = re.compile(r"\bFM\s+(?P<who>[A-Z][A-Z .'/-]+?)\s+(?:TO|INFO)\b")


def parse_header(lines: list[str]) -> Header:
    """Read the header fields of a cable from its lines (the whole text; only the top is searched)."""
    h = Header()
    top = lines[:120]
    # Each pattern is tried only on lines that hold what it needs (a cheap test first): a
    # header is read once per cable and many times while cables are searched for on a page.
    for i, line in enumerate(top):
        if (
            h.classification is None
            and line.lstrip()[:1] in _CLASS_FIRST
            and (line[-1:].isdigit() or line.rstrip()[-1:].isdigit())
        ):
            m = CLASS_LINE.match(line)
            if m:
                _take_class(h, m)
        if h.routing_serial is None and "RUE" in line and "#" in line:
            m = ROUTING_DE.match(line)
            if m:
                h.routing_serial = int(m.group("serial"))
        if h.fm_origin is None and i < 60 and "FM" in line:
            m = FM_LINE.match(line)
            if m:
                h.fm_origin = _fm_origin(m.group("who"))
        if h.year is None and i < 60 and ("Z" in line or "day," in line):
            _take_year(h, DATE_LINE.match(line), line)
        lowered = None
        if h.decl_year is None and ("CL" in line or "cl" in line or "Cl" in line or "cL" in line):
            lowered = line.lower()
            if "decl" in lowered:
                m = DECL.search(line) or DECL_ISO.search(line)
                if m:
                    y = int(m.group("y"))
                    h.decl_year = y + 2000 if y < 100 else y
        if not (h.has_subject and h.has_tags) and ("B" in line or "b" in line or "G" in line or "g" in line):
            lowered = lowered or line.lower()
            if not h.has_subject and "subj" in lowered and SUBJECT.match(line):
                h.has_subject = True
            if not h.has_tags and "tag" in lowered and TAGS.match(line):
                h.has_tags = True
        if (
            h.classification is not None
            and h.routing_serial is not None
            and h.decl_year is not None
            and h.has_subject
            and h.has_tags
            and (i >= 60 or (h.fm_origin is not None and h.year is not None))
        ):
            break  # nothing left to look for
    if None in (h.classification, h.routing_serial, h.fm_origin, h.year) or not (
        h.has_subject and h.has_tags
    ):
        _parse_flat(h, top)
    if h.year is None:  # only a dateless cable's year is inferred, partly from its references
        h.ref_years = reference_years(top)
    h.paragraphs = len(_PARAS.findall("\n" + "\n".join(lines)))
    if h.year is None:
        for m in _YEAR.finditer("\n".join(lines[:200])):
            y = int(m.group(0))
            h.years_mentioned[y] = h.years_mentioned.get(y, 0) + 1
    return h


# A year named in the text; a decade ("the 1980s and 1990s") names no year.
# (The digits first, then the look back over them: the search can skip to a 1 or a 2.)
_YEAR = re.compile(r"(?:19[6-9]|20[0-4])\d(?<![\d/.-]\d{4})(?![\d/-]|\x27?s\b)")
# The published cables were written from December 1966 to February 2010: an inferred year
# outside that span is impossible (a DECL of 2029 is 25 years from 2004, not 10 from 2019).
FIRST_YEAR, LAST_YEAR = 1966, 2010


# How common the release's cables of a year are, next to its commonest years (2005-2010): the
# cables before 2005 are a small part of it, so that a declassification date ten years on from
# 2000-2004 is as likely five years on from 2005-2009 (DECL 2010: TELAVIV 1580 is of 2005).
_SHARE = ((1999, 0.15), (2002, 0.25), (2003, 0.35), (2004, 0.7))


def _year_share(year: int) -> float:
    """The weight of `year` among the release's years (1.0 for its commonest)."""
    for last, share in _SHARE:
        if year <= last:
            return share
    return 1.0


def _infer_year(h: Header) -> tuple[int | None, str]:
    """The likeliest year of a cable with no date on it, from its declassification date.

    Cables are mostly declassified after ten years, sometimes five, twenty or twenty-five; years
    the text itself names tip the balance, and a reference that spells out a year rules that
    year (and any before it) out: cables give the year only of earlier years' references.
    The year after the newest such reference is a candidate too: early in a year drafters often
    counted the ten years from the year just ended, so when the ten-year guess is exactly the
    newest reference's year, the year after it is the likely one (ALMATY 808, DECL 02/28/2015,
    REF 05 ALMATY 4441, was written in 2006).
    """
    assert h.decl_year is not None
    ref_years = {int(y) + (1900 if int(y) > 60 else 2000) for y in h.ref_years}
    newest_ref = max(ref_years, default=None)
    scores: dict[int, float] = {}
    candidates = [(10, 2.5), (5, 0.5), (25, 0.5), (20, 0.25), (15, 0.25)]
    if newest_ref is not None:
        after = h.decl_year - (newest_ref + 1)
        if 4 <= after <= 25 and after not in dict(candidates):
            candidates.append((after, 2.0 if after == 9 else 0.25))
    for offset, prior in candidates:
        year = h.decl_year - offset
        if not FIRST_YEAR <= year <= LAST_YEAR:
            continue
        score = prior * _year_share(year) + min(h.years_mentioned.get(year, 0), 5)
        if newest_ref is not None and newest_ref >= year:
            score = -1.0
        scores[year] = score
    if not scores:
        return None, f"every year the declassification date allows is outside {FIRST_YEAR}-{LAST_YEAR}"
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (best, top), second = ranked[0], (ranked[1][1] if len(ranked) > 1 else -1.0)
    if top < 1.0 or top - second < 1.0:
        return None, "references or mentioned years leave it open"
    mentions = h.years_mentioned.get(best, 0)
    how = f"the declassification date {h.decl_year}"
    if mentions:
        how += f" and {mentions} mention(s) of {best} in the text"
    if newest_ref is not None and best == newest_ref + 1:
        how += f", the year after its newest reference ({newest_ref})"
    return best, how


def _take_year(h: Header, date_line: re.Match[str] | None, text: str) -> None:
    """The cable's year from the viewer's date line, else from a date-time group in `text`."""
    if date_line and date_line.group("mon").lower() in LONG_MONTHS:
        h.year, h.year_source = date_line.group("year")[2:], "date line"
        return
    m = DTG.search(text)
    if m and m.group("mon").upper() in MONTHS:
        h.year, h.year_source, h.dtg = m.group("yy"), "DTG", m.group(0)


def _take_class(h: Header, m: re.Match[str]) -> None:
    """Record what a classification line says."""
    h.classification = _class_name(m)
    h.class_origin = origin_token(m.group("origin"))
    h.serial = int(m.group("serial"))
    if m.group("sec"):
        h.section = f"{int(m.group('sec'))} of {int(m.group('of'))}"
    caveats = m.group("caveats") or ""
    h.caveats = [c.upper() for c in re.findall(r"NOFORN|SENSITIVE|EXDIS|NODIS", caveats, re.I)]


def _parse_flat(h: Header, top: list[str]) -> None:
    """Header fields of a reflowed cable, whose header lines a blog joined into paragraphs."""
    head: list[str] = []
    for line in top[:60]:
        if PARA.match(line) or PARA_MARK.match(line):
            break
        head.append(line.strip())
    flat = " ".join(x for x in head if x)
    if not flat:
        return
    if h.classification is None:
        m = _CLASS_FLAT.search(flat)
        if m:
            _take_class(h, m)
    # (each search only where the text holds what its pattern needs)
    if h.routing_serial is None and "RUE" in flat and "#" in flat:
        m = _ROUTING_FLAT.search(flat)
        if m:
            h.routing_serial = int(m.group("serial"))
    if h.fm_origin is None and "FM" in flat:
        m = _FM_FLAT.search(flat)
        if m:
            h.fm_origin = _fm_origin(m.group("who"))
    if h.year is None and ("Z" in flat or "day," in flat):
        _take_year(h, _DATE_FLAT.search(flat) if "day," in flat else None, flat)


def id_parts(h: Header) -> tuple[str | None, int | None, str | None]:
    """(origin, serial) that a reference ID would be built from, and a note when sources disagree."""
    # A redacted origin (XXXXXXXXXXXX) is no origin; the FM line still names the post.
    class_origin = h.class_origin if h.class_origin and set(h.class_origin) != {"X"} else None
    origin = class_origin or h.fm_origin
    serial = h.serial if h.serial is not None else h.routing_serial
    # The classification line is sometimes another cable's (copy errors in the source);
    # when the routing line disagrees on the serial, the routing line and FM line win.
    # (State's routing line keeps only the last four digits: #7307 for STATE 017307.)
    if (
        h.routing_serial is not None
        and h.serial is not None
        and h.routing_serial != h.serial % 10000
        and h.routing_serial != h.serial
        and h.fm_origin
    ):
        note = f"header names {h.class_origin} {h.serial} but the routing line says #{h.routing_serial} from {h.fm_origin}"
        return h.fm_origin, h.routing_serial, note
    return origin, serial, None


def derive_ref(h: Header) -> tuple[str | None, str | None, list[W]]:
    """A reference ID from the header alone: (ref, how, warnings); ref None if it cannot be established."""
    warnings: list[W] = []
    origin, serial, note = id_parts(h)
    if note:
        warnings.append(W(Warn.ID_CONFLICT, note))
    if not origin or serial is None:
        return None, None, warnings
    if h.year:
        return f"{h.year}{origin}{serial}", "dtg+serial", warnings
    if h.decl_year and 1980 <= h.decl_year <= 2060:
        year, why = _infer_year(h)
        if year is None:
            warnings.append(
                W(
                    Warn.NO_ID,
                    f"reference ID not established: {origin} {serial} has no date on the page, and the "
                    f"declassification date ({h.decl_year}) does not settle the year ({why})",
                )
            )
            return None, None, warnings
        warnings.append(
            W(Warn.ID_INFERRED, f"reference ID inferred: no date on the page; year {year} from {why}")
        )
        return f"{year % 100:02d}{origin}{serial}", "inferred", warnings
    warnings.append(
        W(Warn.NO_ID, f"reference ID not established: {origin} {serial} found but no year on the page")
    )
    return None, None, warnings
