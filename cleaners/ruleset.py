"""Cleaning rules as data: load `cleaners/rules/*.toml`, layer a user's folder, validate, digest."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from lxml import html as lxml_html

from cleaners.fields.stations import Stations, build_stations, station_problems
from cleaners.model import RulesetInfo

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found]  # (only installed on 3.10)

SHIPPED_DIR = Path(__file__).with_name("rules")

# A page that every selector is tried on: a rule that selects its root, its body or most
# of its elements "matches everything" and would wipe or swallow real pages.
_PROBE_HTML = b"""<!DOCTYPE html><html><head><title>probe</title></head><body>
<div id="page"><header><h1>Blog title</h1><nav><a href="/">Home</a></nav></header>
<main><article><h2>A post</h2><div class="post"><p>First paragraph of the post.</p>
<p>Second paragraph<br>with a break.</p><pre>preformatted
text</pre></div></article></main>
<aside><ul><li>widget one</li><li>widget two</li></ul></aside>
<footer><p>footer text</p></footer></div></body></html>"""

# Probe lines for regexes: a pattern matching all of them matches everything.
_PROBE_LINES = ("", "a", "The cable below.", "SUBJECT: PROBE", "12345", "¶1. (C) Text.")

# Keys each kind of rule file may hold, with the type of each value.
_FAMILY_SCHEMA: dict[str, dict[str, type]] = {
    "rules": {"family": str, "version": int, "description": str, "priority": int},
    "detect": {"markers": list, "xpaths": list, "url_patterns": list, "min_signals": int},
    "body": {"select": list, "drop": list, "lines_kept": bool, "cable_is_body": bool},
    "text": {"drop_lines": list},
}
_COMMON_SCHEMA: dict[str, dict[str, type]] = {
    "rules": {"family": str, "version": int, "description": str, "set": str},
    "page": {"drop": list, "max_bytes": int, "block_tags": list, "line_tags": list},
    "viewer": {
        "help_lines": list,
        "partial_note": str,
        "table_header": str,
        "table_xpath": str,
        "hashtag": str,
    },
    "dump": {
        "id_line": str,
        "date_line": str,
        "classification_line": str,
        "origin_line": str,
        "label": str,
        "window": int,
    },
    "framing": {"before": list, "after": list, "cable_heading": list},
    "cable": {
        "start": list,
        "header_markers": list,
        "end_lines": list,
        "preamble": list,
        "signer": str,
        "header_window": int,
    },
}

_STATIONS_SCHEMA: dict[str, dict[str, type]] = {
    "rules": {"table": str, "version": int, "description": str},
    "offices": {"prefixes": list},
    "stations": {},  # checked entry by entry (station_problems)
}
_FIELDS_SCHEMA: dict[str, dict[str, type]] = {
    "rules": {"table": str, "version": int, "description": str},
    "tags": {"not_tags": list, "codes": list, "countries": list},
    "signers": {"not_names": list, "tail": list},
    "classified_by": {"titles": list, "not_names": list},
}
# Rule files that are tables for the header fields, not site families.
TABLE_FILES = ("stations", "fields")


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and the line."""


@dataclass
class FamilyRules:
    """The compiled rules of one site family."""

    family: str
    version: int
    priority: int
    description: str
    markers: list[str]
    detect_xpaths: list[etree.XPath]
    url_patterns: list[re.Pattern[str]]
    min_signals: int
    select: list[etree.XPath]
    drop: list[etree.XPath]
    drop_lines: list[re.Pattern[str]]
    lines_kept: bool | None
    cable_is_body: bool
    source: str


@dataclass
class Ruleset:
    """Every rule in force: the site families (in detection order) and the common rules."""

    families: list[FamilyRules]
    common: dict[str, Any]
    info: RulesetInfo
    stations: Stations = field(default_factory=Stations)
    fields: dict[str, Any] = field(default_factory=dict)

    def family(self, name: str) -> FamilyRules:
        """The rules of the named family (KeyError if none)."""
        for fam in self.families:
            if fam.family == name:
                return fam
        raise KeyError(name)


def _line_of(text: str, needle: str) -> int:
    """1-based line in `text` where `needle` (a key or a value) first appears, else 1."""
    for candidate in (needle, json.dumps(needle)[1:-1]):
        idx = text.find(candidate)
        if idx >= 0:
            return text.count("\n", 0, idx) + 1
    return 1


