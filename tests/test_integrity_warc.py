"""WARC files in and out: a damaged record is refused and named, import order never rewrites history,
revisits replay, and an export is a valid WACZ."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import random
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from archive import Archive, source_key
from cleaners import clean_page

from archive_support import cablegate_pages, html_headers, warc_files
from integrity_support import (
    build_archive,
    gzip_members,
    member_bytes,
    record_block,
    rewrite_record,
    snapshot,
)
from mockserver import cablearchive, settings_args

HISTORY = Path(__file__).parent / "fixtures" / "archive" / "history"
OLD_PAGE, NEW_PAGE = HISTORY / "1_fbad4962.html", HISTORY / "2_e3c2ca35.html"
HISTORY_URL = "https://cablegate.wikileaks.org/cable/2006/01/06MADRID76.html"


# `cablearchive export --format warc` of an archive of the fixture cablegate pages, kept as a file
# so that the byte offsets damaged below are the same on every run.
EXPORT = Path(__file__).parent / "fixtures" / "integrity" / "export.warc.gz"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The exported WARC, and what a clean import of it gives."""
    root = tmp_path_factory.mktemp("exported")
    warc = EXPORT
    whole = root / "whole"
    proc = cablearchive("import-warc", "--archive", str(whole), str(warc))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    truth = snapshot(whole)
    assert len(truth) == len(cablegate_pages())
    return {"warc": warc, "truth": truth, "members": gzip_members(warc)}


