"""The checks, one module per family. None of them imports TensorFlow."""
