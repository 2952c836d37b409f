"""A cable's next state, planned from the sources staged for it: its files, its preferred text, why it changes.

The writer stages each new or changed source of a cable (`Staged`); at a commit,
`plan_cable` merges them with the sources the object holds, lets the consensus choose the
preferred text, and says whether anything changes at all (`CablePlan`, or None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archive import layout, ocfl
from archive.commit import NewVersion
from archive.consensus import Candidate, choose
from archive.fsutil import json_bytes
from archive.ids import is_source_key
from archive.provenance import Provenance, metadata_digest


@dataclass(frozen=True)
class Staged:
    """A source's text as cleaned from a capture, waiting for the next commit."""

    key: str
    text: str
    data: bytes  # the text as stored
    text_digest: str
    metadata: dict[str, Any]  # the cable's metadata from this source, reference ID set
    metadata_digest: str
    provenance: Provenance

    @property
    def digests(self) -> tuple[str, str]:
        """(text digest, metadata digest): what tells whether the source changed."""
        return self.text_digest, self.metadata_digest


@dataclass(frozen=True)
class _Source:
    """One source of the planned state: staged now, or kept from the object's head version."""

    provenance: Provenance
    metadata: dict[str, Any]
    metadata_digest: str | None  # None: not computed (a source kept as it was)


@dataclass(frozen=True)
class CablePlan:
    """The new state of one cable: its logical files, cable.json, the preferred text, and what changed."""

    ref: str
    obj_dir: str
    inventory: dict[str, Any] | None  # the object's inventory now; None for a new cable
    files: dict[str, bytes | str]  # logical path -> new bytes, or the digest of content already stored
    digests: dict[str, str]
    cable_json: dict[str, Any]
    text: str  # the preferred text
    text_changed: bool
    added: int  # new sources
    changed: int  # sources whose text changed
    metadata_only: int  # sources whose metadata alone changed
    rulesets: list[dict[str, Any]]  # the rules the staged texts were cleaned with
    late: int = 0  # captures older than their source's current one, kept in its record only

    def version(self, message: str) -> NewVersion:
        """The OCFL version that makes this plan the cable's state."""
        return NewVersion(
            ref=self.ref,
            obj_dir=self.obj_dir,
            inventory=self.inventory,
            files=self.files,
            digests=self.digests,
            message=message,
            cable_json=self.cable_json,
            text=self.text,
            text_changed=self.text_changed,
        )


