"""`cifar-doctor watch -- CMD ...`: run a training command and diagnose its output live."""
