"""The on-disk archive: captures (WARC + CDXJ), cables (OCFL 1.1 objects), a derived index.

The format is specified in docs/archive-format.md. The library API::

    from archive import Archive, ArchiveError

    arch = Archive.create(path)            # new archive (refuses a non-empty non-archive folder)
    arch = Archive.open(path)              # existing; ArchiveError with a clear message otherwise
    arch = Archive.open_or_create(path)
    arch = Archive.open_read_only(path)    # a reader: no lock, no recovery, no write (read-only mounts)

    # One writer at a time: writer() takes the lock in state/. wait=None waits (printing
    # who holds it), wait=0 refuses at once (LockBusy), wait=N waits N seconds.
    with arch.writer(kind="crawl", args={"seeds": "seeds.txt"}, wait=None) as w:
        cap = w.add_capture(url, status, headers, body,
                            final_url=None, request_headers=None, fetched_at=None,
                            method="GET", protocol="HTTP/1.1")
        # -> Capture(capture_id, url, warc_file, offset, length, record_id, payload_digest,
        #            revisit, status, mime, fetched_at, final_url, etag, last_modified, ...)
        # A payload already stored becomes a revisit record (identical-payload-digest);
        # a 304 becomes a server-not-modified revisit of the newest 200 capture of the URL.
        w.record(cap, page_result)         # stage the page's cables; notes the rules digest
        w.record_failure(url, reason)      # an input that failed: kept in runs/<run>.json
        w.record_note(url, reason)         # worth telling, not a failure: runs/<run>.json "notes"
        report = w.commit(note=None)       # CommitReport: new / changed / unchanged cables
        # A commit is all or nothing: its captures, their "cleaned" marks and its versions
        # survive a crash together (see the commit protocol in docs/archive-format.md).
        w.run_id, w.counts
    # close() (end of the with block) commits what is staged; an exception aborts the
    # run instead, and the archive keeps its last commit.

    arch.newest_capture(url, status=None) -> Capture | None   # newest committed capture of a URL
    arch.conditional_headers(url) -> dict  # If-None-Match / If-Modified-Since for a refetch
    arch.captures(newest_per_url=True) -> Iterator[Capture]   # each with .cleaned (rules digest)
    arch.read_capture(cap) -> (status, headers, body)         # revisits resolved
    arch.cleaned_digest(cap) -> str | None
    arch.list_cables() -> Iterator[CableSummary]
    arch.cable(ref) -> CableRecord         # .head, .versions [VersionInfo(number, created,
                                           #  message, user)], .state(v) -> CableState(text,
                                           #  metadata, sources {key: (text, provenance)}),
                                           #  .text(v), .metadata(v), .source(key, v), .read(path, v),
                                           #  .provenance(key, v) -> Provenance,
                                           #  .log() -> [LogEntry(version, ..., sources [SourceChange])]
    arch.search(query, limit=20) -> list[SearchHit]            # FTS5 syntax
    arch.runs() -> list[dict]                                   # the run records
    arch.verify(progress=None) -> VerifyReport                  # .ok, .problems, .notes
    arch.reindex(progress=None, from_warc=False)                # rebuild index.sqlite
    arch.layout                                                 # every path: archive.layout.Layout

A new OCFL version is written only when a source's text or metadata changes; record()
compares against index.sqlite, so re-recording an unchanged page costs one lookup.
`progress` callables are called as progress(stage, done, total).

Elsewhere: archive.diff (diff_texts, diff_versions, diff_sources) and archive.render
(unified, words, html, render, render_many); archive.reclean.reclean; archive.transfer
(import_warcs, export_jsonl, export_warc). DEVELOPERS.md maps the modules.
"""

from archive.cable import (
    CableRecord,
    CableState,
    CableSummary,
    LogEntry,
    SearchHit,
    SourceChange,
    VersionInfo,
)
from archive.captures import Capture
from archive.commit import CommitReport
from archive.errors import ArchiveError, BadReference, DamagedIndex, DiskFull, LockBusy, ReadOnlyArchive
from archive.ids import is_reference, source_key
from archive.layout import Layout
from archive.store import Archive
from archive.writer import Writer

__all__ = [
    "Archive",
    "ArchiveError",
    "BadReference",
    "CableRecord",
    "CableState",
    "CableSummary",
    "Capture",
    "CommitReport",
    "DamagedIndex",
    "DiskFull",
    "Layout",
    "LockBusy",
    "LogEntry",
    "ReadOnlyArchive",
    "SearchHit",
    "SourceChange",
    "VersionInfo",
    "Writer",
    "is_reference",
    "source_key",
]
