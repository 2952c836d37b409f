"""`cablearchive clean`: the files it writes, what it prints, and its exit codes."""

from __future__ import annotations

import json
import shutil

from crawler.cli import main

from conftest import PAGES

KEYS = {"reference_id", "classification", "created", "released", "origin", "subject", "tags", "partial"}


def test_out_writes_text_and_metadata_per_cable(tmp_path, capsys):
    """--out DIR writes <stem>.<REF>.txt and .json for every cable on every page."""
    pages = tmp_path / "pages"
    pages.mkdir()
    for name in ("cablegate/00HARARE6677.html", "mirrors/04_wpcom_vip_wikimedia.19.pre_only.html"):
        shutil.copy(PAGES / name, pages)
    out = tmp_path / "out"
    assert main(["clean", str(pages), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "00HARARE6677.00HARARE6677.txt",
            "00HARARE6677.00HARARE6677.json",
            *(
                f"04_wpcom_vip_wikimedia.19.pre_only.{r}.{ext}"
                for r in ("09TRIPOLI771", "08STATE37957", "08BUENOSAIRES235")
                for ext in ("txt", "json")
            ),
        ]
    )
    meta = json.loads((out / "00HARARE6677.00HARARE6677.json").read_text())
    assert set(meta) >= KEYS
    assert meta["created"] == "2000-11-29 13:01"
    assert meta["classification"] == "CONFIDENTIAL"
    assert meta["partial"] is True
    assert meta["cleaning"]["ruleset"]["digest"].startswith("sha256:")
    expected = (PAGES / "cablegate" / "00HARARE6677.00HARARE6677.txt").read_text()
    assert (out / "00HARARE6677.00HARARE6677.txt").read_text().rstrip("\n") == expected.rstrip("\n")
    assert "2 page(s), 4 cable(s), 0 failed" in capsys.readouterr().err


def test_out_keeps_cables_without_id_apart(tmp_path, capsys):
    """A cable whose ID cannot be established is written to unidentified/, never under a made-up ID."""
    page = tmp_path / "undated.txt"
    page.write_text("UNCLAS AMMAN 002221\n\nSIPDIS\n\nSUBJECT: A CABLE WITH NO DATE\n\n1. (U) Text.\n")
    out = tmp_path / "out"
    assert main(["clean", str(page), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["unidentified"]
    assert sorted(p.name for p in (out / "unidentified").iterdir()) == ["undated.1.json", "undated.1.txt"]
    meta = json.loads((out / "unidentified" / "undated.1.json").read_text())
    assert meta["reference_id"] is None
    assert any("no year" in w for w in meta["cleaning"]["warnings"])
    assert "cable without ID" in capsys.readouterr().err


def test_prints_cables_and_json(capsys):
    """Without --out the cables are printed; --json gives one record a line."""
    page = str(PAGES / "cablegate" / "09BRASILIA1447.html")
    assert main(["clean", page]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"== {page}: 09BRASILIA1447 [cablegate, ID from table]")
    assert main(["clean", page, "--json"]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["reference_id"] == "09BRASILIA1447" and record["text"]


def test_bad_input_is_reported_and_the_rest_done(tmp_path, capsys):
    """Missing, empty and binary inputs: a line each naming it and why; good pages still cleaned; exit 1."""
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    binary = tmp_path / "image.html"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    good = PAGES / "cablegate" / "09BRASILIA1447.html"
    out = tmp_path / "out"
    code = main(
        ["clean", str(tmp_path / "missing.html"), str(empty), str(binary), str(good), "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert f"{tmp_path / 'missing.html'}: no such file or folder" in err
    assert f"{empty}: empty body" in err
    assert f"{binary}: binary body: PNG image" in err
    assert (out / "09BRASILIA1447.09BRASILIA1447.txt").exists()
    assert "4 page(s), 1 cable(s), 3 failed" in err


def test_page_without_cable_is_not_a_failure(capsys):
    """A blog's own post is reported as holding no cable; that is not an error."""
    page = PAGES / "negatives" / "09_blogger_custom_pythoninsider.original.html"
    assert main(["clean", str(page)]) == 0
    assert "no cable found (blogger page)" in capsys.readouterr().err


def test_url_and_rules_options(tmp_path, capsys):
    """--url helps name a cable; a bad --rules folder is a usage error (exit 2) naming the problem."""
    text = tmp_path / "cable.txt"
    text.write_text(
        "UNCLAS PARIS 000306\n\nSIPDIS\n\nE.O. 12958: N/A\nTAGS: PREL\nSUBJECT: TEST\n\n1. (U) Text.\nSTAPLETON\n"
    )
    assert (
        main(["clean", str(text), "--json", "--url", "https://m.example/cable/2007/01/07PARIS306.html"]) == 0
    )
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["reference_id"] == "07PARIS306" and record["id_source"] == "url"
    assert main(["clean", str(text), "--rules", str(tmp_path / "nope")]) == 2
    assert "rules folder not found" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    """No page given: usage error."""
    try:
        code = main(["clean"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
