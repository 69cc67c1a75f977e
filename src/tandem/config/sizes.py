"""Byte sizes as operators write them ("8GiB", "100MiB"), read and written back."""

from typing import Annotated

from pydantic import BeforeValidator, ByteSize, TypeAdapter

_LAX = TypeAdapter(ByteSize)


def _parse(value: object) -> object:
    # A string goes through pydantic's unit parser; anything else is left for the strict
    # int check, so `size = true` is still refused as the wrong type.
    if isinstance(value, str):
        return int(_LAX.validate_python(value))
    return value


Size = Annotated[int, BeforeValidator(_parse)]

_UNITS = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def format_size(value: int) -> str:
    """The shortest exact spelling, so a size written by `tandem init` reads back unchanged."""
    for unit, factor in _UNITS:
        if value >= factor and value % factor == 0:
            return f"{value // factor}{unit}"
    return f"{value}B"
