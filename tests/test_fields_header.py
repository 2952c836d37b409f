"""Header fields on the real patterns cables carry: run-on subjects, TAGS continuations, REF variants, signers."""

from __future__ import annotations

import pytest

from cleaners import load_rules
from cleaners.fields import canonical_id, read_fields
from cleaners.fields.refs import cited_ids

RULES = load_rules()


def fields(text: str, year: int | None = 2007, own: str | None = "STATE"):
    """The fields read from a cable text (its lines), as the cleaner reads them."""
    return read_fields(
        text.split("\n"), RULES.stations, RULES.common, RULES.fields, year=year, own_station=own
    )


def ids(text: str, year: int = 2005, own: str | None = "PARIS") -> list[str]:
    return [r.id for r in fields(text, year, own).references if r.kind == "cable"]


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        # a paragraph number without a classification mark
        (
            "SUBJECT: EU JHA INFORMAL MINISTERIAL\n1. Summary. EU Justice and Home",
            "EU JHA INFORMAL MINISTERIAL",
        ),
        # a page marker, new and old style
        (
            "SUBJECT: PART 3 OF 3:  THE LIFE AND TIMES OF SOUTH AFRICA'S \nNEW PRESIDENT\nPRETORIA 00000954  001.2 OF 004\n",
            "PART 3 OF 3: THE LIFE AND TIMES OF SOUTH AFRICA'S NEW PRESIDENT",
        ),
        ("SUBJECT: VISIT OF THE MINISTER\nPAGE 02 ROME 03067 211833Z\n", "VISIT OF THE MINISTER"),
        # a dash separator, a prose line straight after it
        ("SUBJECT: ZIM NOTES 11-09-2009 \n----------- \n1. SUMMARY\n", "ZIM NOTES 11-09-2009"),
        (
            "SUBJECT: SWEDISH DEPUTY PM URGES SENIOR USG VISITS\nThis is an Action request. Please see para 2.\n",
            "SWEDISH DEPUTY PM URGES SENIOR USG VISITS",
        ),
        # inline REFS: and Ref(s):, labels glued on by the source
        ("SUBJECT: ENERGY INSTALLATIONS REF: BRASILIA 861", "ENERGY INSTALLATIONS"),
        ("SUBJECT: SOBEL MEETS ENTITIES IN RIO Ref(s): A) 08 RIO DE JAN 138", "SOBEL MEETS ENTITIES IN RIO"),
        (
            "SUBJECT: WHO WOULD REPLACE GORDON BROWN AS UK PRIMEREF: A. LONDON 1939",
            "WHO WOULD REPLACE GORDON BROWN AS UK PRIME",
        ),
        (
            "SUBJECT: SCENESETTER FOR CROCKER'S VISIT TO CAIROClassified By: DCM JONES",
            "SCENESETTER FOR CROCKER'S VISIT TO CAIRO",
        ),
        # a banner, backslash continuation marks of the viewer's text dumps
        ("SUBJECT:EGYPT'S 55th BIRD FLU VICTIM Sensitive but ", "EGYPT'S 55th BIRD FLU VICTIM"),
        (
            'SUBJECT: FM CALMY-REY "TAKES NOTE" OF USG CONCERNS \\\nREGARDING IRAN/IAEA \\\n \\\nREF: A. STATE 124823 \\',
            'FM CALMY-REY "TAKES NOTE" OF USG CONCERNS REGARDING IRAN/IAEA',
        ),
        # a lower-case label in a flat header, a damaged label, an empty label
        (
            "E.o. 12958: decl: 01/07/2014 Tags: prel, tu Subject: turkish p.m. goes to washington\n\n(U) Cl",
            "turkish p.m. goes to washington",
        ),
        (
            "TAGS: PGOV BA\nUBJECT: BAHRAIN WILL REQUEST QATAR TO ACT REF: A. A) MANAMA 20",
            "BAHRAIN WILL REQUEST QATAR TO ACT",
        ),
        (
            "\nSUBJECT:\n\nCooperation and Coordination Busts Fraud Ring\n1.(SBU) Summary: The",
            "Cooperation and Coordination Busts Fraud Ring",
        ),
        # the portion marking is the subject's classification, not its words
        ("SUBJECT: (C/NF) WHO WOULD REPLACE BROWN\n\n", "WHO WOULD REPLACE BROWN"),
        # a corrected copy's note is no subject label
        (
            "C O R R E C T E D COPY (SUBJECT LINE)\n\nSUBJECT: DEMARCHE ON THE TEST \n\nClassified By:",
            "DEMARCHE ON THE TEST",
        ),
    ],
)
def test_subject_stops_where_it_ends(text, subject):
    """The subject is its own words on one line, whatever runs on after it in the source."""
    assert fields(text).subject == subject


