"""The file `tandem init` writes reads back as the same configuration, and explains itself."""

from __future__ import annotations

from tandem.config import parse_config, validate_config
from tandem.config.write import render_config


def sample() -> dict[str, object]:
    return {
        "node1": {"hostname": "alpha", "crossover": "192.168.255.1", "external": "10.1.0.5"},
        "node2": {"hostname": "beta", "crossover": "192.168.255.2", "external": "10.1.0.6"},
        "heartbeat": {"profile": "seed", "deadtime": 30.0, "serial": {"enabled": False}},
        "ping": {"nodes": ["10.1.0.1", "10.1.0.2"]},
        "volume": {"size": "20GiB", "protocol": "B", "resync_rate": "40MiB"},
        "notification": {"address": ["ops@example.com"], "relay_host": "mail.example.com"},
    }


def test_round_trip() -> None:
    cfg = validate_config(sample())
    text = render_config(cfg)
    assert parse_config(text) == cfg
    assert 'size = "20GiB"' in text


def test_comments_come_from_the_model() -> None:
    text = render_config(validate_config(sample()))
    assert "# Heartbeat over the serial null-modem line" in text
    # Unset overrides show the profile's value, commented out.
    assert "# keepalive = 5  (from the seed profile)" in text
