"""Reference IDs and source keys: the only names the archive derives paths from."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import urlsplit

from archive.errors import BadReference
from cleaners.fields.ids import VIEWER_ID_MAX, is_viewer_id

# An object is named by the ID the page names its cable by, in the cleaners' grammar: two-digit
# year, then capitals, digits and hyphens, ending in the serial (08ASTANA611, 09USUNNEWYORK1018),
# including the viewer's own malformed IDs (7575LIBREVILLE1895, 09SECTION01OF03SANJOSE525) that
# every mirror of a release shares. Only [0-9A-Z-]: always a safe folder name.
REF_MAX_LEN = VIEWER_ID_MAX

# A source key: the host made filesystem-safe, a dash, 12 hex digits of sha256(url).
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}-[0-9a-f]{12}$")
_HOST_MAX = 48


def is_reference(ref: object) -> bool:
    """True when ref is a string matching the cable ID grammar."""
    return isinstance(ref, str) and is_viewer_id(ref)


def check_reference(ref: object) -> str:
    """Return ref if it is a cable ID; raise BadReference (never a path) otherwise."""
    if not is_reference(ref):
        shown = repr(ref)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise BadReference(
            f"{shown} is not a cable reference ID (expected e.g. 08ASTANA611: "
            "two digits, an origin in capitals, a serial)"
        )
    return ref  # type: ignore[return-value]


def _safe_host(url: str) -> str:
    """The URL's host reduced to [a-z0-9.-], no leading dot or dash, bounded in length."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    try:
        # IDNA hosts keep a readable ASCII form; anything odd is simply dropped below.
        host = host.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        host = unicodedata.normalize("NFKD", host).encode("ascii", "ignore").decode("ascii")
    host = re.sub(r"[^a-z0-9.-]+", "", host.lower())
    host = re.sub(r"\.{2,}", ".", host).strip(".-")
    host = host[:_HOST_MAX].strip(".-")
    return host or "nohost"


def source_key(url: str) -> str:
    """Stable, filesystem-safe key of a source URL: host plus a short hash of the whole URL."""
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{_safe_host(url)}-{digest}"


def is_source_key(key: object) -> bool:
    """True when key has the form source_key() gives (used before any path is built from it)."""
    return isinstance(key, str) and KEY_RE.fullmatch(key) is not None
