"""Heartbeat timing profiles (HB-2).

"seed" is the seed manual's Heartbeat 1.2 (a heartbeat every 5 s, dead after 60 s, seed
section 2.2); "fast" is tandem's default, about thirty times quicker to notice a dead peer.
Heartbeat's own advice holds for both: warntime between keepalive and deadtime, initdead
at least twice the deadtime so that a slow boot of the peer is not taken for its death.
"""

from dataclasses import dataclass
from typing import Literal

ProfileName = Literal["fast", "seed"]


@dataclass(frozen=True)
class Timing:
    keepalive: float
    warntime: float
    deadtime: float
    initdead: float
    ping_interval: float


PROFILES: dict[ProfileName, Timing] = {
    "fast": Timing(keepalive=0.2, warntime=1.0, deadtime=2.0, initdead=4.0, ping_interval=0.5),
    "seed": Timing(keepalive=5.0, warntime=30.0, deadtime=60.0, initdead=120.0, ping_interval=5.0),
}
