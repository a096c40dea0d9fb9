"""DAT, from image folders: class folders, undecodable files, colour modes and sizes per split.

These checks read `inputs.folders` (`cifar_doctor.sources.folders.FolderScan`),
what listing and decoding the class folders found; the images themselves go
through the same range, preprocessing and duplicate checks as arrays.
"""

from __future__ import annotations

from ...findings import EVIDENCE_MAX_ITEMS, Finding, Fix, Severity, listed
from ...inputs import Inputs
from ...registry import register
from ...sanitize import python_literal

#: Pillow modes without colour. `P` (palette) and `RGBA` are colour images.
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")

#: DAT007 fires for a class whose eval images are mostly grayscale (more than
#: half, among those read) while its training images are almost all colour
#: (at most 5% grayscale). A model trained on colour sees a grayscale image
#: converted to RGB (R = G = B): a colour cue it relied on is gone, and such
#: a class is scored below its real accuracy. CIFAR-10 has no grayscale
#: image; a few percent of grayscale photos are normal in scraped datasets.
GRAY_EVAL_FRACTION = 0.5
GRAY_TRAIN_FRACTION = 0.05

#: DAT008 warns when the eval split's most common size differs from the
#: training split's by more than this factor in either side: Keras resizes
#: every image to `image_size`, so images shot at another resolution are
#: blurred or sharpened differently from what the model learned. Below it
#: (e.g. 500x375 vs 480x360 photos) the resize hides the difference.
SIZE_RATIO_WARN = 1.5

#: Names quoted in a message (the evidence lists them all, up to `EVIDENCE_MAX_ITEMS`).
MAX_LISTED = 10


def _gray_fraction(counter) -> float:
    total = sum(counter.values())
    return sum(n for m, n in counter.items() if m in GRAY_MODES) / total if total else 0.0


@register("DAT005", "class-folders-differ", requires=("folders",), cause="eval-labels-misaligned")
def class_folders_differ(inputs: Inputs) -> list[Finding]:
    """The train and eval folders hold different class folders, so class ids differ between them.

    ## What it does
    Compares the class folder names of the training folder with those of
    each eval folder. `image_dataset_from_directory` numbers classes by the
    position of their folder name in sorted order, separately for each
    call: a class folder missing from the test folder shifts the id of every
    class after it.

    ## Why is this bad?
    With shifted ids, the test labels no longer mean what the training labels
    mean: images of `dog` are scored against the model's `deer` output. Eval
    accuracy collapses towards chance while training looks fine, the
    fingerprint of misaligned labels. A class present only in eval can never
    be predicted, and every one of its images counts as an error.

    ## Example
    ```text
    photos/train/{cat,deer,dog,frog}   ->  cat 0, deer 1, dog 2, frog 3
    photos/test/{cat,dog,frog}         ->  cat 0, dog 1, frog 2
    ```

    ## Use instead
    Give every split the same class folders (an empty folder keeps a class's
    id), and pass the training class names to each split:
    ```python
    test_ds = keras.utils.image_dataset_from_directory("photos/test", class_names=train_ds.class_names)
    ```
    """
    scan = inputs.folders
    train = scan.splits.get("train")
    if train is None:
        return []
    tr_id = {c: i for i, c in enumerate(train.classes)}
    found = []
    for name, ev in scan.splits.items():
        if name == "train" or ev.classes == train.classes:
            continue
        ev_id = {c: i for i, c in enumerate(ev.classes)}
        missing = [c for c in train.classes if c not in ev_id]
        extra = [c for c in ev.classes if c not in tr_id]
        shifted = {c: [tr_id[c], ev_id[c]] for c in ev.classes if c in tr_id and tr_id[c] != ev_id[c]}
        count = dict(zip(ev.classes, ev.counts))
        wrong = sum(count[c] for c in shifted) + sum(count[c] for c in extra)
        evidence: dict = {"split": name, "train_classes": len(train.classes), "eval_classes": len(ev.classes)}
        evidence.update(
            {
                "missing_in_eval": listed(missing, evidence),
                "only_in_eval": listed(extra, evidence),
                "shifted_ids": dict(listed(list(shifted.items()), evidence)),
                "eval_images_mislabelled": wrong,
                "eval_images": ev.total,
            }
        )
        if shifted:
            sev = Severity.ERROR
            msg = (
                f"The {name} folder's class folders differ from train's "
                f"({_names([(missing, 'missing'), (extra, 'only in ' + name)])}): {len(shifted)} classes get other ids in {name}, so "
                f"{wrong:,} of its {ev.total:,} images ({wrong / max(ev.total, 1):.0%}) are scored against "
                "another class's output."
            )
        elif extra:
            sev = Severity.WARNING
            msg = (
                f"The {name} folder has classes train does not ({_names([(extra, 'only in ' + name)])}): the model "
                f"cannot predict them, so their {wrong:,} images count as errors."
            )
        else:
            sev = Severity.INFO
            msg = (
                f"The {name} folder lacks {len(missing)} of train's classes ({_names([(missing, 'missing')])}); the ids of "
                "the others still agree, but those classes are not measured."
            )
        found.append(
            class_folders_differ.finding(
                sev,
                msg,
                evidence=evidence,
                fix=Fix(
                    f"Give {name}/ the same class folders as train/ and pass class_names",
                    "import os\n"
                    + "".join(
                        f"os.makedirs(os.path.join({python_literal(str(ev.path))}, {python_literal(c)}), "
                        "exist_ok=True)  # keeps the ids aligned\n"
                        for c in missing[:3]
                    )
                    + f"ds = keras.utils.image_dataset_from_directory({python_literal(str(ev.path))}, "
                    "class_names=train_ds.class_names)",
                ),
                explanation=(
                    "image_dataset_from_directory numbers classes by sorted folder name, per split: another set "
                    "of class folders gives other ids, and the eval labels stop matching the training labels."
                ),
                split=name,
            )
        )
    return found


