"""Clean saved pages from disk: the library behind `cablearchive clean`."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from cleaners import Cable, PageResult, Warn, clean_page, load_rules
from cleaners.ruleset import Ruleset

PAGE_SUFFIXES = (".html", ".htm", ".xhtml", ".txt", ".text", ".md", "")


def iter_pages(paths: Sequence[str]) -> Iterator[tuple[Path, str | None]]:
    """Files named, and the page files inside folders named (sorted); (path, error) pairs."""
    for name in paths:
        p = Path(name)
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if (
                    child.is_file()
                    and child.suffix.lower() in PAGE_SUFFIXES
                    and not child.name.startswith(".")
                ):
                    yield child, None
        elif p.is_file():
            yield p, None
        elif p.exists():
            yield p, "not a regular file"
        else:
            yield p, "no such file or folder"


def safe_stem(path: Path) -> str:
    """The page's file name without its last suffix, made safe for an output file name."""
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return re.sub(r"[^\w.+-]", "_", stem)[:200] or "page"


def _write_atomic(path: Path, data: str) -> None:
    """Write a file through a temporary name, so a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(data)
    os.replace(tmp, path)


def write_cables(out_dir: Path, stem: str, cables: list[Cable]) -> list[Path]:
    """Write `<stem>.<REF>.txt` and `<stem>.<REF>.json` for each cable; returns the text files.

    A cable without a reference ID is no `<REF>`: it goes to `unidentified/<stem>.<n>.txt`
    (and `.json`), so that the names beside it stay the IDs of the cables the page carries.
    """
    written: list[Path] = []
    seen: set[str] = set()
    unnamed = 0
    for cable in cables:
        folder = out_dir
        if cable.reference_id:
            name = cable.reference_id
            if name in seen:
                continue  # the same cable twice on one page: the first copy is kept
        else:
            unnamed += 1
            name = str(unnamed)
            folder = out_dir / "unidentified"
            folder.mkdir(exist_ok=True)
        seen.add(name)
        txt = folder / f"{stem}.{name}.txt"
        _write_atomic(txt, cable.text + "\n")
        meta = {**cable.metadata(), "cleaning": cable.cleaning()}
        _write_atomic(folder / f"{stem}.{name}.json", json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        written.append(txt)
    return written


def _report(err: TextIO, path: Path, message: str) -> None:
    """One line on stderr naming the input and what happened to it."""
    print(f"{path}: {message}", file=err)


@dataclass
class CleanSummary:
    """What cleaning the pages gave: pages read, cables found, pages that failed."""

    pages: int = 0
    cables: int = 0
    failed: int = 0


def clean_paths(
    paths: Sequence[str],
    url: str | None = None,
    out_dir: str | None = None,
    as_json: bool = False,
    rules_dir: str | None = None,
    quiet: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> CleanSummary:
    """Clean every page named; print cables or write them to `out_dir`; report each failure on `err`.

    RulesError when the rules do not load, OSError when `out_dir` cannot be created.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    rules: Ruleset = load_rules(rules_dir)
    target = Path(out_dir) if out_dir else None
    if target is not None:
        target.mkdir(parents=True, exist_ok=True)
    done = CleanSummary()
    for path, problem in iter_pages(paths):
        done.pages += 1
        if problem:
            done.failed += 1
            _report(err, path, problem)
            continue
        try:
            body = path.read_bytes()
        except OSError as exc:
            done.failed += 1
            _report(err, path, f"cannot read: {exc.strerror or exc}")
            continue
        result: PageResult = clean_page(body, url=url, rules=rules)
        if not result.cables and result.has_warning(Warn.EMPTY, Warn.BAD_INPUT):
            done.failed += 1
            _report(err, path, "; ".join(result.warnings[:2]))
            continue
        if not result.cables:
            if not quiet:
                _report(err, path, f"no cable found ({result.family} page)")
            continue
        done.cables += len(result.cables)
        for cable in result.cables:
            for warning in cable.warnings:
                _report(err, path, f"{cable.reference_id or 'cable without ID'}: {warning}")
        if target is not None:
            try:
                write_cables(target, safe_stem(path), result.cables)
            except OSError as exc:
                done.failed += 1
                _report(err, path, f"cannot write output: {exc.strerror or exc}")
            continue
        for cable in result.cables:
            if as_json:
                out.write(json.dumps({"page": str(path), **cable.to_json()}, ensure_ascii=False) + "\n")
            else:
                out.write(
                    f"== {path}: {cable.reference_id or '(no reference ID)'} "
                    f"[{cable.family}, ID from {cable.id_source or 'nowhere'}]\n{cable.text}\n\n"
                )
    print(f"{done.pages} page(s), {done.cables} cable(s), {done.failed} failed", file=err)
    return done
