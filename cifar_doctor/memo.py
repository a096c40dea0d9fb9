"""Results computed from an array before the objects that use it exist, found again by that array.

`cifar-doctor check` inflates a file's test images well before its training images (a sixth of the
bytes, on a core of their own); what the checks can compute from the test images alone is computed
then, on the core the reading leaves idle (`cifar_doctor.engine.ahead`), and so are the training
images' statistics when they are read while that work still runs. Each result is kept here under
the array it was computed from. `recall` gives a result back only for that same array object, still
alive, and the same key: a copy, a slice or a rebuilt array is computed anew, so a kept result
never outlives its array nor answers for another.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from typing import Any

_LOCK = threading.Lock()
_KEPT: dict[tuple[int, Hashable], tuple[weakref.ref[Any], Any]] = {}


def remember(x: Any, key: Hashable, value: Any) -> None:
    """Keep `value` for the array `x` under `key`, for as long as `x` lives."""
    ref = weakref.ref(x)
    with _LOCK:
        for k in [k for k, (r, _) in _KEPT.items() if r() is None]:  # results of arrays gone
            del _KEPT[k]
        _KEPT[(id(x), key)] = (ref, value)


def recall(x: Any, key: Hashable) -> Any:
    """The value kept for this very array `x` under `key`, or `None`.

    Example:

    >>> import numpy as np
    >>> a = np.zeros(3)
    >>> remember(a, "sum", 0.0)
    >>> recall(a, "sum"), recall(a.copy(), "sum"), recall(a, "mean")
    (0.0, None, None)
    """
    with _LOCK:
        kept = _KEPT.get((id(x), key))
    if kept is None or kept[0]() is not x:
        return None
    return kept[1]
