"""Where a cable ends: its signer and tail, framing and chrome after it, a blogger's closing words."""

from __future__ import annotations

import re
from typing import Any

from cleaners.htmltext import Line

PARA_START = re.compile(r"^\s*(?:¶\s?)?\d{1,3}\s?\.\s*\(|^\s*¶\s?\d{1,3}\b")
# Words that show a line belongs to a cable even when it reads like prose.
CABLE_WORDS = re.compile(
    r"XXXXXXXX|SIPDIS|NOFORN|Classified|CLASSIFIED|¶|\((?:C|S|U|SBU|C/NF|S/NF|U//FOUO)\)|https?://|"
    r"\bNNNN\b|Portal:|\bEnd (?:Comment|Summary|Note)\b|\bEND (?:COMMENT|SUMMARY|NOTE)\b|\bPOC\b|\bpara\b|"
    r"(?i:\bminimize considered\b)|"
    r"\b\d{5,8}\s+\d{3}(?:\.\d)?\s+(?:OF|of)\s+\d{3}\b"
)


def _is_blogger_prose(text: str) -> bool:
    """A sentence in the blogger's voice: mixed case, several words, no cable vocabulary."""
    words = text.split()
    if len(words) < 3 or CABLE_WORDS.search(text) or PARA_START.match(text):
        return False
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    upper = sum(1 for c in letters if c.isupper()) / len(letters)
    return upper < 0.5 and text.rstrip()[-1:] in ".!?:)…"