def test_no_subject_is_none():
    assert fields("E.O. 12958: N/A\nTAGS: KIPR ECON\n\n1. (U) Text.").subject is None


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        # continuation lines
        (
            "E.O. 12958: DECL: 02/05/2019\nTAGS: OVIP CLINTON HILLARY PREL KPAL FR IR RS\nNATO, UK, CN\nSUBJECT: (U) Secreta",
            ["OVIP", "CLINTON", "HILLARY", "PREL", "KPAL", "FR", "IR", "RS", "NATO", "UK", "CN"],
        ),
        ("TAGS: ECON EFIN SP\nEINV\nSUBJECT: MADRID WEEKLY", ["ECON", "EFIN", "SP", "EINV"]),
        ("TAGS: something, \nhere", ["something", "here"]),
        ("TAGS: something\nhere", ["something"]),
        # lower-case label inside a flat header, as written
        (
            "E.o. 12958: decl: 01/07/2014 Tags: prel, pgov, pins, tu Subject: turkish",
            ["prel", "pgov", "pins", "tu"],
        ),
        # comma-separated multi-word tags stay whole; codes between two commas are split
        (
            "TAGS PGOV, PREL, KWBG, IR, IS, COUNTERTERRORISM, GOI EXTERNAL ",
            ["PGOV", "PREL", "KWBG", "IR", "IS", "COUNTERTERRORISM", "GOI EXTERNAL"],
        ),
        ("TAGS PTER MARR, MOPPS", ["PTER", "MARR", "MOPPS"]),
        # misspelled labels
        ("TAGS;  PGOV, TU \nSUBJ: TERRORIST KILL FOUR", ["PGOV", "TU"]),
        ("TAS: ECON, ETRD, IS, JO \nSUBJECT: JORDAN", ["ECON", "ETRD", "IS", "JO"]),
        ("TGS: GOV, PREL, GR \nSUBJECT: X", ["GOV", "PREL", "GR"]),
        ("TAGES:  OIIP, KPAO, PREL, JO \nSUBJECT:  JORDAN", ["OIIP", "KPAO", "PREL", "JO"]),
        ("DECL: 08/22/2017 AGS: PGOV, PREL, ECON, SOCI, AR", ["PGOV", "PREL", "ECON", "SOCI", "AR"]),
        # page-break junk of pre-2004 cables
        (
            "TAGS: PREL, ETRD, ETTC, PARM, IT                          SECRET       PAGE 02        ROME  03067  211833Z \nSUBJECT: ITALY",
            ["PREL", "ETRD", "ETTC", "PARM", "IT"],
        ),
        # a parenthesised name is a tag of its own, its initial kept
        ("Tags: ovip (steinberg, james b.), prel", ["ovip", "steinberg, james b.", "prel"]),
        # tags whose spaces a copy lost
        ("TAGS: KCRM KWMN ASEC PHUMBA\nSUBJECT: X", ["KCRM", "KWMN", "ASEC", "PHUM", "BA"]),
        # handling markings are not tags
        ("TAGS: ECON ETRD PGOV CA MX SIPDIS\nSUBJECT: X", ["ECON", "ETRD", "PGOV", "CA", "MX"]),
    ],
)
def test_tags_as_written(text, tags):
    """TAGS are read as written, split by the list's own delimiter, continuations included."""
    assert fields(text).tags == tags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # lower-case letter markers and continuation lines that start with a year
        (
            "REF: a. 05 state 201650\nb. 05 state 201651\nc. 05 state 211408\nd. 04 paris 1\ne. 05 paris 7527\n\nf. 06 paris 12\n\n1. (C) Text",
            ["05STATE201650", "05STATE201651", "05STATE211408", "04PARIS1", "05PARIS7527", "06PARIS12"],
        ),
        # B.) and REF without a colon
        ("REF A) PARIS 7682 B.) PARIS 7527", ["05PARIS7682", "05PARIS7527"]),
        ("REF. PARIS 12", ["05PARIS12"]),
        ("PROGRAM REF: STATE 1234", ["05STATE1234"]),
        # A) ... B) ... is two items
        (
            "REF: A) STATE 135205; B) JOHNSON-STEVENS E-MAIL 10/15/07; C) TRIPOLI 797",
            ["05STATE135205", "05TRIPOLI797"],
        ),
        # initials are not item letters
        ("REF: A. E-MAIL FROM J. SMITH B. LONDON 12", ["05LONDON12"]),
        # the field goes on after a page break
        ("REF: A. PARIS 1\nPARIS 00000869  001.2 OF 004\nB. PARIS 2\n", ["05PARIS1", "05PARIS2"]),
        # station aliases
        (
            "REF: A) 08 RIO DE JAN 138; B) SECSTATE 74879 C) USUN 2 D) USNATO 7",
            ["08RIODEJANEIRO138", "05STATE74879", "05USUNNEWYORK2", "05USNATO7"],
        ),
        # the field stops at Classified By and at the first paragraph
        ("REF: STATE 1\n\nClassified By: DCM X\n\n1. (C) REF STATE 2", ["05STATE1"]),
    ],
)
def test_references(text, expected):
    """Every cited cable gets its canonical ID; other references stay as written with kind other."""
    assert ids(text) == expected


