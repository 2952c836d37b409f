"""The station table and the field tables are rules data: validated, versioned, digested, layered."""

from __future__ import annotations

import pytest

from cleaners import RulesError, load_rules
from cleaners.fields import canonical_id
from cleaners.fields.refs import cited_ids

RULES = load_rules()


@pytest.mark.parametrize(
    ("spelling", "station"),
    [
        ("RIO DE JAN", "RIODEJANEIRO"),
        ("Rio de Janeiro", "RIODEJANEIRO"),
        ("SECSTATE", "STATE"),
        ("SECSTATE WASHDC", "STATE"),
        ("USUN", "USUNNEWYORK"),
        ("USUN NEW YORK", "USUNNEWYORK"),
        ("USNATO", "USNATO"),
        ("USEU", "USEUBRUSSELS"),
        ("PORT AU PRINCE", "PORTAUPRINCE"),
        ("The Hague", "THEHAGUE"),
        ("UNVIE", "UNVIEVIENNA"),
        ("nowhere", None),
    ],
)
def test_station_spellings(spelling, station):
    assert RULES.stations.resolve(spelling) == station
    assert RULES.stations.names.get("RIODEJANEIRO") == "Rio de Janeiro"


def test_id_only_aliases_are_not_read_in_text():
    """DEPT in an ID is State; in a REF line "DEPT 12" is not read as a State cable."""
    assert RULES.stations.resolve("DEPT") == "STATE"
    assert RULES.stations.in_text("DEPT") is None
    assert cited_ids("DEPT 12", RULES.stations, 2007, None) == []
    assert cited_ids("DEPTEL 12", RULES.stations, 2007, None) == ["07STATE12"]


def test_table_files_are_versioned_and_digested():
    assert {"stations", "fields"} <= set(RULES.info.files)
    assert RULES.info.files["stations"] >= 1 and RULES.info.files["fields"] >= 1


def test_user_station_layers_on_top(tmp_path):
    """A user's stations.toml adds a post and an alias, keeping the shipped ones, and changes the digest."""
    user = tmp_path / "posts"
    user.mkdir()
    (user / "stations.toml").write_text(
        '[rules]\ntable = "stations"\nversion = 2\n[stations]\nMEDAN = { name = "Medan", aliases = ["MEDN"] }\n'
    )
    rules = load_rules(user)
    assert rules.stations.resolve("MEDN") == "MEDAN"
    assert rules.stations.resolve("RIO DE JAN") == "RIODEJANEIRO"
    assert rules.info.digest != RULES.info.digest
    assert canonical_id("09MEDN12", rules.stations) == "09MEDAN12"
    assert cited_ids("MEDN 12", rules.stations, 2009, None) == ["09MEDAN12"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('[stations]\nrio = { name = "Rio" }\n', "must be 2 to 24 capital letters"),
        ('[stations]\nFOO = { name = "" }\n', "name must be a non-empty string"),
        ('[stations]\nFOO = { name = "Foo", aliases = ["SECSTATE"] }\n', "already names STATE"),
        ('[stations]\nFOO = { name = "Foo", aliases = ["PARIS"] }\n', "is the ID of station PARIS"),
        ('[stations]\nFOO = { name = "Foo", aliases = "FO" }\n', "must be lists of strings"),
        ('[stations]\nFOO = { name = "Foo", city = "x" }\n', "unknown key 'city'"),
        ('[offices]\nprefixes = "AMEMBASSY"\n', "must be list"),
    ],
)
def test_bad_station_tables_are_refused(tmp_path, content, reason):
    """A bad station table is refused with a message naming the file and what is wrong."""
    user = tmp_path / "bad"
    user.mkdir()
    (user / "stations.toml").write_text(content)
    with pytest.raises(RulesError) as exc:
        load_rules(user)
    assert "stations.toml:" in str(exc.value)
    assert reason in str(exc.value)


def test_bad_field_tables_are_refused(tmp_path):
    user = tmp_path / "bad"
    user.mkdir()
    (user / "fields.toml").write_text("[signers]\ntail = ['.*']\n")
    with pytest.raises(RulesError, match="matches everything"):
        load_rules(user)
    (user / "fields.toml").write_text("[tags]\nnot_tags = 'SIPDIS'\n")
    with pytest.raises(RulesError, match="must be list"):
        load_rules(user)
