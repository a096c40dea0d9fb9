"""LBL: labels and their encoding, against the loss and across splits.

Measurement comes from `Split.labels()` (`cifar_doctor.measure.labelinfo.LabelInfo`);
these checks only judge. Output units vs classes is a model check (MDL), not
repeated here.

The checks live by topic: `encoding` (labels against the loss, LBL001-LBL005,
LBL008) and `distribution` (class counts and order, LBL006, LBL007, LBL009);
the label measurements both use
(`label_classes`, `label_splits`, `split_label_info`) are in `cifar_doctor.measure.labelinfo`.
"""