def _import(archive: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return cablearchive("import-warc", "--archive", str(archive), *map(str, files))


def _nothing_cut(archive: Path, truth: dict[str, Any]) -> list[str]:
    """Sources or preferred texts in `archive` that differ from the uncut import (cut or altered)."""
    if not (archive / "cablearchive.json").exists():
        return []
    wrong = []
    for ref, cable in snapshot(archive).items():
        if ref not in truth:
            wrong.append(f"{ref}: not a cable of the WARC")
            continue
        for key, text in cable["sources"].items():
            if text != truth[ref]["sources"].get(key):
                wrong.append(f"{ref} {key}: {len(text)} of {len(truth[ref]['sources'].get(key) or '')} chars")
        if cable["text"] != truth[ref]["text"]:
            wrong.append(f"{ref}: preferred text differs")
    return wrong


def _responses(members: list[Any]) -> list[Any]:
    return [m for m in members if m.rec_type == "response"]


# ----------------------------------------------------------------------------- 2. cut and inconsistent records


def test_a_truncated_warc_is_refused_with_nothing_cut_archived(
    exported: dict[str, Any], tmp_path: Path
) -> None:
    data = exported["warc"].read_bytes()
    # `head -c N` at points inside each response record's gzip member.
    cuts = [m.start + (m.end - m.start) * f // 4 for m in _responses(exported["members"]) for f in (1, 3)]
    failures = []
    for n in cuts:
        cut = tmp_path / f"head-c-{n}.warc.gz"
        cut.write_bytes(data[:n])
        archive = tmp_path / f"a{n}"
        proc = _import(archive, cut)
        wrong = _nothing_cut(archive, exported["truth"])
        if proc.returncode != 1 or "bad record" not in proc.stderr or wrong:
            failures.append(
                f"head -c {n}: exit {proc.returncode}, cut texts {wrong}, said {proc.stderr[-200:]!r}"
            )
    assert not failures, "\n".join(failures)


def _damaged(exported: dict[str, Any], tmp_path: Path, how: str) -> tuple[Path, Any]:
    """The export with one response record made inconsistent with itself in one way."""
    warc: Path = exported["warc"]
    members = exported["members"]
    target = _responses(members)[1]
    old = member_bytes(warc, target)
    _head, block = record_block(old)
    http_head, _, payload = block.partition(b"\r\n\r\n")
    cut_payload = payload[: len(payload) // 3]
    if how == "payload-digest":
        # The body altered (cut), its WARC-Payload-Digest and Block-Digest kept.
        new = rewrite_record(old, block=http_head + b"\r\n\r\n" + cut_payload)
    elif how == "content-length":
        # The record says it is longer than the block it carries; digests dropped.
        new = rewrite_record(
            old,
            block=http_head + b"\r\n\r\n" + cut_payload,
            fix_length=False,
            WARC_Payload_Digest="",
            WARC_Block_Digest="",
        )
    elif how.startswith("gzip-member"):
        # The record's gzip member ends early (cut compressed stream), the next member follows.
        num, den = (int(x) for x in how.rsplit("-", 1)[1].split("of"))
        new = old[: len(old) * num // den]
    elif how == "http-content-length":
        # A capture whose HTTP Content-Length says more than the body holds (a cut download).
        cut_head = http_head.replace(b"Content-Length: ", b"X-Was-Content-Length: ") + (
            f"\r\nContent-Length: {len(payload)}".encode()
        )
        digest = "sha1:" + base64.b32encode(hashlib.sha1(cut_payload).digest()).decode()
        new = rewrite_record(old, block=cut_head + b"\r\n\r\n" + cut_payload, WARC_Payload_Digest=digest)
        new = rewrite_record(new, WARC_Block_Digest="")
    else:  # pragma: no cover
        raise AssertionError(how)
    data = warc.read_bytes()
    out = tmp_path / f"{how}.warc.gz"
    out.write_bytes(data[: target.start] + new + data[target.end :])
    return out, target


@pytest.mark.parametrize(
    "how",
    [
        "payload-digest",
        "content-length",
        "gzip-member-1of3",
        "gzip-member-1of2",
        "gzip-member-2of3",
        "gzip-member-5of6",
        "http-content-length",
    ],
)
def test_a_record_inconsistent_with_itself_is_refused(
    exported: dict[str, Any], tmp_path: Path, how: str
) -> None:
    damaged, target = _damaged(exported, tmp_path, how)
    archive = tmp_path / "a"
    proc = _import(archive, damaged)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"offset {target.start}" in proc.stderr, proc.stderr
    assert not _nothing_cut(archive, exported["truth"])
    # Everything else of the file is imported.
    with Archive.open(archive) as arch:
        kept = {c.ref for c in arch.list_cables()}
    assert len(kept) >= len(exported["truth"]) - 1


class _CutGzipHandler(BaseHTTPRequestHandler):
    """Serves a cable page gzip-encoded, its compressed stream cut by the server (Content-Length agrees)."""

    body = b""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        status = 200
        if self.path == "/robots.txt":
            data, extra = b"User-agent: *\n", {}
        elif self.path.startswith("/cable/"):
            comp = zlib.compressobj(9, zlib.DEFLATED, 31)
            whole = comp.compress(self.body) + comp.flush()
            data, extra = whole[: len(whole) * 4 // 5], {"Content-Encoding": "gzip"}
        else:
            status, data, extra = 404, b"not found", {}
        self.send_response(status)
        self.send_header(
            "Content-Type", "text/plain" if self.path == "/robots.txt" else "text/html; charset=utf-8"
        )
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def cut_server() -> Iterator[str]:
    _url, body, _text = cablegate_pages()[0]
    handler = type("CutGzip", (_CutGzipHandler,), {"body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="a crawl response whose body the server cut (a gzip stream ending early) is archived as a "
    "complete page and its cable with part of its text",
)
def test_a_crawl_response_cut_by_the_server_archives_nothing(cut_server: str, tmp_path: Path) -> None:
    ref = Path(cablegate_pages()[0][0]).stem
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{cut_server}/cable/2000/11/{ref}.html\n", encoding="utf-8")
    archive = tmp_path / "a"
    proc = cablearchive("crawl", str(seeds), "--archive", str(archive), "--depth", "0", *settings_args())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ref in proc.stdout + proc.stderr or "cut" in proc.stdout + proc.stderr
    with Archive.open(archive) as arch:
        assert not arch.has_cable(ref), arch.cable(ref).text()[-200:]


# ----------------------------------------------------------------------------- 9. single-byte flips


@pytest.mark.slow
def test_single_byte_flips_are_named_and_the_rest_is_imported(
    exported: dict[str, Any], tmp_path: Path
) -> None:
    warc: Path = exported["warc"]
    data = warc.read_bytes()
    rng = random.Random(9)
    members = [m for m in exported["members"] if m.rec_type in ("response", "resource")]
    failures = []
    for i in range(12):
        m = members[i % len(members)]
        # Inside the compressed data: past the 10-byte gzip header, before the 8-byte trailer.
        pos = rng.randrange(m.start + 10, m.end - 8)
        flipped = bytearray(data)
        flipped[pos] ^= 1 << rng.randrange(8)
        f = tmp_path / f"flip-{pos}.warc.gz"
        f.write_bytes(bytes(flipped))
        archive = tmp_path / f"a{pos}"
        proc = _import(archive, f)
        wrong = _nothing_cut(archive, exported["truth"])
        kept = set(snapshot(archive)) if (archive / "cablearchive.json").exists() else set()
        named = str(f) in proc.stderr and f"offset {m.start}" in proc.stderr
        if proc.returncode != 1 or not named or wrong or len(kept) < len(exported["truth"]) - 1:
            failures.append(
                f"flip at {pos} (record at {m.start}, {m.rec_type}): exit {proc.returncode}, named {named}, "
                f"kept {len(kept)}/{len(exported['truth'])}, wrong {wrong}"
            )
    assert not failures, "\n".join(failures)


# ----------------------------------------------------------------------------- 3. import order


def _history_warcs(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """Two WARCs of one URL: the older build captured in 2010, the newer one in 2011."""
    out = []
    texts = []
    for name, page, when in (
        ("old", OLD_PAGE, "2010-12-08T10:00:00Z"),
        ("new", NEW_PAGE, "2011-02-01T10:00:00Z"),
    ):
        body = page.read_bytes()
        arch = Archive.create(tmp_path / f"src-{name}")
        with arch.writer(kind="crawl") as w:
            cap = w.add_capture(HISTORY_URL, 200, html_headers(), body, fetched_at=when)
            w.record(cap, clean_page(body, url=HISTORY_URL, headers=html_headers()))
        arch.close()
        (warc,) = warc_files(tmp_path / f"src-{name}")
        out.append(Path(warc))
        texts.append(clean_page(body, url=HISTORY_URL).cables[0].text)
    assert texts[0] != texts[1]
    return out[0], out[1], texts[0], texts[1]


def test_a_late_older_capture_never_becomes_current(tmp_path: Path) -> None:
    old_warc, new_warc, _old_text, new_text = _history_warcs(tmp_path)
    ref = "06MADRID76"
    archive = tmp_path / "a"
    assert _import(archive, new_warc).returncode == 0
    proc = _import(archive, old_warc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    show = cablearchive("show", ref, "--archive", str(archive))
    assert show.stdout.rstrip("\n") == new_text.rstrip("\n"), "show: the older capture's text became current"
    source = cablearchive("show", ref, "--archive", str(archive), "--json")
    assert json.loads(source.stdout)["text"] == new_text
    with Archive.open(archive) as arch:
        rec = arch.cable(ref)
        assert rec.source(source_key(HISTORY_URL))[0] == new_text
        # No version ever made the older text current after the newer one.
        assert all(rec.text(v.number) == new_text for v in rec.versions)
    diff = cablearchive("diff", ref, "--archive", str(archive), "--format", "json")
    assert diff.returncode in (0, 1) and "unredact" not in diff.stdout.lower(), diff.stdout[:500]
    log = cablearchive("log", ref, "--archive", str(archive), "--json")
    messages = [v["message"] for v in json.loads(log.stdout)["versions"]]
    assert len(messages) <= 1 or any("older" in m or "earlier" in m for m in messages[1:]), messages


def test_newest_capture_stays_current_when_imported_last(tmp_path: Path) -> None:
    # The order in which history happened: the baseline that must keep holding.
    old_warc, new_warc, _old_text, new_text = _history_warcs(tmp_path)
    archive = tmp_path / "a"
    assert _import(archive, old_warc).returncode == 0
    assert _import(archive, new_warc).returncode == 0
    show = cablearchive("show", "06MADRID76", "--archive", str(archive))
    assert show.stdout.rstrip("\n") == new_text.rstrip("\n")


# ----------------------------------------------------------------------------- 7. revisits replay


def _replay(archive: Path, line: dict[str, Any]) -> tuple[int, bytes]:
    """What a standard replay tool shows for a CDXJ entry: status and headers from the indexed record
    (a revisit's own HTTP headers), payload from the record it refers to."""
    from warcio.archiveiterator import ArchiveIterator

    def load(filename: str, offset: int) -> Any:
        fh = open(archive / "captures" / filename, "rb")  # noqa: SIM115 - read inside the iterator
        fh.seek(offset)
        rec = next(iter(ArchiveIterator(fh)))
        return rec, fh

    rec, fh = load(line["filename"], int(line["offset"]))
    status = int(rec.http_headers.get_statuscode()) if rec.http_headers else 0
    length = rec.http_headers.get_header("Content-Length") if rec.http_headers else None
    if rec.rec_type == "revisit":
        uri = rec.rec_headers.get_header("WARC-Refers-To-Target-URI")
        date = rec.rec_headers.get_header("WARC-Refers-To-Date")
        fh.close()
        assert uri and date, f"revisit of {line['url']} lacks WARC-Refers-To-Target-URI/-Date"
        with Archive.open(archive) as arch:
            originals = [
                c
                for c in arch.captures(newest_per_url=False)
                if not c.revisit and c.url == uri and c.fetched_at == date
            ]
        assert originals, f"revisit of {line['url']}: no response at {uri} {date}"
        orig, fh = load(Path(originals[0].warc_file).name, originals[0].offset)
        body = orig.content_stream().read()
    else:
        body = rec.content_stream().read()
    fh.close()
    if length is not None and int(length) != len(body):
        body = body[: int(length)]  # a client reads Content-Length bytes
    return status, body


@pytest.fixture(scope="module")
def recrawled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An archive crawled twice, as the crawler stores it: the second time every page answered 304,
    and one page appeared at a second URL with an identical payload."""
    path = tmp_path_factory.mktemp("revisits") / "a"
    pages = cablegate_pages()[:3]
    arch = Archive.create(path)
    with arch.writer(kind="crawl") as w:
        for url, body, _ in pages:
            w.record(
                w.add_capture(url, 200, html_headers(), body, fetched_at="2025-01-01T00:00:00Z"),
                clean_page(body, url=url),
            )
    with arch.writer(kind="crawl") as w:
        for url, _body, _ in pages:
            w.add_capture(url, 304, [("ETag", '"v1"')], b"", fetched_at="2025-02-01T00:00:00Z")
        url, body, _ = pages[0]
        copy = url.replace("cablegate.wikileaks.org", "mirror.example.org")
        w.record(
            w.add_capture(copy, 200, html_headers(), body, fetched_at="2025-02-01T00:00:01Z"),
            clean_page(body, url=copy),
        )
    arch.close()
    lines = []
    for raw in (path / "captures" / "index.cdxj").read_text(encoding="utf-8").splitlines():
        _key, _ts, js = raw.split(" ", 2)
        lines.append(json.loads(js))
    return {"path": path, "lines": lines, "pages": {u: b for u, b, _ in pages}}


def test_revisit_records_carry_their_refers_to_fields(recrawled: dict[str, Any]) -> None:
    revisits = 0
    for f in warc_files(recrawled["path"]):
        from warcio.archiveiterator import ArchiveIterator

        with open(f, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == "revisit":
                    revisits += 1
                    h = rec.rec_headers
                    assert h.get_header("WARC-Refers-To-Target-URI") and h.get_header("WARC-Refers-To-Date")
                    assert h.get_header("WARC-Refers-To") and h.get_header("WARC-Profile")
    assert revisits == 4


def test_every_index_entry_replays_as_the_page(recrawled: dict[str, Any]) -> None:
    bad = []
    for line in recrawled["lines"]:
        url = line["url"]
        expected = (
            recrawled["pages"].get(url)
            or recrawled["pages"][url.replace("mirror.example.org", "cablegate.wikileaks.org")]
        )
        status, body = _replay(recrawled["path"], line)
        if status != 200 or body != expected:
            bad.append(
                f"{url} @{line['fetched_at']} ({line.get('revisit')}): HTTP {status}, {len(body)} bytes"
            )
    assert not bad, bad


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(
    not os.environ.get("CABLEARCHIVE_PYWB"),
    reason="pywb pins redis<3 and cannot share the project's environment: set CABLEARCHIVE_PYWB to the "
    "`wayback` command of a separate pywb install to replay through it",
)
def test_pywb_replays_every_index_entry_as_the_page(recrawled: dict[str, Any], tmp_path: Path) -> None:
    import shutil
    import time
    import urllib.error
    import urllib.request

    wayback = os.environ["CABLEARCHIVE_PYWB"]
    coll = tmp_path / "collections" / "cables"
    (coll / "archive").mkdir(parents=True)
    (coll / "indexes").mkdir()
    for f in warc_files(recrawled["path"]):
        shutil.copy(f, coll / "archive")
    # Our own index, sorted as pywb reads it: the revisits resolve by their mime warc/revisit.
    lines = (recrawled["path"] / "captures" / "index.cdxj").read_text(encoding="utf-8").splitlines()
    (coll / "indexes" / "index.cdxj").write_text("\n".join(sorted(lines)) + "\n", encoding="utf-8")
    port = _free_port()
    server = subprocess.Popen(
        [wayback, "-p", str(port), "-b", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        bad = []
        for raw in sorted(lines):
            _key, ts, js = raw.split(" ", 2)
            url = json.loads(js)["url"]
            expected = (
                recrawled["pages"].get(url)
                or recrawled["pages"][url.replace("mirror.example.org", "cablegate.wikileaks.org")]
            )
            for _ in range(100):  # the server takes a moment to start
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/cables/{ts}id_/{url}") as r:
                        status, body = r.status, r.read()
                    break
                except urllib.error.HTTPError as exc:
                    status, body = exc.code, exc.read()
                    break
                except OSError:
                    time.sleep(0.2)
            else:
                pytest.fail("pywb did not start")
            if status != 200 or body != expected:
                bad.append(f"{url} @{ts}: HTTP {status}, {len(body)} bytes")
        assert not bad, bad
    finally:
        server.terminate()
        server.wait(timeout=30)


# ----------------------------------------------------------------------------- WACZ


@pytest.mark.skipif(importlib.util.find_spec("wacz") is None, reason="the wacz package needs Python 3.11+")
def test_export_wacz_is_valid(tmp_path: Path) -> None:
    import zipfile

    archive = build_archive(tmp_path / "a")
    out = tmp_path / "cables.wacz"
    proc = cablearchive("export", "--archive", str(archive), "--format", "wacz", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        assert {"datapackage.json", "pages/pages.jsonl"} <= names
        assert any(n.startswith("indexes/") and n.endswith(".cdxj") for n in names)
        assert any(n.startswith("archive/") and n.endswith(".warc.gz") for n in names)
        package = json.loads(z.read("datapackage.json"))
        assert package.get("wacz_version") == "1.1.1"
        pages = [json.loads(x) for x in z.read("pages/pages.jsonl").decode().splitlines()[1:]]
    assert {p["url"] for p in pages} >= {u for u, _b, _t in cablegate_pages()}
    exe = Path(sys.executable).with_name("wacz")
    check = subprocess.run(
        [str(exe), "validate", "-f", str(out)], capture_output=True, text=True, timeout=300
    )
    assert check.returncode == 0, check.stdout + check.stderr
