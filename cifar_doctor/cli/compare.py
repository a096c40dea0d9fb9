"""`cifar-doctor compare`: train recipes side by side (see cifar_doctor.training.compare)."""
