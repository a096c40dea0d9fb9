"""Errors the user can fix, each rendered as one actionable line (exit code 2).

The library speaks Python: an error about a parameter names it as the caller
wrote it (`loss=`). The command line passes its own names (`--loss`) to
`DoctorError.line`, so the same error reads in the terms of each front end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NO_VALUE = object()


class DoctorError(Exception):
    """A problem with the user's input or environment, not a bug in cifar-doctor.

    The message follows one template: what was received, what was expected,
    how to fix it. A message about one parameter writes it as `{arg}`, which
    reads "argument `loss`" from Python and "`--loss`" from the command line.

    Args:
        what: What went wrong, e.g. "Invalid value received for {arg}".
        expected: What was expected. Defaults to `None`.
        received: What was received. Defaults to `None` (built from `value`
            when `param` and `value` are given: `loss='nope'`, or `--loss nope`).
        hint: How to fix it. Defaults to `None`.
        param: The Python parameter the error is about, e.g. `"loss"`. Defaults to `None`.
        value: The value received for `param`. Defaults to no value.
    """

    def __init__(
        self,
        what: str,
        *,
        expected: str | None = None,
        received: str | None = None,
        hint: str | None = None,
        param: str | None = None,
        value: Any = _NO_VALUE,
    ) -> None:
        self.what, self.expected, self.received, self.hint = what, expected, received, hint
        self.param, self.value = param, value
        super().__init__(self.line())

    def line(self, names: Mapping[str, str] | None = None) -> str:
        """The one-line message; `names` maps parameters to the front end's names (e.g. flags)."""
        flag = (names or {}).get(self.param or "")
        arg = f"`{flag}`" if flag else f"argument `{self.param}`"
        received = self.received
        if received is None and self.param and self.value is not _NO_VALUE:
            received = f"{flag} {_cli_value(self.value)}" if flag else f"{self.param}={self.value!r}"

        def fill(text: str) -> str:
            return text.replace("{arg}", arg) if self.param else text

        parts = [fill(self.what).rstrip(".") + "."]
        if self.expected:
            parts.append(f"Expected {fill(self.expected).rstrip('.')}.")
        if received:
            parts.append(f"Received: {fill(received)}.")
        if self.hint:
            parts.append(fill(self.hint).rstrip(".") + ".")
        return " ".join(parts)


def _cli_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


class InputError(DoctorError):
    """Unreadable or malformed input (file, array, log, model)."""


class UsageError(DoctorError):
    """A bad option or combination of options."""


def invalid_value(
    param: str,
    value: Any,
    expected: str,
    *,
    hint: str | None = None,
    received: str | None = None,
    error: type[DoctorError] = UsageError,
) -> DoctorError:
    """The Keras-style error for a parameter: "Invalid value received for argument `param`".

    Args:
        param: The Python parameter, e.g. `"loss"`.
        value: The value received; shown as `loss='nope'` unless `received` is given.
        expected: What was expected.
        hint: How to fix it. Defaults to `None`.
        received: A description of the value, for values whose repr says little
            (an array, an object). Defaults to `None`.
        error: `UsageError` (a bad argument) or `InputError` (bad data). Defaults to `UsageError`.
    """
    return error(
        "Invalid value received for {arg}", expected=expected, hint=hint, received=received, param=param, value=value
    )
