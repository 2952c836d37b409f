"""The archive commands: list, show, log, search, export, verify, reindex, import-warc."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive import Archive
from cleaners import clean_page
from crawler.cli import main

from archive_support import FIXTURES, cablegate_pages, ocfl_validate, warc_files, warcio_check


def foreign_warc(path, pages, *, corrupt_after=None):
    """A WARC as another crawler writes it: gzip-encoded and chunked bodies, requests, an image, a bad record."""
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        w.write_record(w.create_warcinfo_record(os.path.basename(path), {"software": "Wget/1.21.3"}))
        for i, (url, body) in enumerate(pages):
            headers = [("Content-Type", "text/html; charset=UTF-8")]
            payload = body
            if i % 2 == 1:  # a gzip-encoded response, stored as received
                payload = gzip.compress(body)
                headers.append(("Content-Encoding", "gzip"))
            headers.append(("Content-Length", str(len(payload))))
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            w.write_record(
                w.create_warc_record(
                    url, "response", payload=io.BytesIO(payload), length=len(payload), http_headers=http
                )
            )
            req = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example")], is_http_request=True)
            w.write_record(
                w.create_warc_record(url, "request", payload=io.BytesIO(b""), length=0, http_headers=req)
            )
            if corrupt_after == i:
                fh.write(b"\x1f\x8b\x08\x00" + b"this is not a gzip member at all" * 20)
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        http = StatusAndHeaders(
            "200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(png)))], protocol="HTTP/1.1"
        )
        w.write_record(
            w.create_warc_record(
                "https://img.example.org/a.png",
                "response",
                payload=io.BytesIO(png),
                length=len(png),
                http_headers=http,
            )
        )


@pytest.fixture
def archive_dir(tmp_path):
    return str(tmp_path / "arch")


def test_import_warc_archives_the_cleaners_texts_and_reimport_adds_nothing(tmp_path, archive_dir, capsys):
    pages = [(u, b) for u, b, _ in cablegate_pages()]
    src = str(tmp_path / "crawl.warc.gz")
    foreign_warc(src, pages, corrupt_after=1)
    assert main(["import-warc", src, "--archive", archive_dir]) == 1  # the bad record is reported
    err = capsys.readouterr().err
    assert "crawl.warc.gz: bad record at offset" in err and "5 captures imported" in err
    arch = Archive.open(archive_dir)
    for url, body in pages:
        for c in clean_page(body, url=url).cables:
            assert arch.cable(c.reference_id).text() == c.text
            assert arch.cable(c.reference_id).head == 1
    assert len(list(arch.list_cables())) == 5
    run = next(r for r in arch.runs() if r["kind"] == "import")
    assert run["counts"]["failures"] == 1 and run["errors"]
    assert arch.verify().ok and ocfl_validate(archive_dir).returncode == 0
    assert warcio_check(warc_files(archive_dir)).returncode == 0
    # Again: nothing new.
    assert main(["import-warc", src, "--archive", archive_dir]) == 1
    err = capsys.readouterr().err
    assert "0 captures imported, 5 already in the archive" in err and "0 new, 0 changed" in err
    assert all(c.head == 1 for c in arch.list_cables())


def test_import_warc_of_missing_file_is_a_usage_error(archive_dir, capsys):
    assert main(["import-warc", "/nonexistent.warc.gz", "--archive", archive_dir]) == 2
    assert "/nonexistent.warc.gz: no such file" in capsys.readouterr().err


@pytest.fixture
def filled(tmp_path, archive_dir):
    pages = [(u, b) for u, b, _ in cablegate_pages()]
    hist = FIXTURES / "history"
    src = str(tmp_path / "in.warc.gz")
    foreign_warc(src, pages)
    assert main(["import-warc", src, "--archive", archive_dir]) == 0
    url = "https://cablegate.wikileaks.org/cable/2006/01/06MADRID76.html"
    later = str(tmp_path / "later.warc.gz")
    foreign_warc(later, [(url, (hist / "2_e3c2ca35.html").read_bytes())])
    assert main(["import-warc", later, "--archive", archive_dir]) == 0
    return archive_dir


def test_list_show_log_search(filled, capsys):
    capsys.readouterr()
    assert main(["list", "--archive", filled]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 5 and "5 cables" in out.err
    assert main(["list", "--json", "--archive", filled]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["ref"]: r["head"] for r in rows}["06MADRID76"] in (1, 2)
    assert main(["show", "00HARARE6677", "--archive", filled]) == 0
    text = capsys.readouterr().out
    assert "TSVANGIRAI" in text
    assert main(["show", "00HARARE6677", "--json", "--archive", filled]) == 0
    shown = json.loads(capsys.readouterr().out)
    key = shown["metadata"]["preferred"]["source"]
    assert main(["show", "00HARARE6677", "--source", key, "--json", "--archive", filled]) == 0
    assert json.loads(capsys.readouterr().out)["provenance"]["key"] == key
    assert main(["log", "00HARARE6677", "--archive", filled]) == 0
    log = capsys.readouterr().out
    assert log.startswith("v1  ") and "import " in log and "new source" in log and "with rules" in log
    assert main(["log", "00HARARE6677", "--json", "--archive", filled]) == 0
    entries = json.loads(capsys.readouterr().out)["versions"]
    assert entries[0]["sources"][0]["capture"]["warc_file"].endswith(".warc.gz")
    assert main(["search", "Tsvangirai", "--archive", filled]) == 0
    assert capsys.readouterr().out.startswith("00HARARE6677")
    assert main(["show", "99NOSUCHCABLE1", "--archive", filled]) == 1
    assert "no such cable" in capsys.readouterr().err
    assert main(["show", "../../etc", "--archive", filled]) == 2
    # One code per problem in every command (exits.py): a missing version 1, a missing archive 1.
    assert main(["show", "00HARARE6677", "--version", "9", "--archive", filled]) == 1
    assert main(["list", "--archive", filled + "-missing"]) == 1


def test_log_shows_the_changed_version(tmp_path, capsys):
    hist = FIXTURES / "history"
    url = "https://cablegate.wikileaks.org/cable/2006/01/06MADRID76.html"
    archive_dir = str(tmp_path / "arch")
    for build in ("1_fbad4962", "2_e3c2ca35"):
        src = str(tmp_path / f"{build}.warc.gz")
        foreign_warc(src, [(url, (hist / f"{build}.html").read_bytes())])
        assert main(["import-warc", src, "--archive", archive_dir]) == 0
    capsys.readouterr()
    assert main(["log", "06MADRID76", "--archive", archive_dir]) == 0
    out = capsys.readouterr().out
    assert "v2  " in out and ": 1 changed" in out and "text changed: cablegate.wikileaks.org-" in out
    assert "preferred text changed" in out.split("v2  ")[1]


def test_export_jsonl_and_warc(filled, tmp_path, capsys):
    out = str(tmp_path / "cables.jsonl")
    assert main(["export", "--format", "jsonl", "--out", out, "--archive", filled]) == 0
    lines = [json.loads(line) for line in Path(out).read_text().splitlines()]
    arch = Archive.open(filled)
    assert {d["reference_id"]: d["text"] for d in lines} == {
        c.ref: arch.cable(c.ref).text() for c in arch.list_cables()
    }
    wout = str(tmp_path / "cables.warc.gz")
    assert main(["export", "--format", "warc", "00HARARE6677", "--out", wout, "--archive", filled]) == 0
    assert warcio_check([wout]).returncode == 0
    from warcio.archiveiterator import ArchiveIterator

    with open(wout, "rb") as fh:
        types = [r.rec_type for r in ArchiveIterator(fh)]
    assert types[:3] == ["warcinfo", "resource", "metadata"] and "response" in types
    # The exported WARC imports into a new archive with the same text.
    other = str(tmp_path / "other")
    assert main(["import-warc", wout, "--archive", other]) == 0
    assert Archive.open(other).cable("00HARARE6677").text() == arch.cable("00HARARE6677").text()


def test_verify_and_reindex_commands(filled, capsys):
    assert main(["verify", "--archive", filled]) == 0
    assert "verifies" in capsys.readouterr().err
    assert main(["reindex", "--archive", filled]) == 0
    assert "reindexed 5 cables" in capsys.readouterr().err
    assert main(["reindex", "--from-warc", "--archive", filled]) == 0
    obj = os.path.join(filled, "cables", "00HARARE6677")
    inv = json.loads(Path(os.path.join(obj, "inventory.json")).read_text())
    victim = os.path.join(obj, next(iter(inv["manifest"].values()))[0])
    with open(victim, "ab") as fh:
        fh.write(b"tampered")
    capsys.readouterr()
    assert main(["verify", "--archive", filled]) == 1
    captured = capsys.readouterr()
    assert f"BAD {victim}: content digest mismatch" in captured.out and "1 problem" in captured.err
    assert main(["verify", "--json", "--archive", filled]) == 1
    assert json.loads(capsys.readouterr().out)["problems"][0]["path"] == victim
