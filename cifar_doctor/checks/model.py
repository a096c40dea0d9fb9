"""Checks of this family; see cifar_doctor.registry.FAMILIES."""
