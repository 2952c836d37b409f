"""Clean one page: decode, detect the site family, select the post, find the cables, read headers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lxml import etree

from cleaners import dumps, finder
from cleaners.decode import decode
from cleaners.fields.ids import is_viewer_id
from cleaners.header import REF_IN_TEXT, derive_ref, id_parts, is_ref_id, parse_header, split_ref
from cleaners.headerfields import cable_fields
from cleaners.htmltext import Line, render
from cleaners.model import Cable, PageResult, Warn
from cleaners.model import CleanerWarning as W
from cleaners.repairs import fix_entity_debris, fix_mojibake, fix_pilcrows, strip_markdown
from cleaners.ruleset import FamilyRules, Ruleset, load_rules

CLEANER_VERSION = "1.2.0"

Headers = Mapping[str, str] | Iterable[tuple[str, str]] | None
# Called with the parsed page and its decoded text, before cleaning changes the tree.
TreeHook = Callable[[etree._Element, str], None]

# lxml's own HTML parser, without lxml.html's element classes: those are looked up in Python
# for every element the cleaner touches, which costs more than the parse itself on a viewer page.
# huge_tree: libxml2 keeps 256 levels of nesting by default and drops what lies deeper without
# failing; with it, 2048 (deeper still is refused below: a cut page never gives a cable).
_PARSER = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True)
# What libxml2 logs when it cut a page at its depth limit ("Excessive depth in document: 2048").
_TOO_DEEP = "Excessive depth"
_TITLE = etree.XPath("//title")
_STRING = etree.XPath("string()")
_BODY = etree.XPath("//body")


def clean(
    body: bytes | str, url: str | None = None, headers: Headers = None, rules: Ruleset | None = None
) -> list[Cable]:
    """Every cable on a page, with its exact text, metadata and cleaning provenance."""
    return clean_page(body, url=url, headers=headers, rules=rules).cables


def clean_page(
    body: bytes | str,
    url: str | None = None,
    headers: Headers = None,
    rules: Ruleset | None = None,
    on_tree: TreeHook | None = None,
) -> PageResult:
    """Clean a page; never raises on bad input: what went wrong is in the result's warnings.

    `on_tree`, when given, is called with the parsed HTML document and its decoded text before
    the cleaner changes the tree (a crawler reads the page's links there instead of parsing the
    page a second time); it is not called for bodies that are not HTML. It must neither change
    the tree nor raise.
    """
    rules = rules or load_rules()
    result = PageResult(
        cables=[], family="unknown", profile=None, ruleset=rules.info, cleaner_version=CLEANER_VERSION
    )
    try:
        _clean_into(result, body, url, headers, rules, on_tree)
    except RecursionError:
        result.cables = []
        result.warnings.append(W(Warn.BAD_INPUT, "page nested too deeply to lay out; not cleaned"))
    except (ValueError, etree.LxmlError, MemoryError) as exc:
        result.cables = []
        result.warnings.append(W(Warn.BAD_INPUT, f"page could not be parsed: {type(exc).__name__}: {exc}"))
    if not result.cables and not result.has_warning(Warn.NO_CABLE):
        result.warnings.append(W(Warn.NO_CABLE, "no cable found on this page"))
    for cable in result.cables:
        cable.ruleset = rules.info
        cable.cleaner_version = CLEANER_VERSION
    return result


def _clean_into(
    result: PageResult,
    body: bytes | str,
    url: str | None,
    headers: Headers,
    rules: Ruleset,
    on_tree: TreeHook | None,
) -> None:
    """The cleaning steps, filling `result`."""
    common = rules.common
    decoded = decode(body, headers, max_bytes=common["max_bytes"])
    result.encoding = decoded.encoding
    result.repairs.extend(decoded.repairs)
    result.warnings.extend(decoded.warnings)
    if decoded.kind in ("empty", "binary", "too-large"):
        return
    if decoded.kind == "text":
        result.family, result.profile = "text", None
        lines = _text_lines(decoded.text)
        dump_table, lines, dump_notes = dumps.read_header(lines, common)
        if dump_table:
            result.profile = "dump"
        _find_and_build(
            result,
            lines,
            dump_table,
            url,
            None,
            rules,
            rules.family("generic"),
            lines_kept=True,
            markdown=True,
            notes=dump_notes,
            text_file=True,
        )
        return

    raw = decoded.text
    try:
        data = decoded.utf8 if decoded.utf8 is not None else raw.encode("utf-8", "surrogatepass")
        doc = etree.fromstring(data, parser=_PARSER)
    except etree.ParserError as exc:
        result.warnings.append(W(Warn.BAD_INPUT, f"HTML could not be parsed: {exc}"))
        return
    if doc is None:
        result.warnings.append(W(Warn.BAD_INPUT, "HTML could not be parsed: Document is empty"))
        return
    deep = next((e.message for e in _PARSER.error_log if e.message.startswith(_TOO_DEEP)), None)
    if deep:
        # The parser dropped what lies below its depth limit: any cable read from the rest
        # could be cut short, so none is.
        limit = re.search(r"\d+", deep)
        levels = f"{limit.group()} levels" if limit else "its limit"
        result.warnings.append(
            W(Warn.BAD_INPUT, f"page nested too deeply: the HTML parser stops at {levels}; not cleaned")
        )
        return
    if on_tree is not None:
        on_tree(doc, raw)
    # The title is in the head (a walk of the whole page only when it is not).
    title_el = doc.find("head/title")
    if title_el is None:
        title_el = next(iter(_TITLE(doc)), None)
    title = " ".join(str(_STRING(title_el)).split()) if title_el is not None else None
    family = detect_family(raw, doc, url, rules)
    result.family = family.family
    table = _viewer_table(doc, common)
    if common["page_drop_tags"]:
        for el in list(doc.iter(*common["page_drop_tags"])):
            drop_tree(el)
    _drop(doc, common["page_drop"])
    _drop(doc, family.drop)

    containers = _select(doc, family)
    if family.cable_is_body and containers:
        _viewer_cable(result, containers, table, url, title, rules, family)
        if result.cables:
            return
    for el in containers:
        result.profile = "post"
        _find_and_build(result, render(el), table, url, title, rules, family, lines_kept=family.lines_kept)
    if result.cables:
        return
    body_el = _BODY(doc)
    if body_el and _find_in_page(result, body_el[0], table, url, title, rules, family):
        if containers:
            result.warnings.append(
                W(
                    Warn.SCOPE,
                    f"no cable in the post body that the {family.family} rules select; found in the page",
                )
            )
        return
    # trafilatura costs ~40 ms a page: only for pages that show a cable's header somewhere.
    if family.family == "generic" and _CABLE_HINT.search(raw):
        _trafilatura_fallback(result, raw, table, url, title, rules, family)


_CABLE_HINT = re.compile(r"\bSUBJECT\s*:|\bTAGS\s*:|\bVZCZC|C O N F I D E N T I A L|S E C R E T|\bSIPDIS\b")

# What post bodies are called across blog engines, forums and news sites.
_POSTISH = re.compile(
    r"(?i)(?:^|[\s_-])(?:post|entry|article|story|content|body|text|prose|message|item|blog|node|"
    r"hentry|e-content|articlebody|storycontent|postbody|main)(?:$|[\s_-])"
)
_POST_TAGS = frozenset(("article", "main", "section", "td", "blockquote"))


def _post_scope(el: etree._Element, body: etree._Element) -> etree._Element:
    """The post that holds a cable: the nearest ancestor that looks like a post body, else the page."""
    node = el
    if node.tag in ("p", "pre", "code", "h1", "h2", "h3", "h4", "h5", "h6", "li", "center", "span", "font"):
        node = node.getparent() if node.getparent() is not None else node
    while node is not None and node is not body:
        attrs = f"{node.get('class', '')} {node.get('id', '')} {node.get('itemprop', '')}"
        if node.tag in _POST_TAGS or _POSTISH.search(attrs):
            return node
        node = node.getparent()
    return body


def _find_in_page(
    result: PageResult,
    body: etree._Element,
    table: dict[str, str] | None,
    url: str | None,
    title: str | None,
    rules: Ruleset,
    family: FamilyRules,
) -> bool:
    """Search the whole page, then narrow to the element that holds each cable found."""
    blocks: dict[int, etree._Element] = {}
    lines = render(body, blocks)
    found = finder.find(_repair(lines)[0], rules.common, family.drop_lines)
    if not found:
        return False
    scopes: list[etree._Element] = []
    for f in found:
        el = _post_scope(blocks.get(f.lines[0].block, body), body)
        if el is not body and all(el is not s for s in scopes):
            scopes.append(el)
    before = len(result.cables)
    for scope in scopes:
        _find_and_build(result, render(scope), table, url, title, rules, family, lines_kept=family.lines_kept)
    if len(result.cables) == before:
        _find_and_build(result, lines, table, url, title, rules, family, lines_kept=family.lines_kept)
    result.profile = "page"
    return len(result.cables) > before


def detect_family(raw: str, doc: etree._Element, url: str | None, rules: Ruleset) -> FamilyRules:
    """The site family whose signals the page shows (the first by priority), else generic."""
    head = raw[:400_000]
    for fam in rules.families:
        if fam.min_signals <= 0:
            continue
        score = sum(1 for m in fam.markers if m in head)
        if score < fam.min_signals:
            score += sum(1 for xp in fam.detect_xpaths if _truthy(xp(doc)))
        if score < fam.min_signals and url:
            score += sum(1 for rx in fam.url_patterns if rx.search(url))
        if score >= fam.min_signals:
            return fam
    return rules.family("generic")


def _truthy(value: Any) -> bool:
    """XPath results as a boolean (node lists, numbers, strings)."""
    return bool(value) if not isinstance(value, float) else value != 0


def _drop(doc: etree._Element, xpaths: list[etree.XPath]) -> None:
    """Remove the matched elements, keeping the text that follows them."""
    for xp in xpaths:
        for el in xp(doc):
            if isinstance(el, etree._Element):
                drop_tree(el)


def drop_tree(el: etree._Element) -> None:
    """Remove `el` and what it holds from the tree, keeping the text that follows it (its tail)."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is None:
            parent.text = (parent.text or "") + tail
        else:
            prev.tail = (prev.tail or "") + tail
    parent.remove(el)


