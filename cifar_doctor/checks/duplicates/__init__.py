"""DUP: images shared by the training split and an eval split.

`exact` (DUP001) finds byte-identical images (after reconstructing 0-255 pixels
when the splits use different schemes); `near` (DUP002) finds copies that were
resized, shifted, recompressed or recolored; `features` (DUP003), with a model, finds
the eval images the model cannot tell apart from a training image though their pixels
differ. Their measurements live in `cifar_doctor.measure.duplicates`,
`cifar_doctor.measure.neardup` and `cifar_doctor.measure.featdup`.
"""
