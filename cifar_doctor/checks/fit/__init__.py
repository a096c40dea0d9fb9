"""FIT: over- and underfitting read from learning curves.

These checks look at trends over epochs of a `History`, so they need
`measure.history.MIN_EPOCHS_FOR_CURVES` epochs at least. A pipeline bug (LOG001)
can coexist with a real trend: the question's second run has both a scale
bug and a widening gap, and reports both.

The checks live by topic: `overfitting` (FIT001, FIT003, FIT004, FIT008), `progress`
(FIT002, FIT005, FIT006), `memorization` (FIT007) and `gap` (FIT009). The history
measurements they share are in `cifar_doctor.measure.history`.
"""