def _select(doc: etree._Element, family: FamilyRules) -> list[etree._Element]:
    """The post bodies: matches of the family's first selector that matches, outermost only."""
    for xp in family.select:
        found = [e for e in xp(doc) if isinstance(e, etree._Element)]
        if not found:
            continue
        if family.cable_is_body:
            return found
        chosen: list[etree._Element] = []
        ids = {id(e) for e in found}
        for e in found:
            if not any(id(a) in ids for a in e.iterancestors()):
                chosen.append(e)
        return chosen
    return []


def _viewer_table(doc: etree._Element, common: dict[str, Any]) -> dict[str, str] | None:
    """The viewer's Reference-ID table (ref, created, released, classification, origin)."""
    tables = common["table_xpath"](doc)
    for table in tables:
        for row in table.iter("tr"):
            cells = [" ".join(str(_STRING(c)).split()) for c in row if c.tag in ("td", "th")]
            if len(cells) >= 5 and is_viewer_id(cells[0]):
                return {
                    "reference_id": cells[0],
                    "created": cells[1],
                    "released": cells[2],
                    "classification": cells[3],
                    "origin": cells[4],
                }
    return None


def _text_lines(text: str) -> list[Line]:
    """Plain text as lines; paragraphs are separated by blank lines."""
    out: list[Line] = []
    block = 0
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not raw.strip():
            block += 1
        # Not <pre>: a text file's framing and chrome lines are recognised as in HTML.
        out.append(Line(raw.rstrip(), block))
    return out


