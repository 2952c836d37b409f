"""Rules are data: loaded, validated (errors name file and line), digested, layered."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleaners import RulesError, clean, load_rules

from conftest import PAGES

SHIPPED = Path(__file__).resolve().parents[1] / "cleaners" / "rules"


def test_shipped_rules_load_and_digest():
    """Every family is there, with a version; the digest is stable between loads."""
    rules = load_rules()
    names = [f.family for f in rules.families]
    for family in ("cablegate", "wordpress_com", "wordpress", "blogger", "generic"):
        assert family in names
    assert names[-1] == "generic"  # the fallback is tried last
    assert rules.info.digest.startswith("sha256:") and len(rules.info.digest) == 71
    assert rules.info.name == "default"
    assert set(rules.info.files) == {p.stem for p in SHIPPED.glob("*.toml")}
    assert rules.info.version.startswith("default@")
    assert load_rules().info.digest == rules.info.digest


def test_digest_ignores_comments_but_not_content(tmp_path):
    """A comment is not a rule change; a changed value is."""
    comment = tmp_path / "comment"
    comment.mkdir()
    (comment / "blogger.toml").write_text("# only a comment\n[rules]\nfamily = 'blogger'\nversion = 1\n")
    assert load_rules(comment).info.digest == load_rules().info.digest
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "blogger.toml").write_text("[rules]\nfamily = 'blogger'\nversion = 2\n")
    info = load_rules(changed).info
    assert info.digest != load_rules().info.digest
    assert info.name == "default+changed"
    assert info.files["blogger"] == 2


def test_user_rules_layer_on_top(tmp_path):
    """A user's file with a shipped name overrides its tables key by key; a new file adds a family."""
    user = tmp_path / "myrules"
    user.mkdir()
    (user / "common.toml").write_text(
        r"[framing]" "\n" r"after = ['^\s*Filed under\b', '^\s*SPONSORED\s*$']" "\n"
    )
    (user / "mysite.toml").write_text(
        "[rules]\nfamily = 'mysite'\nversion = 1\npriority = 5\n"
        "[detect]\nmarkers = ['mysite-theme']\nmin_signals = 1\n"
        "[body]\nselect = [\"//div[@class='story']\"]\n"
    )
    rules = load_rules(user)
    assert rules.families[0].family == "mysite"
    assert any(rx.pattern.endswith("SPONSORED\\s*$") for rx in rules.common["framing_after"])
    # tables the user did not touch are the shipped ones
    assert rules.common["partial_note"] == load_rules().common["partial_note"]
    page = (
        "<html><head><meta name='x' content='mysite-theme'></head><body><div class='story'>"
        "<pre>UNCLAS PARIS 000306\n\nSIPDIS\n\nE.O. 12958: N/A\nTAGS: PREL\nSUBJECT: TEST\n\n"
        "1. (U) Text.\nSTAPLETON</pre><p>SPONSORED</p></div></body></html>"
    )
    (cable,) = clean(page.encode(), rules=rules)
    assert cable.family == "mysite"
    assert "SPONSORED" not in cable.text
    assert cable.ruleset.name == "default+myrules"


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        ("[rules]\nfamily = 'x'\nversion = 1\n[body]\nselect = [\n", 5, "not valid TOML"),
        ("[rules]\nfamily = 'x'\nversion = 1\n[body]\nselect = ['//body']\n", 5, "matches everything"),
        ("[rules]\nfamily = 'x'\nversion = 1\n\n[body]\ndrop = ['//*']\n", 6, "matches everything"),
        ("[rules]\nfamily = 'x'\nversion = 1\n[body]\nselect = ['//div[']\n", 5, "bad XPath"),
        ("[rules]\nfamily = 'x'\nversion = 1\n[text]\ndrop_lines = ['.*']\n", 5, "matches everything"),
        (
            "[rules]\nfamily = 'x'\nversion = 1\n[text]\ndrop_lines = ['(unclosed']\n",
            5,
            "bad regular expression",
        ),
        ("[rules]\nfamily = 'x'\nversion = 1\n[body]\nselekt = ['//div']\n", 5, "unknown key"),
        ("[rules]\nfamily = 'x'\nversion = 'one'\n", 3, "must be int"),
        ("[rules]\nfamily = 'x'\n", 1, "needs 'version'"),
    ],
)
def test_bad_rules_name_file_and_line(tmp_path, content, line, reason):
    """A rule that does not parse or that matches everything is refused, naming file and line."""
    (tmp_path / "bad.toml").write_text(content)
    with pytest.raises(RulesError) as err:
        load_rules(tmp_path)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'bad.toml'}:{line}:"), message
    assert reason in message


def test_missing_user_folder_is_an_error(tmp_path):
    """A rules folder that does not exist, or has no rules, is an error, not silently ignored."""
    with pytest.raises(RulesError, match="not found"):
        load_rules(tmp_path / "nope")
    with pytest.raises(RulesError, match=r"no \*\.toml"):
        load_rules(tmp_path)


def test_rule_change_changes_output_and_digest(tmp_path):
    """A user rule that drops a line changes the text, and the digest says which rules made it."""
    page = (PAGES / "mirrors" / "07_wp_twentysixteen_ccde.07.reflowed.html").read_bytes()
    (default,) = clean(page)
    assert default.family == "wordpress"
    assert "\nSIPDIS\n" in default.text
    user = tmp_path / "nosipdis"
    user.mkdir()
    (user / "wordpress.toml").write_text("[rules]\nversion = 2\n[text]\ndrop_lines = ['^\\s*SIPDIS\\s*$']\n")
    (changed,) = clean(page, rules=load_rules(user))
    assert "\nSIPDIS\n" not in changed.text
    assert changed.ruleset.digest != default.ruleset.digest
    assert changed.ruleset.files["wordpress"] == 2
