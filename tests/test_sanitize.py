"""The per-format sanitizers make any string inert in their format."""

from __future__ import annotations

import ast
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cifar_doctor import sanitize

HOSTILE = [
    "\x1b]0;owned\x07",  # retitles the terminal
    "\x1b[2J\x1b[H",  # clears it
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",  # OSC 8 hidden hyperlink
    "[link=https://evil.example]x[/link]",  # live Rich markup
    "[/]",  # a closing tag that crashes Rich's parser
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "a|b`c`",
    "x'); __import__('os').system('id'); ('",
    'x"""; import os #',
    "\u202eevil\u202c",  # right-to-left override
    "line\nbreak\r\nreturn",
    "\x9b31m",  # a C1 CSI
]

names = st.one_of(
    st.sampled_from(HOSTILE), st.text(max_size=40), st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=40)
)


@given(names)
@settings(max_examples=500, deadline=None)
def test_terminal_shows_no_control_character(name: str) -> None:
    out = sanitize.terminal(name)
    assert not sanitize.CONTROL_CHARS.search(out)


@given(names)
@settings(max_examples=500, deadline=None)
def test_one_line_is_one_line(name: str) -> None:
    out = sanitize.one_line(name)
    assert "\n" not in out and "\r" not in out and not sanitize.CONTROL_CHARS.search(out)


@given(names)
@settings(max_examples=500, deadline=None)
def test_markdown_has_no_tag_and_no_unescaped_syntax(name: str) -> None:
    out = sanitize.markdown(name)
    assert "<" not in out and ">" not in out and "\n" not in out
    assert not re.search(r"(?<!\\)[`|\[\]]", out.replace("\\\\", ""))


@given(names)
@settings(max_examples=300, deadline=None)
def test_markdown_code_span_cannot_be_closed_early(name: str) -> None:
    out = sanitize.markdown_code(name)
    fence = re.match(r"`+", out).group(0)  # type: ignore[union-attr]
    assert out.endswith(fence) and fence not in out[len(fence) : -len(fence)]


@given(names)
@settings(max_examples=300, deadline=None)
def test_markdown_fence_cannot_be_closed_early(name: str) -> None:
    lines = sanitize.markdown_fence(f"x = {name!r}\n{name}", "python")
    fence = lines[0].removesuffix("python")
    assert lines[-1] == fence and all(fence not in ln for ln in lines[1:-1])


@given(names)
@settings(max_examples=300, deadline=None)
def test_html_has_no_markup(name: str) -> None:
    out = sanitize.html(name)
    assert not set("<>\"'") & set(out)


@given(st.one_of(names, st.lists(names, max_size=4)))
@settings(max_examples=500, deadline=None)
def test_python_literal_is_one_harmless_literal(value: object) -> None:
    source = f"x = {sanitize.python_literal(value)}"  # type: ignore[arg-type]
    tree = ast.parse(source)
    assert len(tree.body) == 1
    assign = tree.body[0]
    assert isinstance(assign, ast.Assign)
    assert ast.literal_eval(assign.value) == value