def end_of(
    lines: list[Line], kinds: list[str], begin: int, limit: int, body_start: int, common: dict[str, Any]
) -> int:
    """Where the cable that starts at `begin` ends: at framing, chrome or the blogger's closing words."""
    end = limit
    header_end = last_header_line(lines, begin, limit, kinds)
    for j in range(max(begin + 1, body_start, header_end + 1), limit):
        if kinds[j] in ("after", "heading", "table", "help") or (kinds[j] == "before" and not lines[j].pre):
            end = j
            break
    # Trailing blank lines and the next cable's lead-in are not this cable's.
    while end > begin and kinds[end - 1] in ("blank", "before", "heading", "chrome"):
        end -= 1
    # The blogger's closing words after the signer: from the first prose paragraph (mixed
    # case, no cable vocabulary) that follows the cable's last signed line.
    # A cable pasted in <pre> ends with its <pre>: what follows outside it is the page's.
    if lines[begin].pre:
        for j in range(begin, end):
            if lines[j].text.strip() and not lines[j].pre:
                end = j
                break
        while end > begin and not lines[end - 1].text.strip():
            end -= 1
        return end
    # Otherwise the cable closes with its signer (alone, or ending the last paragraph); after
    # it only a cable's own tail (classification footer, NNNN, debris) belongs to it.
    signed = -1
    strong = -1  # the last signer in capitals (KENNARD, `... Request. DRUCKER`), the usual close
    for j in range(max(body_start, header_end), end):
        if _is_signed(lines[j].text, common, lines, j) and _ends_block(lines, j, end):
            # A word alone right after a signed paragraph is the page's ("Anzeige"), not a
            # second signer.
            k = j - 1
            while k > begin and not lines[k].text.strip():
                k -= 1
            if (
                signed == k
                and k < j - 1
                and len(lines[j].text.split()) == 1
                and not _caps_signer(lines[j].text, common)
            ):
                continue
            # A name just before a page break is mid-sentence: the text goes on on the next page.
            nxt = [n for n in range(j + 1, min(end, j + 6)) if lines[n].text.strip()]
            if len(nxt) >= 2 and _PAGE_BREAK.match(lines[nxt[0]].text):
                continue
            signed = j
            if _caps_signer(lines[j].text, common):
                strong = j
    # A name in mixed case after the signer in capitals, with nothing of a cable between them,
    # is the page's (an ad label, a blogger's name, the next post's byline), not the signer.
    # (Short paragraphs only: a heading in capitals over long paragraphs of prose is the cable's.)
    if 0 <= strong < signed and not any(
        ln.text.strip() and _is_tail(ln.text, common) for ln in lines[strong + 1 : signed + 1]
    ):
        paras = _trailing_blocks(lines, strong + 1, signed + 1)
        words = [len(" ".join(ln.text for ln in lines[a:b]).split()) for a, b in paras]
        if words and max(words) <= 40 and sum(words) <= 120:
            signed = strong
    # A signer has nothing cable-shaped after it: no numbered paragraph, no underlined heading.
    if signed >= 0 and any(
        PARA_START.match(ln.text) or _RULE.match(ln.text) for ln in lines[signed + 1 : end]
    ):
        signed = -1
    if signed >= 0:
        j = signed + 1
        while j < end and (not lines[j].text.strip() or _is_tail(lines[j].text, common)):
            j += 1
        if j < end:
            end = j
            while end > begin and not lines[end - 1].text.strip():
                end -= 1
        return end
    # No signer: the last few paragraphs may still be the page's (a blogger's one-liner, the
    # theme's "previous / next" links) when they are short, mixed-case and carry nothing of a
    # cable, and what stands before them does.
    blocks = _trailing_blocks(lines, max(body_start, header_end) + 1, end)
    cut = end
    texts = [" ".join(ln.text.strip() for ln in lines[a:b]) for a, b in blocks[:4]]
    bylines = True  # every paragraph that goes is a byline
    for n, (b_start, b_end) in enumerate(blocks[:3]):
        text = texts[n]
        # A post's byline under it: the date alone, the author's name alone after the date.
        byline = bool(_DATE_ALONE.match(text)) or (
            bool(_NAME_ALONE.match(text)) and n + 1 < len(texts) and bool(_DATE_ALONE.match(texts[n + 1]))
        )
        if any(ln.pre for ln in lines[b_start:b_end]) or not (byline or _is_chrome_like(text)):
            break
        bylines = bylines and byline
        # After a page break the cable goes on: its last sentence may stand alone on the last
        # page (`UNVIE VIEN 00000285  036.2 OF 036` / `standards are generally followed.`).
        k = b_start
        while k > begin and not lines[k - 1].text.strip():
            k -= 1
        if k > begin and _PAGE_BREAK.match(lines[k - 1].text):
            break
        cut = b_start
    if cut < end:
        prev = cut
        while prev > begin and not lines[prev - 1].text.strip():
            prev -= 1
        last = " ".join(ln.text.strip() for ln in lines[cut:end] if ln.text.strip())
        # The first paragraph that goes: a blogger's aside, whatever theme links follow it.
        f0 = next(j for j in range(cut, end) if lines[j].text.strip())
        f1 = f0
        while f1 + 1 < end and lines[f1 + 1].text.strip() and lines[f1 + 1].block == lines[f0].block:
            f1 += 1
        first = " ".join(ln.text.strip() for ln in lines[f0 : f1 + 1])
        before = _block_text(lines, prev - 1) if prev > begin else ""
        # Cut when what stays ends like a cable, or is a full paragraph and what goes is a
        # blogger's short aside.
        if prev > begin and (
            _is_cable_like(lines[prev - 1].text, lines, prev - 1)
            or len(before.split()) >= 25
            or (len(last.split()) <= 15 and _is_blogger_prose(last))
            or (len(first.split()) <= 15 and _is_blogger_prose(first))
            or (bylines and bool(_DATE_ALONE.match(first)))
        ):
            end = prev
    return _aside_after(lines, begin, max(body_start, header_end) + 1, end)


