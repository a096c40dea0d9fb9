"""DAT: data integrity.

`arrays` (DAT001-DAT004: dtype, NaN/Inf, constant images, split layout) reads
the image arrays; `folders` (DAT005-DAT008: class folders, unreadable files,
grayscale images, image sizes) reads what scanning image folders found.
"""
