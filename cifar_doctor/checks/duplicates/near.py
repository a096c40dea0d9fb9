"""DUP002: eval images that are near-duplicates of training images, or of each other.

The search itself is `cifar_doctor.neardup` (pure NumPy): signatures are
computed chunk by chunk, candidate pairs found among them batch by batch,
and only those pairs' images are read again (`_Prepared`) to be verified;
each of these passes is a stage of `inputs.runner` (`cifar_doctor.runners`). The
search within an eval split needs no training image: `check` runs it while the
training images inflate (`_within_ahead`, `engine.ahead`) and the check finds
its pairs kept for that array (`cifar_doctor.memo`). Exact
copies are DUP001's; this check includes them in its counts, so its evidence
says how many of the pairs are exact.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from ...findings import EVIDENCE_MAX_ITEMS, Finding, Fix, Severity
from ...inputs import EVAL_SPLITS, Inputs
from ...measure.duplicates import Canonical
from ...measure.stats import channel_of_position
from ...memo import recall, remember
from ...registry import register
from ...runners.base import Rows, Runner, local_runner, map_jobs, split_rows

#: Bytes of float32 pixels per chunk: 1024 CIFAR images (12 MB), as in
#: `cifar_doctor.stats`; larger images come in fewer per chunk.
NEAR_CHUNK_BYTES = 12 * 1024 * 1024

#: Similarity at or above which a pair is a copy of one file (re-encoded,
#: re-coloured, shifted by whole pixels) rather than a second shot of one scene:
#: JPEG q75 and brightness-shifted copies of CIFAR-10 images score 0.97 or more,
#: while CIFAR-10's own test/train near-duplicates mostly score 0.80-0.95
#: (measured: 31 of 10,000 test images, 0.3%, have a match at 0.95 or more).
NEAR_IDENTICAL = 0.95

#: Warn when at least this fraction of an eval split has near-identical copies
#: in train: the 1% of exact copies at which DUP001 warns, three times
#: CIFAR-10's natural 0.3% (see `NEAR_IDENTICAL`). 50 test images copied into
#: train and re-encoded are 2.5% of a 2,000-image test split, 1% of 5,000.
COPY_WARN_FRACTION = 0.01

#: Warn when more than this fraction of an eval split has any near-duplicate in
#: train. CIFAR-10 itself has 2.2% by this method (218 of 10,000 test images;
#: Barz & Denzler 2020 counted 3.3% by hand with a looser definition), which
#: is a property of the dataset, not a pipeline bug: below this, the finding is
#: reported as information that supports no verdict.
NEAR_WARN_FRACTION = 0.05

#: Smallest image side compared. Below 16 pixels an image holds too little
#: detail to tell a copy from a look-alike: random 2x2 images "matched" 6
#: times in 10 (measured), while 16x16 is already half a CIFAR thumbnail grid.
NEAR_MIN_SIDE = 16

#: Pairs quoted in the message (the evidence lists them all, up to `EVIDENCE_MAX_ITEMS`).
NEAR_MAX_PAIRS = 3

#: Images evaluated on each side (affected, unaffected) when the model can be evaluated.
NEAR_EVAL_SAMPLE = 2000

#: Eval x train image pairs the check searches in full: the full CIFAR-10 test
#: x train search (10,000 x 50,000, about 5 s on 2 busy cores). Above this an
#: evenly spaced sample of eval images is searched against every training image
#: and the finding reports an estimate with its interval: indexing a large
#: training split takes minutes (1,000,000 images: 81 s of clustering, then 33 s
#: for 50,000 queries; `bench/near_search.py`), which `neardup.build_index`
#: and `neardup.search` spend when called directly, the check by default not.
NEAR_PAIR_BUDGET = 500_000_000

#: Fewest eval images searched, whatever the training split's size: 500 images
#: put a 95% interval of about +-1 point around a 1% rate.
NEAR_MIN_QUERIES = 500


def _side(stats: Any) -> int:
    """The shorter image side of a split, by its layout."""
    shape = stats.shape
    hw = shape[2:4] if stats.layout == "NCHW" else shape[1:3]
    return int(min(hw))


def _chunk_size(split: Any) -> int:
    """Images per chunk for `split`: `NEAR_CHUNK_BYTES` of float32 pixels, at least 16."""
    per_image = 4 * int(np.prod(split.x.shape[1:], dtype=np.int64))
    return max(16, NEAR_CHUNK_BYTES // max(per_image, 1))


def _take(split: Any, indices: np.ndarray) -> np.ndarray:
    """Images at sorted unique `indices` of the whole split (candidate pairs only)."""
    return split.take(np.asarray(indices, dtype=np.int64))


def _queries(split: Any, train: Any) -> np.ndarray | None:
    """The eval images searched when every one of them cannot be: a sample that keeps the search
    within `NEAR_PAIR_BUDGET` pairs; `None` when every eval image is searched."""
    n, m = split.count, train.count
    if n * m <= NEAR_PAIR_BUDGET:
        return None
    from ...sources.sampling import sample_indices

    q = max(NEAR_MIN_QUERIES, NEAR_PAIR_BUDGET // max(m, 1))
    return sample_indices(n, min(q, n), None)[0] if q < n else None


class _Prepared:
    """Sorted unique indices -> `neardup.prepare` of those images of one split, read a chunk at a time
    (32x32 floats each). Picklable, so that a runner's workers verify pairs where the images lie."""

    def __init__(self, split: Any, affine: Any) -> None:
        self.full: Any = split.full
        self.x: Any = split.x if split.full is None else None
        self.layout, self.affine, self.size = split.stats.layout, affine, _chunk_size(split)

    def take(self, indices: np.ndarray) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        return self.full.take(idx) if self.full is not None else self.x[idx]

    def __call__(self, indices: np.ndarray) -> np.ndarray:
        from ...measure import neardup

        parts = [
            neardup.prepare(self.take(indices[s : s + self.size]), layout=self.layout, affine=self.affine)
            for s in range(0, len(indices), self.size)
        ]
        if parts:
            return np.concatenate(parts)
        return np.zeros((0, neardup.VERIFY_GRID, neardup.VERIFY_GRID), np.float32)


