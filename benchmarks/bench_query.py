"""Query speed on a synthetic index of 251,287 cables: list pages with filters and sorting, facets,
full-text search with field terms, and the citation graph (archive.query).

The index is made by archive.index.write_cable, as a commit or reindex fills it, from synthetic
cable.json records (posts, dates, classifications, Zipf-distributed tags and words, references to
earlier cables, half of them archived). Each query kind runs on varied arguments and prints its
median and 95th percentile next to the baseline measured in the same run: the old `list` (every
row of the cables table) and a bare full-text match without filters, facets or counts. Counts
and facets are timed cold (their cache emptied before each call) unless marked cached.

    python benchmarks/bench_query.py                 # 251,287 cables (about 10 minutes to build)
    python benchmarks/bench_query.py --cables 20000  # a smaller run
    python benchmarks/bench_query.py --keep DIR      # keep (or reuse) the index in DIR
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive import index, query
from archive.index import Filters

POSTS = [
    ("STATE", "Secretary of State"),
    ("KABUL", "Embassy Kabul"),
    ("BAGHDAD", "Embassy Baghdad"),
    ("TELAVIV", "Embassy Tel Aviv"),
    ("ANKARA", "Embassy Ankara"),
    ("USUNNEWYORK", "Mission USUN New York"),
    ("RIODEJANEIRO", "Consulate Rio De Janeiro"),
] + [(f"POST{chr(65 + i // 26)}{chr(65 + i % 26)}", f"Embassy Post {i}") for i in range(260)]
CLASSIFICATIONS = [
    ("UNCLASSIFIED", 75),
    ("UNCLASSIFIED//FOR OFFICIAL USE ONLY", 58),
    ("CONFIDENTIAL", 97),
    ("CONFIDENTIAL//NOFORN", 4),
    ("SECRET", 11),
    ("SECRET//NOFORN", 4),
]


class Folder:
    """What archive.query needs of an archive: its index connection and its object folders."""

    def __init__(self, conn: sqlite3.Connection, root: str, index_path: str) -> None:
        self.conn = conn
        self.root = root
        self.index_path = index_path

    def object_dir(self, ref: str) -> str:
        """No objects: the benchmark times the index; snippets are timed on their own."""
        return os.path.join(self.root, "none", ref)


def zipf_words(rng: random.Random, n: int) -> list[str]:
    """A vocabulary of n made-up words."""
    syll = ["ka", "ri", "zo", "lem", "tar", "un", "pe", "dos", "mir", "gal", "vo", "sen", "ul", "tri"]
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(syll) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def build(path: str, n: int, seed: int = 7) -> None:
    """A synthetic index of n cables."""
    rng = random.Random(seed)
    vocab = [*zipf_words(rng, 6000), "karzai", "election", "recount", "nuclear", "sanctions"]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    tag_vocab = ["PREL", "PGOV", "ECON", "PHUM", "MARR", "KDEM", "PTER", "ETRD", "KNNP", "SNAR"] + [
        f"K{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(600)
    ]
    tag_weights = [1 / (i + 1) ** 0.9 for i in range(len(tag_vocab))]
    post_weights = [40, 8, 8, 5, 4, 4, 2] + [1] * 260
    levels, level_w = zip(*CLASSIFICATIONS, strict=True)
    conn = index.connect_for_rebuild(path)
    refs: list[str] = []
    t0 = time.perf_counter()
    with index.transaction(conn):
        for i in range(n):
            year = min(2010, max(1966, int(rng.gauss(2006, 3.5))))
            post, origin = rng.choices(POSTS, post_weights)[0]
            ref = f"{year % 100:02d}{post}{i + 1}"
            date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
            body = " ".join(rng.choices(vocab, weights, k=rng.randint(60, 250)))
            cited = []
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 5])):
                if refs and rng.random() < 0.5:
                    cited.append(rng.choice(refs))  # an archived cable
                else:
                    cited.append(f"{year % 100:02d}{rng.choice(POSTS)[0]}{rng.randint(1, 999999)}X")
            cj = {
                "reference_id": ref,
                "canonical_id": ref,
                "created": date,
                "origin": origin,
                "classification": rng.choices(levels, level_w)[0],
                "subject": " ".join(rng.choices(vocab, weights, k=rng.randint(3, 9))).upper(),
                "tags": list(dict.fromkeys(rng.choices(tag_vocab, tag_weights, k=rng.randint(2, 7)))),
                "references": [
                    {"label": chr(65 + j), "text": c, "kind": "cable", "id": c} for j, c in enumerate(cited)
                ],
                "sources": [
                    {"key": "m.example.org-000000000000", "url": f"https://m.example.org/{ref}.html"}
                ],
            }
            inv = {
                "head": "v1",
                "versions": {"v1": {"created": "2011-08-30T00:00:00Z", "state": {}, "message": "crawl"}},
                "manifest": {},
            }
            index.write_cable(conn, ref, inv, cj, body)
            refs.append(ref)
            if (i + 1) % 50000 == 0:
                print(f"  built {i + 1} cables in {time.perf_counter() - t0:.0f} s", flush=True)
    conn.execute("ANALYZE")
    conn.close()


def timed(fn: Callable[[], Any], runs: list[Callable[[], Any]] | None = None) -> list[float]:
    """Milliseconds of each call (fn called once per argument set in runs, or 30 times)."""
    out = []
    for call in runs or [fn] * 30:
        t = time.perf_counter()
        call()
        out.append((time.perf_counter() - t) * 1000)
    return out


def show(name: str, ms: list[float]) -> None:
    """One line: median and p95."""
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"  {name:<58} median {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms", flush=True)


def cold(fn: Callable[[], Any]) -> Callable[[], Any]:
    """fn with the count and facet cache emptied first."""

    def run() -> Any:
        query.clear_cache()
        return fn()

    return run


def main() -> None:
    """Build (or reuse) the index and time each query kind."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cables", type=int, default=251287)
    ap.add_argument("--keep", metavar="DIR", help="keep the index in DIR (reused when it is there)")
    args = ap.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="bench-query-")
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, f"index-{args.cables}.sqlite")
    if not os.path.exists(path):
        print(f"building a synthetic index of {args.cables} cables in {path}", flush=True)
        t = time.perf_counter()
        build(path + ".tmp", args.cables)
        os.replace(path + ".tmp", path)
        print(f"  built in {time.perf_counter() - t:.0f} s, {os.path.getsize(path) / 1e6:.0f} MB", flush=True)
    conn = index.connect(path)
    arch = Folder(conn, root, path)
    rng = random.Random(1)
    refs = [r[0] for r in conn.execute("SELECT ref FROM cables ORDER BY random() LIMIT 200")]
    tags = ["PREL", "PGOV", "KDEM", "SNAR", "KAB", "KZZ"]
    origins = ["KABUL", "Embassy Baghdad", "STATE", "POSTAB", "Consulate Rio De Janeiro"]

    offsets = [rng.randint(0, min(10000, args.cables - 50)) for _ in range(30)]
    print(f"\nbaseline (same run, {args.cables} cables)")
    show(
        "old list: every row of the cables table",
        timed(lambda: list(index.cable_rows(conn)), [lambda: list(index.cable_rows(conn))] * 3),
    )
    show(
        "bare FTS5 match, best 20 (common word)",
        timed(
            lambda: conn.execute(
                "SELECT rowid FROM fts WHERE fts MATCH 'karzai' ORDER BY rank LIMIT 20"
            ).fetchall()
        ),
    )

    print("\nlist pages (50 cables, with the total)")
    show(
        "no filter, by date, random offset <= 10,000",
        timed(
            lambda: None,
            [cold(lambda o=o: query.list_cables(arch, offset=o)) for o in offsets],
        ),
    )
    show(
        "no filter, by origin, newest first",
        timed(lambda: None, [cold(lambda: query.list_cables(arch, sort="origin", descending=True))] * 20),
    )
    show(
        "origin (name or post)",
        timed(
            lambda: None,
            [cold(lambda o=o: query.list_cables(arch, Filters(origins=(o,)))) for o in origins * 6],
        ),
    )
    show(
        "tag",
        timed(
            lambda: None, [cold(lambda t=t: query.list_cables(arch, Filters(tags=(t,)))) for t in tags * 5]
        ),
    )
    show(
        "tag + year",
        timed(
            lambda: None,
            [cold(lambda t=t: query.list_cables(arch, Filters(tags=(t,), years=(2008,)))) for t in tags * 5],
        ),
    )
    show(
        "classification SECRET + from/to dates",
        timed(
            lambda: None,
            [
                cold(
                    lambda: query.list_cables(
                        arch, Filters(classifications=("SECRET",), date_from="2007-03", date_to="2008")
                    )
                )
            ]
            * 20,
        ),
    )
    show(
        "subject holds a word",
        timed(lambda: None, [cold(lambda: query.list_cables(arch, Filters(subject="KARZAI")))] * 20),
    )
    show(
        "page of a cached total (the next pages of a list)",
        timed(
            lambda: None,
            [
                lambda o=o: query.list_cables(arch, Filters(tags=("PREL",)), offset=o)
                for o in range(0, 1500, 50)
            ],
        ),
    )

    print("\nfacets (origin, classification, year, tags: top 50 each)")
    show("no filter, cold", timed(lambda: None, [cold(lambda: query.facets(arch))] * 10))
    show("no filter, cached", timed(lambda: query.facets(arch)))
    show(
        "tag filter, cold",
        timed(lambda: None, [cold(lambda t=t: query.facets(arch, Filters(tags=(t,)))) for t in tags * 2]),
    )
    show(
        "origin filter, cold",
        timed(
            lambda: None, [cold(lambda o=o: query.facets(arch, Filters(origins=(o,)))) for o in origins * 2]
        ),
    )

    print("\nsearch (20 hits, with the total; snippets timed below)")
    words = [w for (w,) in conn.execute("SELECT subject FROM cables LIMIT 40")]
    some = [w.split()[-1].lower() for w in words]
    show("a common word", timed(lambda: None, [cold(lambda: query.search(arch, "karzai"))] * 20))
    show(
        "a word of a subject",
        timed(lambda: None, [cold(lambda w=w: query.search(arch, w)) for w in some[:30]]),
    )
    show(
        "two words",
        timed(
            lambda: None,
            [cold(lambda a=a, b=b: query.search(arch, f"{a} {b}")) for a, b in itertools.pairwise(some)][:30],
        ),
    )
    show(
        "a word + tag:PREL",
        timed(lambda: None, [cold(lambda w=w: query.search(arch, f"{w} tag:PREL")) for w in some[:30]]),
    )
    show(
        "a word + origin:KABUL + classification:SECRET",
        timed(
            lambda: None,
            [
                cold(lambda w=w: query.search(arch, f"{w} origin:KABUL classification:SECRET"))
                for w in some[:30]
            ],
        ),
    )
    show(
        "ref:ID (cables citing one)",
        timed(lambda: None, [cold(lambda r=r: query.search(arch, f"ref:{r}")) for r in refs[:30]]),
    )
    show("an invalid query refused", timed(lambda: None, [lambda: _refused(arch)] * 30))

    print("\ncitation graph")
    show(
        "refs(REF): cites and cited by",
        timed(lambda: None, [lambda r=r: query.refs(arch, r) for r in refs[:100]]),
    )

    # A text of 2,000 words drawn like the cables' words, the query's words among them a few times.
    vocab = [w for (s,) in conn.execute("SELECT subject FROM cables LIMIT 2000") for w in s.lower().split()]
    text = " ".join(rng.choices(vocab, k=2000))
    parsed = query.parse_query(f"{some[0]} {some[1][:4]}*")
    show(
        "snippets of 20 hits (2,000-word texts)",
        timed(lambda: [query._snippet(text, parsed) for _ in range(20)]),
    )
    conn.close()


def _refused(arch: Folder) -> None:
    try:
        query.search(arch, "NOT karzai")
    except query.QueryError:
        return
    raise AssertionError("a lone NOT ran")


if __name__ == "__main__":
    main()
