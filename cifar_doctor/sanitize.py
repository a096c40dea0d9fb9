"""Names from inputs are data: make any string safe to show in one output format.

Class folders, metric names in a log, TensorBoard tags and file names reach the
reports. Each output format has its own way of turning text into behaviour: a
terminal obeys escape sequences, Rich parses `[...]` as markup, Markdown renders
inline HTML, links and code spans, HTML renders tags, Python runs code. One
function per format makes a string inert there; JSON needs none (it is data).

Nothing here imports the rest of the package.
"""

from __future__ import annotations

import html as _html
import re

#: Characters a terminal or a text viewer acts on instead of showing: C0 controls
#: except newline and tab, DEL, C1 controls (0x80-0x9f: a bare 0x9b is CSI on some
#: terminals), and the Unicode format characters that reorder or hide text
#: (bidirectional overrides and isolates, zero-width characters, line and paragraph
#: separators, the byte-order mark), and lone surrogates (a file name that is not
#: UTF-8, decoded by Python as `\udcff`: written raw it makes a UTF-8 stdout raise).
CONTROL_CHARS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)

#: The same, with newline and tab: what a one-line message must not contain.
LINE_BREAKING_CHARS = re.compile(CONTROL_CHARS.pattern[:-1] + "\n\t]")

#: Characters that start Markdown syntax inside a line: code spans (`), table cells (|),
#: links and images (the bracket opens them), emphasis (*) and backslash escapes.
#: Underscores are left alone: GitHub-flavoured Markdown ignores them inside words
#: (`val_loss`), and escaping them would litter every metric name.
#: Raw HTML and entities (< > &) are handled by HTML escaping; a name never starts a
#: line of the report, so line-start syntax (# > - 1.) cannot be triggered.
MARKDOWN_PUNCTUATION = re.compile(r"([\\`*\[\]|])")


def visible(match: re.Match[str] | str) -> str:
    """A control character written as its Python escape: ESC -> `\\x1b`, U+202E -> `\\u202e`."""
    ch = match if isinstance(match, str) else match.group(0)
    code = ord(ch)
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: object) -> str:
    """`text` with every control or escape character shown visibly; newlines and tabs kept.

    Draw the result as a Rich `Text` (or with `markup=False`): Rich parses a plain
    string as markup, and a name holding `[link=...]` or `[/]` would become a link
    or crash the report.

    >>> terminal("cat\\x1b]0;owned\\x07")
    'cat\\\\x1b]0;owned\\\\x07'
    """
    return CONTROL_CHARS.sub(visible, str(text))


def one_line(text: object) -> str:
    """`text` as one line with nothing hidden: newlines and every control character shown as escapes.

    For `Error:` lines and other greppable one-line output.

    >>> one_line("bad\\nname\\x1b[2J")
    'bad\\\\nname\\\\x1b[2J'
    """
    return LINE_BREAKING_CHARS.sub(visible, str(text))


def markdown(text: object) -> str:
    """`text` as inert Markdown inline text: HTML escaped, Markdown punctuation backslash-escaped.

    Safe in a paragraph, a list item and a table cell (pipes escaped, newlines shown
    as escapes): no tag, link, image, code span or emphasis can start from it.
    Quotes are left as they are: with `<` escaped no tag (and so no attribute) can
    open, and `'` as `&#x27;` would litter every "model's" of the raw text.

    >>> markdown("<img src=x onerror=alert(1)>|`x`")
    '&lt;img src=x onerror=alert(1)&gt;\\\\|\\\\`x\\\\`'
    """
    escaped = _html.escape(one_line(text), quote=False)
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", escaped)


def markdown_code(text: object) -> str:
    """`text` as an inline Markdown code span that no backtick inside can close early.

    >>> markdown_code("a`b")
    '`` a`b ``'
    """
    body = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest or body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def markdown_fence(code: str, language: str = "") -> list[str]:
    """`code` as the lines of a fenced Markdown code block that nothing inside can close.

    The fence is one backtick longer than the longest run of backticks in `code`
    (at least three); control characters are shown as escapes.
    """
    body = terminal(code)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, *body.splitlines(), fence]


def html(text: object) -> str:
    """`text` HTML-escaped (quotes too), with control characters shown as escapes."""
    return _html.escape(terminal(text), quote=True)


def python_literal(value: str | int | float | bool | None | tuple | list) -> str:
    """A Python literal for `value` that evaluates back to it and can run nothing: `repr`.

    Fix snippets that users copy and run put every value from an input through
    this, never through an f-string inside quotes.

    >>> python_literal("x'); import os; os.system('id'); ('")
    '"x\\'); import os; os.system(\\'id\\'); (\\'"'
    """
    if isinstance(value, (list, tuple)):
        inner = ", ".join(python_literal(v) for v in value)
        return (
            f"({inner},)"
            if isinstance(value, tuple) and len(value) == 1
            else (f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
        )
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f"no safe literal for {type(value).__name__}")
