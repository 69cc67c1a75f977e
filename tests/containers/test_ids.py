"""Container IDs: numbers from 100 up (VE-2); everything else refused with a clear message."""

from __future__ import annotations

import pytest

from tandem.containers.errors import InvalidRequest
from tandem.containers.ids import MAX_VEID, parse_veid


@pytest.mark.parametrize("text", ["101", " 101 ", "100", str(MAX_VEID)])
def test_accepts_numbers_from_100(text: str) -> None:
    assert parse_veid(text) == int(text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("99", "below 100"),
        ("0", "below 100"),
        ("1", "reserved"),
        ("abc", "is not a number"),
        ("-101", "is not a number"),
        ("101.5", "is not a number"),
        ("", "is not a number"),
        ("１０１", "is not a number"),  # full-width digits are digits to Python, not to us
        (str(MAX_VEID + 1), "too large"),
    ],
)
def test_refuses_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(InvalidRequest, match=says):
        parse_veid(text)
