"""Reading cluster.toml: every problem found at once, each with its key.

An operator who fixes one error per run of `tandem config check` loses patience; so the
checker reports every type error pydantic finds and, once the types are right, every rule
that relates several keys.
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tandem.config.model import ClusterConfig
from tandem.config.rules import ConfigIssue, check_rules
from tandem.errors import ConfigError


class InvalidConfig(ConfigError):
    def __init__(self, source: str, issues: Sequence[ConfigIssue]) -> None:
        self.source = source
        self.issues = list(issues)
        count = len(self.issues)
        lines = [f"{source}: {count} error{'s' if count != 1 else ''}"]
        lines += [f"  {issue.sentence()}" for issue in self.issues]
        super().__init__("\n".join(lines))


def load_config(path: Path) -> ClusterConfig:
    """Read and check a configuration file; raise InvalidConfig listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidConfig(
            str(path),
            [ConfigIssue("(file)", None, "does not exist", "a file written by `tandem init`")],
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidConfig(
            str(path), [ConfigIssue("(file)", None, f"cannot be read ({exc})", "a text file")]
        ) from None
    return parse_config(text, str(path))


def parse_config(text: str, source: str = "cluster.toml") -> ClusterConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidConfig(
            source, [ConfigIssue("(file)", None, f"is not valid TOML: {exc}", "TOML syntax")]
        ) from None
    return validate_config(data, source)


def validate_config(data: dict[str, Any], source: str = "cluster.toml") -> ClusterConfig:
    try:
        cfg = ClusterConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidConfig(source, list(_issues_from(exc))) from None
    issues = check_rules(cfg)
    if issues:
        raise InvalidConfig(source, issues)
    return cfg


def _issues_from(exc: ValidationError) -> Iterable[ConfigIssue]:
    seen: set[str] = set()
    for error in exc.errors():
        loc = _key_path(error["loc"])
        key = _format_key(loc)
        if key in seen:  # a union reports one error per branch; one line per key is enough
            continue
        seen.add(key)
        kind = error["type"]
        if kind == "extra_forbidden":
            yield _unknown_key(loc, error["input"])
        elif kind == "missing":
            yield ConfigIssue(key, None, "missing", _expected(loc))
        else:
            yield ConfigIssue(key, error["input"], _problem(error), _expected(loc))


def _key_path(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # pydantic adds schema tags (such as "function-after[...]" or type names of union
    # branches) to locations; only real keys and list indices belong in a key path.
    return tuple(p for p in loc if isinstance(p, int) or ("[" not in p and p.isidentifier()))


def _format_key(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(file)"


def _problem(error: Any) -> str:
    kind: str = error["type"]
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "is_instance_of":
        return "wrong type or form"
    if kind == "value_error" and "error" in error.get("ctx", {}):
        # Our own validators' sentences, without pydantic's "Value error, " in front.
        return str(error["ctx"]["error"])
    msg: str = error["msg"]
    return msg[0].lower() + msg[1:] if msg else kind


def _unknown_key(loc: tuple[int | str, ...], value: object) -> ConfigIssue:
    valid = sorted(_section_fields(loc[:-1]))
    name = str(loc[-1])
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    where = _format_key(loc[:-1]) if loc[:-1] else "the top level"
    return ConfigIssue(
        _format_key(loc),
        value,
        f"unknown key in {where}{hint}",
        f"one of {', '.join(valid)}" if valid else "no keys here",
    )


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that a key path leads to, if any."""
    model: type[BaseModel] | None = ClusterConfig
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _model_in(field.annotation)
    return model


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _section_fields(loc: Sequence[int | str]) -> list[str]:
    model = _model_at(loc)
    return list(model.model_fields) if model is not None else []


def _expected(loc: Sequence[int | str]) -> str:
    if not loc:
        return "a valid configuration"
    # An item of a list (ping.nodes[1]) is described by its list's field.
    keys = [p for p in loc if isinstance(p, str)]
    parent = _model_at(keys[:-1])
    name = keys[-1] if keys else None
    if parent is None or name is None:
        return "a valid value"
    field = parent.model_fields.get(name)
    if field is None:
        return "a valid value"
    if field.description:
        return _lower_first(field.description.rstrip("."))
    sub = _model_in(field.annotation)
    if sub is not None:
        return f"a [{_format_key(loc)}] table with {', '.join(sub.model_fields)}"
    return "a valid value"


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if text and not text[:2].isupper() else text
