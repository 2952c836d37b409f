"""Bad input never crashes the cleaner and never makes up a cable; the warning says why."""

from __future__ import annotations

import gzip

import pytest

from cleaners import clean_page
from cleaners.decode import decode

from conftest import PAGES

CABLE_PAGE = (PAGES / "cablegate" / "09BRASILIA1447.html").read_bytes()


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        (b"", "empty body"),
        (b" \n\t \r\n", "empty body"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "PNG image"),
        (gzip.compress(CABLE_PAGE), "gzip data"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF document"),
        (bytes(range(256)) * 40, "binary"),
        (b"<html>" + b"x" * (17 * 1024 * 1024), "too large"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(body, warning):
    """Empty, binary, compressed or huge bodies: no cable, and a warning naming the reason."""
    result = clean_page(body)
    assert result.cables == []
    assert any(warning in w for w in result.warnings), result.warnings


def test_truncated_page_keeps_what_arrived():
    """A page cut off mid-cable still gives the part that arrived, not a crash."""
    cut = CABLE_PAGE[: CABLE_PAGE.index(b"Reid") if b"Reid" in CABLE_PAGE else len(CABLE_PAGE) * 2 // 3]
    result = clean_page(cut)
    assert len(result.cables) <= 1
    for cable in result.cables:
        assert cable.reference_id == "09BRASILIA1447"


def test_deeply_nested_and_broken_html():
    """Ten thousand nested divs and tag soup: no RecursionError, no invented cable."""
    nested = b"<html><body>" + b"<div>" * 10000 + b"text" + b"</div>" * 10000 + b"</body></html>"
    assert clean_page(nested).cables == []
    soup = b"<html><body><p>unclosed <b>bold <i>italic <pre>VZCZC <table><tr><td>SUBJECT: x</p></b>" * 200
    result = clean_page(soup)
    assert all(c.reference_id is None or c.reference_id for c in result.cables)


def test_cable_ids_mentioned_without_a_cable():
    """A page that only talks about cables (IDs, a SUBJECT line) holds none."""
    page = b"""<html><head><title>Cable 09BRASILIA177 explained</title></head><body><article>
    <p>Yesterday WikiLeaks released 09BRASILIA177 and 10STATE17307. The SUBJECT: line says a lot.</p>
    <p>C O N F I D E N T I A L is how the classification is spelled out.</p></article></body></html>"""
    assert clean_page(page, url="https://blog.example/09brasilia177/").cables == []


def test_wrong_charset_declaration_is_repaired():
    """Declared ISO-8859-1 but the bytes are UTF-8: read as UTF-8, and the repair is recorded."""
    html = CABLE_PAGE.replace(b"<?xml version='1.0' encoding='utf-8' ?>", b"")
    html = html.replace(b"<head>", b'<head><meta charset="iso-8859-1">', 1)
    result = clean_page(html, headers={"Content-Type": "text/html; charset=iso-8859-1"})
    assert result.cables and "\u00b6" in result.cables[0].text
    assert any("bytes are UTF-8" in r for r in result.repairs)


def test_undecodable_bytes_do_not_crash():
    """Bytes that are not UTF-8 in a page that says UTF-8: decoded as cp1252, repair noted."""
    d = decode(b'<meta charset="utf-8"><p>caf\xe9 \x81\x8d</p>')
    assert d.kind == "html"
    assert any("do not decode as utf-8" in r for r in d.repairs)


def test_utf16_with_bom_is_text():
    """UTF-16 is text, not binary."""
    d = decode("<html><body><p>caf\u00e9</p></body></html>".encode("utf-16"))
    assert d.kind == "html" and "caf\u00e9" in d.text


def test_wrong_content_type_is_noted():
    """An HTML body served as image/png is cleaned as HTML, with a warning."""
    result = clean_page(CABLE_PAGE, headers=[("Content-Type", "image/png")])
    assert [c.reference_id for c in result.cables] == ["09BRASILIA1447"]
    assert any("image/png" in w for w in result.warnings)


def test_plain_text_cable():
    """A cable served as text keeps its lines."""
    text = (PAGES / "cablegate" / "09BRASILIA1447.09BRASILIA1447.txt").read_bytes()
    result = clean_page(
        text, url="https://mirror.example/09BRASILIA1447.txt", headers={"Content-Type": "text/plain"}
    )
    (cable,) = result.cables
    assert cable.reference_id == "09BRASILIA1447"
    assert cable.text.split("\n") == text.decode().rstrip("\n").split("\n")


def test_hostile_strings_in_text():
    """Control characters, RTL marks and lone surrogate escapes pass through without harm."""
    page = (
        "<html><body><pre>UNCLAS PARIS 000306\n\nSIPDIS\n\nE.O. 12958: N/A\nTAGS: PREL\n"
        "SUBJECT: \u202eTEST\u202c \x07\n\n1. (U) Text \u0000 with a NUL.\nSTAPLETON</pre></body></html>"
    ).encode("utf-8", "surrogatepass")
    result = clean_page(page, url="https://x.example/" + "a/" * 2000)
    assert len(result.cables) <= 1


def test_tree_hook_sees_html_pages_only_and_before_cleaning() -> None:
    """`on_tree` gets the parsed page, with its chrome still there; text and binary bodies never call it."""
    seen: list[tuple[int, str]] = []

    def hook(doc, text: str) -> None:
        seen.append((len(doc.xpath("//script")), text))

    page = b"<html><body><script>var x;</script><p>Hello</p></body></html>"
    clean_page(page, on_tree=hook)
    assert seen and seen[0][0] == 1 and "Hello" in seen[0][1]
    seen.clear()
    clean_page(b"SUBJECT: plain text, no markup\n", on_tree=hook)
    clean_page(b"%PDF-1.4 \x00\x01\x02", on_tree=hook)
    assert seen == []
