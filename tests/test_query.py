"""archive.query on an archive built from fixtures: lists with filters and sorting, facets, field
search with snippets as spans, refused queries, and the citation graph in both directions."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from archive import Archive, BadReference, index
from archive import query as q
from archive.query import Filters, QueryError

from archive_support import html_headers, result
from query_support import HOSTILE, MADE, build_query_archive


@pytest.fixture(scope="module")
def arch(tmp_path_factory: pytest.TempPathFactory):
    path = build_query_archive(tmp_path_factory.mktemp("query") / "archive")
    a = Archive.open(path)
    yield a
    a.close()


def refs_of(page: q.Page) -> list[str]:
    return [getattr(i, "cable", i).ref for i in page.items]


ALL_BY_DATE = [
    "7575LIBREVILLE1895",
    "00HARARE6677",
    "06MADRID76",
    "06BERLIN2546",
    "07PARIS306",
    "09BRASILIA177",
    "09KABUL123",
    "10STATE1001",
]


def test_list_sorts_by_the_cables_own_date_id_and_origin(arch: Archive) -> None:
    page = q.list_cables(arch)
    assert refs_of(page) == ALL_BY_DATE and page.total == 8 and not page.has_next
    assert page.items[1].date == "2000-11-29 13:01" and page.items[1].origin == "Embassy Harare"
    assert page.items[1].tags == ("PGOV", "PREL", "ECON", "PINR", "ZI", "SA")
    assert refs_of(q.list_cables(arch, descending=True)) == ALL_BY_DATE[::-1]
    assert refs_of(q.list_cables(arch, sort="id")) == sorted(ALL_BY_DATE)
    by_origin = q.list_cables(arch, sort="origin").items
    assert [c.origin for c in by_origin] == sorted(c.origin for c in by_origin)
    with pytest.raises(QueryError, match="unknown sort"):
        q.list_cables(arch, sort="colour")


def test_list_pages(arch: Archive) -> None:
    first = q.list_cables(arch, offset=0, limit=3)
    second = q.list_cables(arch, offset=3, limit=3)
    last = q.list_cables(arch, offset=6, limit=3)
    assert refs_of(first) + refs_of(second) + refs_of(last) == ALL_BY_DATE
    assert first.has_next and second.has_next and not last.has_next and last.total == 8
    with pytest.raises(QueryError):
        q.list_cables(arch, offset=-1)
    with pytest.raises(QueryError, match="at most 1000"):
        q.search(arch, "Karzai", limit=5000)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(origins=("Embassy Kabul",)), ["09KABUL123"]),
        (Filters(origins=("embassy kabul",)), ["09KABUL123"]),
        (Filters(origins=("KABUL",)), ["09KABUL123"]),
        (Filters(origins=("STATE",)), ["10STATE1001"]),
        (Filters(origins=("Rio de Janeiro",)), []),
        (Filters(origins=("KABUL", "Embassy Berlin")), ["06BERLIN2546", "09KABUL123"]),
        (Filters(classifications=("SECRET",)), ["10STATE1001"]),
        (Filters(classifications=("secret//noforn",)), ["10STATE1001"]),
        (Filters(classifications=("UNCLASSIFIED",)), ["7575LIBREVILLE1895", "07PARIS306"]),
        (Filters(classifications=("UNCLASSIFIED//FOR OFFICIAL USE ONLY",)), ["07PARIS306"]),
        (Filters(tags=("AF",)), ["09KABUL123", "10STATE1001"]),
        (
            Filters(tags=("PREL",)),
            ["00HARARE6677", "06MADRID76", "07PARIS306", "09BRASILIA177", "09KABUL123", "10STATE1001"],
        ),
        (Filters(tags=("prel", "AF")), ["09KABUL123", "10STATE1001"]),
        (Filters(tags=("PREL", "KDEM")), ["10STATE1001"]),
        (Filters(years=(2006,)), ["06MADRID76", "06BERLIN2546"]),
        (Filters(date_from="2009"), ["09BRASILIA177", "09KABUL123", "10STATE1001"]),
        (Filters(date_from="2009-06-15", date_to="2009-12"), ["09KABUL123"]),
        (Filters(date_to="2006-08-30"), ["7575LIBREVILLE1895", "00HARARE6677", "06MADRID76", "06BERLIN2546"]),
        (Filters(date_to="2006-08-29"), ["7575LIBREVILLE1895", "00HARARE6677", "06MADRID76"]),
        (Filters(subject="election"), ["06BERLIN2546", "09KABUL123", "10STATE1001"]),
        (Filters(subject="100%"), []),
        (Filters(subject="election calendar"), ["09KABUL123"]),
        (Filters(subject="calendar election"), []),
        (Filters(subject="elect"), ["06BERLIN2546", "09KABUL123", "10STATE1001"]),
        (Filters(cites=("09kabul99",)), ["09KABUL123", "10STATE1001"]),
        (Filters(origins=("KABUL",), tags=("KDEM",)), []),
    ],
)
def test_each_list_filter(arch: Archive, filters: Filters, expected: list[str]) -> None:
    page = q.list_cables(arch, filters)
    assert refs_of(page) == expected
    assert page.total == len(expected)


@pytest.mark.parametrize("bad", ["2009-13", "09", "2009-02-30", "last year"])
def test_a_date_that_is_no_date_is_refused(arch: Archive, bad: str) -> None:
    with pytest.raises(QueryError, match="not a date"):
        q.list_cables(arch, Filters(date_from=bad))


def test_facets_count_each_value_and_ignore_their_own_selection(arch: Archive) -> None:
    f = q.facets(arch)
    assert {c.value: c.count for c in f["classification"]} == {
        "CONFIDENTIAL": 5,
        "UNCLASSIFIED//FOR OFFICIAL USE ONLY": 1,
        "SECRET//NOFORN": 1,
        "UNCLASSIFIED": 1,
    }
    assert [(c.value, c.count) for c in f["year"]] == [
        ("1975", 1), ("2000", 1), ("2006", 2), ("2007", 1), ("2009", 2), ("2010", 1),
    ]  # fmt: skip
    tags = {c.value.upper(): c.count for c in f["tags"]}
    assert tags["PREL"] == 6 and tags["AF"] == 2  # `prel` and `PREL` are one tag
    assert f["tags"][0].value.upper() == "PREL"
    picked = q.facets(arch, Filters(tags=("AF",)))
    assert {c.value for c in picked["origin"]} == {"Embassy Kabul", "Secretary of State"}
    assert {c.value.upper() for c in picked["tags"]} >= {
        "PREL",
        "PGOV",
        "ETRD",
    }  # tags ignores its own filter
    by_query = q.facets(arch, query="Karzai")
    assert {c.value: c.count for c in by_query["origin"]} == {"Embassy Kabul": 1, "Secretary of State": 1}


def test_search_ranks_and_marks_the_words_as_spans(arch: Archive) -> None:
    page = q.search(arch, "Karzai")
    assert refs_of(page) == ["09KABUL123", "10STATE1001"]  # in the subject too: first
    hit = page.items[0]
    assert hit.score is not None and hit.score > page.items[1].score
    assert [s.text for s in hit.snippet if s.hit] and all(
        s.text.lower() == "karzai" for s in hit.snippet if s.hit
    )
    assert [s.text for s in hit.subject if s.hit] == ["KARZAI"]
    assert "**Karzai**" in q.plain(page.items[1].snippet)
    assert all("\n" not in s.text for s in hit.snippet)


def test_snippets_mark_phrases_and_prefixes_and_not_what_is_excluded(arch: Archive) -> None:
    hit = q.search(arch, '"opposition leader"').items[0]
    assert hit.cable.ref == "00HARARE6677"
    assert [s.text for s in hit.snippet if s.hit] == ["OPPOSITION LEADER"]
    hit = q.search(arch, "timb*").items[0]
    assert hit.cable.ref == "7575LIBREVILLE1895"
    assert {s.text for s in hit.snippet if s.hit} == {"TIMBER", "Timber"}
    page = q.search(arch, "Karzai NOT recount")
    assert refs_of(page) == ["09KABUL123"]
    assert "recount" not in {s.text for s in page.items[0].snippet if s.hit}


def test_snippet_spans_keep_page_text_as_it_is(arch: Archive) -> None:
    # Escaping is each display's job: the spans hold the text, markup and control characters included.
    hit = q.search(arch, "hostile").items[0]
    assert HOSTILE.replace("\x1b[2J", "") in "".join(s.text for s in hit.snippet).replace("\x1b[2J", "")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Karzai tag:KDEM", ["10STATE1001"]),
        ("Karzai tag:prel", ["09KABUL123", "10STATE1001"]),
        ('Karzai origin:"Embassy Kabul"', ["09KABUL123"]),
        ("Karzai origin:KABUL", ["09KABUL123"]),
        ("Karzai classification:SECRET", ["10STATE1001"]),
        ("ref:06BERLIN2546", ["10STATE1001"]),
        ("ref:09KABUL99", ["09KABUL123", "10STATE1001"]),
        ("Karzai ref:75LIBREVILLE1895", ["09KABUL123"]),
        ("tag:AF year:2009", ["09KABUL123"]),
        ("tag:PREL from:2007 to:2009-06", ["07PARIS306", "09BRASILIA177", "09KABUL123"]),
        ("subject:Karzai", ["09KABUL123"]),
        ("Karzai tag:ZI", []),
    ],
)
def test_field_search(arch: Archive, query: str, expected: list[str]) -> None:
    page = q.search(arch, query)
    assert sorted(refs_of(page)) == sorted(expected) and page.total == len(expected)


def test_field_terms_and_filters_combine(arch: Archive) -> None:
    page = q.search(arch, "Karzai", Filters(classifications=("CONFIDENTIAL",)))
    assert refs_of(page) == ["09KABUL123"]
    page = q.search(arch, "", Filters(tags=("AF",)))
    assert refs_of(page) == ["09KABUL123", "10STATE1001"] and page.items[0].score is None
    sorted_page = q.search(arch, "Karzai", sort="date", descending=True)
    assert refs_of(sorted_page) == ["10STATE1001", "09KABUL123"]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("NOT Karzai", "NOT"),
        ("Karzai AND", "ends where a word"),
        ('"Karzai', "quote"),
        ("(Karzai OR recount", "("),
        ("Karzai)", ")"),
        ("OR", "OR"),
        ("colour:red", "unknown field 'colour'"),
        ("tag:PREL OR Karzai", "cannot be joined with OR"),
        ("Karzai NOT tag:PREL", "cannot be joined with NOT"),
        ("(tag:PREL Karzai)", "inside ( )"),
        ("al-Qaida", "double quotes"),
        ("year:09", "not a year"),
        ("from:2009-13", "not a date"),
        ("tag:", "has no value"),
        ("tag:PREL tag:", "has no value"),
        ("", "empty query"),
        ("   ", "empty query"),
    ],
)
def test_a_query_that_cannot_run_is_refused_not_rewritten(arch: Archive, query: str, says: str) -> None:
    with pytest.raises(QueryError) as exc:
        q.search(arch, query)
    assert says in str(exc.value)


def test_archive_search_refuses_too(arch: Archive) -> None:
    with pytest.raises(QueryError):
        arch.search("NOT Karzai")
    assert [h.ref for h in arch.search("Karzai")] == ["09KABUL123", "10STATE1001"]


def test_what_a_cable_cites_and_whether_each_cited_cable_is_archived(arch: Archive) -> None:
    cites = q.cites(arch, "10STATE1001")
    assert [(c.label, c.text, c.kind, c.cited_id, c.archived_ref) for c in cites] == [
        ("A", "BERLIN 2546", "cable", "06BERLIN2546", "06BERLIN2546"),
        ("B", "KABUL 99", "cable", "09KABUL99", None),
        ("C", "INCSR 2008", "other", None, None),
    ]
    # The viewer names the cited cable 7575LIBREVILLE1895; the citation names its canonical ID.
    kabul = q.cites(arch, "09KABUL123")
    assert [(c.cited_id, c.archived_ref) for c in kabul] == [
        ("09KABUL99", None),
        ("75LIBREVILLE1895", "7575LIBREVILLE1895"),
    ]
    # A real fixture page's REF line, as the cleaner read it.
    harare = q.cites(arch, "00HARARE6677")
    assert [(c.text, c.cited_id, c.archived_ref) for c in harare] == [("HARARE 6584", "00HARARE6584", None)]


def test_what_cites_a_cable_archived_or_not(arch: Archive) -> None:
    by = q.cited_by(arch, "06BERLIN2546")
    assert [(c.cable.ref, c.label, c.text) for c in by] == [("10STATE1001", "A", "BERLIN 2546")]
    assert [c.cable.ref for c in q.cited_by(arch, "09KABUL99")] == ["09KABUL123", "10STATE1001"]
    for name in ("7575LIBREVILLE1895", "75LIBREVILLE1895"):
        graph = q.refs(arch, name)
        assert (
            graph.ref == "7575LIBREVILLE1895" and graph.canonical_id == "75LIBREVILLE1895" and graph.archived
        )
        assert [c.cable.ref for c in graph.cited_by] == ["09KABUL123"] and graph.cites == []
    missing = q.refs(arch, "09KABUL99")
    assert not missing.archived and missing.cites == [] and len(missing.cited_by) == 2
    assert missing.to_json()["in_archive"] is False
    assert q.cited_by(arch, "10STATE1001") == []
    with pytest.raises(BadReference):
        q.refs(arch, "../etc/passwd")


def test_reindex_fills_the_tables_from_cable_json(arch: Archive, tmp_path: Path) -> None:
    before = (
        q.list_cables(arch),
        q.facets(arch),
        q.refs(arch, "09KABUL99"),
        refs_of(q.search(arch, "ref:09KABUL99")),
    )
    counts = arch.reindex()
    assert counts["cables"] == 8 and counts["problems"] == 0
    after = (
        q.list_cables(arch),
        q.facets(arch),
        q.refs(arch, "09KABUL99"),
        refs_of(q.search(arch, "ref:09KABUL99")),
    )
    assert after == before


def test_an_index_of_the_older_schema_is_rebuilt(tmp_path: Path) -> None:
    path = build_query_archive(tmp_path / "archive")
    index_path = path / "index.sqlite"
    conn = sqlite3.connect(index_path)
    conn.execute("DROP TABLE citations")
    conn.execute("DROP TABLE tags")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    messages: list[str] = []
    with Archive.open(path) as arch:
        arch.notify = messages.append
        assert [c.cable.ref for c in q.cited_by(arch, "06BERLIN2546")] == ["10STATE1001"]
    assert any("index schema 1" in m and "rebuilding" in m for m in messages), messages
    conn = index.connect(str(index_path))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == index.SCHEMA_VERSION
    conn.close()


def test_reindex_settles_a_crash_journal_beside_an_index_of_the_older_schema(tmp_path: Path) -> None:
    from mockserver import cablearchive

    path = build_query_archive(tmp_path / "archive")
    arch = Archive.open(path)
    w = arch.writer(kind="crawl")
    journal = (path / "state" / "journal.json").read_text(encoding="utf-8")
    w.abort("a crash, as far as the files on disk say")
    arch.close()
    (path / "state" / "journal.json").write_text(journal, encoding="utf-8")
    conn = sqlite3.connect(path / "index.sqlite")
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()
    done = cablearchive("reindex", "--archive", str(path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "reindexed 8 cables" in done.stdout + done.stderr
    assert not (path / "state" / "journal.json").exists()
    conn = index.connect(str(path / "index.sqlite"))
    assert conn.execute("SELECT count(*) FROM cables").fetchone()[0] == 8
    conn.close()


def test_not_after_a_phrase_runs(arch: Archive) -> None:
    assert refs_of(q.search(arch, '"opposition leader" NOT nonexistentword')) == ["00HARARE6677"]
    assert refs_of(q.search(arch, "tag:PREL Karzai NOT recount")) == ["09KABUL123"]


def test_a_tags_cables_in_every_order(arch: Archive) -> None:
    newest = refs_of(q.list_cables(arch, Filters(tags=("PREL",)), descending=True))
    assert newest == [
        "10STATE1001",
        "09KABUL123",
        "09BRASILIA177",
        "07PARIS306",
        "06MADRID76",
        "00HARARE6677",
    ]
    assert refs_of(q.list_cables(arch, Filters(tags=("PREL",)), sort="id")) == sorted(newest)
    page = q.list_cables(
        arch, Filters(tags=("PREL",), origins=("KABUL",)), descending=True, offset=0, limit=1
    )
    assert refs_of(page) == ["09KABUL123"] and page.total == 1
    second = q.list_cables(arch, Filters(tags=("PREL", "PGOV")), offset=1, limit=1)
    assert refs_of(second) == ["09BRASILIA177"] and second.total == 3


def test_the_tag_counts_follow_each_new_version(tmp_path: Path) -> None:
    path = build_query_archive(tmp_path / "archive")
    with Archive.open(path) as arch:
        before = {c.value.upper(): c.count for c in q.facets(arch)["tags"]}
        kabul = next(c for c in MADE if c.reference_id == "09KABUL123")
        changed = replace(kabul, tags=["PGOV", "KDEM", "NEWTAG"], text=kabul.text + "3. (C) More.\n")
        with arch.writer(kind="crawl") as w:
            url = "https://mirror.example.org/cable/09KABUL123.html"
            w.record(w.add_capture(url, 200, html_headers(), b"<pre>changed</pre>"), result(changed))
        after = {c.value.upper(): c.count for c in q.facets(arch)["tags"]}
        assert after["AF"] == before["AF"] - 1 and after["PREL"] == before["PREL"] - 1
        assert (
            after["KDEM"] == before["KDEM"] + 1 and after["NEWTAG"] == 1 and after["PGOV"] == before["PGOV"]
        )
        # The same counts as counting the tags of every cable.
        counted: dict[str, int] = {}
        for c in q.list_cables(arch, limit=100).items:
            for t in c.tags:
                counted[t.upper()] = counted.get(t.upper(), 0) + 1
        assert after == counted
        assert refs_of(q.list_cables(arch, Filters(tags=("NEWTAG",)))) == ["09KABUL123"]
        assert refs_of(q.list_cables(arch, Filters(tags=("AF",)))) == ["10STATE1001"]


def test_iter_cables_reads_the_whole_list_in_order(arch: Archive) -> None:
    assert [c.ref for c in q.iter_cables(arch)] == ALL_BY_DATE
    assert [c.ref for c in q.iter_cables(arch, sort="id", offset=2, limit=3)] == sorted(ALL_BY_DATE)[2:5]
    assert [c.tags for c in q.iter_cables(arch, Filters(tags=("AF",)))] == [
        ("PGOV", "AF", "prel"),
        ("PREL", "AF", "KDEM"),
    ]
    assert q.count_cables(arch) == 8 and q.count_cables(arch, Filters(years=(2006,))) == 2


def test_a_search_finding_too_many_to_rank_is_newest_first(arch: Archive, monkeypatch) -> None:
    ranked = q.search(arch, "Karzai")
    assert ranked.order == "rank" and refs_of(ranked) == ["09KABUL123", "10STATE1001"]
    monkeypatch.setattr(q, "RANK_LIMIT", 1)
    q.clear_cache()
    page = q.search(arch, "Karzai")
    assert page.order == "date" and page.descending and page.total == 2
    assert refs_of(page) == ["10STATE1001", "09KABUL123"] and all(h.score is None for h in page.items)
    assert [s.text for s in page.items[0].snippet if s.hit] == ["Karzai"]
    by_id = q.search(arch, "Karzai", sort="id")
    assert by_id.order == "id" and refs_of(by_id) == ["09KABUL123", "10STATE1001"]


def test_counts_are_kept_for_each_archive_and_index_file(tmp_path: Path) -> None:
    one = build_query_archive(tmp_path / "one")
    with Archive.open(one) as arch:
        assert q.list_cables(arch).total == 8
    other = Archive.create(tmp_path / "other")
    try:
        assert q.list_cables(other).total == 0 and q.facets(other)["tags"] == []
    finally:
        other.close()
    with Archive.open(one) as arch:
        assert q.list_cables(arch).total == 8
        arch.reindex()
        assert q.list_cables(arch).total == 8 and q.count_cables(arch, Filters(tags=("AF",))) == 2


def test_a_search_of_a_cited_cable_shows_the_reference_that_names_it(arch: Archive) -> None:
    page = q.search(arch, "ref:09KABUL99")
    assert [(h.cable.ref, q.plain(h.snippet)) for h in page.items] == [
        ("09KABUL123", "REF A. **KABUL 99**"),
        ("10STATE1001", "REF B. **KABUL 99**"),
    ]
    both = q.search(arch, "ref:09KABUL99 ref:75LIBREVILLE1895").items
    assert [q.plain(h.snippet) for h in both] == ["REF A. **KABUL 99**; B. **75 LIBREVILLE 1895**"]


@pytest.mark.parametrize("match", ["Karzai", "the", "election OR opposition", "nonexistentword"])
@pytest.mark.parametrize("tags", [("PREL",), ("prel", "PGOV"), ("KDEM",), ("NOSUCHTAG",)])
def test_the_plans_of_a_search_with_tags_find_the_same_cables(
    arch: Archive, match: str, tags: tuple[str, ...]
) -> None:
    conn = arch.conn
    for f in (
        Filters(tags=tags),
        Filters(tags=tags, origins=("KABUL", "Harare")),
        Filters(tags=tags, years=(2009,)),
    ):
        ranked = [index.search_page(conn, match, f, None, False, 0, 100, by_tag=False)]
        counts = {index.cable_count(conn, f, match, filter_first=b) for b in (None, True, False)}
        assert counts == {len(ranked[0])}, (f, counts)
        for descending in (False, True):
            pages = [
                index.search_page(conn, match, f, "date", descending, offset, 2, by_tag=b)
                for b in (True, False)
                for offset in (0, 2)
            ]
            assert pages[:2] == pages[2:], (f, descending)
            whole = index.search_page(conn, match, f, "date", descending, 0, 100, by_tag=True)
            assert sorted(whole) == sorted((*r[:10], None) for r in ranked[0])


def test_facets_under_tags_alone_count_as_the_cables_table_does(arch: Archive) -> None:
    conn = arch.conn
    for tags in [("PREL",), ("prel", "PGOV"), ("AF",), ("NOSUCHTAG",)]:
        f = Filters(tags=tags)
        for facet in ("origin", "classification", "year", "tags"):
            from_tags = index.facet_counts(conn, facet, f)
            # The same counts through the cables table: a condition on it (always true) takes that plan.
            through_cables = index.facet_counts(conn, facet, replace(f, date_from="0000"))
            assert from_tags == through_cables, (tags, facet)
        assert index.facet_counts(conn, "origin", Filters(tags=("PREL",)))
    for origins in [("KABUL",), ("Embassy Harare", "PARIS"), ("NOWHERE",)]:
        f = Filters(origins=origins)
        from_tags = index.facet_counts(conn, "tags", f)
        assert from_tags == index.facet_counts(conn, "tags", replace(f, date_from="0000")), origins
    assert index.facet_counts(conn, "tags", Filters(origins=("KABUL",)))


def test_tags_follow_their_cables_when_the_full_text_table_is_rebuilt(tmp_path: Path) -> None:
    path = build_query_archive(tmp_path / "archive")
    with Archive.open(path) as arch:
        queries = ["Karzai tag:PREL", "the tag:PREL tag:PGOV", "election tag:ZI"]
        before = [refs_of(q.search(arch, query, sort="date")) for query in queries]
        before_facets = q.facets(arch, Filters(tags=("PREL",)), query="the")
        # Rowids as after replaced texts (the rebuilt table numbers its rows from 1 again).
        arch.conn.execute("UPDATE cables SET fts_rowid = fts_rowid + 100")
        arch.conn.execute("UPDATE tags SET fts_rowid = fts_rowid + 100")
        assert index.compact_fts(arch.conn, arch.layout) == 8
        q.clear_cache()
        assert [refs_of(q.search(arch, query, sort="date")) for query in queries] == before
        assert q.facets(arch, Filters(tags=("PREL",)), query="the") == before_facets
        assert all(before)


@pytest.mark.parametrize("match", ["Karzai", "the", "nonexistentword"])
def test_a_search_counts_the_same_from_its_filters_or_its_matches(arch: Archive, match: str) -> None:
    for f in (
        Filters(origins=("KABUL",), classifications=("SECRET",)),
        Filters(origins=("Harare", "KABUL")),
        Filters(years=(2009,), tags=("PREL",)),
        Filters(subject="election"),
    ):
        ranked = index.search_page(arch.conn, match, f, None, False, 0, 100)
        counts = [index.cable_count(arch.conn, f, match, filter_first=b) for b in (True, False)]
        assert counts == [len(ranked)] * 2, (f, counts)
    assert index.cable_count(arch.conn, Filters(origins=("KABUL",)), "the", filter_first=True) > 0
