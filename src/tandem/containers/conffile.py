"""The `KEY="value"` files that vzctl users know (ve.conf, the resource samples).

Shell-compatible on purpose: an operator can `source` them, copy them and edit them with
any editor. Reading is strict: an unknown key, a repeated key or a line that is not
`KEY="value"` is an error naming the file and line, so a typo never passes silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from tandem.containers.errors import InvalidRequest

_LINE = re.compile(r'^([A-Z][A-Z0-9_]*)=(?:"([^"\\$`]*)"|([^\s"\'\\$`]*))\s*(#.*)?$')


def parse(text: str, source: str, known: Iterable[str]) -> dict[str, str]:
    """The keys and values of a file; InvalidRequest names the first bad line."""
    allowed = set(known)
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise InvalidRequest(
                f'{source} line {number} is not KEY="value": {raw.strip()!r}; fix or remove it'
            )
        key = match.group(1)
        if key not in allowed:
            raise InvalidRequest(
                f"{source} line {number}: unknown key {key}; known keys are "
                f"{', '.join(sorted(allowed))}"
            )
        if key in values:
            raise InvalidRequest(f"{source} line {number}: {key} is set twice; keep one")
        values[key] = match.group(2) if match.group(2) is not None else match.group(3)
    return values


def read(path: Path, known: Iterable[str]) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidRequest(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"{path} cannot be read ({exc})") from None
    return parse(text, str(path), known)


def render(header: str, values: Mapping[str, str]) -> str:
    """The file text: a comment header, then one `KEY="value"` line per key, in order."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for key, value in values.items():
        if '"' in value or "\n" in value or "$" in value or "`" in value or "\\" in value:
            raise ValueError(f'value of {key} cannot be written in a KEY="value" file')
        lines.append(f'{key}="{value}"')
    return "\n".join(lines) + "\n"