def _signature_part(layout: str, affine: Any, rows: Rows) -> Any:
    """The signatures of one work item's images."""
    from ...measure import neardup

    return neardup.signatures(rows.read(), layout=layout, affine=affine)


def _signature_job(split: Any, layout: str, affine: Any, subset: np.ndarray | None = None) -> tuple[Any, list[Rows]]:
    """The signatures of a split (or of the images at `subset`) as a runner job: a function and its items."""
    return partial(_signature_part, layout, affine), split_rows(split, _chunk_size(split), subset)


def _search_part(index: Any, layout: str, affine: Any, within: bool, batch: list[Rows]) -> Any:
    """The candidate pairs of one batch of query chunks."""
    from ...measure import neardup

    return neardup.search_batch(
        [(rows.start, rows.read()) for rows in batch], index, layout=layout, affine=affine, within=within
    )


def _search_batches(items: list[Rows], size: int | None = None) -> list[list[Rows]]:
    """Consecutive chunks grouped as `neardup.search` groups them: `size` images or more a batch (defaults
    to `SEARCH_BATCH`)."""
    from ...measure import neardup

    size = neardup.SEARCH_BATCH if size is None else size
    batches: list[list[Rows]] = [[]]
    count = 0
    for rows in items:
        batches[-1].append(rows)
        count += len(rows)
        if count >= size:
            batches.append([])
            count = 0
    return [b for b in batches if b]


