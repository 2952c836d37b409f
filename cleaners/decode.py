"""Turn a response body into text: sniff binary, pick the charset, say what was repaired."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

from cleaners.model import CleanerWarning as W
from cleaners.model import Warn

# Signatures of formats that are never a page of text.
_MAGIC = (
    (b"%PDF-", "PDF document"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"BZh", "bzip2 data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"\x00asm", "WebAssembly"),
    (b"wOFF", "web font"),
    (b"wOF2", "web font"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Office document"),
    (b"SQLite format 3\x00", "SQLite database"),
)
_RIFF_KINDS = {b"WEBP": "WebP image", b"WAVE": "WAV audio", b"AVI ": "AVI video"}
_HTML_SNIFF = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|p|div|pre|br|table|article|span|a\s|meta|title|h[1-6])\b",
    re.IGNORECASE,
)
# The same on decoded text (ASCII classes, as on bytes): no encoding back to bytes to sniff.
_HTML_SNIFF_TEXT = re.compile(_HTML_SNIFF.pattern.decode("ascii"), re.IGNORECASE | re.ASCII)
_SINGLE_BYTE = {"cp1252", "latin-1", "iso8859-1", "iso8859-15", "ascii"}
# Control characters that never occur in text (tab, newlines, form feed and escape do).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))


@dataclass
class Decoded:
    """A decoded body: its text, what it is (html, text, binary, empty) and what was repaired."""

    text: str
    kind: str
    encoding: str | None = None
    repairs: list[str] = field(default_factory=list)
    warnings: list[W] = field(default_factory=list)
    # The text as UTF-8 bytes when the body already was exactly that (the parser is fed these
    # instead of the text encoded again).
    utf8: bytes | None = None


def header_value(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None, name: str) -> str | None:
    """The value of header `name` (case-insensitive) from a mapping or a list of pairs."""
    if not headers:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    lname = name.lower()
    for key, value in items:
        k = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if k.lower() == lname:
            if isinstance(value, (list, tuple)):
                value = value[0] if value else ""
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


def sniff_binary(body: bytes) -> str | None:
    """Name the binary format of `body`, or None when it may be text."""
    head = body[:16]
    for magic, name in _MAGIC:
        if head.startswith(magic):
            # "MZ" and "ID3" are also plausible text starts: only trust them with more evidence.
            if magic in (b"MZ", b"ID3") and not _looks_controlled(body):
                continue
            return name
    if head.startswith(b"RIFF") and head[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[head[8:12]]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 with a BOM is text
    if _looks_controlled(body):
        return "binary data"
    return None


def _looks_controlled(body: bytes) -> bool:
    """True when the first 8 KB hold NUL bytes or many control characters."""
    sample = body[:8192]
    if not sample:
        return False
    if b"\x00" in sample and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    return controls > len(sample) // 20


def _strict(body: bytes, encoding: str) -> str | None:
    """Decode strictly; None when the bytes are not in that encoding."""
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode(
    body: bytes | str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    max_bytes: int = 16 * 1024 * 1024,
) -> Decoded:
    """Decode a page: BOM, then the HTTP charset, then `<meta>`, then UTF-8, then cp1252."""
    content_type = header_value(headers, "Content-Type")
    if isinstance(body, str):
        kind = "html" if _HTML_SNIFF_TEXT.search(body, 0, 65536) else "text"
        if not body or body.isspace():
            return Decoded("", "empty", warnings=[W(Warn.EMPTY, "empty body")])
        return Decoded(body, kind)
    # isspace() stops at the first other byte; strip() would copy the whole body.
    if not body or body.isspace():
        return Decoded("", "empty", warnings=[W(Warn.EMPTY, "empty body")])
    if len(body) > max_bytes:
        return Decoded(
            "",
            "too-large",
            warnings=[
                W(
                    Warn.BAD_INPUT,
                    f"body too large: {len(body):,} bytes > limit {max_bytes:,} bytes; not cleaned",
                )
            ],
        )
    binary = sniff_binary(body)
    if binary:
        note = f" (Content-Type says {content_type})" if content_type else ""
        return Decoded(
            "", "binary", warnings=[W(Warn.BAD_INPUT, f"binary body: {binary}{note}; no text to clean")]
        )

    mime = (content_type or "").split(";")[0].strip().lower()
    repairs: list[str] = []
    warnings: list[W] = []
    maybe_html = bool(_HTML_SNIFF.search(body, 0, 65536))
    bom_enc, bom = read_bom(body)
    candidates: list[tuple[str, str]] = []
    if bom_enc and bom:
        candidates.append((resolve_encoding(bom_enc) or bom_enc, "byte-order mark"))
        body = body[len(bom) :]
    http_enc = http_content_type_encoding(content_type) if content_type else None
    if http_enc:
        candidates.append((http_enc, "HTTP Content-Type"))
    meta_enc = html_body_declared_encoding(body) if maybe_html else None
    if meta_enc:
        candidates.append((resolve_encoding(meta_enc) or meta_enc, "<meta> charset"))
    declared = candidates[0] if candidates else None

    # A single-byte declaration decodes anything; when the bytes are valid UTF-8 with
    # non-ASCII characters, the declaration is wrong (a common misconfiguration).
    single_byte = {codecs.lookup(e).name for e in _SINGLE_BYTE}
    if (
        declared
        and _known(declared[0])
        and codecs.lookup(declared[0]).name in single_byte
        and not body.isascii()
    ):
        as_utf8 = _strict(body, "utf-8")
        if as_utf8 is not None:
            repairs.append(
                f"charset: {declared[1]} says {declared[0]} but the bytes are UTF-8; read as UTF-8"
            )
            return _finish(as_utf8, mime, "utf-8", repairs, warnings, body)

    for enc, why in candidates:
        text = _strict(body, enc)
        if text is not None:
            name = codecs.lookup(enc).name if _known(enc) else enc
            return _finish(text, mime, name, repairs, warnings, body if name == "utf-8" else None)
        repairs.append(f"charset: {why} says {enc} but the bytes do not decode as {enc}")
    for enc in ("utf-8", "cp1252"):
        text = _strict(body, enc)
        if text is not None:
            if declared:
                repairs.append(f"charset: read as {enc}")
            elif enc != "utf-8":
                repairs.append(f"charset: none declared and not UTF-8; read as {enc}")
            return _finish(text, mime, enc, repairs, warnings, body if enc == "utf-8" else None)
    # cp1252 leaves five bytes undefined; latin-1 maps every byte.
    repairs.append("charset: bytes undecodable as UTF-8 or cp1252; read as latin-1")
    return _finish(body.decode("latin-1"), mime, "latin-1", repairs, warnings)


def _finish(
    text: str, mime: str, encoding: str, repairs: list[str], warnings: list[W], utf8: bytes | None = None
) -> Decoded:
    """Decide HTML or text from the decoded characters (UTF-16 hides tags from a byte sniff)."""
    if text.startswith("\ufeff"):
        text = text[1:]
        utf8 = None
    # Markup decides, not the label: a cable served as text/html without a tag keeps its lines.
    looks_html = bool(_HTML_SNIFF_TEXT.search(text, 0, 65536))
    kind = "html" if looks_html else "text"
    if mime and mime not in (
        "text/html",
        "application/xhtml+xml",
        "text/plain",
        "application/xml",
        "text/xml",
    ):
        warnings.append(
            W(
                Warn.CONTENT_TYPE,
                f"Content-Type {mime} for a body that is {'HTML' if looks_html else 'text'}; cleaned as such",
                detail=mime,
            )
        )
    return Decoded(text, kind, encoding, repairs, warnings, utf8)


def _known(enc: str) -> bool:
    """True when Python knows the codec name."""
    try:
        codecs.lookup(enc)
    except LookupError:
        return False
    return True
