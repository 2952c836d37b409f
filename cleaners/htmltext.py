"""Render an HTML element to text lines the way a browser lays them out, keeping `<pre>` verbatim."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

# Elements that start and end a paragraph (a blank line around them).
BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "ul",
    ]
)
# Elements that start a new line but not a new paragraph.
LINE_TAGS = frozenset(["li", "tr", "caption", "option"])
# Table cells: separated by a space on their row.
CELL_TAGS = frozenset(("td", "th"))
# Elements whose text is never shown.
SKIP_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "head",
        "title",
        "meta",
        "link",
        "svg",
        "math",
        "button",
        "select",
        "textarea",
        "iframe",
        "object",
        "embed",
        "canvas",
        "map",
    ]
)

_WS = re.compile(r"[ \t\n\r\f\v\u00a0]+")


@dataclass(slots=True)
class Line:
    """One rendered line, with the block it came from and whether it was inside `<pre>`."""

    text: str
    block: int
    pre: bool = False
    heading: bool = False


@dataclass(slots=True)
class _State:
    lines: list[Line] = field(default_factory=list)
    buf: list[str] = field(default_factory=list)
    block: int = 0
    pending_blank: bool = False
    in_pre: int = 0
    heading: int = 0
    block_els: dict[int, etree._Element] | None = None


def _flush(st: _State) -> None:
    """End the current line (if it has text)."""
    if not st.buf:
        return
    text = "".join(st.buf)
    st.buf.clear()
    if not st.in_pre:
        text = text.strip(" ")
        if not text:
            return
    if st.pending_blank and st.lines:
        st.lines.append(Line("", st.block))
    st.pending_blank = False
    st.lines.append(Line(text, st.block, pre=bool(st.in_pre), heading=bool(st.heading)))


def _new_block(st: _State, owner: etree._Element | None = None) -> None:
    """Start a new paragraph: end the line and ask for a blank line before the next text."""
    _flush(st)
    st.pending_blank = True
    st.block += 1
    if st.block_els is not None and owner is not None:
        st.block_els[st.block] = owner


def _text(st: _State, text: str | None) -> None:
    """Add a run of text, collapsing whitespace outside `<pre>` as a browser does."""
    if not text:
        return
    if st.in_pre:
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                # a newline inside <pre>: keep even empty lines
                line = "".join(st.buf)
                st.buf.clear()
                if st.pending_blank and st.lines:
                    st.lines.append(Line("", st.block))
                st.pending_blank = False
                st.lines.append(Line(line, st.block, pre=True))
            if part:
                st.buf.append(part)
        return
    collapsed = _WS.sub(" ", text)
    if st.buf and st.buf[-1].endswith(" ") and collapsed.startswith(" "):
        collapsed = collapsed[1:]
    if not st.buf and collapsed.startswith(" "):
        collapsed = collapsed[1:]
    if collapsed:
        st.buf.append(collapsed)


def _walk(root: etree._Element, st: _State) -> None:
    """Depth-first render of `root` into `st`, with a stack of its own: a page may nest elements
    thousands deep (the parser keeps 2048 levels), far past Python's recursion limit."""
    stack: list[tuple[etree._Element, bool]] = [(root, False)]
    pop, push = stack.pop, stack.append
    while stack:
        el, leaving = pop()
        if leaving:
            _leave(el, st)
        elif _enter(el, st):
            push((el, True))
            stack.extend((child, False) for child in reversed(el))


def _enter(el: etree._Element, st: _State) -> bool:
    """Render what comes before `el`'s children; False when it has none to walk (its tail done too)."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in SKIP_TAGS:
        _text(st, el.tail)
        return False
    if not tag:  # comments and processing instructions show nothing but their tail
        _text(st, el.tail)
        return False
    if tag == "br":
        if st.in_pre:
            # A <br> right before the pre's own newline is markup debris (the viewer's text
            # has one line break there, not two); alone, it breaks the line.
            if not (el.tail or "").startswith(("\n", "\r")):
                _text(st, "\n")
        else:
            # A <br> ends the line even when it is empty: two <br> make a blank line.
            text = "".join(st.buf).strip(" ")
            st.buf.clear()
            if text:
                if st.pending_blank and st.lines:
                    st.lines.append(Line("", st.block))
                st.pending_blank = False
                st.lines.append(Line(text, st.block, heading=bool(st.heading)))
            elif st.lines and not st.pending_blank:
                st.lines.append(Line("", st.block))
        _text(st, el.tail)
        return False
    if tag in BLOCK_TAGS:
        _new_block(st, el)
    elif tag in LINE_TAGS:
        _flush(st)
    elif tag in CELL_TAGS and st.buf:
        st.buf.append(" ")
    if tag == "pre":
        # Browsers drop one newline right after <pre>.
        st.in_pre += 1
        text = el.text or ""
        if text.startswith("\r\n"):
            text = text[2:]
        elif text.startswith("\n"):
            text = text[1:]
        _text(st, text)
    else:
        if tag in _HEADINGS:
            st.heading += 1
        _text(st, el.text)
    return True


def _leave(el: etree._Element, st: _State) -> None:
    """Render what comes after `el`'s children, then its tail."""
    tag = el.tag
    if tag == "pre":
        _flush_pre(st)
        st.in_pre -= 1
    if tag in _HEADINGS:
        _flush(st)
        st.heading -= 1
    if tag in BLOCK_TAGS:
        _new_block(st, el.getparent())
    elif tag in LINE_TAGS:
        _flush(st)
    _text(st, el.tail)


_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))


def _flush_pre(st: _State) -> None:
    """End a `<pre>` block, keeping its last line even when empty of trailing text."""
    if st.buf:
        line = "".join(st.buf)
        st.buf.clear()
        if st.pending_blank and st.lines:
            st.lines.append(Line("", st.block))
        st.pending_blank = False
        st.lines.append(Line(line, st.block, pre=True))


def render(el: etree._Element, blocks: dict[int, etree._Element] | None = None) -> list[Line]:
    """Lay out `el` as lines: paragraphs separated by one blank line, `<br>` as line breaks.

    When `blocks` is given it is filled with the element that holds each block's text.
    """
    st = _State(block_els=blocks)
    if blocks is not None:
        blocks[0] = el
    # The element's own tail is outside it.
    tail, el.tail = el.tail, None
    try:
        _walk(el, st)
    finally:
        el.tail = tail
    _flush(st)
    lines = st.lines
    while lines and not lines[-1].text.strip():
        lines.pop()
    return lines


def render_text(el: etree._Element) -> str:
    """`render` joined into one string."""
    return "\n".join(line.text for line in render(el))
