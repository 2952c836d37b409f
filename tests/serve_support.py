"""Shared by the `serve` tests: an archive built from fixtures, and `cablearchive serve` run on it."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from archive import Archive
from cleaners import clean_page

from archive_support import cable, html_headers, result

ROOT = Path(__file__).resolve().parent.parent
HISTORY = Path(__file__).parent / "fixtures" / "history"
HEADERS = [("Content-Type", "text/html; charset=utf-8")]
HARARE_URL = "http://mirror-a.example/cable/2010/02/10HARARE93.html"
MADRID_A = "http://mirror-a.example/cable/2006/01/06MADRID76.html"
MADRID_B = "http://mirror-b.example/06MADRID76.html"
# A cable whose text, subject and page hold markup that must show as text, never run.
XSS_REF = "10XSSPOST1"
XSS_URL = "http://hostile.example/cable/10XSSPOST1.html"
XSS_SCRIPT = "<script>alert('xss')</script>"
XSS_PAGE = (
    b"<html><head><title>Cable <script>alert('title')</script> page</title>"
    b"<link rel=stylesheet href='http://hostile.example/s.css'></head><body>"
    b"<h1>A hostile page</h1><script>document.title='scripted';alert('page')</script>"
    b"<img src='http://hostile.example/pixel.png' alt=pixel><pre>10XSSPOST1 text</pre></body></html>"
)
# A cable that cites two others: one archived (10HARARE93), one not (09NOWHERE1).
CITING_REF = "10CITING1"
CITING_URL = "http://mirror-a.example/cable/10CITING1.html"


def store_page(arch: Archive, url: str, rel: str) -> None:
    """One crawl run fetching one fixture page and archiving what the cleaner finds in it."""
    body = HISTORY.joinpath(rel).read_bytes()
    with arch.writer(kind="crawl") as w:
        cap = w.add_capture(url, 200, HEADERS, body)
        w.record(cap, clean_page(body, url=url, headers=HEADERS))


def build_archive(path: str | os.PathLike[str]) -> str:
    """An archive with two versions of 10HARARE93, two mirrors of 06MADRID76, a citing cable and a hostile one."""
    arch = Archive.create(path)
    store_page(arch, HARARE_URL, "10HARARE93/1_e3c2ca35.html")
    store_page(arch, HARARE_URL, "10HARARE93/2_7002a1b0.html")
    store_page(arch, MADRID_A, "06MADRID76/1_fbad4962.html")
    store_page(arch, MADRID_B, "06MADRID76/2_e3c2ca35.html")
    store_page(
        arch, "http://mirror-a.example/cable/2009/09/09LONDON2198.html", "09LONDON2198/1_9b83283d.html"
    )
    with arch.writer(kind="crawl") as w:
        citing = cable(
            CITING_REF,
            "UNCLAS SECTION 01 OF 01 CITING 1\n\nSUBJECT: A CABLE THAT CITES OTHERS\n\nREF: A. 10HARARE93 B. 09NOWHERE1\n\n"
            "1. (U) This cable refers to reftel A and reftel B.\n\n2. (U) Second paragraph.\n",
            subject="A CABLE THAT CITES OTHERS",
            classification="UNCLASSIFIED",
        )
        citing.origin = "Embassy Citing"
        citing.created = "2010-03-01 10:00"
        citing.tags = ["PREL", "ZI"]
        citing.references = [
            {"label": "A", "text": "10HARARE93", "kind": "cable", "id": "10HARARE93"},
            {"label": "B", "text": "09NOWHERE1", "kind": "cable", "id": "09NOWHERE1"},
        ]
        cap = w.add_capture(
            CITING_URL, 200, html_headers(), b"<html><body><pre>10CITING1</pre></body></html>"
        )
        w.record(cap, result(citing))
        hostile = cable(
            XSS_REF,
            f"SECRET\n\nSUBJECT: {XSS_SCRIPT} <b>bold</b>\n\n1. (S) The text holds {XSS_SCRIPT} and <img src=x onerror=alert(1)>.\n",
            subject=f"{XSS_SCRIPT} <b>bold</b>",
            classification="SECRET",
        )
        hostile.origin = "Embassy <i>Hostile</i>"
        hostile.created = "2010-02-02 02:02"
        cap = w.add_capture(XSS_URL, 200, HEADERS, XSS_PAGE)
        w.record(cap, result(hostile))
    arch.close()
    return os.fspath(path)


@dataclass
class Served:
    """A running `cablearchive serve`: its base URL and process."""

    url: str
    process: subprocess.Popen[str]

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of a GET, errors included."""
        try:
            with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=60) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@contextlib.contextmanager
def serve(archive_path: str, *extra: str) -> Iterator[Served]:
    """Run `cablearchive serve` on 127.0.0.1, port 0, until the block ends; yields its address."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "serve", "--archive", archive_path, "--port", "0", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        if not m:
            proc.wait(timeout=30)
            raise AssertionError(f"serve did not start: {line}{proc.stderr.read()}")
        served = Served(m.group(1), proc)
        deadline = time.monotonic() + 60
        while True:  # the socket is bound before the line is printed; wait for the app itself
            try:
                served.get("/robots.txt")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield served
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
