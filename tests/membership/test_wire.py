"""HB-5: every packet authenticated; forged, truncated, oversized or foreign packets are
dropped with a reason, never an exception the daemon would die of (fuzzed)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.membership import wire

KEY = wire.derive_key(b"k" * 32, "heartbeat")
OTHER = wire.derive_key(b"x" * 32, "heartbeat")


def beat(**body: object) -> wire.Packet:
    return wire.Packet("beat", 1, "crossover", 7, 42, {"ack": 3, **body})


def test_round_trip() -> None:
    packet = beat(claim=True)
    assert wire.decode(wire.encode(packet, KEY), KEY) == packet


def test_keys_differ_by_purpose() -> None:
    assert wire.derive_key(b"k" * 32, "heartbeat") != wire.derive_key(b"k" * 32, "witness")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (wire.encode(beat(), OTHER), "bad-mac"),
        (wire.encode(beat(), KEY)[:-1], "truncated"),
        (b"x" * 10, "truncated"),
        (b"\0" * (wire.MAX_PACKET + 1), "oversized"),
        (b"GET / HTTP/1.1\r\n" + b"\0" * 60, "foreign"),
    ],
)
def test_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(wire.Dropped) as info:
        wire.decode(data, KEY)
    assert info.value.reason == reason


def test_a_flipped_bit_anywhere_is_refused() -> None:
    data = wire.encode(beat(), KEY)
    for i in range(len(data)):
        corrupted = bytearray(data)
        corrupted[i] ^= 0x01
        with pytest.raises(wire.Dropped):
            wire.decode(bytes(corrupted), KEY)


def test_body_too_large_is_refused_when_sending() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        wire.encode(beat(pad="x" * wire.MAX_PACKET), KEY)


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=wire.MAX_PACKET + 64))
def test_fuzz_random_bytes_only_ever_drop(data: bytes) -> None:
    with contextlib.suppress(wire.Dropped):
        wire.decode(data, KEY)


@settings(max_examples=2000, deadline=None)
@given(st.data())
def test_fuzz_mutated_packets_only_ever_drop(data: st.DataObject) -> None:
    packet = bytearray(wire.encode(beat(claim=True, ping={"10.0.0.1": True}), KEY))
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "cut", "grow"]))
        if op == "flip" and packet:
            i = data.draw(st.integers(0, len(packet) - 1))
            packet[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del packet[data.draw(st.integers(0, len(packet))) :]
        else:
            packet += data.draw(st.binary(max_size=64))
    with contextlib.suppress(wire.Dropped):
        wire.decode(bytes(packet), KEY)


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=8))
def test_slip_round_trip(frames: list[bytes]) -> None:
    decoder = wire.SlipDecoder()
    stream = b"".join(wire.slip_frame(f) for f in frames)
    # Deliver in arbitrary pieces, as a serial line does.
    got: list[bytes] = []
    for i in range(0, len(stream), 7):
        got += decoder.feed(stream[i : i + 7])
    assert got == frames


def test_slip_resynchronises_after_noise() -> None:
    decoder = wire.SlipDecoder(limit=50)
    noise = b"\x01\x02" * 100 + bytes([wire.ESC, 0x00])
    frames = decoder.feed(noise + wire.slip_frame(b"hello"))
    assert frames[-1] == b"hello"
    assert decoder.discarded >= 1
