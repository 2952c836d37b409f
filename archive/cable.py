"""The read model of archived cables: a cable's versions, its state at each, and why each version exists."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from archive import layout, ocfl
from archive.errors import ArchiveError
from archive.provenance import Provenance

# Why a source appears in a version (as `log` says it).
NEW_SOURCE = "new source"
TEXT_CHANGED = "text changed"
METADATA_CHANGED = "metadata changed"


@dataclass
class CableSummary:
    """One line of `list`: a cable's head version, dates, subject and sources, from the index."""

    ref: str
    head: int
    created: str | None
    updated: str | None
    subject: str | None
    classification: str | None
    origin: str | None
    date: str | None
    n_sources: int
    preferred: str | None

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return dict(self.__dict__)


@dataclass
class SearchHit:
    """One full-text search result."""

    ref: str
    subject: str | None
    snippet: str
    score: float

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return dict(self.__dict__)


@dataclass
class VersionInfo:
    """One OCFL version of a cable: number, creation time, why it exists, who wrote it."""

    number: int
    created: str
    message: str
    user: str


@dataclass
class CableState:
    """A cable as it stood at one version: preferred text, cable.json, and every source."""

    ref: str
    version: int
    text: str
    metadata: dict[str, Any]
    sources: dict[str, tuple[str, dict[str, Any]]]


@dataclass
class SourceChange:
    """A source a version added or changed: from which capture, cleaned under which rules."""

    source: str
    change: str  # NEW_SOURCE, TEXT_CHANGED or METADATA_CHANGED
    provenance: Provenance

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, as `log --json` prints it."""
        prov = self.provenance
        cap = prov.capture
        rules = prov.ruleset
        return {
            "source": self.source,
            "change": self.change,
            "url": prov.source_url,
            "fetched_at": prov.fetched_at,
            "capture": {
                "warc_file": cap.warc_file if cap else None,
                "offset": cap.offset if cap else None,
                "record_id": cap.record_id if cap else None,
            },
            "rules": {
                "name": rules.get("name"),
                "version": rules.get("version"),
                "digest": rules.get("digest"),
                "cleaner_version": prov.cleaning.get("cleaner_version"),
            },
        }


@dataclass
class LogEntry:
    """One version of a cable and why it exists: its message, and the sources it added or changed."""

    version: int
    created: str
    message: str
    user: str
    text_changed: bool  # the preferred text differs from the version before
    sources: list[SourceChange] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, as `log --json` prints it."""
        return {
            "version": self.version,
            "created": self.created,
            "message": self.message,
            "user": self.user,
            "text_changed": self.text_changed,
            "sources": [s.to_json() for s in self.sources],
        }


class CableRecord:
    """An archived cable (one OCFL object): its versions and its state at any of them."""

    def __init__(self, ref: str, path: str, inventory: dict[str, Any]) -> None:
        self.ref = ref
        self.path = path
        self.inventory = inventory
        self.head = ocfl.head_number(inventory)

    @property
    def versions(self) -> list[VersionInfo]:
        """All versions, oldest first."""
        out = []
        for name, v in self.inventory["versions"].items():
            out.append(
                VersionInfo(
                    ocfl.vnum(name),
                    v.get("created", ""),
                    v.get("message", ""),
                    (v.get("user") or {}).get("name", ""),
                )
            )
        return sorted(out, key=lambda v: v.number)

    def _number(self, version: int | None) -> int:
        if version is None:
            return self.head
        if not 1 <= int(version) <= self.head:
            raise ArchiveError(f"{self.ref} has versions 1 to {self.head}; there is no version {version}")
        return int(version)

    def files(self, version: int | None = None) -> dict[str, str]:
        """The logical files of a version: {path: sha512 digest}."""
        return ocfl.version_state(self.inventory, self._number(version))

    def read(self, path: str, version: int | None = None) -> bytes:
        """The bytes of one logical file (cable.txt, cable.json, sources/<key>.txt, ...) at a version."""
        n = self._number(version)
        if path not in ocfl.version_state(self.inventory, n):
            raise ArchiveError(f"{self.ref} v{n} has no file {path!r}")
        try:
            return ocfl.read_logical(self.path, self.inventory, path, n)
        except (OSError, KeyError, IndexError) as exc:
            # A version folder deleted or a content file lost: name it, never a traceback.
            d = ocfl.version_state(self.inventory, n).get(path, "")
            where = (self.inventory.get("manifest", {}).get(d) or ["?"])[0]
            raise ArchiveError(
                f"{self.ref} v{n}: cannot read {path}: {os.path.join(self.path, where)} is missing or "
                f"unreadable ({getattr(exc, 'strerror', None) or exc}); run `cablearchive verify`"
            ) from exc

    def text(self, version: int | None = None) -> str:
        """The preferred text at a version (default: head)."""
        return self.read(layout.CABLE_TEXT, version).decode("utf-8", "replace")

    def metadata(self, version: int | None = None) -> dict[str, Any]:
        """cable.json at a version."""
        data: dict[str, Any] = json.loads(self.read(layout.CABLE_JSON, version))
        return data

    def source_keys(self, version: int | None = None) -> list[str]:
        """The keys of the sources present at a version."""
        return layout.source_keys(self.files(version))

    def source(self, key: str, version: int | None = None) -> tuple[str, dict[str, Any]]:
        """(text, provenance) of one source at a version."""
        text = self.read(layout.source_text(key), version).decode("utf-8", "replace")
        prov = json.loads(self.read(layout.source_json(key), version))
        return text, prov

    def provenance(self, key: str, version: int | None = None) -> Provenance:
        """The provenance of one source at a version, as a typed record."""
        return Provenance.parse(self.read(layout.source_json(key), version))

    def state(self, version: int | None = None) -> CableState:
        """Everything at a version: text, cable.json, and {key: (text, provenance)} of each source."""
        n = self._number(version)
        return CableState(
            ref=self.ref,
            version=n,
            text=self.text(n),
            metadata=self.metadata(n),
            sources={k: self.source(k, n) for k in self.source_keys(n)},
        )

    def log(self) -> list[LogEntry]:
        """Each version, oldest first, with why it exists: the sources it added or changed, from which capture and rules."""
        out = []
        prev: dict[str, str] = {}
        for v in self.versions:
            state = self.files(v.number)
            changes = []
            for path in sorted(state):
                parsed = layout.source_of(path)
                if parsed is None or parsed[1] != "txt":
                    continue
                key = parsed[0]
                jpath = layout.source_json(key)
                if prev.get(path) == state[path] and prev.get(jpath) == state.get(jpath):
                    continue
                if path not in prev:
                    change = NEW_SOURCE
                else:
                    change = TEXT_CHANGED if prev[path] != state[path] else METADATA_CHANGED
                changes.append(SourceChange(key, change, self.provenance(key, v.number)))
            out.append(
                LogEntry(
                    version=v.number,
                    created=v.created,
                    message=v.message,
                    user=v.user,
                    text_changed=prev.get(layout.CABLE_TEXT) != state.get(layout.CABLE_TEXT),
                    sources=changes,
                )
            )
            prev = state
        return out
