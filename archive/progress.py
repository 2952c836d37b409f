"""How long-running archive work reports progress."""

from __future__ import annotations

from collections.abc import Callable

# progress(stage, done, total): total is None when it is not known in advance.
Progress = Callable[[str, int, "int | None"], None]
