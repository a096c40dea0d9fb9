"""cifar-doctor: why does validation accuracy lag training accuracy?

Tells a pipeline bug (test images on another scale, wrong label encoding, a
loss that does not match the output) from genuine overfitting, with evidence.

Example:

>>> import numpy as np
>>> import cifar_doctor
>>> rng = np.random.default_rng(0)
>>> x = rng.integers(0, 256, size=(200, 32, 32, 3), dtype=np.uint8)
>>> y = np.arange(200) % 10
>>> report = cifar_doctor.diagnose(x_train=x / 255.0, y_train=y, x_test=x.astype("float32"), y_test=y)
>>> report.verdict.cause
'eval-input-scale-mismatch'
"""

from __future__ import annotations

from .diagnosis import CAUSES, Verdict
from .findings import Finding, Fix, Severity
from .report import Report
from .version import __version__

__all__ = ["diagnose", "Report", "Finding", "Fix", "Severity", "Verdict", "CAUSES", "__version__"]


def diagnose(*args, **kwargs) -> Report:  # noqa: D401 - thin lazy wrapper
    from .api import diagnose as _diagnose

    return _diagnose(*args, **kwargs)


diagnose.__doc__ = "See `cifar_doctor.api.diagnose`."
