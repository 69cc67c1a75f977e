"""One log format for every tandem daemon: a timestamp, who speaks, one sentence."""

import logging
import sys


def setup(name: str, level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format=f"%(asctime)s {name}: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        force=True,
    )
