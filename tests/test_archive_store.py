"""The archive library: layout, captures, versions only on change, consensus, reading, reindex, locking, names."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from archive import Archive, ArchiveError, LockBusy, source_key
from archive.captures import Capture
from archive.errors import QueryError
from cleaners import clean_page

from archive_support import (
    FIXTURES,
    RULES_A,
    RULES_B,
    cable,
    cablegate_pages,
    html_headers,
    ocfl_validate,
    result,
    true_text,
    warc_files,
    warcio_check,
)


@pytest.fixture
def arch(tmp_path):
    a = Archive.create(tmp_path / "arch")
    yield a
    a.close()


def crawl(arch, pages, kind="crawl"):
    """Capture and record each (url, body) page with the real cleaner; returns the commit report."""
    with arch.writer(kind=kind, args={"test": True}) as w:
        for url, body in pages:
            cap = w.add_capture(url, 200, html_headers(), body)
            w.record(cap, clean_page(body, url=url))
        return w.commit(), w


def test_layout_and_validators(arch):
    pages = [(u, b) for u, b, _ in cablegate_pages()]
    report, w = crawl(arch, pages)
    refs = [c.reference_id for _, b in pages for c in clean_page(b).cables]
    assert sorted(report.new) == sorted(refs) and len(refs) == 5
    meta = json.loads(Path(os.path.join(arch.path, "cablearchive.json")).read_text())
    assert meta["format"] == "cablearchive" and meta["tool_version"]
    assert os.path.exists(os.path.join(arch.path, "cables", "0=ocfl_1.1"))
    assert json.loads(Path(os.path.join(arch.path, "cables", "ocfl_layout.json")).read_text())[
        "extension"
    ] == ("0002-flat-direct-storage-layout")
    run = json.loads(Path(os.path.join(arch.path, "runs", f"{w.run_id}.json")).read_text())
    assert run["status"] == "done" and run["counts"]["captures"] == 5 and run["kind"] == "crawl"
    assert not os.path.exists(os.path.join(arch.path, "state", "journal.json"))
    # The first record of every WARC file is a warcinfo naming the tool.
    from warcio.archiveiterator import ArchiveIterator

    files = warc_files(arch.path)
    assert files and all(re.fullmatch(rf"{w.run_id}-\d{{5}}\.warc\.gz", os.path.basename(f)) for f in files)
    with open(files[0], "rb") as fh:
        first = next(iter(ArchiveIterator(fh)))
        info = first.content_stream().read()
    assert first.rec_type == "warcinfo" and b"cablearchive" in info
    proc = ocfl_validate(arch.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = warcio_check(files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert arch.verify().ok


def test_cdxj_lines_point_at_records(arch):
    pages = [(u, b) for u, b, _ in cablegate_pages()[:2]]
    crawl(arch, pages)
    lines = Path(arch.path, "captures", "index.cdxj").read_text().splitlines()
    assert len(lines) == 2
    key, ts, block = lines[0].split(" ", 2)
    data = json.loads(block)
    assert key.startswith("org,wikileaks,cablegate)/cable/") and re.fullmatch(r"\d{14}", ts)
    assert {"url", "digest", "status", "mime", "filename", "offset", "length"} <= set(data)
    cap = Capture.from_cdxj(lines[0])
    status, headers, body = arch.read_capture(cap)
    assert status == 200 and body == pages[0][1]
    assert ("Content-Type", "text/html; charset=utf-8") in headers


def test_archived_text_is_the_cleaners_output(arch):
    pages = cablegate_pages()
    crawl(arch, [(u, b) for u, b, _ in pages])
    for url, body, _truth in pages:
        for c in clean_page(body, url=url).cables:
            rec = arch.cable(c.reference_id)
            assert rec.text() == c.text
            state = rec.state()
            assert state.metadata["reference_id"] == c.reference_id
            assert state.metadata["preferred"]["reason"] == "only source"
            ((key, (text, prov)),) = state.sources.items()
            assert key == source_key(url) and text == c.text
            assert prov["url"] == url and prov["status"] == 200 and prov["etag"] == '"v1"'
            assert prov["capture"]["warc_file"].endswith(".warc.gz") and prov["capture"]["record_id"]
            assert prov["cleaning"]["ruleset"]["digest"] == c.ruleset.digest
            assert prov["metadata"]["classification"] == c.classification


def test_refetch_same_text_adds_revisit_and_no_version(arch):
    pages = [(u, b) for u, b, _ in cablegate_pages()[:2]]
    crawl(arch, pages)
    report, _w = crawl(arch, pages)
    assert report.new == [] and report.changed == [] and len(report.unchanged) == 2
    caps = list(arch.captures(newest_per_url=False))
    assert len(caps) == 4 and sum(c.revisit for c in caps) == 2
    revisit = next(c for c in caps if c.revisit)
    assert revisit.revisit_profile == "identical-payload-digest"
    assert arch.read_capture(revisit)[2] in {b for _, b in pages}
    assert all(c.head == 1 for c in arch.list_cables())
    assert len(list(arch.captures())) == 2  # newest per URL


def test_304_is_a_server_not_modified_revisit(arch):
    url, body, _ = cablegate_pages()[0]
    crawl(arch, [(url, body)])
    assert arch.conditional_headers(url) == {
        "If-None-Match": '"v1"',
        "If-Modified-Since": "Wed, 08 Dec 2010 21:09:00 GMT",
    }
    with arch.writer(kind="crawl") as w:
        cap = w.add_capture(url, 304, [("ETag", '"v1"')], b"")
    assert cap.revisit and cap.revisit_profile == "server-not-modified"
    status, _headers, got = arch.read_capture(cap)
    assert status == 200 and got == body
    assert arch.verify().ok


def test_changed_page_makes_one_new_version_with_reason(arch):
    hist = FIXTURES / "history"
    url = "https://cablegate.wikileaks.org/cable/2006/01/06MADRID76.html"
    old, new = (hist / "1_fbad4962.html").read_bytes(), (hist / "2_e3c2ca35.html").read_bytes()
    crawl(arch, [(url, old)])
    report, w = crawl(arch, [(url, new)])
    old_text = clean_page(old, url=url).cables[0].text
    new_text = clean_page(new, url=url).cables[0].text
    assert old_text != new_text
    assert report.changed == ["06MADRID76"]
    rec = arch.cable("06MADRID76")
    assert [v.number for v in rec.versions] == [1, 2]
    assert rec.versions[1].message == f"crawl {w.run_id}: 1 changed"
    assert rec.versions[1].user.startswith("cablearchive ")
    assert rec.text(1) == old_text and rec.text(2) == new_text
    # Unchanged content is stored once: v2 holds only what changed.
    v2 = [p for paths in rec.inventory["manifest"].values() for p in paths if p.startswith("v2/")]
    assert v2 and not any(p.endswith("cable.json") and False for p in v2)
    assert len(v2) < 2 * len(rec.files(2))


def test_several_changes_in_one_commit_make_one_version(arch):
    with arch.writer(kind="crawl") as w:
        for i in range(3):
            cap = w.add_capture(f"https://m{i}.example.org/a", 200, html_headers(), f"page {i}".encode())
            w.record(cap, result(cable("08ASTANA611", f"TEXT {i}\n")))
        report = w.commit()
    assert report.new == ["08ASTANA611"]
    rec = arch.cable("08ASTANA611")
    assert rec.head == 1 and len(rec.source_keys()) == 3
    assert rec.versions[0].message.endswith(": 3 new sources")


def test_reclean_version_names_the_ruleset(arch):
    url = "https://mirror.example.org/08ASTANA611.html"
    with arch.writer(kind="crawl") as w:
        cap = w.add_capture(url, 200, html_headers(), b"<pre>x</pre>")
        w.record(cap, result(cable("08ASTANA611", "OLD TEXT\n")))
    assert arch.cleaned_digest(cap) == RULES_A.digest
    with arch.writer(kind="reclean") as w:
        for c in arch.captures():
            assert c.cleaned == RULES_A.digest
            w.record(c, result(cable("08ASTANA611", "NEW TEXT\n", rules=RULES_B), rules=RULES_B))
        report = w.commit()
    assert report.changed == ["08ASTANA611"]
    msg = arch.cable("08ASTANA611").versions[-1].message
    assert msg == f"reclean {w.run_id}: ruleset default@2 {RULES_B.digest}: 1 changed"
    assert arch.cleaned_digest(cap) == RULES_B.digest
    # A reclean whose output is the same adds nothing.
    with arch.writer(kind="reclean") as w:
        for c in arch.captures():
            w.record(c, result(cable("08ASTANA611", "NEW TEXT\n", rules=RULES_A), rules=RULES_A))
        assert w.commit().changed == []
    assert arch.cable("08ASTANA611").head == 2


def test_metadata_change_alone_makes_a_version(arch):
    url = "https://mirror.example.org/x"
    for cls in ("CONFIDENTIAL", "SECRET"):
        with arch.writer(kind="crawl") as w:
            cap = w.add_capture(url, 200, html_headers(), cls.encode())
            w.record(cap, result(cable("09STATE11937", "SAME TEXT\n", classification=cls)))
    rec = arch.cable("09STATE11937")
    assert rec.head == 2 and rec.versions[1].message.endswith("1 metadata changed")
    assert (
        rec.metadata(1)["classification"] == "CONFIDENTIAL" and rec.metadata(2)["classification"] == "SECRET"
    )


def test_log_says_why_each_version_exists(arch):
    """CableRecord.log(): per version, which sources it added or changed, from which capture and rules."""
    a, b = "https://a.example.org/x", "https://b.example.org/y"
    runs = []
    for url, text, cls in (
        (a, "ONE\n", "SECRET"),
        (b, "ONE\n", "SECRET"),
        (a, "TWO\n", "SECRET"),
        (b, "ONE\n", "CONFIDENTIAL"),
    ):
        with arch.writer(kind="crawl") as w:
            cap = w.add_capture(url, 200, html_headers(), (text + cls).encode())
            w.record(cap, result(cable("08ASTANA611", text, classification=cls)))
        runs.append((w.run_id, cap))
    log = arch.cable("08ASTANA611").log()
    assert [e.version for e in log] == [1, 2, 3, 4]
    assert [[(s.source, s.change) for s in e.sources] for e in log] == [
        [(source_key(a), "new source")],
        [(source_key(b), "new source")],
        [(source_key(a), "text changed")],
        [(source_key(b), "metadata changed")],
    ]
    # The preferred text changes with a source's text, not with its metadata.
    assert [e.text_changed for e in log] == [True, False, True, False]
    assert all(e.message.startswith(f"crawl {run_id}: ") for e, (run_id, _cap) in zip(log, runs, strict=True))
    change = log[2].sources[0].to_json()
    cap = runs[2][1]
    assert change["url"] == a and change["fetched_at"] == cap.fetched_at
    assert change["capture"] == {"warc_file": cap.warc_file, "offset": cap.offset, "record_id": cap.record_id}
    assert change["rules"] == {
        "name": RULES_A.name,
        "version": RULES_A.version,
        "digest": RULES_A.digest,
        "cleaner_version": "test",
    }
    assert log[3].to_json()["sources"][0]["change"] == "metadata changed"


def test_consensus_prefers_the_text_closest_to_the_others(arch):
    truth = true_text("00HARARE6677")
    damaged = truth.replace("ZIMBABWE", "ZlMBABWE").replace("the", "teh")
    with arch.writer(kind="crawl") as w:
        for i, (text, lines, fam) in enumerate(
            [(damaged, True, "cablegate"), (truth, False, "wordpress"), (truth, True, "blogger")]
        ):
            cap = w.add_capture(f"https://site{i}.example.org/post", 200, html_headers(), text.encode())
            w.record(cap, result(cable("00HARARE6677", text, lines_kept=lines, family=fam)))
    meta = arch.cable("00HARARE6677").metadata()
    by_key = {s["key"]: s for s in meta["sources"]}
    preferred = by_key[meta["preferred"]["source"]]
    # The two true copies tie; the line-preserving one wins the tie.
    assert preferred["url"] == "https://site2.example.org/post"
    assert "line breaks" in meta["preferred"]["reason"]
    damaged_src = by_key[source_key("https://site0.example.org/post")]
    assert damaged_src["fidelity"] < preferred["fidelity"] and damaged_src["distance"] > 0
    assert arch.cable("00HARARE6677").text() == truth


def test_cable_without_id_or_with_a_bad_id_is_not_archived(arch):
    with arch.writer(kind="crawl") as w:
        cap = w.add_capture("https://blog.example.org/p", 200, html_headers(), b"x")
        w.record(
            cap,
            result(cable(None, "A CABLE\n"), cable("../../etc/passwd", "B\n"), cable("08astana611", "C\n")),
        )
        report = w.commit()
        run_id = w.run_id
    assert report.new == [] and list(arch.list_cables()) == []
    run = json.loads(Path(os.path.join(arch.path, "runs", f"{run_id}.json")).read_text())
    assert run["counts"]["no_id"] == 1 and run["counts"]["refused"] == 2
    assert any("not a cable ID" in e["reason"] for e in run["errors"])
    with pytest.raises(ArchiveError, match="not a cable reference ID"):
        arch.cable("../cablearchive.json")


def test_hostile_urls_and_headers_stay_inside(tmp_path):
    arch = Archive.create(tmp_path / "a")
    urls = [
        "https://evil.example.org/../../../../etc/passwd",
        "https://../../x/",
        "https://evil.example.org/" + "a" * 4096,
        "https://\u202eexample\u202c.org/\u0000nul/\r\nX-Injected: 1",
        "http://ex\u00e4mple.org/caf\u00e9/\U0001f600/\u0301",
        "https://" + "h" * 300 + ".org/",
    ]
    with arch.writer(kind="crawl") as w:
        for bad in ("file:///etc/passwd", "not a url at all", "javascript:alert(1)"):
            with pytest.raises(ArchiveError, match="not an http"):
                w.add_capture(bad, 200, [], b"x")
        for i, url in enumerate(urls):
            cap = w.add_capture(
                url, 200, [("Content-Type", "text/html"), ("X-Evil", "a\r\nb: c")], f"p{i}".encode()
            )
            w.record(cap, result(cable(f"08ASTANA{i + 1}", f"TEXT {i}\n")))
    keys = set()
    for i in range(len(urls)):
        (key,) = arch.cable(f"08ASTANA{i + 1}").source_keys()
        assert re.fullmatch(r"[a-z0-9][a-z0-9.-]{0,62}-[0-9a-f]{12}", key), key
        keys.add(key)
    assert len(keys) == len(urls)
    root = os.path.realpath(arch.path)
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            assert os.path.realpath(os.path.join(dirpath, f)).startswith(root + os.sep)
            assert len(f) < 200
    assert not os.path.exists(tmp_path / "etc")
    assert warcio_check(warc_files(arch.path)).returncode == 0
    assert arch.verify().ok
    assert ocfl_validate(arch.path).returncode == 0


def test_source_key_is_stable_and_safe():
    assert source_key("https://Cablegate.WikiLeaks.org/cable/a.html") == source_key(
        "https://Cablegate.WikiLeaks.org/cable/a.html"
    )
    assert source_key("https://a.org/1") != source_key("https://a.org/2")
    assert source_key("https://a.org/1").startswith("a.org-")
    assert source_key("https://..../").startswith("nohost-")


def test_list_search_and_reindex(arch):
    pages = [(u, b) for u, b, _ in cablegate_pages()]
    crawl(arch, pages)
    before = [c.to_json() for c in arch.list_cables()]
    hits = arch.search("Zimbabwe")
    assert hits and hits[0].ref == "00HARARE6677" and "zimbabwe" in hits[0].snippet.lower()
    assert arch.search('"opposition leader" NOT nonexistentword')[0].ref == "00HARARE6677"
    with pytest.raises(QueryError):  # a query FTS5 rejects is refused, never rewritten
        arch.search("((")
    arch.close()
    os.unlink(arch.index_path)
    arch2 = Archive.open(arch.path)
    assert [c.to_json() for c in arch2.list_cables()] == before  # rebuilt on demand
    cdxj = Path(arch2.cdxj_path).read_text()
    counts = arch2.reindex(from_warc=True)
    assert counts["cables"] == 5 and counts["captures"] == 5
    assert sorted(Path(arch2.cdxj_path).read_text().splitlines()) == sorted(cdxj.splitlines())
    assert [c.to_json() for c in arch2.list_cables()] == before
    assert arch2.search("Zimbabwe")[0].ref == "00HARARE6677"
    assert arch2.verify().ok


def test_create_refuses_non_archive_folder_and_open_explains(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("mine")
    with pytest.raises(ArchiveError, match="not empty and is not an archive"):
        Archive.create(tmp_path / "stuff")
    with pytest.raises(ArchiveError, match="not an archive"):
        Archive.open(tmp_path / "stuff")
    with pytest.raises(ArchiveError, match="no such archive folder"):
        Archive.open(tmp_path / "missing")
    a = Archive.open_or_create(tmp_path / "new")
    assert Archive.open_or_create(tmp_path / "new").path == a.path
    with pytest.raises(ArchiveError, match="already an archive"):
        Archive.create(tmp_path / "new")


def test_second_writer_refuses_or_waits_naming_the_holder(arch):
    with arch.writer(kind="crawl") as w:
        with pytest.raises(LockBusy, match=rf"pid {os.getpid()} .*crawl run {w.run_id}"):
            arch.writer(kind="reclean", wait=0)
        with pytest.raises(LockBusy, match=r"gave up after 0\.3 s"):
            arch.writer(kind="reclean", wait=0.3)
    with arch.writer(kind="reclean", wait=0) as w2:
        assert w2.run_id


def test_warc_files_roll_past_the_size_limit(arch):
    pages = [(u, b) for u, b, _ in cablegate_pages()]
    with arch.writer(kind="crawl", warc_size=20000) as w:
        for url, body in pages:
            w.record(w.add_capture(url, 200, html_headers(), body), clean_page(body, url=url))
    files = warc_files(arch.path)
    assert len(files) >= 3
    assert warcio_check(files).returncode == 0
    assert arch.verify().ok


def test_abort_keeps_the_last_commit(arch):
    with pytest.raises(RuntimeError), arch.writer(kind="crawl") as w:
        cap = w.add_capture("https://a.example.org/1", 200, html_headers(), b"one")
        w.record(cap, result(cable("08ASTANA611", "ONE\n")))
        w.commit()
        cap = w.add_capture("https://a.example.org/2", 200, html_headers(), b"two")
        w.record(cap, result(cable("08ASTANA612", "TWO\n")))
        raise RuntimeError("crawler crashed")
    assert [c.ref for c in arch.list_cables()] == ["08ASTANA611"]
    assert len(list(arch.captures())) == 1
    assert arch.verify().ok and warcio_check(warc_files(arch.path)).returncode == 0


def test_equally_close_sources_are_chosen_by_url_not_by_fetch_order(tmp_path):
    text = true_text("00HARARE6677")
    urls = ["https://b.example.org/post", "https://a.example.org/post"]
    metas = []
    for name, order in (("first", urls), ("second", urls[::-1])):
        a = Archive.create(tmp_path / name)
        # One commit per source, fetched in the given order: the tie is decided when the second arrives.
        for i, url in enumerate(order):
            with a.writer(kind="crawl") as w:
                cap = w.add_capture(
                    url, 200, html_headers(), text.encode(), fetched_at=f"2020-01-0{i + 1}T00:00:00Z"
                )
                w.record(cap, result(cable("00HARARE6677", text, family="wordpress")))
        meta = a.cable("00HARARE6677").metadata()
        metas.append(meta)
        a.close()
    for meta in metas:
        assert meta["preferred"] == {
            "source": source_key(urls[1]),
            "reason": "as close to the other 1 source as another source; first by URL",
        }
    strip = [
        {k: v for k, v in s.items() if k not in ("fetched_at", "capture_id")} for s in metas[0]["sources"]
    ]
    assert strip == [
        {k: v for k, v in s.items() if k not in ("fetched_at", "capture_id")} for s in metas[1]["sources"]
    ]


def test_consensus_choice_ignores_the_order_of_its_candidates():
    import itertools

    from archive.consensus import Candidate, choose

    truth = true_text("00HARARE6677")
    cands = [
        Candidate("c.org-000000000003", truth, True, "wordpress", "2020-01-01T00:00:00Z", "https://c.org/x"),
        Candidate("a.org-000000000001", truth, True, "wordpress", "2020-01-03T00:00:00Z", "https://a.org/x"),
        Candidate(
            "b.org-000000000002",
            truth.replace("ZIMBABWE", "ZlMBABWE"),
            True,
            "cablegate",
            "2019-01-01T00:00:00Z",
            "https://b.org/x",
        ),
    ]
    choices = {
        (c.preferred, c.reason, tuple(sorted(c.fidelity.items())))
        for c in (choose(list(p)) for p in itertools.permutations(cands))
    }
    assert len(choices) == 1
    preferred, reason, _ = choices.pop()
    assert preferred == "a.org-000000000001" and reason.endswith("first by URL")


def test_record_note_lands_in_the_run_record(arch):
    with arch.writer(kind="crawl") as w:
        w.record_note("https://a.example.org/1", "fetched on attempt 2")
        w.record_failure("https://a.example.org/2", "HTTP 500")
        run_id = w.run_id
    run = json.loads(Path(arch.runs_dir, f"{run_id}.json").read_text())
    assert run["notes"] == [{"input": "https://a.example.org/1", "reason": "fetched on attempt 2"}]
    assert run["errors"] == [{"input": "https://a.example.org/2", "reason": "HTTP 500"}]
    assert run["status"] == "done with errors" and run["counts"]["failures"] == 1


def test_newest_capture_of_a_url(arch):
    url = "https://a.example.org/a page.html"
    with arch.writer(kind="crawl") as w:
        first = w.add_capture(url, 200, html_headers(), b"one", fetched_at="2020-01-01T00:00:00Z")
        assert arch.newest_capture(url) is None  # not committed yet
        w.commit()
        second = w.add_capture(url, 404, html_headers(), b"gone", fetched_at="2020-02-01T00:00:00Z")
    assert arch.newest_capture(url) == second
    assert arch.newest_capture("https://a.example.org/a%20page.html") == second  # the URL is normalised
    assert arch.newest_capture(url, status=200) == first
    assert arch.newest_capture("https://a.example.org/other") is None


def test_a_new_version_creates_few_files_and_folders(arch):
    with arch.writer(kind="crawl") as w:
        cap = w.add_capture("https://a.example.org/x", 200, html_headers(), b"x")
        w.record(cap, result(cable("08ASTANA611", "ONE\n")))
    with arch.writer(kind="reclean") as w:
        w.record(cap, result(cable("08ASTANA611", "TWO\n", rules=RULES_B), rules=RULES_B))
    obj = os.path.join(arch.cables_dir, "08ASTANA611")
    dirs = sorted(os.path.relpath(d, obj) for d, _, _ in os.walk(obj))
    # Content is stored flat in each version's content folder: no sources/ folders.
    assert dirs == [".", "v1", "v1/content", "v2", "v2/content"]
    # Only what changed is stored: the text (once for cable.txt and the source) and the provenance.
    assert sorted(os.listdir(os.path.join(obj, "v2", "content"))) == sorted(
        ["cable.txt", f"{source_key('https://a.example.org/x')}.json"]
    )
    assert arch.cable("08ASTANA611").source(source_key("https://a.example.org/x"))[0] == "TWO\n"
    assert arch.verify().ok and ocfl_validate(arch.path).returncode == 0


def test_replaced_texts_are_not_found_and_a_run_compacts_the_full_text_index(arch, monkeypatch):
    from archive import writer

    url = "https://a.example.org/x"

    def run(text, subject):
        with arch.writer(kind="crawl") as w:
            cap = w.add_capture(url, 200, html_headers(), text.encode() + subject.encode())
            w.record(cap, result(cable("08ASTANA611", text, subject=subject)))

    run("ALPHA BRAVO\n", "FIRST")
    run("CHARLIE DELTA\n", "FIRST")
    # Replaced rows stay until there are many of them; search never finds them.
    assert arch.conn.execute("SELECT count(*) FROM fts_docsize").fetchone()[0] == 2
    assert arch.search("alpha") == []
    monkeypatch.setattr(writer, "FTS_SLACK", 0)
    run("CHARLIE DELTA\n", "SECOND")  # a subject change alone replaces the row too
    assert arch.cable("08ASTANA611").head == 3
    assert arch.conn.execute("SELECT count(*) FROM fts_docsize").fetchone()[0] == 1
    assert arch.search("alpha") == [] and arch.search("first") == []
    assert (
        [h.ref for h in arch.search("charlie")] == ["08ASTANA611"] == [h.ref for h in arch.search("second")]
    )
    arch.conn.execute("INSERT INTO fts(fts, rank) VALUES ('integrity-check', 0)")
    assert arch.verify().ok


def test_a_commit_that_fails_after_its_decision_is_completed(arch, monkeypatch):
    from archive import index

    real = index.write_cable
    calls = []

    def broken(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 1:  # the commit's own index update fails; recovery's works
            raise OSError(5, "Input/output error")
        return real(*args, **kwargs)

    with arch.writer(kind="crawl") as w:
        cap = w.add_capture("https://a.example.org/x", 200, html_headers(), b"x")
        w.record(cap, result(cable("08ASTANA611", "ONE\n")))
        monkeypatch.setattr(index, "write_cable", broken)
        with pytest.raises(OSError, match="Input/output"):
            w.commit()
        # The versions were durable when it failed: the commit was completed, the index resynced.
        assert arch.cable("08ASTANA611").text() == "ONE\n"
        assert [c.ref for c in arch.list_cables()] == ["08ASTANA611"]
        assert arch.cleaned_digest(cap) == RULES_A.digest
        assert w.commit().new == []
    assert arch.verify().ok


def test_a_busy_index_is_not_rebuilt():
    """'database is locked' means another process holds the index: report it, do not rebuild."""
    import sqlite3

    from archive.index import raise_if_busy

    with pytest.raises(ArchiveError, match="busy"):
        raise_if_busy("index.sqlite", sqlite3.OperationalError("database is locked"))
    assert raise_if_busy("index.sqlite", sqlite3.DatabaseError("file is not a database")) is None


@pytest.mark.parametrize(
    ("where", "damage"),
    [
        ("start", b"\0" * 64),  # the deflate stream's first blocks
        ("middle", b"\xff"),  # one byte inside the compressed payload
        ("trailer", b"\0\0\0\0"),  # the CRC32 of the member's trailer
    ],
)
def test_a_damaged_capture_is_never_read_as_another_page(arch, where, damage):
    """Reading a capture checks its gzip member and payload digest: damage raises, it never gives empty or wrong bytes."""
    url, body, _ = cablegate_pages()[0]
    crawl(arch, [(url, body)])
    (cap,) = list(arch.captures())
    assert arch.read_capture(cap)[2] == body
    at = {
        "start": cap.offset + 10,
        "middle": cap.offset + cap.length // 2,
        "trailer": cap.offset + cap.length - 8,
    }
    with open(os.path.join(arch.captures_dir, os.path.basename(cap.warc_file)), "r+b") as fh:
        fh.seek(at[where])
        fh.write(damage)
    with pytest.raises(ArchiveError, match=re.escape(os.path.basename(cap.warc_file))):
        arch.read_capture(cap)


@pytest.mark.parametrize("ref", ["7575LIBREVILLE1895", "09SECTION01OF03SANJOSE525", "06MADRID002583ZFR2585"])
def test_a_viewer_id_the_page_names_is_an_object_id(arch, ref):
    """The viewer's own malformed IDs name their cable on every mirror: the archive keeps them."""
    with arch.writer(kind="crawl") as w:
        cap = w.add_capture(f"https://mirror.example.org/{ref}.html", 200, html_headers(), b"<html>x</html>")
        w.record(cap, result(cable(ref, "TEXT\n")))
    assert arch.cable(ref).text() == "TEXT\n"


