"""Shell completion of command arguments (the shells' scripts come from Typer: `--install-completion`).

Typer completes commands, options and choices such as `--format` by itself;
the functions here complete the arguments whose values live in the package:
check codes and names for `explain`, recipe names for `compare`. They run only
when the shell asks (on TAB), never at start-up, and import no TensorFlow.
"""

from __future__ import annotations

#: Characters of the description shown beside a candidate (zsh and fish show
#: one line per candidate; a long description wraps and hides the others).
DESCRIPTION_CHARS = 60


def _short(text: str) -> str:
    line = text.strip().split("\n")[0]
    if len(line) <= DESCRIPTION_CHARS:
        return line
    return line[:DESCRIPTION_CHARS].rsplit(" ", 1)[0] + " ..."


def complete_check(incomplete: str) -> list[tuple[str, str]]:
    """Check codes and names starting with `incomplete` (any case); a code is described by its name and back.

    Example:

    >>> complete_check("pre00")[:2]
    [('PRE001', 'train-test-scale-mismatch'), ('PRE002', 'channel-order-mismatch')]
    """
    from ..registry import all_checks

    prefix = incomplete.lower()
    out = []
    for spec in all_checks():
        if spec.code.lower().startswith(prefix):
            out.append((spec.code, spec.name))
        if spec.name.startswith(prefix):
            out.append((spec.name, spec.code))
    return out


def complete_recipe(incomplete: str) -> list[tuple[str, str]]:
    """Built-in recipe names starting with `incomplete`, each with the start of its description."""
    from ..training.recipes import RECIPES

    return [(name, _short(recipe.doc)) for name, recipe in RECIPES.items() if name.startswith(incomplete)]