def _aside_after(lines: list[Line], begin: int, lo: int, end: int) -> int:
    """Where a blogger's short aside starts after the cable's last paragraph of cable text, else `end`.

    For pages whose chrome after the aside is too long or too varied to be recognised from the
    end: the aside is the first paragraph after the last one with cable vocabulary, a sentence
    of at most fifteen words, and nothing after it has cable vocabulary.
    """
    blocks = list(reversed(_trailing_blocks(lines, lo, end)))
    last_cable = -1
    for n, (a, b) in enumerate(blocks):
        if any(ln.pre for ln in lines[a:b]) or any(_is_cable_text(ln.text) for ln in lines[a:b]):
            last_cable = n
    if last_cable < 0 or last_cable + 2 > len(blocks):
        return end
    a, b = blocks[last_cable + 1]
    aside = " ".join(ln.text.strip() for ln in lines[a:b])
    # Not the rest of a sentence (lower case), nor the last page of the cable after its break.
    if len(aside.split()) > 15 or not _is_blogger_prose(aside) or not aside[:1].isupper():
        return end
    if _PAGE_BREAK.match(lines[blocks[last_cable][1] - 1].text):
        return end
    cut = a
    while cut > begin and not lines[cut - 1].text.strip():
        cut -= 1
    return cut


def _is_cable_text(text: str) -> bool:
    """A line with a cable's vocabulary: paragraph marker, markings, capitals, a page break."""
    t = text.strip()
    return bool(
        PARA_START.match(t)
        or CABLE_WORDS.search(t)
        or _PAGE_BREAK.match(t)
        or (t.isupper() and len(t) > 3)
        or _HEADER_FIELD.search(t)
    )


def _block_text(lines: list[Line], j: int) -> str:
    """The text of the paragraph that line j belongs to."""
    k = j
    while k > 0 and lines[k - 1].text.strip() and lines[k - 1].block == lines[j].block:
        k -= 1
    return " ".join(ln.text.strip() for ln in lines[k : j + 1])


def _trailing_blocks(lines: list[Line], lo: int, end: int) -> list[tuple[int, int]]:
    """The paragraphs of lines[lo:end], last first, as (start, end) index pairs."""
    out: list[tuple[int, int]] = []
    j = end
    while j > lo:
        while j > lo and not lines[j - 1].text.strip():
            j -= 1
        if j <= lo:
            break
        k = j - 1
        while k > lo and lines[k - 1].text.strip() and lines[k - 1].block == lines[j - 1].block:
            k -= 1
        out.append((k, j))
        j = k
    return out


def _is_chrome_like(text: str) -> bool:
    """A short mixed-case paragraph with nothing of a cable: a blogger's aside or theme links."""
    words = text.split()
    if (
        not words
        or len(words) > 30
        or CABLE_WORDS.search(text)
        or PARA_START.match(text)
        or _RULE.match(text)
    ):
        return False
    letters = [c for c in text if c.isalpha()]
    navish = bool(re.search(r"[<>«»‹›|·←→]", text))
    if not letters:
        return len(text) < 12 and navish
    if sum(c.isupper() for c in letters) / len(letters) >= 0.5:
        return False
    # A sentence (a signer's bare name is not one) or a line of navigation links.
    return navish or (len(words) >= 3 and text.rstrip()[-1:] in ".!?:…")


def _is_cable_like(text: str, lines: list[Line], j: int) -> bool:
    """Whether a line reads as part of a cable: a numbered paragraph, capitals, cable vocabulary."""
    k = j
    while k > 0 and lines[k - 1].text.strip() and lines[k - 1].block == lines[j].block:
        k -= 1
    first = lines[k].text
    return bool(
        PARA_START.match(first)
        or CABLE_WORDS.search(text)
        or text.strip().isupper()
        or _HEADER_FIELD.search(first)
    )


def _is_tail(text: str, common: dict[str, Any]) -> bool:
    """A line that can follow a cable's signer and still be the cable's: footer marks and debris."""
    t = text.strip()
    return t.isupper() or bool(CABLE_WORDS.search(t)) or any(rx.search(t) for rx in common["end_lines"])


