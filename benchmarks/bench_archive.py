"""Archive throughput and size on a synthetic archive made from the corpus's cablegate pages.

Each synthetic cable is a real cablegate page whose reference ID is rewritten (in the page
and in the cleaned text), so payloads differ like real pages do. The cleaner runs once per
corpus page; the benchmark measures the archive, not the cleaner.

Phases: a crawl storing every page and its cable (cables/s; target: little next to a bare
fetch), a re-clean giving the same output (no version), a re-clean where every text changes
(new versions/s; target ~420/s, the share of a 15 min full re-clean left after cleaning),
reindex, sizes against gzip of the raw pages (target 1.3x) with what takes the room, and
import-warc of the corpus. CPU is shown as user + system time: on a file system slow to
allocate inodes (ext4 after many recent deletions) the system part dominates.

    python benchmarks/bench_archive.py --cables 20000      # a smaller run
    python benchmarks/bench_archive.py                      # 251,287 cables (needs ~25 GB, ~1 h)
"""

from __future__ import annotations

import argparse
import copy
import gzip
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive import Archive
from cleaners import clean_page

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "cablegate"
HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Server", "nginx")]


def tree_size(path: str) -> tuple[int, int]:
    """(apparent bytes, allocated bytes) of everything under path, each file counted once however many links it has."""
    apparent = allocated = 0
    seen: set[int] = set()
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            st = os.stat(os.path.join(dirpath, f))
            if st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return apparent, allocated


def breakdown(path: str) -> dict[str, int]:
    """Bytes of each kind of file in an archive (hard links counted once), and the file and folder counts."""
    import sqlite3

    from warcio.archiveiterator import ArchiveIterator

    out: dict[str, int] = {}

    def add(kind: str, n: int) -> None:
        out[kind] = out.get(kind, 0) + n

    caps = os.path.join(path, "captures")
    for name in os.listdir(caps):
        full = os.path.join(caps, name)
        if not name.endswith(".warc.gz"):
            add(f"captures/{name}", os.path.getsize(full))
            continue
        with open(full, "rb") as fh:
            it = ArchiveIterator(fh)
            for rec in it:
                rec.raw_stream.read()
                add(f"WARC {rec.rec_type} records", it.get_record_length())
    seen: set[int] = set()
    for dirpath, _dirs, files in os.walk(os.path.join(path, "cables")):
        add("folders in cables/", 1)
        for f in files:
            st = os.stat(os.path.join(dirpath, f))
            if st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            add("files in cables/", 1)
            if f.startswith("inventory.json"):
                kind = "OCFL inventories and sidecars"
            elif f == "cable.txt" or f.endswith(".txt"):
                kind = "cable and source texts"
            elif f == "cable.json":
                kind = "cable.json"
            elif f.endswith(".json"):
                kind = "sources/<key>.json"
            else:
                kind = "other OCFL files"
            add(kind, st.st_size)
    conn = sqlite3.connect(os.path.join(path, "index.sqlite"))
    try:
        for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            add("index: full text" if name.startswith("fts") else "index: tables", size)
    except sqlite3.Error:
        add("index.sqlite", os.path.getsize(os.path.join(path, "index.sqlite")))
    finally:
        conn.close()
    return out


def inodes(path: str) -> int:
    """Files and folders under path, a file with several names counted once."""
    seen: set[int] = set()
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            seen.add(os.stat(os.path.join(dirpath, name)).st_ino)
    return len(seen)


def report_size(path: str, gz_total: float, when: str) -> None:
    """Print the archive's size against gzip of the raw pages, and what takes the room."""
    caps_a, _caps_d = tree_size(os.path.join(path, "captures"))
    cab_a, cab_d = tree_size(os.path.join(path, "cables"))
    idx = os.path.getsize(os.path.join(path, "index.sqlite"))
    total_a, total_d = tree_size(path)
    print(
        f"size {when}: captures {caps_a / 1e6:.1f} MB, cables {cab_a / 1e6:.1f} MB "
        f"(on disk {cab_d / 1e6:.1f} MB), index {idx / 1e6:.1f} MB; total {total_a / 1e6:.1f} MB "
        f"(on disk {total_d / 1e6:.1f} MB)"
    )
    print(
        f"  gzip of the raw pages: {gz_total / 1e6:.1f} MB; archive/gzip = {total_a / gz_total:.2f}x "
        f"(on disk {total_d / gz_total:.2f}x; captures alone {caps_a / gz_total:.2f}x)"
    )
    parts = breakdown(path)
    for kind, size in sorted(parts.items(), key=lambda kv: -kv[1]):
        if not kind.startswith(("files ", "folders ")) and size:
            print(f"    {kind:32s} {size / 1e6:9.1f} MB  {size / gz_total:5.2f}x")


