"""An archive for the query, list, search and refs tests: the fixture cablegate pages, cleaned as a
crawl would, and a few cables made for the citation graph (archived and not archived targets)."""

from __future__ import annotations

from pathlib import Path

from archive import Archive
from cleaners import clean_page
from cleaners.model import Cable

from archive_support import RULES_A, cablegate_pages, html_headers, result

# Set the window title, clear the screen, then rich markup: what a hostile page could hold.
HOSTILE = "\x1b]0;owned\x07\x1b[2J[bold red]FAKE[/bold red]"


def made_cable(ref: str, text: str, **fields: object) -> Cable:
    """A Cable as the cleaner returns it, with these header fields."""
    return Cable(
        text=text,
        reference_id=ref,
        id_source="table",
        family="cablegate",
        ruleset=RULES_A,
        cleaner_version="test",
        **fields,  # type: ignore[arg-type]
    )


def _ref(label: str | None, text: str, cited: str | None) -> dict[str, object]:
    return {"label": label, "text": text, "kind": "cable" if cited else "other", "id": cited}


MADE = [
    made_cable(
        "10STATE1001",
        "SECRET NOFORN\nSUBJECT: DEMARCHE ON AFGHAN ELECTIONS\nREF: A. BERLIN 2546 B. KABUL 99 C. INCSR 2008\n"
        "1. (S) Department asks posts to stress that President Karzai must accept the recount.\n"
        "2. (S) Posts should report the reactions of the Foreign Ministry.\nCLINTON\n",
        created="2010-01-05 10:00",
        classification="SECRET//NOFORN",
        origin="Secretary of State",
        canonical_id="10STATE1001",
        subject="DEMARCHE ON AFGHAN ELECTIONS",
        tags=["PREL", "AF", "KDEM"],
        references=[
            _ref("A", "BERLIN 2546", "06BERLIN2546"),
            _ref("B", "KABUL 99", "09KABUL99"),
            _ref("C", "INCSR 2008", None),
        ],
    ),
    made_cable(
        "09KABUL123",
        "CONFIDENTIAL\nSUBJECT: KARZAI ON THE ELECTION CALENDAR\nREF: A. KABUL 99 B. 75 LIBREVILLE 1895\n"
        "1. (C) Summary: President Karzai told the Ambassador the vote will be held in August. End summary.\n"
        f"2. (C) A hostile line: {HOSTILE} Karzai again.\nEIKENBERRY\n",
        created="2009-06-15 08:00",
        classification="CONFIDENTIAL",
        origin="Embassy Kabul",
        canonical_id="09KABUL123",
        subject="KARZAI ON THE ELECTION CALENDAR",
        tags=["PGOV", "AF", "prel"],
        references=[_ref("A", "KABUL 99", "09KABUL99"), _ref("B", "75 LIBREVILLE 1895", "75LIBREVILLE1895")],
    ),
    made_cable(
        "7575LIBREVILLE1895",
        "UNCLASSIFIED\nSUBJECT: GABON TIMBER EXPORTS\n1. Timber exports rose in the third quarter.\nSTONE\n",
        created="1975-10-02 12:00",
        classification="UNCLASSIFIED",
        origin="Embassy Libreville",
        canonical_id="75LIBREVILLE1895",
        subject="GABON TIMBER EXPORTS",
        tags=["ETRD", "GB"],
    ),
]


def build_query_archive(path: Path) -> Path:
    """The fixture pages and the made cables, committed in one crawl run."""
    arch = Archive.create(path)
    try:
        with arch.writer(kind="crawl", args={"built": "for a test"}) as w:
            for url, body, _text in cablegate_pages():
                cap = w.add_capture(url, 200, html_headers(), body)
                w.record(cap, clean_page(body, url=url, headers=html_headers()))
            for c in MADE:
                url = f"https://mirror.example.org/cable/{c.reference_id}.html"
                cap = w.add_capture(url, 200, html_headers(), f"<html><pre>{c.text}</pre></html>".encode())
                w.record(cap, result(c))
    finally:
        arch.close()
    return path