def _ends_block(lines: list[Line], j: int, end: int) -> bool:
    """True when line j is the last line of its paragraph."""
    return j + 1 >= end or lines[j + 1].block != lines[j].block or not lines[j + 1].text.strip()


def _pre_ends_at(lines: list[Line], j: int, end: int) -> bool:
    """True when line j is the last text of a <pre> and what follows (if anything) is not <pre>."""
    for k in range(j + 1, end):
        if lines[k].text.strip():
            return not lines[k].pre
    return False


def last_header_line(lines: list[Line], begin: int, limit: int, kinds: list[str] | None = None) -> int:
    """The cable's last header line (SUBJECT/TAGS/E.O./Classified By), which may run on into the body."""
    last = begin
    for j in range(begin, min(limit, begin + 60)):
        text = lines[j].text
        # The header ends before the body's first paragraph, and before the page's framing (a
        # blog's own "Tags: ..." line after a cable reflowed without paragraph numbers).
        if PARA_START.match(text) or (kinds is not None and kinds[j] in ("after", "heading", "chrome")):
            break
        if _HEADER_FIELD.search(text):
            last = j
    return last


_HEADER_FIELD = re.compile(
    r"(?i)^\s*(?:TAGS?\b|SUBJECT\s*:|E\.?\s?O\.?\s*1\d{4}|(?:\(\w+\)\s*)?Classified By\b|REF\s*:|SIPDIS)"
)


def _caps_signer(text: str, common: dict[str, Any]) -> bool:
    """A signer in capitals: alone on the line (KENNARD) or ending the last paragraph (`... Request. DRUCKER`)."""
    text = re.sub(r"\s+\.$", "", text.strip())
    if common["signer"].match(text):
        return text not in _NOT_SIGNERS
    m = re.search(r"(?:[.!?\"”)*=/\-]|[a-z]\S*)\s+([A-Z][A-Z'\-]{2,}(?:\s[A-Z][A-Z'\-]+){0,2})$", text)
    return m is not None and m.group(1) not in _NOT_SIGNERS


def _is_signed(text: str, common: dict[str, Any], lines: list[Line] | None = None, j: int = -1) -> bool:
    """True for a cable's closing line: a signer alone, or a paragraph that ends with one."""
    text = text.strip()
    text = re.sub(r"\s+\.$", "", text)  # "KENNARD ."
    if common["signer"].match(text) and text not in _NOT_SIGNERS:
        return True
    # A reflowed last paragraph: "... End Comment. TIMKEN JR" or "... Maxim Elovik CLINTON".
    m = re.search(r"(?:[.!?\"”)*=/\-]|[a-z]\S*)\s+([A-Z][A-Z'\-]+(?:\s[A-Z][A-Z'\-]+){0,2})$", text)
    if m and len(m.group(1)) >= 3 and m.group(1) not in _NOT_SIGNERS:
        return True
    # Signers who wrote their name in mixed case (Aguirre, Stapleton): after a sentence in the
    # same paragraph, or alone after a paragraph that ended a sentence; never a heading word.
    m = re.search(
        r"(?:^|[.!?\"”)]\s+|[-=*_]{3,}\s+)([A-Z][a-z]+(?:[A-Z][a-z]+|[-'][A-Z]?[a-z]+)*(?: [A-Z][a-z'\-]+){0,2})$",
        text,
    )
    if not m or m.group(1).upper() in _NOT_SIGNERS or len(m.group(1)) > 30:
        return False
    if m.start(1) > 0:
        return True
    if lines is None or j <= 0:
        return False
    k = j - 1
    same_block = lines[k].text.strip() and lines[k].block == lines[j].block
    while k > 0 and not lines[k].text.strip():
        k -= 1
    prev = lines[k].text.rstrip()
    if same_block:
        return True
    # A name alone in its own paragraph, after the cable's last sentence or its web-site line.
    # (A short question or teaser before it is the page's, not the cable's last paragraph.)
    return (
        text.count(" ") <= 1
        and text.upper() not in _CHROME_WORDS
        and (
            (prev[-1:] in '.!?"”)' and len(_block_text(lines, k).split()) >= 8)
            or bool(CABLE_WORDS.search(prev))
            or prev.isupper()
        )
    )


