"""Exit codes and the problems that lead to them: one table for every command (DESIGN §5).

0 done, 1 some input failed (reported, the rest done), 2 usage error, 130 interrupted. A
command that meets a problem raises `CommandError(problem, message)`; `crawler.cli.main`
prints the message naming the command and exits with the problem's code, the same code in
every command.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Exit(IntEnum):
    """The exit codes of `cablearchive`."""

    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


MEANING: dict[Exit, str] = {
    Exit.OK: "done",
    Exit.FAILED: "some input failed (reported, the rest done)",
    Exit.USAGE: "usage error",
    Exit.INTERRUPTED: "interrupted",
}


def summary() -> str:
    """The exit codes in one sentence, as `--help` states them."""
    codes = (Exit.OK, Exit.FAILED, Exit.USAGE)
    return "Exit codes: " + ", ".join(f"{int(c)} {MEANING[c]}" for c in codes) + "."


@dataclass(frozen=True)
class Problem:
    """A kind of problem a command reports, and the exit code it gives."""

    name: str
    what: str
    code: Exit

    def code_in(self, command: str | None) -> Exit:
        """The exit code in `command`: the table's, the same in every command."""
        return self.code


BAD_ARGUMENT = Problem("bad-argument", "an option or argument the command cannot use", Exit.USAGE)
NO_INPUT = Problem("no-input", "none of the files named can be read", Exit.USAGE)
BAD_RULES = Problem("bad-rules", "a rules folder that does not load", Exit.USAGE)
BAD_REFERENCE = Problem("bad-reference", "a REF that is not a cable reference ID", Exit.USAGE)
NO_ARCHIVE = Problem(
    "no-archive", "the archive cannot be opened (missing, not an archive, locked)", Exit.FAILED
)
NOT_IN_ARCHIVE = Problem("not-in-archive", "a cable the archive does not hold, or cannot read", Exit.FAILED)
NO_SUCH_VERSION = Problem("no-such-version", "a version or source the cable does not have", Exit.FAILED)
ARCHIVE_ERROR = Problem("archive-error", "the archive could not do what was asked", Exit.FAILED)
INPUT_FAILED = Problem(
    "input-failed", "some input failed (each one reported), the rest was done", Exit.FAILED
)
CANNOT_WRITE = Problem("cannot-write", "an output file or folder cannot be written", Exit.FAILED)
NO_CLUSTER = Problem(
    "no-cluster", "the distributed crawl's Redis cannot be reached, or runs no crawl", Exit.FAILED
)
INTERRUPTED = Problem("interrupted", "interrupted (a crawl continues with --resume)", Exit.INTERRUPTED)

PROBLEMS = (
    BAD_ARGUMENT,
    NO_INPUT,
    BAD_RULES,
    BAD_REFERENCE,
    NO_ARCHIVE,
    NOT_IN_ARCHIVE,
    NO_SUCH_VERSION,
    ARCHIVE_ERROR,
    INPUT_FAILED,
    CANNOT_WRITE,
    NO_CLUSTER,
    INTERRUPTED,
)


class CommandError(Exception):
    """A problem that ends a command: what kind (its exit code) and the message naming the input."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message