def plan_cable(obj_dir: str, ref: str, staged: dict[str, Staged]) -> CablePlan | None:
    """The new logical state of one cable, or None when nothing would change.

    Raises OSError, ValueError or KeyError when the object cannot be read.
    """
    inv = ocfl.load_inventory(obj_dir)
    old_state = ocfl.version_state(inv) if inv else {}
    old_keys = set(layout.source_keys(old_state))
    files: dict[str, bytes | str] = {}
    digests: dict[str, str] = {}
    cands: list[Candidate] = []
    sources: dict[str, _Source] = {}
    texts: dict[str, str] = {}
    for key in sorted(old_keys - set(staged)):
        if inv is None or not is_source_key(key):
            continue
        txt, js = layout.source_text(key), layout.source_json(key)
        files[txt], files[js] = old_state[txt], old_state[js]
        prov = Provenance.parse(ocfl.read_logical(obj_dir, inv, js))
        text = ocfl.read_logical(obj_dir, inv, txt).decode("utf-8", "replace")
        cands.append(
            Candidate(key, text, prov.lines_kept, prov.family, prov.fetched_at or "", prov.source_url or "")
        )
        sources[key] = _Source(prov, prov.metadata, None)
        texts[key] = old_state[txt]
    added = changed = late = late_keys = 0
    for key, s in staged.items():
        txt, js = layout.source_text(key), layout.source_json(key)
        prov = s.provenance
        old_prov = Provenance.parse(ocfl.read_logical(obj_dir, inv, js)) if inv and key in old_keys else None
        if old_prov is not None and prov.fetched_before(old_prov):
            # A capture older than the source's current one, arriving late: it joins the source's
            # record (its `earlier` captures) and the current text stays the newest capture's.
            assert inv is not None
            late_keys += 1
            kept = old_prov.with_earlier([prov.as_earlier(s.text_digest), *prov.earlier])
            text = ocfl.read_logical(obj_dir, inv, txt).decode("utf-8", "replace")
            cands.append(
                Candidate(
                    key, text, kept.lines_kept, kept.family, kept.fetched_at or "", kept.source_url or ""
                )
            )
            sources[key] = _Source(kept, kept.metadata, None)
            texts[key] = old_state[txt]
            files[txt] = old_state[txt]
            if kept.earlier == old_prov.earlier:
                files[js] = old_state[js]
            else:
                prov_bytes = json_bytes(kept.to_json())
                files[js] = prov_bytes
                digests[js] = ocfl.digest(prov_bytes)
                late += 1
            continue
        if old_prov is not None and old_prov.earlier:
            # The source's record of earlier captures carries over to its new current capture.
            prov = prov.with_earlier(old_prov.earlier)
        prov_bytes = json_bytes(prov.to_json())
        files[txt], files[js] = s.data, prov_bytes
        digests[txt], digests[js] = s.text_digest, ocfl.digest(prov_bytes)
        cands.append(
            Candidate(key, s.text, prov.lines_kept, prov.family, prov.fetched_at or "", prov.source_url or "")
        )
        sources[key] = _Source(prov, s.metadata, s.metadata_digest)
        if key not in old_keys:
            added += 1
        elif old_state.get(txt) != s.text_digest:
            changed += 1
    choice = choose(cands)
    cable_json = dict(sources[choice.preferred].metadata)
    cable_json["reference_id"] = ref
    cable_json["preferred"] = {"source": choice.preferred, "reason": choice.reason}
    cable_json["sources"] = [
        _source_entry(c, sources[c.key], choice.fidelity[c.key]) for c in sorted(cands, key=lambda c: c.key)
    ]
    cable_bytes = json_bytes(cable_json)
    files[layout.CABLE_JSON] = cable_bytes
    digests[layout.CABLE_JSON] = ocfl.digest(cable_bytes)
    best = staged.get(choice.preferred)
    if best is not None and choice.preferred in texts:
        best = None  # a late older capture: the source's text is the one it already had
    if best is not None:
        files[layout.CABLE_TEXT] = best.data
        digests[layout.CABLE_TEXT] = best.text_digest
    else:
        files[layout.CABLE_TEXT] = texts[choice.preferred]
    new_state = {p: (v if isinstance(v, str) else digests[p]) for p, v in files.items()}
    if new_state == old_state:
        return None
    return CablePlan(
        ref=ref,
        obj_dir=obj_dir,
        inventory=inv,
        files=files,
        digests=digests,
        cable_json=cable_json,
        text=next(c.text for c in cands if c.key == choice.preferred),
        text_changed=old_state.get(layout.CABLE_TEXT) != new_state[layout.CABLE_TEXT],
        added=added,
        changed=changed,
        metadata_only=len(staged) - added - changed - late_keys,
        rulesets=[s.provenance.ruleset for s in staged.values() if s.provenance.ruleset],
        late=late,
    )


def _source_entry(cand: Candidate, src: _Source, fidelity: float) -> dict[str, Any]:
    """A source's entry in cable.json's `sources`."""
    cap = src.provenance.capture
    return {
        "key": cand.key,
        "url": cand.url or None,
        "fidelity": fidelity,
        "distance": round(1.0 - fidelity, 6),
        "family": cand.family,
        "lines_kept": cand.lines_kept,
        "fetched_at": cand.fetched_at,
        "capture_id": cap.record_id if cap else None,
        "metadata_digest": src.metadata_digest or metadata_digest(src.metadata),
    }


def version_message(plan: CablePlan, kind: str, run_id: str, note: str | None) -> str:
    """Why a version exists: `crawl <run>: 1 new source, 1 changed`, `reclean <run>: ruleset … : …`."""
    parts = []
    if plan.added:
        parts.append(f"{plan.added} new source{'s' if plan.added != 1 else ''}")
    if plan.changed:
        parts.append(f"{plan.changed} changed")
    if plan.metadata_only > 0:
        parts.append(f"{plan.metadata_only} metadata changed")
    if plan.late:
        parts.append(
            f"{plan.late} older capture{'s' if plan.late != 1 else ''} of "
            f"{'a source' if plan.late == 1 else 'sources'} added to the record, not current "
            "(fetched before the capture the text is from)"
        )
    what = ", ".join(parts) or "consensus changed"
    if kind == "reclean":
        msg = f"reclean {run_id}: ruleset {ruleset_label(plan.rulesets)}: {what}"
    else:
        msg = f"{kind} {run_id}: {what}"
    return f"{msg} ({note})" if note else msg


def ruleset_label(rulesets: list[dict[str, Any]]) -> str:
    """`default@6 sha256:…` for the ruleset a reclean used."""
    if not rulesets:
        return "unknown"
    rs = rulesets[0]
    name, version = str(rs.get("name") or "?"), str(rs.get("version") or "?")
    label = version if version.startswith(name + "@") else f"{name}@{version}"
    return f"{label} {rs.get('digest') or '?'}"
