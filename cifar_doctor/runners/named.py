"""A runner from its name and Beam's flags, as the command line gives them."""

from __future__ import annotations

from collections.abc import Sequence

from .base import DIRECT, Runner

#: Runner names the command line accepts (`check --runner`).
RUNNERS = ("direct", "beam")


def runner_named(name: str, options: Sequence[str] = ()) -> Runner:
    """The runner called `name`, with Beam's own pipeline flags for `beam` (checked here, before any data is read).

    Raises:
        UsageError: an unknown runner, flags for the direct runner, or flags Beam does not accept.
    """
    from ..errors import UsageError, invalid_value

    if name not in RUNNERS:
        raise invalid_value("runner", name, expected=" or ".join(RUNNERS))
    if name == "direct":
        if options:
            raise UsageError(
                f"Unexpected argument {options[0]!r}: Beam pipeline options go with the beam runner",
                expected="`--runner beam -- BEAM_FLAGS`; files go to --data, --train or --eval",
            )
        return DIRECT
    stray = [o for o in options if not o.startswith("-")]
    if stray:
        raise UsageError(
            f"Unexpected argument {stray[0]!r}",
            expected="Beam flags after `--`, each starting with `--` (e.g. -- --direct_num_workers=2)",
            hint="Give files with --data, --train or --eval",
        )
    from .beam import BeamRunner

    return BeamRunner(list(options))
