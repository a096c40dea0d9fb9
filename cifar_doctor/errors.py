"""Errors the user can fix, each rendered as one actionable line (exit code 2)."""

from __future__ import annotations


class DoctorError(Exception):
    """A problem with the user's input or environment, not a bug in cifar-doctor.

    The message follows one template: what was received, what was expected,
    how to fix it.

    Args:
        what: What went wrong, e.g. "Cannot read --data".
        expected: What was expected. Defaults to `None`.
        received: What was received. Defaults to `None`.
        hint: How to fix it. Defaults to `None`.
    """

    exit_code = 2

    def __init__(self, what: str, *, expected: str | None = None, received: str | None = None,
                 hint: str | None = None) -> None:
        self.what, self.expected, self.received, self.hint = what, expected, received, hint
        super().__init__(self.line())

    def line(self) -> str:
        parts = [self.what.rstrip(".") + "."]
        if self.expected:
            parts.append(f"Expected {self.expected.rstrip('.')}.")
        if self.received:
            parts.append(f"Received: {self.received}.")
        if self.hint:
            parts.append(self.hint.rstrip(".") + ".")
        return " ".join(parts)


class InputError(DoctorError):
    """Unreadable or malformed input (file, array, log, model)."""


class UsageError(DoctorError):
    """A bad option or combination of options."""