def test_reference_items_carry_label_text_and_kind():
    (a, b, c) = fields("REF: A) STATE 135205; B) LEE-GOLDSTEIN EMAIL 05/11/07; C) 06 PARIS 12").references
    assert a.to_json() == {"label": "A", "text": "STATE 135205", "kind": "cable", "id": "07STATE135205"}
    assert b.to_json() == {"label": "B", "text": "LEE-GOLDSTEIN EMAIL 05/11/07", "kind": "other", "id": None}
    assert (c.label, c.id) == ("C", "06PARIS12")


def test_a_bare_serial_is_the_cables_own_post():
    assert cited_ids("6307", RULES.stations, 2003, "ANKARA") == ["03ANKARA6307"]


@pytest.mark.parametrize(
    ("tail", "signers"),
    [
        ("APPEARS TO BE WAVERING.\nSTEIGMAN\nCONFIDENTIAL\n", ["STEIGMAN"]),
        # a marking is never the signer
        ("MONGOLIA'S AGENT IN CHINA.\n\nLORD\nLIMITED OFFICIAL USE\nNNNN", ["LORD"]),
        ("THE END OF IT.\n\nLIMITED OFFICIAL USE\n", []),
        # NAME## and NAME.
        ("AS USUAL.\n\nGILLESPIE##\n", ["GILLESPIE"]),
        ("APT TO BE OVERTURNED.\n\nMCNAMARA.\n", ["MCNAMARA"]),
        # a name at the end of the last paragraph, followed by a marking
        ("REPORT.  END OF TEXT. BAKER\n\n\nUNCLASSIFIED\n", ["BAKER"]),
        # page-break junk after it
        (
            "END TEXT.\nEINIK\n   UNCLASSIFIED\n\nPAGE 04        ZAGREB  01569  04 OF 04  071629Z\n\n   UNCLASSIFIED\nNNNN\n",
            ["EINIK"],
        ),
        # declassification stamps, notes of the cable room
        (
            "RECENT MONTHS.\n\nSULLIVAN\n\nCONFIDENTIAL\n\nDeclassified/Released US Department of State EO Systematic\nReview 30 JUN 2006\n",
            ["SULLIVAN"],
        ),
        ("QUIET.  END COMMENT.\n\nBARTHOLOMEW\n\nNOTE BY OC/T:  HEADING AS RECEIVED.\n", ["BARTHOLOMEW"]),
        # prose to the end: no signer
        ("The monthly inflation rate for March was 5.6 percent. The", []),
    ],
)
def test_signers(tail, signers):
    assert fields("1. (C) Text.\n" + tail).signers == signers


def test_classified_by_and_reasons():
    f = fields(
        "SUBJECT: X\n\nClassified By: Acting Deputy Chief of Mission Marc Wall for Reasons 1.4\n (b) and (d)\n\n1. (C) T"
    )
    assert f.classified_by == ["Marc Wall"]
    assert f.classified_reasons == ["1.4(b)", "1.4(d)"]


def test_summary_between_its_marks():
    text = "Classified By: X for reasons 1.4 (b)\n\n1. (C) Summary: The Dutch [...].\nEND SUMMARY.\n\n2. (S) Econoff"
    assert fields(text).summary == "The Dutch [...]."
    assert fields("1. (C) Text without one.\n\n2. (C) More.").summary is None


def test_routing_fields():
    f = fields(
        "VZCZCXRO4549\nDE RUEHSW #0881/01 2540944\nO 110944Z SEP 07\nFM AMEMBASSY BERN\n"
        "TO RUEHC/SECSTATE WASHDC IMMEDIATE 4460\nINFO RUCNMEU/EU INTEREST COLLECTIVE PRIORITY\n"
        "RHEHAAA/NATIONAL SECURITY COUNCIL WASHINGTON DC PRIORITY\n\nS E C R E T BERN 000881\n\n"
        "E.O. 12958: DECL: 09/10/2027\nTAGS: MNUC\n"
    )
    assert f.transmission_id == "VZCZCXRO4549"
    assert f.recipients == [{"route": "RUEHC", "name": "SECSTATE WASHDC", "precedence": "IMMEDIATE"}]
    assert [i["name"] for i in f.info] == [
        "EU INTEREST COLLECTIVE",
        "NATIONAL SECURITY COUNCIL WASHINGTON DC",
    ]
    assert f.decl == {"date": "2027-09-10", "raw": "09/10/2027"}


@pytest.mark.parametrize(
    ("ref", "canonical"),
    [
        ("7575LIBREVILLE1895", "75LIBREVILLE1895"),  # the 2011 viewer writes the year twice
        ("09SECTION01OF03SANJOSE525", "09SANJOSE525"),
        ("08ECTION01OF02MANAMA492", "08MANAMA492"),
        ("06EFTOBAKU1165", "06BAKU1165"),
        ("09AMEMBASSYHANOI1284", "09HANOI1284"),
        ("07SOIA828", "07SOFIA828"),
        ("07OSLO000160ZDK164", "07OSLO160"),
        ("05RIODEJAN123", "05RIODEJANEIRO123"),
        ("08ASTANA611", "08ASTANA611"),
        ("not an id", None),
    ],
)
def test_canonical_ids(ref, canonical):
    assert canonical_id(ref, RULES.stations) == canonical
