"""One source of a cable as its object keeps it: the text's bytes, the metadata's digest, the provenance record.

`sources/<key>.txt` holds the text as UTF-8; `sources/<key>.json` the `Provenance`: which
capture the text came from (URL, fetch time, WARC record) and how it was cleaned.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from archive.captures import Capture


def text_bytes(text: str) -> bytes:
    """The bytes a text is stored as (UTF-8; a lone surrogate becomes '?')."""
    return text.encode("utf-8", "replace")


def metadata_digest(meta: dict[str, Any]) -> str:
    """sha256 of a cable's metadata in canonical JSON: what tells a metadata change."""
    data = json.dumps(meta, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class CaptureRef:
    """Where the capture a text came from lives: WARC file, offset, length, record id, digest."""

    warc_file: str | None
    offset: int | None
    length: int | None
    record_id: str | None
    payload_digest: str | None
    revisit: str | None = None
    refers_to: str | None = None

    @classmethod
    def of(cls, cap: Capture) -> CaptureRef:
        """The pointer to a stored capture."""
        return cls(
            cap.warc_file,
            cap.offset,
            cap.length,
            cap.record_id,
            cap.payload_digest,
            cap.revisit_profile,
            cap.refers_to,
        )

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, as in sources/<key>.json."""
        return {
            "warc_file": self.warc_file,
            "offset": self.offset,
            "length": self.length,
            "record_id": self.record_id,
            "payload_digest": self.payload_digest,
            "revisit": self.revisit,
            "refers_to": self.refers_to,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaptureRef:
        """Read back to_json() output (missing fields are None)."""
        return cls(
            data.get("warc_file"),
            data.get("offset"),
            data.get("length"),
            data.get("record_id"),
            data.get("payload_digest"),
            data.get("revisit"),
            data.get("refers_to"),
        )


@dataclass(frozen=True)
class Provenance:
    """Where one source's text came from and how it was cleaned: sources/<key>.json."""

    key: str
    url: str | None
    final_url: str | None
    fetched_at: str | None
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    capture: CaptureRef | None = None
    run: str | None = None
    # The cleaners' record of the cleaning (Cable.cleaning()): cleaner and rules, family, repairs, warnings.
    cleaning: dict[str, Any] = field(default_factory=dict)
    # That source's cable metadata (Cable.metadata(), reference ID set).
    metadata: dict[str, Any] = field(default_factory=dict)
    # Captures of this source fetched before the current one that arrived after it (an older WARC
    # imported late): part of the source's record, never its current text. Oldest first.
    earlier: tuple[dict[str, Any], ...] = ()

    @classmethod
    def of(
        cls, cap: Capture, key: str, run_id: str, cleaning: dict[str, Any], metadata: dict[str, Any]
    ) -> Provenance:
        """The provenance of a text cleaned from a capture in a run."""
        return cls(
            key=key,
            url=cap.url,
            final_url=cap.final_url or cap.url,
            fetched_at=cap.fetched_at,
            status=cap.status,
            etag=cap.etag,
            last_modified=cap.last_modified,
            capture=CaptureRef.of(cap),
            run=run_id,
            cleaning=cleaning,
            metadata=metadata,
        )

    def fetched_before(self, other: Provenance) -> bool:
        """True when this source's capture was fetched strictly before `other`'s (both times known)."""
        return bool(self.fetched_at and other.fetched_at and self.fetched_at < other.fetched_at)

    def as_earlier(self, text_digest: str) -> dict[str, Any]:
        """This capture as an entry of another provenance's `earlier` list."""
        return {
            "url": self.url,
            "final_url": self.final_url,
            "fetched_at": self.fetched_at,
            "status": self.status,
            "capture": self.capture.to_json() if self.capture is not None else None,
            "run": self.run,
            "text_digest": text_digest,
        }

    def with_earlier(self, entries: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> Provenance:
        """This provenance with captures added to its `earlier` list (each capture once, oldest first)."""
        # One entry per fetch: the same capture (or a copy of it in another WARC) is recorded once.
        seen: set[tuple[Any, ...]] = set()
        merged: list[dict[str, Any]] = []
        for e in [*self.earlier, *entries]:
            rid = (e.get("capture") or {}).get("record_id")
            fetch = (e.get("url"), e.get("fetched_at"), e.get("text_digest"))
            if (rid is not None and ("id", rid) in seen) or fetch in seen:
                continue
            seen.update({("id", rid), fetch})
            merged.append(e)
        merged.sort(
            key=lambda e: (e.get("fetched_at") or "", (e.get("capture") or {}).get("record_id") or "")
        )
        return replace(self, earlier=tuple(merged))

    @property
    def source_url(self) -> str | None:
        """The URL the text was read from: the final URL after redirects, else the requested one."""
        return self.final_url or self.url

    @property
    def lines_kept(self) -> bool:
        """True when the page kept the cable's line breaks."""
        return bool(self.cleaning.get("lines_kept", True))

    @property
    def family(self) -> str:
        """The site family the cleaner recognised."""
        return self.cleaning.get("family") or "generic"

    @property
    def ruleset(self) -> dict[str, Any]:
        """The rules the text was cleaned with: name, version, digest, files ({} when not recorded)."""
        return self.cleaning.get("ruleset") or {}

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, as written to sources/<key>.json (`earlier` only when there is one)."""
        out: dict[str, Any] = {
            "key": self.key,
            "url": self.url,
            "final_url": self.final_url,
            "fetched_at": self.fetched_at,
            "status": self.status,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "capture": self.capture.to_json() if self.capture is not None else None,
            "run": self.run,
            "cleaning": self.cleaning,
            "metadata": self.metadata,
        }
        if self.earlier:
            out["earlier"] = list(self.earlier)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Provenance:
        """Read sources/<key>.json (of any release: missing fields are None or empty)."""
        cap = data.get("capture")
        return cls(
            key=data.get("key") or "",
            url=data.get("url"),
            final_url=data.get("final_url"),
            fetched_at=data.get("fetched_at"),
            status=data.get("status"),
            etag=data.get("etag"),
            last_modified=data.get("last_modified"),
            capture=CaptureRef.from_json(cap) if isinstance(cap, dict) else None,
            run=data.get("run"),
            cleaning=data.get("cleaning") or {},
            metadata=data.get("metadata") or {},
            earlier=tuple(e for e in data.get("earlier") or () if isinstance(e, dict)),
        )

    @classmethod
    def parse(cls, raw: bytes) -> Provenance:
        """Parse the bytes of sources/<key>.json; ValueError when they are not a JSON object."""
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("provenance is not a JSON object")
        return cls.from_json(data)
