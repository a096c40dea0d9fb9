"""The runnable examples in the public docstrings run and print what they say."""

from __future__ import annotations

import doctest

import pytest

import cifar_doctor
import cifar_doctor.api
import cifar_doctor.session


@pytest.mark.parametrize("module", [cifar_doctor, cifar_doctor.api, cifar_doctor.session], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