def _names(groups: list[tuple[list[str], str]]) -> str:
    """`missing: bird; only in test: horse`, each list cut at `MAX_LISTED`."""
    parts = [
        f"{what}: " + ", ".join(names[:MAX_LISTED]) + (" ..." if len(names) > MAX_LISTED else "")
        for names, what in groups
        if names
    ]
    return "; ".join(parts)


@register("DAT006", "unreadable-image-files", requires=("folders",), cause=None)
def unreadable_image_files(inputs: Inputs) -> list[Finding]:
    """Image files that do not decode: truncated, corrupt, or not images at all.

    ## What it does
    Decodes the image files it reads (the sample of each split, see the
    report's `sample`) with Pillow and lists those that fail, with the reason.

    ## Why is this bad?
    `image_dataset_from_directory` decodes files while training: one
    truncated JPEG stops `fit()` with `InvalidArgumentError` in the middle of
    an epoch, hours in. A file that is not an image but carries an image
    extension (an HTML error page saved as `.jpg`) does the same.

    ## Example
    ```text
    photos/train/cat/0042.jpg: image file is truncated (8 bytes not processed)
    ```

    ## Use instead
    Delete or re-download the listed files; find all of them before training:
    ```python
    from PIL import Image
    bad = [p for p in paths if not _opens(p)]   # Image.open(p).load() in a try
    ```
    """
    found = []
    for name, sc in inputs.folders.splits.items():
        if not sc.unreadable:
            continue
        n = len(sc.unreadable)
        evidence: dict = {"split": name, "unreadable": n, "read": sc.read, "files_in_split": sc.total}
        evidence["files"] = [f"{p}: {r}" for p, r in listed(sc.unreadable, evidence)]
        found.append(
            unreadable_image_files.finding(
                Severity.WARNING,
                f"{n:,} of the {sc.read:,} {name} image files read do not decode (first: {evidence['files'][0]}).",
                evidence=evidence,
                fix=Fix(
                    "Remove or replace the files that do not decode",
                    "from PIL import Image\nfor p in bad_files:\n    print(p)   # then delete or re-download it",
                ),
                explanation="Keras decodes images during fit(); a file that does not decode stops training mid-epoch.",
                split=name,
            )
        )
    return found