def _parse_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse one TOML file, turning a syntax error into a RulesError naming file and line."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}:1: cannot read rules file: {exc}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        if line is None:
            m = re.search(r"line (\d+)", str(exc))
            # "at end of document": the error is on the last line
            line = int(m.group(1)) if m else max(1, text.rstrip("\n").count("\n") + 1)
        raise RulesError(f"{path}:{line}: not valid TOML: {exc}") from None


def _check_schema(path: Path, text: str, data: dict[str, Any], schema: dict[str, dict[str, type]]) -> None:
    """Refuse unknown tables, unknown keys and values of the wrong type."""
    for table, body in data.items():
        if table not in schema:
            raise RulesError(f"{path}:{_line_of(text, '[' + table)}: unknown table [{table}]")
        if not isinstance(body, dict):
            raise RulesError(f"{path}:{_line_of(text, table)}: [{table}] must be a table")
        if not schema[table] and table == "stations":
            continue  # entries are checked by station_problems
        for key, value in body.items():
            want = schema[table].get(key)
            if want is None:
                raise RulesError(f"{path}:{_line_of(text, key)}: unknown key {key!r} in [{table}]")
            if (want is int and isinstance(value, bool)) or not isinstance(value, want):
                raise RulesError(
                    f"{path}:{_line_of(text, key)}: {table}.{key} must be {want.__name__}, "
                    f"not {type(value).__name__}"
                )
            if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                raise RulesError(f"{path}:{_line_of(text, key)}: {table}.{key} must be a list of strings")


def _compile_regex(path: Path, text: str, pattern: str, what: str) -> re.Pattern[str]:
    """Compile a rule regex; refuse one that does not compile or that matches everything."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise RulesError(f"{path}:{_line_of(text, pattern)}: {what}: bad regular expression: {exc}") from None
    if all(rx.search(probe) for probe in _PROBE_LINES):
        raise RulesError(f"{path}:{_line_of(text, pattern)}: {what}: {pattern!r} matches everything")
    return rx


@lru_cache(maxsize=1)
def _probe_doc() -> tuple[etree._Element, int]:
    """The parsed probe page and its element count."""
    doc = lxml_html.fromstring(_PROBE_HTML)
    return doc, sum(1 for _ in doc.iter())


def _compile_xpath(path: Path, text: str, expr: str, what: str) -> etree.XPath:
    """Compile a rule XPath; refuse one that does not compile or that selects (nearly) everything."""
    try:
        xp = etree.XPath(expr)
    except etree.XPathSyntaxError as exc:
        raise RulesError(f"{path}:{_line_of(text, expr)}: {what}: bad XPath {expr!r}: {exc}") from None
    doc, total = _probe_doc()
    try:
        found = xp(doc)
    except etree.XPathError as exc:
        raise RulesError(f"{path}:{_line_of(text, expr)}: {what}: XPath {expr!r} fails: {exc}") from None
    if isinstance(found, list):
        elements = [e for e in found if isinstance(e, etree._Element)]
        tags = {e.tag for e in elements}
        if "html" in tags or "body" in tags or len(elements) > total // 2:
            raise RulesError(f"{path}:{_line_of(text, expr)}: {what}: {expr!r} matches everything")
    elif what != "detect":
        raise RulesError(f"{path}:{_line_of(text, expr)}: {what}: {expr!r} must select elements")
    return xp


def _compile_family(path: Path, text: str, data: dict[str, Any]) -> FamilyRules:
    """Validate and compile one site family's rules."""
    _check_schema(path, text, data, _FAMILY_SCHEMA)
    meta = data.get("rules", {})
    for key in ("family", "version"):
        if key not in meta:
            raise RulesError(f"{path}:1: [rules] needs {key!r}")
    detect, body, textrules = data.get("detect", {}), data.get("body", {}), data.get("text", {})
    markers = detect.get("markers", [])
    for m in markers:
        if not m.strip():
            raise RulesError(
                f"{path}:{_line_of(text, 'markers')}: detect.markers: an empty marker matches everything"
            )
    return FamilyRules(
        family=meta["family"],
        version=meta["version"],
        priority=meta.get("priority", 50),
        description=meta.get("description", ""),
        markers=markers,
        detect_xpaths=[_compile_xpath(path, text, x, "detect") for x in detect.get("xpaths", [])],
        url_patterns=[
            _compile_regex(path, text, p, "detect.url_patterns") for p in detect.get("url_patterns", [])
        ],
        min_signals=detect.get("min_signals", 1),
        select=[_compile_xpath(path, text, x, "body.select") for x in body.get("select", [])],
        drop=[_compile_xpath(path, text, x, "body.drop") for x in body.get("drop", [])],
        drop_lines=[
            _compile_regex(path, text, p, "text.drop_lines") for p in textrules.get("drop_lines", [])
        ],
        lines_kept=body.get("lines_kept"),
        cable_is_body=body.get("cable_is_body", False),
        source=str(path),
    )