def _repair(lines: list[Line], markdown: bool = False) -> tuple[list[Line], list[str]]:
    """Repairs that apply to the text of a post before cables are searched in it."""
    notes: list[str] = []
    steps = (
        (fix_entity_debris, fix_mojibake, strip_markdown) if markdown else (fix_entity_debris, fix_mojibake)
    )
    for step in steps:
        lines, note = step(lines)
        if note:
            notes.append(note)
    return lines, notes


def _viewer_cable(
    result: PageResult,
    boxes: list[etree._Element],
    table: dict[str, str] | None,
    url: str | None,
    title: str | None,
    rules: Ruleset,
    family: FamilyRules,
) -> None:
    """A viewer page: the cable is its <pre> boxes, less the partial-extract box."""
    note = rules.common["partial_note"]
    partial = False
    parts: list[list[Line]] = []
    repairs: list[str] = []
    for box in boxes:
        lines, notes = _repair(render(box))
        repairs.extend(n for n in notes if n not in repairs)
        if note and lines and any(note in ln.text for ln in lines[:3]):
            # The partial extract's first box holds only the viewer's date header.
            partial = True
            continue
        text_lines = [ln for ln in lines]
        while text_lines and not text_lines[0].text.strip():
            text_lines.pop(0)
        while text_lines and not text_lines[-1].text.strip():
            text_lines.pop()
        if text_lines:
            parts.append(text_lines)
    if not parts:
        return
    joined: list[Line] = []
    for i, part in enumerate(parts):
        if i:
            joined.append(Line("", part[0].block, pre=True))
        joined.extend(part)
    found = finder.Found(lines=joined, table=table, partial=partial)
    cable = _build(found, url, title, rules, family, lines_kept=True, page_cables=1)
    if cable:
        cable.repairs[:0] = repairs
        result.cables.append(cable)
        result.profile = "viewer"


