"""A cable's history as `cablearchive log` shows it: each version, why it exists, and what it changed.

Reads the archive through `Archive.cable()` and the object file names of `archive.layout`.
"""

from __future__ import annotations

import json
from typing import Any

from archive import Archive
from archive.layout import CABLE_TEXT, source_json, source_of


def version_log(arch: Archive, ref: str) -> list[dict[str, Any]]:
    """Each version of a cable with why it exists: message, and the sources it added or changed."""
    rec = arch.cable(ref)
    out = []
    prev: dict[str, str] = {}
    for v in rec.versions:
        state = rec.files(v.number)
        changes = []
        for path in sorted(state):
            parsed = source_of(path)
            if parsed is None or parsed[1] != "txt":
                continue
            key = parsed[0]
            jpath = source_json(key)
            if prev.get(path) == state[path] and prev.get(jpath) == state.get(jpath):
                continue
            prov = json.loads(rec.read(jpath, v.number))
            cleaning = prov.get("cleaning") or {}
            rs = cleaning.get("ruleset") or {}
            cap = prov.get("capture") or {}
            changes.append(
                {
                    "source": key,
                    "change": "new source"
                    if path not in prev
                    else ("text changed" if prev[path] != state[path] else "metadata changed"),
                    "url": prov.get("final_url") or prov.get("url"),
                    "fetched_at": prov.get("fetched_at"),
                    "capture": {
                        "warc_file": cap.get("warc_file"),
                        "offset": cap.get("offset"),
                        "record_id": cap.get("record_id"),
                    },
                    "rules": {
                        "name": rs.get("name"),
                        "version": rs.get("version"),
                        "digest": rs.get("digest"),
                        "cleaner_version": cleaning.get("cleaner_version"),
                    },
                }
            )
        out.append(
            {
                "version": v.number,
                "created": v.created,
                "message": v.message,
                "user": v.user,
                "text_changed": prev.get(CABLE_TEXT) != state.get(CABLE_TEXT),
                "sources": changes,
            }
        )
        prev = state
    return out
