"""The resume journal's on-disk format: typed records that read and write the same lines."""

from __future__ import annotations

import json
from pathlib import Path

from crawler import discovery as d
from crawler.frontier import Frontier
from crawler.journal import (
    BatchCommitted,
    BatchStart,
    Done,
    Journal,
    Scheduled,
    SiteAdded,
    record_from_json,
)

# A journal exactly as a crawl writes it: a seed and its probe, one committed batch, one batch
# cut by a kill, a redirect, a site brought in by it, a damaged line and a torn last line.
LINES = [
    '{"t":"s","u":"http://b.org/","k":"page","d":0,"seed":1}',
    '{"t":"s","u":"http://b.org/sitemap.xml","k":"sitemap","d":0,"probe":1}',
    '{"t":"site","s":"b.org:80"}',
    '{"t":"b","n":1,"run":"R1"}',
    '{"t":"s","u":"http://b.org/2010/12/03/a/","k":"post","d":1}',
    '{"t":"d","u":"http://b.org/"}',
    '{"t":"d","u":"http://b.org/sitemap.xml"}',
    '{"t":"c","n":1}',
    '{"t":"b","n":2,"run":"R1"}',
    '{"t":"site","s":"c.org:80"}',
    '{"t":"s","u":"http://c.org/x/","k":"post","d":2}',
    '{"t":"d","u":"http://b.org/2010/12/03/a/","f":"http://c.org/a/"}',
    '{"t":"s","u":"http://b.org/bad/","k":"no-such-kind","d":1}',
    '{"t":"s","u":"http://b.org/deep/","k":"post","d":"x"}',
]


def _write(folder: Path, lines: list[str], torn: str = "") -> Journal:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.json").write_text(json.dumps({"version": 1, "status": "running"}), encoding="utf-8")
    (folder / "journal.jsonl").write_text("\n".join(lines) + "\n" + torn, encoding="utf-8")
    return Journal(folder)


def test_every_line_reads_as_its_record_and_writes_back_the_same() -> None:
    good = [line for line in LINES if "no-such-kind" not in line and '"d":"x"' not in line]
    for line in good:
        rec = record_from_json(json.loads(line))
        assert rec is not None, line
        assert json.dumps(rec.to_json(), separators=(",", ":")) == line
    assert record_from_json(json.loads(LINES[0])) == Scheduled("http://b.org/", d.PAGE, 0, seed=True)
    assert record_from_json(json.loads(LINES[11])) == Done("http://b.org/2010/12/03/a/", "http://c.org/a/")
    assert record_from_json(json.loads(LINES[2])) == SiteAdded("b.org:80")
    assert record_from_json(json.loads(LINES[3])) == BatchStart(1, "R1")
    assert record_from_json(json.loads(LINES[7])) == BatchCommitted(1)
    # An unknown kind of link, a depth that is not a number, an unknown record: skipped, not a crash.
    assert record_from_json(json.loads(LINES[12])) is None
    assert record_from_json(json.loads(LINES[13])) is None
    assert record_from_json({"t": "zz"}) is None and record_from_json({}) is None


def test_a_journal_on_disk_resumes(tmp_path: Path) -> None:
    journal = _write(tmp_path / "crawl", LINES, torn='{"t":"d","u":"http://b.or')
    assert journal.resumable()
    records = list(journal.records())
    assert len(records) == len(LINES) - 2  # the two damaged lines; the torn one is never read

    # The cut batch's page has a capture of run R1: it is done, with the site and link it found.
    kept = Frontier(3, None)
    left = kept.restore(journal, captured=lambda run, urls: set(urls) if run == "R1" else set())
    assert [t.url for t in left] == ["http://c.org/x/"]
    assert kept.sites == {"b.org:80", "c.org:80"}

    # Without it, the page is fetched again and what it found is forgotten (its site stays).
    dropped = Frontier(3, None)
    left = dropped.restore(journal, captured=lambda run, urls: set())
    assert [t.url for t in left] == ["http://b.org/2010/12/03/a/"]
    assert dropped.sites == {"b.org:80", "c.org:80"}


def test_appended_batches_are_the_lines_of_the_format(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "crawl")
    journal.start({"seeds": "s.txt"}, resume=False)
    journal.append([Scheduled("http://b.org/", d.PAGE, 0, seed=True)])
    journal.begin_batch(1, "R1", [Done("http://b.org/", "http://b.org/home"), SiteAdded("b.org:80")])
    journal.end_batch(1)
    journal.finish("finished")
    assert (tmp_path / "crawl" / "journal.jsonl").read_text(encoding="utf-8").splitlines() == [
        '{"t":"s","u":"http://b.org/","k":"page","d":0,"seed":1}',
        '{"t":"b","n":1,"run":"R1"}',
        '{"t":"d","u":"http://b.org/","f":"http://b.org/home"}',
        '{"t":"site","s":"b.org:80"}',
        '{"t":"c","n":1}',
    ]
    assert not journal.resumable()
