"""Rendering a configuration as commented TOML.

The comments are the models' field descriptions, so the file an operator opens explains
every key in the same words `tandem config check` uses, and cannot drift from the code.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from tomlkit.items import Table

from tandem.config import sizes
from tandem.config.model import ClusterConfig, HeartbeatSection, PingSection

HEADER = """\
tandem cluster configuration: the same file on both nodes.
Check it with `tandem config check`; every key is explained above it.
"""


def render_config(cfg: ClusterConfig) -> str:
    doc = tomlkit.document()
    for line in HEADER.splitlines():
        doc.add(tomlkit.comment(line))
    for name, field in ClusterConfig.model_fields.items():
        doc.add(tomlkit.nl())
        doc.add(name, _table(getattr(cfg, name), field))
    return tomlkit.dumps(doc)


def _table(section: BaseModel, field: FieldInfo | None = None) -> Table:
    table = tomlkit.table()
    if field is not None and field.description:
        table.comment(field.description)
    subtables: list[tuple[str, BaseModel]] = []
    for name, info in type(section).model_fields.items():
        value = getattr(section, name)
        if isinstance(value, BaseModel):
            subtables.append((name, value))
            continue
        if info.description:
            table.add(tomlkit.comment(info.description))
        if value is None:
            table.add(tomlkit.comment(f"{name} = {_unset_hint(section, name)}"))
        else:
            table.add(name, _toml_value(value, info))
    for name, value in subtables:
        table.add(name, _table(value))
    return table


def _unset_hint(section: BaseModel, name: str) -> str:
    if isinstance(section, HeartbeatSection):
        timing = section.timing()
        return f"{getattr(timing, name):g}  (from the {section.profile} profile)"
    if isinstance(section, PingSection) and name == "interval":
        return "(from the heartbeat profile)"
    return "(not set)"


def _is_size(info: FieldInfo) -> bool:
    return any(isinstance(m, BeforeValidator) and m.func is sizes._parse for m in info.metadata)


def _toml_value(value: Any, info: FieldInfo) -> Any:
    if _is_size(info):
        return sizes.format_size(value)
    if isinstance(value, (IPv4Address, Path)):
        return str(value)
    if isinstance(value, list):
        return [str(v) if isinstance(v, (IPv4Address, Path)) else v for v in value]
    return value
