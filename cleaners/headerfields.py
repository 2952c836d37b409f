"""A cable's header fields once its ID is known: the bridge from the ID reader to `cleaners.fields`."""

from __future__ import annotations

import re
from typing import Any

from cleaners.fields import canonical_id, read_fields
from cleaners.fields.ids import full_year
from cleaners.header import REF_ID, Header, id_parts
from cleaners.ruleset import Ruleset


def cable_fields(
    lines: list[str], ref: str | None, created: str | None, h: Header, rules: Ruleset
) -> dict[str, Any]:
    """The header fields of a cable whose ID is `ref`, as keyword arguments of `Cable`.

    The cable's own year and post (from its date, its canonical ID, else its header) let
    references without a year or a post be read as the cable's own.
    """
    canonical = canonical_id(ref, rules.stations)
    year: int | None = None
    own: str | None = None
    m = REF_ID.match(canonical or "")
    if m:
        year, own = full_year(int(m.group(1))), m.group(2)
    if created and re.match(r"^\d{4}-", created):
        year = int(created[:4])
    if year is None and h.year:
        year = full_year(int(h.year))
    if own is None:
        origin, _serial, _note = id_parts(h)
        own = rules.stations.resolve(origin) or origin if origin else None
    f = read_fields(lines, rules.stations, rules.common, rules.fields, year=year, own_station=own)
    return {
        "canonical_id": canonical,
        "subject": f.subject,
        "tags": f.tags,
        "references": [r.to_json() for r in f.references],
        "signers": f.signers,
        "classified_by": f.classified_by,
        "classified_reasons": f.classified_reasons,
        "summary": f.summary,
        "recipients": f.recipients,
        "info": f.info,
        "decl": f.decl,
        "transmission_id": f.transmission_id,
    }