@register("DAT007", "grayscale-eval-images", requires=("folders",), cause="eval-distribution-shift")
def grayscale_eval_images(inputs: Inputs) -> list[Finding]:
    """Eval images of some classes are grayscale while the training images are in colour.

    ## What it does
    Counts Pillow colour modes per class among the images read. Fires for
    each eval class whose images are mostly grayscale while the same class
    is in colour in training (thresholds below), and names the classes.

    ## Why is this bad?
    Keras converts grayscale files to RGB with R = G = B: the colour cues the
    network learned (sky blue for airplanes, green for frogs) are gone, and
    those classes are scored well below their real accuracy. A pipeline
    step that saved part of the test set in grayscale looks like a model
    that does not generalize.

    ## Example
    ```python
    Image.open(p).convert("L").save(p)     # run over photos/test/cat only
    ```

    ## Use instead
    Keep every split in the same colour mode, or train on grayscale for all
    of them (`color_mode="grayscale"` in `image_dataset_from_directory`).
    """
    scan = inputs.folders
    train = scan.splits.get("train")
    if train is None:
        return []
    found = []
    for name, ev in scan.splits.items():
        if name == "train":
            continue
        gray = []
        for cls, modes in sorted(ev.mode_by_class.items()):
            ev_frac = _gray_fraction(modes)
            tr_frac = _gray_fraction(train.mode_by_class.get(cls, {}))
            if ev_frac > GRAY_EVAL_FRACTION and tr_frac <= GRAY_TRAIN_FRACTION:
                gray.append(
                    {
                        "class": cls,
                        "eval_gray_fraction": round(ev_frac, 4),
                        "train_gray_fraction": round(tr_frac, 4),
                        "eval_read": sum(modes.values()),
                    }
                )
        if not gray:
            continue
        names = [g["class"] for g in gray]
        whole = len(gray) == len(ev.mode_by_class)
        found.append(
            grayscale_eval_images.finding(
                Severity.ERROR if whole else Severity.WARNING,
                f"{'Every' if whole else len(gray)} {name} class{'' if len(gray) == 1 else 'es'} "
                f"({', '.join(names[:MAX_LISTED])}) {'is' if len(gray) == 1 else 'are'} grayscale in {name} but in "
                f"colour in train: the model is scored without the colour it learned.",
                evidence={
                    "split": name,
                    "classes": listed(gray),
                    "eval_modes": dict(ev.modes),
                    "train_modes": dict(train.modes),
                    "gray_eval_fraction": GRAY_EVAL_FRACTION,
                    "gray_train_fraction": GRAY_TRAIN_FRACTION,
                },
                fix=Fix(
                    f"Restore the colour images of {name}/{names[0]}/ (or train in grayscale throughout)",
                    "ds = keras.utils.image_dataset_from_directory(path, color_mode='grayscale')  # every split",
                ),
                explanation="Grayscale eval images fed to a colour model lose the cues it learned, so those classes score "
                "low without any overfitting.",
                split=name,
            )
        )
    return found


@register("DAT008", "eval-image-size-differs", requires=("folders",), cause="eval-distribution-shift")
def eval_image_size_differs(inputs: Inputs) -> list[Finding]:
    """The eval images' usual size differs from the training images'.

    ## What it does
    Compares the most common (height, width) of each eval split with the
    training split's, among the images read, and reports a ratio above
    `SIZE_RATIO_WARN` on either side. Mixed sizes inside one split are
    reported as information.

    ## Why is this bad?
    Keras resizes every image to `image_size`. Images shot at another
    resolution come out blurrier or sharper than those the network learned
    from, which costs accuracy on eval only: a distribution shift that looks
    like overfitting.

    ## Example
    ```text
    photos/train/*: 32x32 (CIFAR)     photos/test/*: 256x256 (downloaded photos)
    ```

    ## Use instead
    Collect eval images at the training resolution, or resize both splits
    the same way before training (e.g. to the smaller of the two).
    """
    scan = inputs.folders
    train = scan.splits.get("train")
    if train is None or not train.sizes:
        return []
    found = []
    th, tw = train.sizes.most_common(1)[0][0]
    for name, sc in scan.splits.items():
        if not sc.sizes:
            continue
        h, w = sc.sizes.most_common(1)[0][0]
        ratio = max(h / th, th / h, w / tw, tw / w)
        mixed = len(sc.sizes) > 1
        if name != "train" and ratio > SIZE_RATIO_WARN:
            found.append(
                eval_image_size_differs.finding(
                    Severity.WARNING,
                    f"{name} images are mostly {h}x{w}, train images {th}x{tw} (x{ratio:.1f}): resizing both to one "
                    "size gives the eval images another sharpness than the model learned.",
                    evidence={
                        "split": name,
                        "eval_size": [h, w],
                        "train_size": [th, tw],
                        "ratio": round(ratio, 3),
                        "warn_ratio": SIZE_RATIO_WARN,
                        "fed_at": list(scan.target_size or (th, tw)),
                    },
                    fix=Fix(
                        f"Resize {name} images to the training resolution before use",
                        f"Image.open(p).resize(({int(tw)}, {int(th)}), Image.BILINEAR).save(out)",
                    ),
                    explanation="Images resized from another resolution differ in sharpness from the training images.",
                    split=name,
                )
            )
        elif mixed:
            sizes = {f"{a}x{b}": n for (a, b), n in sc.sizes.most_common(EVIDENCE_MAX_ITEMS)}
            found.append(
                eval_image_size_differs.finding(
                    Severity.INFO,
                    f"{name} images come in {len(sc.sizes)} sizes (most common {h}x{w}); Keras resizes them all to "
                    "image_size, changing the aspect ratio of some.",
                    evidence={"split": name, "sizes": sizes, "fed_at": list(scan.target_size or (th, tw))},
                    fix=Fix(
                        "Pass crop_to_aspect_ratio=True to keep aspect ratios",
                        "keras.utils.image_dataset_from_directory(path, image_size=(h, w), crop_to_aspect_ratio=True)",
                    ),
                    explanation="Images of mixed sizes are resized to one size, stretching some of them.",
                    split=name,
                )
            )
    return found
