"""How long-running archive work reports progress: progress(stage, done, total)."""

from __future__ import annotations

from collections.abc import Callable

# total is None when it is not known in advance.
Progress = Callable[[str, int, "int | None"], None]
# Work that always knows its total (re-clean counts its captures first).
CountedProgress = Callable[[str, int, int], None]