class Clock:
    """Wall, user and system time of a phase."""

    def __init__(self) -> None:
        self.t, self.o = time.perf_counter(), os.times()

    def figures(self, n: int, what: str) -> str:
        """`N what in S s, R/s (user U ms + system Y ms each)`."""
        el, o = time.perf_counter() - self.t, os.times()
        return (
            f"{n} {what} in {el:.1f} s, {n / el:.0f}/s "
            f"(CPU per item: user {(o.user - self.o.user) / n * 1e3:.2f} ms + system "
            f"{(o.system - self.o.system) / n * 1e3:.2f} ms)"
        )


def load_corpus(limit: int | None) -> list[tuple[str, bytes, object]]:
    """(ref, page, PageResult) of each corpus page with exactly one cable."""
    out = []
    for page in sorted(CORPUS.glob("pages/*.html"))[:limit]:
        body = page.read_bytes()
        res = clean_page(body, url=f"https://cablegate.wikileaks.org/cable/{page.stem}.html")
        if len(res.cables) == 1 and res.cables[0].reference_id == page.stem:
            out.append((page.stem, body, res))
    return out


def synthetic(corpus, i: int):
    """The i-th synthetic page: (url, body, PageResult) with a rewritten reference ID."""
    ref, body, res = corpus[i % len(corpus)]
    m = re.fullmatch(r"(\d{2}[A-Z][A-Z-]*?)(\d+)", ref)
    new_ref = f"{m.group(1)}{900000 + i}"
    new = copy.copy(res)
    c = copy.copy(res.cables[0])
    c.reference_id = new_ref
    c.text = c.text.replace(ref, new_ref)
    new.cables = [c]
    url = f"https://mirror{i % 50}.example.org/cable/{new_ref}.html"
    return url, body.replace(ref.encode(), new_ref.encode()), new


