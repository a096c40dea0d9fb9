"""What `compare` is asked to run, checked before any data is read or model built."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, UsageError, invalid_value
from .recipe import Recipe
from .recipes import get_recipe

#: Smallest `limit`: below this a stratified 10-class subset holds at most one
#: image per class, too few for a training curve to mean anything.
MIN_LIMIT = 10

#: The arrays every run needs.
REQUIRED_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class RunSpec:
    """One run to make: a display name and its recipe."""

    name: str
    recipe: Recipe


def parse_limit(value: Any) -> int | None:
    """`limit` as an int >= MIN_LIMIT, or None."""
    if value is None:
        return None
    try:
        n = int(str(value).strip())
    except ValueError:
        n = None
    if n is None or n < MIN_LIMIT:
        raise invalid_value(
            "limit", value, expected=f"an integer >= {MIN_LIMIT} (training images, stratified by class)"
        )
    return n


def check_positive(**values: int | None) -> None:
    """Each given value (`epochs=`, `batch_size=`) is None or a positive integer."""
    for param, v in values.items():
        if v is not None and v < 1:
            raise invalid_value(param, v, expected="a positive integer")


def resolve(names: list[str]) -> list[RunSpec]:
    """Recipes by name or `path.py:function`; repeated names get a `#2` suffix."""
    if not names:
        raise invalid_value(
            "names",
            [],
            expected="one or more of original, revised, fixed, keras-example, or path/to/file.py:function",
            received="nothing",
            hint="e.g. original and fixed",
        )
    specs: list[RunSpec] = []
    seen: dict[str, int] = {}
    for n in names:
        rec = get_recipe(n)
        seen[rec.name] = seen.get(rec.name, 0) + 1
        name = rec.name if seen[rec.name] == 1 else f"{rec.name}#{seen[rec.name]}"
        specs.append(RunSpec(name, rec))
    return specs


def check_save_dir(save: Path | None) -> None:
    """Refuse an existing non-empty `save` directory (never overwrite a user's files)."""
    if save is None:
        return
    if save.exists() and not save.is_dir():
        raise UsageError(
            "Cannot save into {arg}",
            expected="a new or empty directory",
            received=f"{save} (an existing file)",
            param="save",
        )
    if save.is_dir() and any(save.iterdir()):
        raise UsageError(
            "Refusing to write into a non-empty directory ({arg})",
            expected="a new or empty directory",
            received=str(save),
            param="save",
            hint="Pick another directory; cifar-doctor never overwrites existing files",
        )


def load_arrays(data: Path | None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The raw arrays from `data` (the sources `check --data` reads), else CIFAR-10 with its offline fallback."""
    from ..sources.datasets import load_data

    loaded = load_data(data)
    missing = [key for key in REQUIRED_ARRAYS if key not in loaded.arrays]
    if missing:
        raise InputError(
            "The data has no " + ", ".join(missing),
            expected=", ".join(REQUIRED_ARRAYS),
            received=", ".join(sorted(loaded.arrays)) or "no arrays",
        )
    return loaded.arrays, loaded.description