@pytest.mark.parametrize(
    "name", ["08ASTANA611\n", "08ASTANA611\r", "08ASTANA611/", "../08ASTANA611", "08astana611"]
)
def test_a_name_with_a_line_break_or_a_slash_is_never_an_object_id(name):
    """A trailing newline passes a `$` anchor: IDs and source keys are matched whole."""
    from archive.ids import is_reference, is_source_key

    assert not is_reference(name)
    assert not is_source_key("mirror.example.org-0123456789ab\n")


@pytest.mark.parametrize("opener", ["open", "open_read_only"])
@pytest.mark.parametrize(
    ("meta", "words"),
    [
        ({"format": "cablearchive", "format_version": 999}, "newer than this tool reads"),
        ({"format": "cablearchive", "format_version": "x"}, "is not a number"),
        ({"format": "something-else"}, "format is 'something-else'"),
        (["not", "an", "object"], "format is"),
    ],
)
def test_every_opening_checks_the_archive_marker(
    tmp_path: Path, opener: str, meta: object, words: str
) -> None:
    """Opening for reading checks the marker as opening for writing does: no archive of a newer format."""
    Archive.create(tmp_path / "a").close()
    (tmp_path / "a" / "cablearchive.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ArchiveError, match=re.escape(words)):
        getattr(Archive, opener)(tmp_path / "a")
