"""Repairs of damage done by mirrors (never of the cable's own wording), each one reported."""

from __future__ import annotations

import html
import re

import ftfy

from cleaners.htmltext import Line

# UTF-8 bytes read as cp1252 or latin-1: "Â¶", "â€™", "Ã©".
_MOJIBAKE = re.compile(r"Â[\u00a0-\u00bf]|â€|â‚¬|Ã[\u0080-\u00bf\u0152-\u0178\u2018-\u203a]")
# Character references that a mirror escaped twice, so that they show as text.
_ENTITY_DEBRIS = re.compile(r"&(?:#x[0-9A-Fa-f]{1,6}|#\d{1,7}|amp|lt|gt|quot|apos|nbsp);")
_MD_BOLD = re.compile(r"\*\*(?=[^*\s])([^*\n]{1,120}?)(?<=[^*\s])\*\*")
_MD_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((?:#|[^)\s]{0,500})\)")
_PARA_NUM = re.compile(r"^(\s*)(¶\s?)?(\d{1,3})(\s?\.\s*\()")
# The same over lines joined by newlines (blanks other than the newline): one search for all,
# in "\n" + text (a literal first character makes the search fast).
_PARA_NUMS = re.compile(r"\n[^\S\n]*(¶[^\S\n]?)?(\d{1,3})[^\S\n]?\.[^\S\n]*\(")


def fix_mojibake(lines: list[Line]) -> tuple[list[Line], str | None]:
    """Undo UTF-8-read-as-cp1252 damage line by line; returns the lines and a repair note."""
    # Every damaged sequence opens with one of three letters: most texts have none of them.
    joined = "".join([ln.text for ln in lines])
    if "Â" not in joined and "â" not in joined and "Ã" not in joined:
        return lines, None
    fixed = 0
    out: list[Line] = []
    for ln in lines:
        if _MOJIBAKE.search(ln.text):
            new = ftfy.fix_encoding(ln.text)
            if new != ln.text:
                fixed += 1
                ln = Line(new, ln.block, ln.pre, ln.heading)
        out.append(ln)
    if not fixed:
        return lines, None
    return out, f"mojibake: {fixed} line(s) repaired (UTF-8 read as cp1252)"


def fix_entity_debris(lines: list[Line]) -> tuple[list[Line], str | None]:
    """Turn character references shown as text (&#x000A;) into the characters, splitting lines."""
    if not any("&" in ln.text for ln in lines):
        return lines, None
    count = 0
    out: list[Line] = []
    for ln in lines:
        if "&" not in ln.text or not _ENTITY_DEBRIS.search(ln.text):
            out.append(ln)
            continue
        count += len(_ENTITY_DEBRIS.findall(ln.text))
        text = ln.text
        # Twice-escaped text can take two rounds (&amp;#x000A;).
        for _ in range(2):
            text = html.unescape(text) if _ENTITY_DEBRIS.search(text) else text
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
        for part in text.split("\n"):
            out.append(Line(part, ln.block, True if "\n" in text else ln.pre, ln.heading))
    if not count:
        return lines, None
    return out, f"entity debris: {count} character reference(s) shown as text decoded"


def strip_markdown(lines: list[Line]) -> tuple[list[Line], str | None]:
    """Markdown of re-rendering viewers (**¶1.**, [PREL](#)) back to the cable's plain text."""
    changed = 0
    out: list[Line] = []
    for ln in lines:
        text = ln.text
        if "**" in text or "](" in text:
            new = _MD_LINK.sub(r"\1", _MD_BOLD.sub(r"\1", text))
            if new != text:
                changed += 1
                ln = Line(new, ln.block, ln.pre, ln.heading)
        out.append(ln)
    if not changed:
        return lines, None
    return out, f"markdown: emphasis and links removed on {changed} line(s)"


def fix_pilcrows(lines: list[str]) -> tuple[list[str], str | None]:
    """Restore ¶N markers that a viewer mangled into '1N.' (¶6 shown as 16.) after ¶1..¶N-1.

    Only a run that continues the ¶ numbering exactly is repaired; a cable's own "16." stays.
    """
    joined = "\n" + "\n".join(lines)
    if "¶" not in joined:
        return lines, None  # the run must start at a ¶ marker
    last = 0
    mangled: list[tuple[int, int]] = []
    i, pos = -1, 0
    for m in _PARA_NUMS.finditer(joined):
        # the number of the line the match opens (its newline is the line's own, counted here)
        i += joined.count("\n", pos, m.start() + 1)
        pos = m.start() + 1
        num = int(m.group(2))
        if m.group(1):
            last = num
            continue
        if last and num >= 10 and str(num).startswith("1") and int(str(num)[1:] or 0) == last + 1:
            mangled.append((i, last + 1))
            last += 1
        elif last and num == last + 1:
            last = num
    if len(mangled) < 2:
        return lines, None
    out = list(lines)
    for i, real in mangled:
        mark = _PARA_NUM.match(out[i])
        assert mark is not None
        out[i] = f"{mark.group(1)}¶{real}{mark.group(4)}{out[i][mark.end() :]}"
    return out, f"pilcrows: {len(mangled)} paragraph marker(s) shown as '1N.' restored to ¶N"
