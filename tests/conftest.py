"""Shared fixtures: paths to the real pages in tests/fixtures and their truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"


def truth_cases(folder: str) -> list[tuple[Path, dict]]:
    """(page path, truth record) for every page of a fixture folder."""
    out = []
    for truth in sorted((PAGES / folder).glob("*.json")):
        # HTML pages, and text pages (dumps, text converted from PDF) named like their truth
        for page in (truth.with_suffix(".html"), truth.with_suffix(".txt")):
            if page.exists():
                out.append((page, json.loads(truth.read_text(encoding="utf-8"))))
                break
    return out


@pytest.fixture(scope="session")
def pages_dir() -> Path:
    """Folder of the real fixture pages."""
    return PAGES