# Single words that themes put under a post: never a signer.
_CHROME_WORDS = frozenset(
    [
        "SHARE",
        "PRINT",
        "EMAIL",
        "HOME",
        "REPLY",
        "TWEET",
        "LIKE",
        "COMMENTS",
        "RELATED",
        "TAGS",
        "CATEGORIES",
        "MENU",
        "SEARCH",
        "NEXT",
        "PREVIOUS",
        "BACK",
        "TOP",
        "MORE",
        "LOGIN",
        "LOGOUT",
        "SUBSCRIBE",
        "PERMALINK",
        "TRACKBACK",
        "TEILEN",
        "DRUCKEN",
        "ZURÜCK",
        "WEITER",
    ]
)


_NOT_SIGNERS = frozenset(
    [
        "SIPDIS",
        "NOFORN",
        "CONFIDENTIAL",
        "SECRET",
        "UNCLASSIFIED",
        "UNCLAS",
        "SENSITIVE",
        "NNNN",
        "SUMMARY",
        "COMMENT",
        "COMMENTS",
        "BACKGROUND",
        "OVERVIEW",
        "CONCLUSION",
        "CONCLUSIONS",
        "ANALYSIS",
        "INTRODUCTION",
        "PARTICIPANTS",
        "NOTE",
        "TEXT",
        "END",
        "RECOMMENDATION",
        "RECOMMENDATIONS",
        "ACTION",
        "REQUEST",
        "DISCUSSION",
        "CONTEXT",
        "ISSUES",
        "OUTLOOK",
        "NEXT",
        "STEPS",
        "BIOGRAPHY",
        "BIO",
        "SCENESETTER",
        "GUIDANCE",
        "TALKING",
        "POINTS",
        "OBJECTIVE",
        "OBJECTIVES",
        "ASSESSMENT",
        "ENDNOTE",
    ]
)
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Januar|Februar|März|Juni|Juli|Oktober|Dezember|janvier|février|mars|avril|mai|juin|juillet|août|"
    r"septembre|octobre|novembre|décembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"septiembre|octubre|noviembre|diciembre|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
)
# A date alone on its line, as themes print a post's date ("20. Oktober 2013", "December 4, 2010").
_DATE_ALONE = re.compile(
    rf"(?i)^\s*(?:(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs)?|Fri|Sat(?:ur)?|Sun)(?:day)?,?\s+)?"
    rf"(?:\d{{1,2}}\.?\s+(?:de\s+)?{_MONTH}(?:\s+de)?\s+\d{{4}}|{_MONTH}\s+\d{{1,2}},?\s+\d{{4}})"
    r"(?:,?\s+(?:at\s+|um\s+|à\s+)?\d{1,2}:\d{2}(?:\s*[ap]\.?m\.?)?)?\s*$"
)
_NAME_ALONE = re.compile(r"^\s*(?:by\s+|von\s+|par\s+|por\s+)?[A-Z][\w'\-]+(?:\s[A-Z][\w'\-]+){0,2}\s*$")
# A page break inside a cable's text: `KUALA LUMP 00001403  002 OF 003`, `PRETORIA 00000954 001.2 OF 004`.
_PAGE_BREAK = re.compile(r"^\s*[A-Z][A-Z .'/-]*\s\d{5,8}\s+\d{3}(?:\.\d)?\s+OF\s+\d{3}\s*$")
_RULE = re.compile(r"^\s*(?:-\s?){3,}\s*$|^\s*[-=_*]{3,}")