def _find_and_build(
    result: PageResult,
    lines: list[Line],
    table: dict[str, str] | None,
    url: str | None,
    title: str | None,
    rules: Ruleset,
    family: FamilyRules,
    lines_kept: bool | None,
    markdown: bool = False,
    notes: list[str] | None = None,
    text_file: bool = False,
) -> None:
    """Search `lines` for cables and add each to `result`; `notes` are repairs already made to them."""
    lines, repairs = _repair(lines, markdown)
    repairs = [*(notes or []), *repairs]
    found = finder.find(lines, rules.common, family.drop_lines, text_file=text_file)
    for f in found:
        if table and not f.table and (len(found) == 1 or table["reference_id"] == f.heading_ref):
            f.table = table
        cable = _build(f, url, title, rules, family, lines_kept=lines_kept, page_cables=len(found))
        if cable:
            cable.repairs[:0] = repairs
            result.cables.append(cable)


def _refs_in(text: str | None) -> list[str]:
    """Reference IDs named in a URL or title (upper-cased), in order of appearance."""
    if not text:
        return []
    out: list[str] = []
    for m in REF_IN_TEXT.finditer(text):
        ref = m.group(1).upper()
        parts = split_ref(ref)
        # At least three letters of origin: "2nd3" and the like are not IDs.
        if parts and len(parts[1]) >= 3 and not parts[1].endswith("-") and ref not in out:
            out.append(ref)
    return out


def _matches_header(ref: str, origin: str | None, serial: int | None) -> bool | None:
    """Whether a candidate ID agrees with the header's serial (and origin); None if unknown."""
    parts = split_ref(ref)
    if not parts or serial is None:
        return None
    if parts[2] != serial:
        return False
    return not origin or parts[1] == origin or parts[1] in origin or origin in parts[1]


