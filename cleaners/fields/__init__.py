"""A cable's header fields, read from its text: subject, tags, references, signers and the rest.

Each field has its reader module; `read_fields` runs them all on one cable's lines. The readers
look at a bounded part of the text (the header, the last lines, the first paragraphs), so a huge
or hostile page costs no more than a normal one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cleaners.fields.classified import read_classified_by, read_decl
from cleaners.fields.ids import canonical_id, is_viewer_id, station_of
from cleaners.fields.refs import Reference, read_references
from cleaners.fields.routing import read_addressees, read_transmission_id
from cleaners.fields.signers import read_signers
from cleaners.fields.stations import Stations
from cleaners.fields.subject import read_subject
from cleaners.fields.summary import read_summary
from cleaners.fields.tags import read_tags
from cleaners.fields.text import Head

__all__ = ["Fields", "Reference", "Stations", "canonical_id", "is_viewer_id", "read_fields", "station_of"]


@dataclass
class Fields:
    """The header fields of one cable, as `Cable` carries them."""

    subject: str | None = None
    tags: list[str] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    signers: list[str] = field(default_factory=list)
    classified_by: list[str] = field(default_factory=list)
    classified_reasons: list[str] = field(default_factory=list)
    summary: str | None = None
    recipients: list[dict[str, str | None]] = field(default_factory=list)
    info: list[dict[str, str | None]] = field(default_factory=list)
    decl: dict[str, str | None] | None = None
    transmission_id: str | None = None


def read_fields(
    lines: list[str],
    stations: Stations,
    common: dict[str, Any],
    tables: dict[str, Any],
    year: int | None = None,
    own_station: str | None = None,
) -> Fields:
    """Every header field of a cable from its text lines.

    `year` is the cable's own year and `own_station` its post as IDs spell it (both from its
    ID): references without a year or a post are read as the cable's own.
    """
    head = Head(lines)
    f = Fields()
    f.subject = read_subject(head)
    f.tags = read_tags(
        head,
        tables.get("not_tags", frozenset()),
        tables.get("tag_codes", frozenset()),
        tables.get("tag_countries", frozenset()),
    )
    f.references = read_references(head, stations, year, own_station)
    f.signers = read_signers(lines, common, tables)
    f.classified_by, f.classified_reasons = read_classified_by(head, tables)
    f.summary = read_summary(lines, head.first_para)
    f.recipients, f.info = read_addressees(head)
    f.decl = read_decl(head)
    f.transmission_id = read_transmission_id(head)
    return f