def _compile_common(path: Path, text: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate and compile the rules shared by every family."""
    _check_schema(path, text, data, _COMMON_SCHEMA)
    out: dict[str, Any] = {"raw": data}
    page = data.get("page", {})
    drops = page.get("drop", [])
    for x in drops:  # each rule is validated on its own, so an error names its line
        _compile_xpath(path, text, x, "page.drop")
    # "//tag" rules are dropped in one pass over the tree (iter is much faster than XPath);
    # the others are evaluated as one union expression.
    out["page_drop_tags"] = tuple(x[2:] for x in drops if re.fullmatch(r"//[a-z][a-z0-9]*", x))
    rest = [x for x in drops if not re.fullmatch(r"//[a-z][a-z0-9]*", x)]
    out["page_drop"] = [etree.XPath(" | ".join(rest))] if rest else []
    out["max_bytes"] = page.get("max_bytes", 16 * 1024 * 1024)
    out["block_tags"] = frozenset(page.get("block_tags", []))
    out["line_tags"] = frozenset(page.get("line_tags", []))
    viewer = data.get("viewer", {})
    out["help_lines"] = [
        _compile_regex(path, text, p, "viewer.help_lines") for p in viewer.get("help_lines", [])
    ]
    out["partial_note"] = viewer.get("partial_note", "")
    out["table_header"] = _compile_regex(
        path, text, viewer.get("table_header", r"^Reference ID\b"), "viewer.table_header"
    )
    out["table_xpath"] = _compile_xpath(
        path, text, viewer.get("table_xpath", "//table[contains(@class, 'cable')]"), "viewer.table_xpath"
    )
    out["hashtag"] = _compile_regex(
        path, text, viewer.get("hashtag", r"#(\d{2}[A-Z][A-Z-]*\d+)\b"), "viewer.hashtag"
    )
    dump = data.get("dump", {})
    out["dump"] = {}
    if dump:
        missing = [k for k in _COMMON_SCHEMA["dump"] if k not in dump]
        if missing:
            raise RulesError(f"{path}:{_line_of(text, '[dump')}: [dump] needs {', '.join(missing)}")
        out["dump"] = {
            k: _compile_regex(path, text, dump[k], f"dump.{k}")
            for k in ("id_line", "date_line", "classification_line", "origin_line", "label")
        }
        out["dump"]["window"] = dump["window"]
    framing = data.get("framing", {})
    out["framing_before"] = [
        _compile_regex(path, text, p, "framing.before") for p in framing.get("before", [])
    ]
    out["framing_after"] = [_compile_regex(path, text, p, "framing.after") for p in framing.get("after", [])]
    out["cable_heading"] = [
        _compile_regex(path, text, p, "framing.cable_heading") for p in framing.get("cable_heading", [])
    ]
    cable = data.get("cable", {})
    out["start"] = [_compile_regex(path, text, p, "cable.start") for p in cable.get("start", [])]
    out["header_markers"] = [
        _compile_regex(path, text, p, "cable.header_markers") for p in cable.get("header_markers", [])
    ]
    out["end_lines"] = [_compile_regex(path, text, p, "cable.end_lines") for p in cable.get("end_lines", [])]
    out["preamble"] = [_compile_regex(path, text, p, "cable.preamble") for p in cable.get("preamble", [])]
    out["signer"] = _compile_regex(path, text, cable.get("signer", r"^[A-Z]{2,}$"), "cable.signer")
    out["header_window"] = cable.get("header_window", 40)
    return out


def _compile_stations(path: Path, text: str, data: dict[str, Any]) -> Stations:
    """Validate and build the station table."""
    _check_schema(path, text, data, _STATIONS_SCHEMA)
    for where, message in station_problems(data):
        raise RulesError(f"{path}:{_line_of(text, where)}: {message}")
    return build_stations(data)


def _compile_fields(path: Path, text: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate and compile the tables the header-field readers use."""
    _check_schema(path, text, data, _FIELDS_SCHEMA)
    signers = data.get("signers", {})
    classified = data.get("classified_by", {})
    return {
        "not_tags": frozenset(t.upper() for t in data.get("tags", {}).get("not_tags", [])),
        "tag_codes": frozenset(t.upper() for t in data.get("tags", {}).get("codes", [])),
        "tag_countries": frozenset(t.upper() for t in data.get("tags", {}).get("countries", [])),
        "not_signers": frozenset(w.upper() for w in signers.get("not_names", [])),
        "signer_tail": _any_of(
            [_compile_regex(path, text, p, "signers.tail") for p in signers.get("tail", [])]
        ),
        "titles": frozenset(w.upper() for w in classified.get("titles", [])),
        "not_classifiers": frozenset(w.upper() for w in classified.get("not_names", [])),
    }


def _any_of(patterns: list[re.Pattern[str]]) -> re.Pattern[str] | None:
    """One pattern that matches where any of `patterns` matches (each checked on its own first)."""
    if not patterns:
        return None
    parts = []
    for rx in patterns:
        p = rx.pattern
        m = re.match(r"\(\?([a-zA-Z]+)\)", p)  # a leading (?i) becomes the group's own flag
        parts.append(f"(?{m.group(1)}:{p[m.end() :]})" if m else f"(?:{p})")
    return re.compile("|".join(parts))


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Layer `over` on `base` table by table: a user's key replaces the shipped key."""
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for table, body in over.items():
        if isinstance(body, dict) and isinstance(merged.get(table), dict):
            merged[table].update(body)
        else:
            merged[table] = body
    return merged


def _digest(files: dict[str, dict[str, Any]]) -> str:
    """sha256 of the rules' content (not their comments or layout), in canonical JSON."""
    canon = json.dumps(files, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canon.encode("utf-8")).hexdigest()


def load_rules(user_dir: str | Path | None = None) -> Ruleset:
    """Load the shipped rules, layer a user's rules folder on top, validate and digest them."""
    key = str(Path(user_dir).resolve()) if user_dir else None
    if key is None:
        return _load_shipped()
    return _load(key)


@lru_cache(maxsize=1)
def _load_shipped() -> Ruleset:
    """The shipped rules, loaded once per process."""
    return _load(None)


def _load(user_dir: str | None) -> Ruleset:
    """Read, merge, compile and digest the rule files."""
    sources: dict[str, tuple[Path, str, dict[str, Any]]] = {}
    for path in sorted(SHIPPED_DIR.glob("*.toml")):
        data, text = _parse_toml(path)
        sources[path.stem] = (path, text, data)
    name = "default"
    if user_dir is not None:
        udir = Path(user_dir)
        if not udir.is_dir():
            raise RulesError(f"{udir}:1: rules folder not found")
        user_files = sorted(udir.glob("*.toml"))
        if not user_files:
            raise RulesError(f"{udir}:1: no *.toml rules files in this folder")
        for path in user_files:
            data, text = _parse_toml(path)
            if path.stem in sources:
                _, _, base = sources[path.stem]
                data = _merge(base, data)
            sources[path.stem] = (path, text, data)
        name = f"default+{udir.name}"
    if "common" not in sources:
        raise RulesError(f"{SHIPPED_DIR / 'common.toml'}:1: the common rules file is missing")
    families: list[FamilyRules] = []
    common: dict[str, Any] = {}
    versions: dict[str, int] = {}
    stations = Stations()
    fields: dict[str, Any] = _compile_fields(SHIPPED_DIR / "fields.toml", "", {})
    for stem, (path, text, data) in sources.items():
        if stem == "common":
            common = _compile_common(path, text, data)
            versions[stem] = int(data.get("rules", {}).get("version", 1))
        elif stem == "stations":
            stations = _compile_stations(path, text, data)
            versions[stem] = int(data.get("rules", {}).get("version", 1))
        elif stem == "fields":
            fields = _compile_fields(path, text, data)
            versions[stem] = int(data.get("rules", {}).get("version", 1))
        else:
            fam = _compile_family(path, text, data)
            families.append(fam)
            versions[stem] = fam.version
    families.sort(key=lambda f: (f.priority, f.family))
    seen: set[str] = set()
    for fam in families:
        if fam.family in seen:
            raise RulesError(f"{fam.source}:1: family {fam.family!r} is defined twice")
        seen.add(fam.family)
    if "generic" not in seen:
        raise RulesError(f"{SHIPPED_DIR}:1: no 'generic' family: pages of unknown sites would have no rules")
    digest = _digest({stem: data for stem, (_, _, data) in sorted(sources.items())})
    set_name = common.get("raw", {}).get("rules", {}).get("set", "default") if user_dir is None else name
    info = RulesetInfo(
        name=set_name,
        version=f"{set_name}@{sum(versions.values())}",
        digest=digest,
        files=dict(sorted(versions.items())),
    )
    return Ruleset(families=families, common=common, info=info, stations=stations, fields=fields)
