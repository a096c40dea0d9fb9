"""Rewrite the check table in README.md from the registry (`tests/test_registry.py` keeps them equal).

Usage: python scripts/readme_checks.py
"""

from __future__ import annotations

from pathlib import Path

from cifar_doctor.registry import all_checks

README = Path(__file__).resolve().parent.parent / "README.md"
HEADER = "| code | name | needs | supports |"
END = "\n\nEach check's documentation"


def table() -> str:
    rows = [HEADER, "|---|---|---|---|"]
    for spec in all_checks():
        cause = f"`{spec.cause}`" if spec.cause else "advice"
        rows.append(f"| `{spec.code}` | {spec.name} | {', '.join(spec.requires) or '-'} | {cause} |")
    return "\n".join(rows)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(HEADER), text.index(END)
    README.write_text(text[:start] + table() + text[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