def import_corpus(work: str) -> None:
    """import-warc of a WARC holding every corpus cablegate page: texts must equal the cleaner's; a re-import adds nothing."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from archive.transfer import import_warcs

    src = os.path.join(work, "cablegate.warc.gz")
    pages = sorted(CORPUS.glob("pages/*.html"))
    with open(src, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for page in pages:
            body = page.read_bytes()
            http = StatusAndHeaders(
                "200 OK",
                [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
                protocol="HTTP/1.1",
            )
            url = f"https://cablegate.wikileaks.org/cable/{page.stem}.html"
            w.write_record(
                w.create_warc_record(
                    url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http
                )
            )
    arch = Archive.create(os.path.join(work, "imported"))
    t = time.perf_counter()
    first = import_warcs(arch, [src])
    el = time.perf_counter() - t
    wrong = 0
    for page in pages:
        url = f"https://cablegate.wikileaks.org/cable/{page.stem}.html"
        for c in clean_page(page.read_bytes(), url=url).cables:
            if c.reference_id and arch.cable(c.reference_id).text() != c.text:
                wrong += 1
    t = time.perf_counter()
    second = import_warcs(arch, [src])
    el2 = time.perf_counter() - t
    ok = arch.verify().ok
    print(
        f"import-warc of {len(pages)} cablegate pages: {el:.1f} s ({len(pages) / el:.0f} pages/s incl. cleaning), "
        f"{first.new} cables, {wrong} differ from the cleaner's output; re-import {el2:.1f} s: "
        f"{second.imported} captures, {second.new + second.changed} new versions; verify {'ok' if ok else 'FAILED'}"
    )
    arch.close()
    shutil.rmtree(os.path.join(work, "imported"))
    os.unlink(src)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cables", type=int, default=251287)
    ap.add_argument("--batch", type=int, default=1000, help="commit every N pages (default 1000)")
    ap.add_argument("--work", default=None, help="folder for the archive (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the archive afterwards")
    ap.add_argument("--corpus-pages", type=int, default=None, help="use only the first N corpus pages")
    ap.add_argument("--changed", type=int, default=20000, help="re-clean this many pages with changed texts")
    args = ap.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    t = time.perf_counter()
    corpus = load_corpus(args.corpus_pages)
    print(f"corpus: {len(corpus)} single-cable cablegate pages cleaned in {time.perf_counter() - t:.1f} s")
    work = args.work or tempfile.mkdtemp(prefix="bench-archive-")
    path = os.path.join(work, "archive")
    if os.path.exists(path):
        shutil.rmtree(path)
    n = args.cables

    # Baseline: the same pages gzipped (per page, level 6) and appended to one file.
    t = time.perf_counter()
    base_n = min(n, 20000)
    raw_gzip = 0
    with open(os.path.join(work, "baseline.gz"), "wb") as fh:
        for i in range(base_n):
            _url, body, _res = synthetic(corpus, i)
            data = gzip.compress(body, 6)
            raw_gzip += len(data)
            fh.write(data)
    base_rate = base_n / (time.perf_counter() - t)
    os.unlink(os.path.join(work, "baseline.gz"))

    arch = Archive.create(path)
    clock = Clock()
    with arch.writer(kind="crawl", args={"benchmark": True}) as w:
        for i in range(n):
            url, body, res = synthetic(corpus, i)
            cap = w.add_capture(url, 200, HEADERS, body)
            w.record(cap, res)
            if (i + 1) % args.batch == 0:
                w.commit()
            if (i + 1) % 20000 == 0:
                print(f"  {i + 1} cables, {(i + 1) / (time.perf_counter() - clock.t):.0f}/s", flush=True)
    # Gzip sizes were measured on the first base_n pages; scale to all (pages repeat in order).
    gz_total = raw_gzip * n / min(n, base_n)
    print(
        f"archive: {clock.figures(n, 'new cables')} "
        f"(baseline: gzip-append of the same pages {base_rate:.0f} pages/s)"
    )
    print(f"  files and folders created in cables/ per cable: {inodes(os.path.join(path, 'cables')) / n:.1f}")
    report_size(path, gz_total, "after the crawl")

    t = time.perf_counter()
    count = sum(1 for _ in arch.list_cables())
    print(f"list: {count} cables in {time.perf_counter() - t:.2f} s")

    t = time.perf_counter()
    caps = list(arch.captures())
    digest = caps[0].cleaned if caps else None
    todo = [c for c in caps if c.cleaned != digest]
    print(
        f"no-op reclean scan (captures + cleaned digests): {len(caps)} captures, {len(todo)} to clean, "
        f"{time.perf_counter() - t:.2f} s"
    )

    def result_of(cap):
        return synthetic(corpus, int(re.search(r"(\d+)\.html$", cap.url).group(1)) - 900000)[2]

    m = min(n, 50000)
    clock = Clock()
    with arch.writer(kind="reclean", args={"benchmark": "same output"}) as w:
        for i, cap in enumerate(caps[:m]):
            w.record(cap, result_of(cap))
            if (i + 1) % args.batch == 0:
                w.commit()
        versions = w.counts["versions"]
    print(f"record() of unchanged output: {clock.figures(m, 'pages')}, {versions} new versions")

    # Every text changes (as with new rules that change every cable): one new version per cable.
    from cleaners.model import RulesetInfo

    rules = RulesetInfo(name="default", version="default@999", digest="sha256:" + "9" * 64)
    m = min(n, args.changed)
    staged = []
    for cap in caps[:m]:
        res = copy.copy(result_of(cap))
        c = copy.copy(res.cables[0])
        c.text, c.ruleset = c.text + "END OF CABLE\n", rules
        res.cables, res.ruleset = [c], rules
        staged.append((cap, res))
    before = inodes(os.path.join(path, "cables"))
    clock = Clock()
    with arch.writer(kind="reclean", args={"benchmark": "every text changes"}) as w:
        for i, (cap, res) in enumerate(staged):
            w.record(cap, res)
            if (i + 1) % args.batch == 0:
                w.commit()
        w.commit()
        versions = w.counts["versions"]
    print(f"reclean with every text changed: {clock.figures(versions, 'new versions')}")
    after = inodes(os.path.join(path, "cables"))
    print(
        f"  files and folders created in cables/ per new version: {(after - before) / max(1, versions):.1f}"
    )
    report_size(path, gz_total, f"after {versions} of the {n} cables got a second version")

    arch.close()
    t = time.perf_counter()
    counts = Archive.open(path).reindex()
    print(
        f"reindex: {counts['cables']} cables, {counts['captures']} captures in {time.perf_counter() - t:.1f} s"
    )

    # Last: its archive is deleted, and mass deletions slow inode allocation for a while.
    import_corpus(work)
    if not args.keep and not args.work:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