def _build(
    f: finder.Found,
    url: str | None,
    title: str | None,
    rules: Ruleset,
    family: FamilyRules,
    lines_kept: bool | None,
    page_cables: int,
) -> Cable | None:
    """Turn a located cable into a Cable: text, metadata, reference ID and how it was found."""
    texts = [ln.text.rstrip() for ln in f.lines]
    repairs: list[str] = []
    texts, note = fix_pilcrows(texts)
    if note:
        repairs.append(note)
    text = "\n".join(texts).strip("\n")
    if not text.strip():
        return None
    h = parse_header(texts)
    warnings: list[W] = []
    header_ref, header_how, header_warn = derive_ref(h)
    origin, serial, _ = id_parts(h)

    ref: str | None = None
    how: str | None = None
    candidates: list[tuple[str, str]] = []
    if f.table and is_viewer_id(f.table["reference_id"]):
        candidates.append((f.table["reference_id"], "table"))
    if f.heading_ref and is_ref_id(f.heading_ref):
        candidates.append((f.heading_ref, "heading"))
    for r in _refs_in(url):
        candidates.append((r, "url"))
    for r in _refs_in(title):
        candidates.append((r, "title"))
    if f.hashtag and is_ref_id(f.hashtag):
        candidates.append((f.hashtag, "hashtag"))
    for cand, source in candidates:
        agree = _matches_header(cand, origin, serial)
        if source == "table" or (source == "heading" and agree is not False):
            # The viewer's own table names the cable even where its header is garbled.
            ref, how = cand, source
            if agree is False:
                warnings.append(
                    W(Warn.ID_CONFLICT, f"header names {origin} {serial}; the {source} says {cand}")
                )
            break
        if agree is True or (agree is None and page_cables == 1):
            ref, how = cand, source
            break
        if agree is False and page_cables == 1 and source in ("url", "title"):
            ref, how = cand, source
            warnings.append(
                W(
                    Warn.ID_CONFLICT,
                    f"reference ID {cand} from the {source} disagrees with the header ({origin} {serial})",
                )
            )
            break
    if ref is None:
        ref, how = header_ref, header_how
        warnings.extend(header_warn)
    elif header_ref and header_ref != ref and header_how == "dtg+serial":
        warnings.append(W(Warn.ID_CONFLICT, f"header reads as {header_ref}; kept {ref} from the {how}"))

    meta_table = f.table if f.table and f.table.get("reference_id") == ref else None
    classification = meta_table.get("classification") if meta_table else _classification(h)
    created = meta_table.get("created") if meta_table else None
    cable = Cable(
        text=text,
        reference_id=ref,
        id_source=how,
        created=created,
        released=meta_table.get("released") if meta_table else None,
        classification=classification,
        origin=meta_table.get("origin") if meta_table else None,
        **cable_fields(texts, ref, created, h, rules),
        partial=f.partial,
        sections=h.section,
        paragraphs=h.paragraphs,
        family=family.family,
        lines_kept=bool(lines_kept)
        if lines_kept is not None
        else all(ln.pre for ln in f.lines if ln.text.strip()),
        repairs=repairs,
        warnings=warnings + f.warnings,
    )
    if ref is None:
        cable.warnings.append(
            W(Warn.NO_ID, "no reference ID: this cable is reported but not given a guessed ID")
        )
    return cable


def _classification(h: Any) -> str | None:
    """Classification as the viewer's table writes it, from the header line and its caveats."""
    if not h.classification:
        return None
    if "NOFORN" in h.caveats and h.classification in ("SECRET", "CONFIDENTIAL"):
        return f"{h.classification}//NOFORN"
    return h.classification


def _trafilatura_fallback(
    result: PageResult,
    raw: str,
    table: dict[str, str] | None,
    url: str | None,
    title: str | None,
    rules: Ruleset,
    family: FamilyRules,
) -> None:
    """Last resort for unknown sites: trafilatura's main text (comments off), then the same finder."""
    import trafilatura  # slow to import and to run: only for pages nothing else could read

    text = trafilatura.extract(raw, include_comments=False, include_tables=True, favor_recall=True, url=url)
    if not text:
        return
    before = len(result.cables)
    _find_and_build(result, _text_lines(text), table, url, title, rules, family, lines_kept=False)
    if len(result.cables) > before:
        result.profile = "trafilatura"
        for cable in result.cables[before:]:
            cable.lines_kept = False
            cable.warnings.append(
                W(
                    Warn.FALLBACK,
                    "found by the generic fallback (trafilatura): line breaks may differ from the page",
                )
            )
