"""What `tandem lab` remembers between commands, in /run/tandem-lab/<name>/state.json.

The keeper knows which machines run; this file adds what only the command line knows
(the subnet, the cuts, the login) and enough PIDs for `lab down` to clean up even when
the keeper itself is gone.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from pathlib import Path

from pydantic import BaseModel, Field

from tandem.fsutil import atomic_write
from tandem.lab.topology import LAB_RUN, LabSpec, MachineName, PathName


class LabState(BaseModel):
    name: str
    subnet: str
    created: float
    keeper_pid: int | None = None
    machines: dict[MachineName, int] = Field(default_factory=dict)
    cuts: dict[MachineName, list[PathName]] = Field(default_factory=dict)
    admin_password: str = ""
    profile: str = "fast"

    @property
    def spec(self) -> LabSpec:
        return LabSpec(self.name, IPv4Network(self.subnet))

    def save(self) -> None:
        atomic_write(self.spec.state_file, self.model_dump_json(indent=2), 0o600)

    @classmethod
    def load(cls, name: str) -> LabState | None:
        path = LAB_RUN / name / "state.json"
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # a state file torn by a crash is treated as absent; the sweep cleans


def state_path(name: str) -> Path:
    return LAB_RUN / name / "state.json"
