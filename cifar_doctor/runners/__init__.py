"""Where the full passes over the data run: in this process (`direct`) or as an Apache Beam pipeline (`beam`).

The measurements that read every image (DUP001's hashes, DUP002's signatures,
candidate search and verification, the per-split statistics) are split into
work items (`Rows`: a range or a list of a split's images) and a function
applied to each; a `Runner` applies it and returns the results in item order.
Every runner calls the same function on the same items, and the measure layer
combines the results the same way, so the findings do not depend on the runner.
"""

from __future__ import annotations

from .base import DIRECT, DirectRunner, Rows, Runner, map_jobs, split_rows
from .named import RUNNERS, runner_named

__all__ = ["DIRECT", "RUNNERS", "DirectRunner", "Rows", "Runner", "map_jobs", "runner_named", "split_rows"]
