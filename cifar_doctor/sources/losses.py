"""Loss names: one canonical snake-case name for each spelling Keras accepts."""

from __future__ import annotations

import re
from typing import Any

from ..errors import invalid_value

#: Canonical names of the losses the checks reason about, with Keras' aliases.
LOSS_ALIASES: dict[str, str] = {
    "categorical_crossentropy": "categorical_crossentropy",
    "cce": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "scce": "sparse_categorical_crossentropy",
    "binary_crossentropy": "binary_crossentropy",
    "bce": "binary_crossentropy",
    "categorical_focal_crossentropy": "categorical_focal_crossentropy",
    "binary_focal_crossentropy": "binary_focal_crossentropy",
    "kl_divergence": "kl_divergence",
    "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
    "mean_squared_error": "mean_squared_error",
    "mse": "mean_squared_error",
    "mean_absolute_error": "mean_absolute_error",
    "mae": "mean_absolute_error",
    "categorical_hinge": "categorical_hinge",
    "hinge": "hinge",
    "squared_hinge": "squared_hinge",
    "poisson": "poisson",
    "huber": "huber",
    "log_cosh": "log_cosh",
    "logcosh": "log_cosh",
}

#: Losses that expect one-hot (or probability) targets of shape (N, K).
ONE_HOT_LOSSES = {"categorical_crossentropy", "categorical_focal_crossentropy", "kl_divergence", "categorical_hinge"}
#: Losses that expect integer class indices of shape (N,) or (N, 1).
SPARSE_LOSSES = {"sparse_categorical_crossentropy"}
#: Losses that expect targets in {0, 1}, one per output unit (one sigmoid unit, or multi-label).
BINARY_LOSSES = frozenset({"binary_crossentropy", "binary_focal_crossentropy"})
#: Losses of a regression: the targets are numbers to predict, not class indices, so a single linear
#: output unit is what they need and the targets' largest value is no class count.
REGRESSION_LOSSES = frozenset({"mean_squared_error", "mean_absolute_error", "huber", "log_cosh", "poisson"})
#: Losses computed from probabilities by default (`from_logits=False`).
PROBABILITY_LOSSES = {
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
    "categorical_focal_crossentropy",
    "binary_focal_crossentropy",
}


def _snake(name: str) -> str:
    name = name.strip()
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return name.lower().replace("-", "_").replace(" ", "_")


def canonical_loss_name(name: str, *, strict: bool = True) -> str:
    """`"CategoricalCrossentropy"`, `"categorical-crossentropy"`, `"cce"` -> `"categorical_crossentropy"`."""
    key = _snake(name)
    if key in LOSS_ALIASES:
        return LOSS_ALIASES[key]
    if strict:
        import difflib

        close = difflib.get_close_matches(key, list(LOSS_ALIASES), n=2)
        raise invalid_value(
            "loss",
            name,
            expected="a Keras loss name such as categorical_crossentropy or sparse_categorical_crossentropy",
            hint=f"Did you mean {' or '.join(close)}?" if close else None,
        )
    return key


def describe_loss(loss: Any) -> tuple[str | None, bool | None]:
    """Name and `from_logits` of a Keras loss object, loss function or config dict."""
    if isinstance(loss, dict):  # serialized config
        cfg = loss.get("config", {}) if isinstance(loss.get("config"), dict) else {}
        name = loss.get("class_name") or cfg.get("name") or loss.get("name")
        return (canonical_loss_name(str(name), strict=False) if name else None, cfg.get("from_logits"))
    from_logits = getattr(loss, "from_logits", None)
    if from_logits is None:
        fn_kwargs = getattr(loss, "_fn_kwargs", None) or {}
        from_logits = fn_kwargs.get("from_logits")
    name = getattr(loss, "name", None) if not callable(loss) or hasattr(loss, "get_config") else None
    if hasattr(loss, "get_config") and type(loss).__name__ not in ("function", "LossFunctionWrapper"):
        name = type(loss).__name__
    if name is None:
        name = getattr(loss, "__name__", None) or type(loss).__name__
    return canonical_loss_name(str(name), strict=False), from_logits
