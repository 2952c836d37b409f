"""The records the cleaners return: a cable's text, its metadata and how it was cleaned."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class Warn:
    """The kinds of cleaner warnings: what a consumer decides on, instead of matching the wording."""

    EMPTY = "empty"  # the body holds nothing (an empty body, whitespace)
    BAD_INPUT = "bad input"  # binary, too large, not parseable, nested too deeply: not cleaned
    CONTENT_TYPE = "content type"  # the declared media type is not what the body is
    NO_CABLE = "no cable"  # cleaned, and no cable on the page
    NO_ID = "no id"  # a cable whose reference ID could not be established
    ID_INFERRED = "id inferred"  # the ID's year was inferred, not read
    ID_CONFLICT = "id conflict"  # the page's sources of the ID disagree
    SCOPE = "scope"  # the cable was found outside the post body the rules select
    FALLBACK = "fallback"  # found by the generic extractor; line breaks may differ
    OTHER = "other"  # read back from JSON, where only the message is kept

    ALL = (EMPTY, BAD_INPUT, CONTENT_TYPE, NO_CABLE, NO_ID, ID_INFERRED, ID_CONFLICT, SCOPE, FALLBACK, OTHER)


class CleanerWarning(str):
    """A cleaner warning: the message as text, with a structured `kind` (one of Warn.ALL) and `detail`.

    A str, so that messages, logs and the JSON of provenance read as they always did.
    """

    kind: str
    detail: str | None

    def __new__(cls, kind: str, message: str, detail: str | None = None) -> CleanerWarning:
        """A warning of `kind` saying `message`; `detail` names what it is about (e.g. a media type)."""
        if kind not in Warn.ALL:
            raise ValueError(f"unknown warning kind {kind!r}")
        obj = super().__new__(cls, message)
        obj.kind = kind
        obj.detail = detail
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        # Warnings cross process boundaries (cleaning workers): pickle the kind with the text.
        return (CleanerWarning, (self.kind, str(self), self.detail))

    @classmethod
    def of(cls, value: str) -> CleanerWarning:
        """A warning from stored text: itself when it is one, else kind OTHER."""
        return value if isinstance(value, CleanerWarning) else cls(Warn.OTHER, str(value))

    @property
    def message(self) -> str:
        """The text of the warning."""
        return str(self)


# The metadata keys written to `<stem>.<REF>.json` by `cablearchive clean --out`
# and to `cable.json` in the archive; the corpus scorer reads the first five.
# docs/cable-fields.md says what each one holds.
METADATA_KEYS = (
    "reference_id",
    "classification",
    "created",
    "released",
    "origin",
    "canonical_id",
    "subject",
    "tags",
    "references",
    "signers",
    "classified_by",
    "classified_reasons",
    "summary",
    "recipients",
    "info",
    "decl",
    "transmission_id",
    "partial",
    "id_source",
    "sections",
    "paragraphs",
)
# Keys whose value is a list (empty when the cable has none).
_LIST_KEYS = ("tags", "references", "signers", "classified_by", "classified_reasons", "recipients", "info")


@dataclass(frozen=True)
class RulesetInfo:
    """Which rules produced a text: set name, per-file versions and the digest of the whole set."""

    name: str
    version: str
    digest: str
    files: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, as recorded in provenance."""
        return {"name": self.name, "version": self.version, "digest": self.digest, "files": dict(self.files)}


@dataclass
class Cable:
    """One cable found on a page: exact text, parsed metadata and cleaning provenance."""

    text: str
    reference_id: str | None
    # How the ID was established: table, heading, url, title, hashtag, dtg+serial, or inferred
    # (flagged in the warnings); None with reference_id None when it could not be established.
    id_source: str | None = None
    created: str | None = None
    released: str | None = None
    classification: str | None = None
    origin: str | None = None
    # The cable's own ID in canonical form (75LIBREVILLE1895 where the page names 7575LIBREVILLE1895).
    canonical_id: str | None = None
    subject: str | None = None
    tags: list[str] = field(default_factory=list)
    # {"label", "text", "kind": "cable" | "other", "id": canonical ID of the cited cable or None}
    references: list[dict[str, Any]] = field(default_factory=list)
    signers: list[str] = field(default_factory=list)
    classified_by: list[str] = field(default_factory=list)
    classified_reasons: list[str] = field(default_factory=list)
    summary: str | None = None
    # {"route", "name", "precedence"} per TO / INFO addressee
    recipients: list[dict[str, Any]] = field(default_factory=list)
    info: list[dict[str, Any]] = field(default_factory=list)
    decl: dict[str, Any] | None = None  # {"date": "YYYY-MM-DD" or None, "raw": as written}
    transmission_id: str | None = None
    partial: bool = False
    sections: str | None = None
    paragraphs: int = 0
    # provenance of the cleaning
    family: str = "generic"
    profile: str | None = None
    lines_kept: bool = True
    ruleset: RulesetInfo | None = None
    cleaner_version: str = ""
    repairs: list[str] = field(default_factory=list)
    warnings: list[CleanerWarning] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        """The cable's metadata (no text, no provenance), as in cable.json."""
        return {k: getattr(self, k) for k in METADATA_KEYS}

    def cleaning(self) -> dict[str, Any]:
        """How the text was obtained: cleaner, rules, site family, repairs, warnings."""
        return {
            "cleaner_version": self.cleaner_version,
            "ruleset": self.ruleset.to_json() if self.ruleset else None,
            "family": self.family,
            "profile": self.profile,
            "lines_kept": self.lines_kept,
            "repairs": list(self.repairs),
            "warnings": list(self.warnings),
        }

    def to_json(self) -> dict[str, Any]:
        """Everything: metadata, text and cleaning provenance."""
        return {**self.metadata(), "text": self.text, "cleaning": self.cleaning()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cable:
        """Rebuild a Cable from `to_json()` output."""
        cleaning = data.get("cleaning") or {}
        rs = cleaning.get("ruleset")
        kwargs: dict[str, Any] = {k: data.get(k) for k in METADATA_KEYS if k in data}
        for key in _LIST_KEYS:
            if kwargs.get(key) is None:
                kwargs[key] = []
        # Records written before these fields: one `signer`, references as plain strings.
        if "signers" not in data and data.get("signer"):
            kwargs["signers"] = [data["signer"]]
        kwargs["references"] = [
            r if isinstance(r, dict) else {"label": None, "text": str(r), "kind": "other", "id": None}
            for r in kwargs["references"]
        ]
        return cls(
            text=data["text"],
            **kwargs,
            family=cleaning.get("family", "generic"),
            profile=cleaning.get("profile"),
            lines_kept=cleaning.get("lines_kept", True),
            ruleset=RulesetInfo(**rs) if rs else None,
            cleaner_version=cleaning.get("cleaner_version", ""),
            repairs=list(cleaning.get("repairs", [])),
            warnings=[CleanerWarning.of(w) for w in cleaning.get("warnings", [])],
        )


@dataclass
class PageResult:
    """What cleaning one page gave: its cables plus page-level facts and warnings."""

    cables: list[Cable]
    family: str
    profile: str | None
    ruleset: RulesetInfo
    cleaner_version: str
    encoding: str | None = None
    repairs: list[str] = field(default_factory=list)
    warnings: list[CleanerWarning] = field(default_factory=list)

    def has_warning(self, *kinds: str) -> bool:
        """True when the page (not one of its cables) has a warning of one of these kinds."""
        return any(w.kind in kinds for w in self.warnings)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form of the page result."""
        d = asdict(self)
        d["cables"] = [c.to_json() for c in self.cables]
        d["ruleset"] = self.ruleset.to_json()
        return d
