"""Reading WARC records: every reader refuses a record that disagrees with itself, names it, and reads on;
captures arriving in any order leave the newest current; a body cut short is never stored."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest

from archive import Archive, ArchiveError, source_key
from archive.captures import BadRecord, WarcRecord, content_coding_problem, read_warc, read_warc_bytes
from archive.layout import source_json
from cleaners import clean_page

from archive_support import cablegate_pages, html_headers, warc_files
from integrity_support import build_archive, gzip_members, snapshot
from mockserver import cablearchive

HISTORY = Path(__file__).parent / "fixtures" / "archive" / "history"
OLD_PAGE, NEW_PAGE = HISTORY / "1_fbad4962.html", HISTORY / "2_e3c2ca35.html"
URL = "https://cablegate.wikileaks.org/cable/2006/01/06MADRID76.html"
REF = "06MADRID76"


def _flip_in(path: Path, member_index: int) -> int:
    """Flip one bit in the middle of the compressed data of the member-index-th response; its offset."""
    members = [m for m in gzip_members(path) if m.rec_type == "response"]
    m = members[member_index]
    data = bytearray(path.read_bytes())
    data[(m.start + m.end) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    return m.start


def _record(uri: str, body: bytes, date: str = "2020-01-01T00:00:00Z") -> bytes:
    """An uncompressed WARC response record (no digests)."""
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    head = (
        f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{abs(hash((uri, date))):032x}>\r\n"
        f"WARC-Date: {date}\r\nWARC-Target-URI: {uri}\r\nContent-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http)}\r\n\r\n"
    ).encode()
    return head + http + b"\r\n\r\n"


# ----------------------------------------------------------------------------- the reader


def test_reader_resynchronises_at_the_next_gzip_member() -> None:
    pages = [(f"http://example.org/{i}.html", b"<p>page %d</p>" % i * 50) for i in range(4)]
    members = [gzip.compress(_record(u, b)) for u, b in pages]
    damaged = bytearray(members[1])
    damaged[len(damaged) // 2] ^= 0xFF
    data = members[0] + bytes(damaged) + members[2] + b"garbage between records" + members[3]
    found = list(read_warc_bytes(data, "x.warc.gz"))
    good = [r for r in found if isinstance(r, WarcRecord)]
    bad = [r for r in found if isinstance(r, BadRecord)]
    assert [r.header("WARC-Target-URI") for r in good] == [pages[0][0], pages[2][0], pages[3][0]]
    assert [r.body for r in good] == [pages[0][1], pages[2][1], pages[3][1]]
    assert [b.offset for b in bad] == [len(members[0]), len(members[0]) + len(damaged) + len(members[2])]
    assert all(b.message.startswith("x.warc.gz: bad record at offset ") for b in bad)


def test_reader_of_an_uncompressed_warc_reads_on_past_a_cut_record() -> None:
    a, b, c = (_record(f"http://example.org/{i}", b"x" * 100) for i in range(3))
    data = a + b[: len(b) // 2] + c
    found = list(read_warc_bytes(data, "x.warc", gzipped=False))
    assert [type(r).__name__ for r in found] == ["WarcRecord", "BadRecord", "WarcRecord"]
    assert found[1].offset == len(a)


def test_a_whole_file_gzipped_at_once_loses_only_its_bad_record() -> None:
    recs = [_record(f"http://example.org/{i}", b"page %d " % i * 20) for i in range(3)]
    bad = recs[1].replace(
        b"\r\n\r\n", b"\r\nWARC-Block-Digest: sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\n", 1
    )
    found = list(read_warc_bytes(gzip.compress(recs[0] + bad + recs[2]), "x.warc.gz"))
    assert [type(r).__name__ for r in found] == ["WarcRecord", "BadRecord", "WarcRecord"]
    assert "WARC-Block-Digest" in found[1].reason


def test_a_record_with_bytes_past_its_content_length_is_bad() -> None:
    rec = _record("http://example.org/", b"<p>whole page</p>")
    longer = rec.replace(b"\r\n\r\n", b"\r\n\r\n", 1)[:-4] + b"tail of a longer block\r\n\r\n"
    (item,) = read_warc_bytes(gzip.compress(longer), "x.warc.gz")
    assert isinstance(item, BadRecord) and "Content-Length" in item.reason


def test_a_body_whose_gzip_coding_is_cut_is_refused() -> None:
    body = b"<p>" + b"a cable line " * 500 + b"</p>"
    whole = gzip.compress(body)
    assert content_coding_problem([("Content-Encoding", "gzip")], whole) is None
    problem = content_coding_problem([("Content-Encoding", "gzip")], whole[: len(whole) * 3 // 4])
    assert problem is not None and "cut" in problem
    # A body stored decoded under its received Content-Encoding is read as it is.
    assert content_coding_problem([("Content-Encoding", "gzip")], body) is None
    deflated = zlib.compress(body)
    assert content_coding_problem([("Content-Encoding", "deflate")], deflated) is None
    assert content_coding_problem([("Content-Encoding", "deflate")], deflated[:-40]) is not None


def test_add_capture_refuses_a_body_shorter_than_declared(tmp_path: Path) -> None:
    url, body, _text = cablegate_pages()[0]
    arch = Archive.create(tmp_path / "a")
    with arch.writer(kind="crawl") as w:
        with pytest.raises(ArchiveError, match="cut short"):
            w.add_capture(url, 200, html_headers(), body[: len(body) // 2], declared_length=len(body))
        w.add_capture(url, 200, html_headers(), body, declared_length=len(body))
    assert len(list(arch.captures(newest_per_url=False))) == 1
    arch.close()


# ----------------------------------------------------------------------------- every read path


@pytest.fixture
def damaged_archive(tmp_path: Path) -> tuple[Path, str, int]:
    """An archive of the fixture pages whose WARC file has one response record damaged (a flipped bit)."""
    archive = build_archive(tmp_path / "a")
    (warc,) = warc_files(archive)
    offset = _flip_in(Path(warc), 1)
    return archive, warc, offset


def test_verify_names_the_damaged_record(damaged_archive: tuple[Path, str, int]) -> None:
    archive, warc, offset = damaged_archive
    proc = cablearchive("verify", "--archive", str(archive))
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert Path(warc).name in out and f"offset {offset}" in out and "gzip member damaged" in out


def test_export_refuses_the_damaged_record(damaged_archive: tuple[Path, str, int], tmp_path: Path) -> None:
    archive, warc, offset = damaged_archive
    out = tmp_path / "export.warc.gz"
    proc = cablearchive("export", "--archive", str(archive), "--format", "warc", "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"offset {offset}" in proc.stderr and Path(warc).name in proc.stderr
    # What was exported is whole: every record reads back, none bad.
    assert not [r for r in read_warc(str(out)) if isinstance(r, BadRecord)]


def test_reclean_refuses_the_damaged_record(damaged_archive: tuple[Path, str, int], tmp_path: Path) -> None:
    archive, _warc, offset = damaged_archive
    before = snapshot(archive)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "common.toml").write_text('[viewer]\npartial_note = "A partial extract."\n', encoding="utf-8")
    proc = cablearchive("reclean", "--archive", str(archive), "--rules", str(rules))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"offset {offset}" in proc.stdout + proc.stderr
    assert set(snapshot(archive)) == set(before)


def test_import_names_file_and_offset_and_imports_the_rest(tmp_path: Path) -> None:
    src = build_archive(tmp_path / "src")
    (warc,) = warc_files(src)
    copy = tmp_path / "other.warc.gz"
    copy.write_bytes(Path(warc).read_bytes())
    offset = _flip_in(copy, 0)
    proc = cablearchive("import-warc", "--archive", str(tmp_path / "a"), str(copy))
    assert proc.returncode == 1
    assert f"{copy}: bad record at offset {offset}: gzip member damaged" in proc.stderr
    # No reader's error text without the file it is about.
    assert all(str(copy) in line for line in proc.stderr.splitlines() if "rror" in line)
    assert len(snapshot(tmp_path / "a")) == len(cablegate_pages()) - 1


# ----------------------------------------------------------------------------- captures in any order


def _capture_pair(arch: Archive, order: list[tuple[Path, str]]) -> None:
    with arch.writer(kind="import") as w:
        for page, when in order:
            body = page.read_bytes()
            cap = w.add_capture(URL, 200, html_headers(), body, fetched_at=when)
            w.record(cap, clean_page(body, url=URL, headers=html_headers()))


def _texts() -> tuple[str, str]:
    return (
        clean_page(OLD_PAGE.read_bytes(), url=URL).cables[0].text,
        clean_page(NEW_PAGE.read_bytes(), url=URL).cables[0].text,
    )


def test_an_older_capture_in_the_same_run_never_becomes_current(tmp_path: Path) -> None:
    old_text, new_text = _texts()
    arch = Archive.create(tmp_path / "a")
    _capture_pair(arch, [(NEW_PAGE, "2011-02-01T10:00:00Z"), (OLD_PAGE, "2010-12-08T10:00:00Z")])
    rec = arch.cable(REF)
    assert rec.text() == new_text and rec.source(source_key(URL))[0] == new_text
    prov = json.loads(rec.read(source_json(source_key(URL))))
    assert [e["fetched_at"] for e in prov["earlier"]] == ["2010-12-08T10:00:00Z"]
    assert old_text != new_text
    arch.close()


def test_a_late_older_capture_joins_the_record_and_stays_there(tmp_path: Path) -> None:
    _old_text, new_text = _texts()
    arch = Archive.create(tmp_path / "a")
    _capture_pair(arch, [(NEW_PAGE, "2011-02-01T10:00:00Z")])
    _capture_pair(arch, [(OLD_PAGE, "2010-12-08T10:00:00Z")])
    rec = arch.cable(REF)
    assert [rec.text(v.number) for v in rec.versions] == [new_text, new_text]
    assert "older capture" in rec.versions[-1].message and "not current" in rec.versions[-1].message
    # The same older capture again: nothing new to record.
    _capture_pair(arch, [(OLD_PAGE, "2010-12-08T10:00:00Z")])
    assert len(arch.cable(REF).versions) == 2
    # A newer capture with a new text becomes current and keeps the record of the earlier one.
    _capture_pair(arch, [(OLD_PAGE, "2012-01-01T00:00:00Z")])
    rec = arch.cable(REF)
    assert rec.text() == _texts()[0]
    prov = json.loads(rec.read(source_json(source_key(URL))))
    assert [e["fetched_at"] for e in prov["earlier"]] == ["2010-12-08T10:00:00Z"]
    arch.close()


def test_no_earlier_list_when_captures_arrive_in_order(tmp_path: Path) -> None:
    arch = Archive.create(tmp_path / "a")
    _capture_pair(arch, [(OLD_PAGE, "2010-12-08T10:00:00Z")])
    _capture_pair(arch, [(NEW_PAGE, "2011-02-01T10:00:00Z")])
    prov = json.loads(arch.cable(REF).read(source_json(source_key(URL))))
    assert "earlier" not in prov
    arch.close()