def _exact_fn(a_split: Any, b_split: Any, affines: tuple[Any, Any] | None):
    """(a indices, b indices) -> whether each pair is identical, or None when not comparable exactly."""
    if affines is None and (a_split.stats.dtype != b_split.stats.dtype or a_split.stats.scheme != b_split.stats.scheme):
        return None

    def canon(x: np.ndarray, affine: Any, stats: Any) -> np.ndarray:
        """As given, or as DUP001 reconstructs 0-255 pixels when the splits are on different scales."""
        if affine is None:
            return x
        return Canonical(affine, channel_of_position(stats.shape, stats.layout, stats.channels))(x)

    def exact(ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        if a_split.x.shape[1:] != b_split.x.shape[1:]:
            return np.zeros(len(ia), bool)
        out = np.zeros(len(ia), bool)
        step = max(1, _chunk_size(a_split) // 2)
        for s in range(0, len(ia), step):  # pairs a chunk at a time: both images of each pair in memory
            ua, ja = np.unique(ia[s : s + step], return_inverse=True)
            ub, jb = np.unique(ib[s : s + step], return_inverse=True)
            xa = canon(_take(a_split, ua), affines[0] if affines else None, a_split.stats)
            xb = canon(_take(b_split, ub), affines[1] if affines else None, b_split.stats)
            out[s : s + step] = [np.array_equal(xa[p], xb[q]) for p, q in zip(ja, jb)]
        return out

    return exact


def _search_job(
    query: Any, index: Any, affine: Any, within: bool, subset: np.ndarray | None, workers: int = 1
) -> tuple[Any, Any]:
    """The candidate search of `query`'s images (or those at `subset`) in `index`, as a runner job.

    A search through inverted lists is cut into at least `workers` batches, so that a pool of threads
    shares it (the batches find the same pairs: each query meets the same lists); an exhaustive search
    keeps its large batches, whose sorted windows are what make it fast."""
    from ...measure import neardup

    items = split_rows(query, _chunk_size(query), subset)
    size = None
    if workers > 1 and not index.exhaustive:
        size = min(neardup.SEARCH_BATCH, -(-sum(len(r) for r in items) // workers))
    return partial(_search_part, index, query.stats.layout, affine, within), _search_batches(items, size)


def _near_pairs(
    split: Any,
    train: Any,
    train_index: Any,
    split_sig: Any,
    affines: Any,
    runner: Runner,
    subset: np.ndarray | None = None,
) -> tuple[Any, Any]:
    """Verified near-duplicate pairs of `split` in train (cross) and within `split`, each pass one stage of
    `runner`. `affines` are (eval, train) canonical affines, or None when the splits are compared as given.
    Without `train_index` the cross pairs are not searched, without `split_sig` the pairs within: either
    is then `None`."""
    from ...measure import neardup

    a_ev, a_tr = affines if affines is not None else (None, None)
    workers = getattr(runner, "workers", 1)
    jobs = []
    if train_index is not None:
        jobs.append(_search_job(split, train_index, a_ev, False, subset, workers))
    if split_sig is not None:
        own_index = neardup.build_index(split_sig)
        jobs += [
            _search_job(split, own_index, a_ev, True, subset, workers),
            (neardup.pairs_within, [own_index]),  # the split's own images against each other, unshifted
        ]
    found = iter(map_jobs(runner, jobs, stage=f"search-{split.name}"))
    query = _Prepared(split, a_ev)
    verify, candidates, exact = [], [], []
    if train_index is not None:
        i, j, _ = neardup.merge_candidates(next(found), len(train_index))
        if subset is not None:  # positions in the subset -> positions in the split
            i = subset[i]
        verify.append((partial(neardup.verify_batch, query, _Prepared(train, a_tr)), neardup.verify_plan(i, j)))
        candidates.append(len(i))
        exact.append(_exact_fn(split, train, (a_ev, a_tr) if affines else None))
    if split_sig is not None:
        found_within, own_pairs = next(found), next(found)
        wi, wj, _ = neardup.merge_candidates([*own_pairs, *found_within], len(own_index))
        if subset is not None:
            wi, wj = subset[wi], subset[wj]
        verify.append((partial(neardup.verify_batch, query, query), neardup.verify_plan(wi, wj)))
        candidates.append(len(wi))
        exact.append(_exact_fn(split, split, (a_ev, a_ev) if affines else None))
    done = iter(map_jobs(runner, verify, stage=f"verify-{split.name}"))
    pairs = iter([neardup.confirmed(next(done), n, fn) for n, fn in zip(candidates, exact)])
    cross = next(pairs) if train_index is not None else None
    within = next(pairs) if split_sig is not None else None
    return cross, within


def _within_key(affine: Any) -> tuple[str, Any]:
    """The `cifar_doctor.memo` key of the pairs within an eval split searched in full with `affine`."""
    if affine is None:
        return ("DUP002-within", None)
    return ("DUP002-within", tuple(np.asarray(v, np.float64).tobytes() for v in affine))


#: Eval splits of at most this many images have their own near-duplicates searched while the
#: training images are still being read (`_within_ahead`): CIFAR-10's 10,000 test images take about
#: half a second of one core. A larger eval split mostly comes with a training split that makes the
#: check search a sample of it (`NEAR_PAIR_BUDGET`), which a full search ahead would not match.
AHEAD_MAX_IMAGES = 20_000


def _searchable(st: Any) -> bool:
    """Whether a split's images are compared at all: images (not flat vectors), `NEAR_MIN_SIDE` a side."""
    return st.n > 0 and st.layout != "flat" and _side(st) >= NEAR_MIN_SIDE


def _within_ahead(split: Any) -> None:
    """The near-duplicates within an eval split, searched in full on the canonical scale as the check
    searches them when both splits' scales are known (the common case), and kept for that array."""
    from ...measure import neardup

    if split.name not in EVAL_SPLITS:
        return
    ev = split.stats
    if split.full is not None or not _searchable(ev) or split.count > AHEAD_MAX_IMAGES:
        return
    a_ev = ev.canonical_affine()
    sig = map_jobs(split.runner, [_signature_job(split, ev.layout, a_ev)], stage=f"signatures-{split.name}")[0]
    affines = (a_ev, None) if a_ev is not None else None
    _, within = _near_pairs(split, None, None, neardup.concat(sig), affines, split.runner)
    remember(split.x, _within_key(a_ev), within)


def _measure_affected(inputs: Any, split: Any, affected: np.ndarray) -> dict[str, Any] | None:
    """Accuracy on the eval images with a near-duplicate in train and on the others, when a model is at hand."""
    if (
        inputs.evaluate is None
        or split.y is None
        or split.full is not None  # indices of the full split
        or len(affected) == 0
        or len(affected) == len(split.x)
    ):
        return None
    from ...measure.model import sample_indices

    rest = np.setdiff1d(np.arange(len(split.x)), affected)
    aff = affected[sample_indices(len(affected), NEAR_EVAL_SAMPLE)]
    oth = rest[sample_indices(len(rest), NEAR_EVAL_SAMPLE)]
    try:
        r_aff = inputs.evaluate(split.x[aff], split.y[aff])
        r_oth = inputs.evaluate(split.x[oth], split.y[oth])
    except Exception as exc:  # reported, never fatal
        return {"error": f"{type(exc).__name__}: {exc}"}
    acc_aff, acc_oth = float(r_aff["accuracy"]), float(r_oth["accuracy"])
    return {
        "accuracy_affected": acc_aff,
        "accuracy_unaffected": acc_oth,
        "affected_evaluated": len(aff),
        "unaffected_evaluated": len(oth),
        "measured_inflation": len(affected) / len(split.x) * (acc_aff - acc_oth),
    }


@register(
    "DUP002",
    "train-test-near-duplicates",
    requires=("train_x", "eval_x"),
    cause="train-test-leakage",
    ahead=_within_ahead,
)
def train_test_near_duplicates(inputs: Inputs) -> list[Finding]:
    """Eval images that are near-duplicates of training images: the same shot, re-encoded, shifted or re-coloured.

    ## What it does
    Finds eval images whose training counterpart is the same photograph after
    JPEG re-compression, a shift of 1-2 pixels, or a brightness, contrast or
    colour change (exact copies included), and eval images duplicated within
    their own split. Each image is reduced to a 64-byte gray thumbnail; pairs
    whose thumbnails correlate are re-read and accepted only when their fine
    detail matches too (`cifar_doctor.neardup`). The finding counts the eval
    images affected and bounds how much eval accuracy they can inflate; with a
    model, it measures accuracy on the affected and the other images.

    ## Why is this bad?
    A near-duplicate is scored on an image the model has, in effect, already
    seen: eval accuracy is inflated by up to the affected fraction and no
    longer measures generalization. A few percent is natural in scraped
    datasets (CIFAR-10: 2.2% of test images by this method, 3.3% by hand in
    Barz & Denzler 2020) and is reported as information; more, or many
    near-identical copies, means the splits were cut from overlapping files.

    ## Example
    ```python
    x = np.concatenate([x_train, augmented_copies])   # then split at random:
    x_train, x_test = train_test_split(x)             # copies land on both sides
    ```

    ## Use instead
    Split by source image before augmenting or re-encoding; drop eval images
    that have a near-duplicate in train (the pairs are in the evidence), or
    report accuracy on the de-duplicated split too (ciFAIR for CIFAR-10).
    """
    from ...measure import neardup

    train = inputs.splits["train"]
    tr = train.stats
    found = []
    train_sig: tuple[tuple[bool, bool], Any] | None = None
    for split in inputs.eval_splits:
        ev = split.stats
        if not _searchable(ev) or not _searchable(tr) or ev.channels != tr.channels:
            continue
        a_tr, a_ev = tr.canonical_affine(), ev.canonical_affine()
        affines = (a_tr, a_ev) if a_tr is not None and a_ev is not None else None
        scaled = affines is not None  # train signatures on the canonical scale, or as given
        a_q = a_ev if scaled else None
        queries = None if inputs.runner.searches_all else _queries(split, train)
        runner = local_runner(inputs.runner, split.full is None and train.full is None)
        # the pairs within the split, when searched while the data was read (`_within_ahead`)
        within = recall(split.x, _within_key(a_q)) if queries is None and split.full is None else None
        # the training split is indexed once and every eval split looked up in it: in inverted lists for a
        # full search, exhaustively for a sample (the few sampled queries would not repay the clustering)
        key = (scaled, queries is None)
        index_train = train_sig is None or train_sig[0] != key
        jobs = [] if within is not None else [_signature_job(split, ev.layout, a_q, queries)]
        if index_train:
            jobs.append(_signature_job(train, tr.layout, a_tr if scaled else None))
        sigs = map_jobs(runner, jobs, stage=f"signatures-{split.name}") if jobs else []
        if index_train:
            train_sig = (key, neardup.build_index(neardup.concat(sigs[-1]), lists=None if queries is None else 0))
        assert train_sig is not None
        cross, searched_within = _near_pairs(
            split,
            train,
            train_sig[1],
            None if within is not None else neardup.concat(sigs[0]),
            (a_ev, a_tr) if affines is not None else None,  # (query, index)
            runner,
            subset=queries,
        )
        within = within if within is not None else searched_within
        if not len(cross.a) and not len(within.a):
            continue
        found.append(
            _near_finding(
                inputs,
                split,
                cross,
                within,
                affines is not None,
                searched=len(queries) if queries is not None else None,
            )
        )
    return found


def _near_finding(inputs: Any, split: Any, cross: Any, within: Any, canonical: bool, searched: int | None = None):
    from ...measure import neardup

    name, n = split.name, searched or split.count
    # per eval image: its best match in train
    best: dict[int, tuple[float, int, bool]] = {}
    for a, b, s, e in zip(cross.a.tolist(), cross.b.tolist(), cross.similarity.tolist(), cross.exact.tolist()):
        if a not in best or s > best[a][0]:
            best[a] = (s, b, e)
    affected = np.array(sorted(best), dtype=np.int64)
    k = len(affected)
    frac = k / n
    exact = sum(1 for s, _, e in best.values() if e)
    identical = sum(1 for s, _, _ in best.values() if s >= NEAR_IDENTICAL)
    within_images = len(set(within.a.tolist()) | set(within.b.tolist()))
    warn = frac > NEAR_WARN_FRACTION or identical / n >= COPY_WARN_FRACTION
    pairs = [[best[a][1], int(a), round(best[a][0], 3)] for a in affected[:EVIDENCE_MAX_ITEMS].tolist()]
    within_pairs = [
        [int(a), int(b), round(float(s), 3)]
        for a, b, s in zip(
            within.a[:EVIDENCE_MAX_ITEMS].tolist(),
            within.b[:EVIDENCE_MAX_ITEMS].tolist(),
            within.similarity[:EVIDENCE_MAX_ITEMS].tolist(),
        )
    ]
    evidence: dict[str, Any] = {
        "split": name,
        "eval_images": split.count,
        "searched": n,
        "count": k,
        "fraction": frac,
        "exact": exact,
        "near_identical": identical,
        "pairs": pairs,
        "pair_fields": f"train_index, {name}_index, similarity",
        "max_accuracy_inflation": frac,
        "within_split": {
            "images": within_images,
            "pairs": within_pairs,
            "pair_fields": f"{name}_index, {name}_index, similarity",
        },
        "method": (
            f"gray 8x8 thumbnails correlating >= {neardup.PREFILTER_CORR}, then 32x32 gray detail >= {neardup.DETAIL_THRESHOLD} and coarse >= {neardup.COARSE_THRESHOLD} "
            f"at the best shift of up to {neardup.MAX_SHIFT} px"
        ),
        "thresholds": {
            "prefilter": neardup.PREFILTER_CORR,
            "detail": neardup.DETAIL_THRESHOLD,
            "coarse": neardup.COARSE_THRESHOLD,
            "max_shift": neardup.MAX_SHIFT,
            "near_identical": NEAR_IDENTICAL,
            "warn_fraction": NEAR_WARN_FRACTION,
            "copy_warn_fraction": COPY_WARN_FRACTION,
        },
        "compared_as": "canonical 0-255 pixels" if canonical else "values as given",
        "candidates_verified": cross.candidates + within.candidates,
    }
    if k > EVIDENCE_MAX_ITEMS or len(within.a) > EVIDENCE_MAX_ITEMS:
        evidence["listed_up_to"] = EVIDENCE_MAX_ITEMS
    if searched:
        lo, hi = _wilson(k, n)
        evidence["estimate"] = {
            "images": round(frac * split.count),
            "fraction_interval_95": [lo, hi],
            "why": f"{n:,} of {split.count:,} eval images searched against every training image "
            f"(the search is capped at {NEAR_PAIR_BUDGET:,} image pairs)",
        }
    measured = _measure_affected(inputs, split, affected)
    if measured is not None:
        evidence["measured"] = measured
    parts = []
    if k:
        sampled = (
            f" searched (a sample of {split.count:,}; about {round(frac * split.count):,} in all)" if searched else ""
        )
        parts.append(
            f"{k} of {n:,} x_{name} images{sampled} ({frac:.1%}) are near-duplicates of training images "
            f"({exact} exact, {identical} near-identical; first pairs train/{name}: "
            f"{[p[:2] for p in pairs[:NEAR_MAX_PAIRS]]}); they can inflate {name} accuracy by up to "
            f"{frac * 100:.1f} points."
        )
    if within_images:
        parts.append(f"{within_images} x_{name} images are near-duplicates of other x_{name} images.")
    if measured and "accuracy_affected" in measured:
        parts.append(
            f"Measured: accuracy {measured['accuracy_affected']:.3f} on the affected images, "
            f"{measured['accuracy_unaffected']:.3f} on the others."
        )
    if warn:
        why = (
            f"{frac:.1%} of x_{name} has a near-duplicate in training, more than a clean split of scraped "
            f"photos has (CIFAR-10: 2.2%)"
            if frac > NEAR_WARN_FRACTION
            else f"{identical / n:.1%} of x_{name} are near-identical copies of training images (CIFAR-10: 0.3%)"
        )
        explanation = f"{why}: the splits overlap, so {name} accuracy is partly scored on images the model trained on."
    elif k:
        explanation = (
            f"A rate like CIFAR-10's own (2.2% of its test images by this method): a property of the "
            f"dataset, not a pipeline bug, but {name} accuracy is slightly optimistic."
        )
    else:
        explanation = "Duplicates within an eval split weigh those images twice; they leak nothing from training."
    return train_test_near_duplicates.finding(
        Severity.WARNING if warn else Severity.INFO,
        " ".join(parts),
        evidence=evidence,
        fix=Fix(
            f"Drop the x_{name} images that have a near-duplicate in x_train",
            "from cifar_doctor.measure.neardup import find\n"
            f"leaked = np.unique(find(x_{name}, x_train).a)   # x_{name} indices with a near-duplicate in x_train\n"
            f"keep = np.setdiff1d(np.arange(len(x_{name})), leaked)\n"
            f"x_{name}, y_{name} = x_{name}[keep], y_{name}[keep]",
        ),
        explanation=explanation,
        split=name,
        cause="train-test-leakage" if warn else None,
    )


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson interval of a proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)
