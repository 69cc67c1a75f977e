"""OP-8: readings parsed from recorded outputs of ipmitool, lm-sensors, /proc/mdstat,
mdadm and smartctl; events raised on every change of state (and so mail, NT-1); on this
machine every missing tool or device is "not available", never an error."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tandem.eventlog.log import read
from tandem.hardware import probe as probes
from tandem.hardware import readings
from tandem.hardware.monitor import Monitor, changes, states
from tandem.rootdir import Root
from tests.conftest import tandem

DATA = Path(__file__).parent / "data"


def text(name: str) -> str:
    return (DATA / name).read_text()


def test_ipmitool_sdr_readings() -> None:
    result = readings.ipmi_sdr(text("ipmitool_sdr_elist.txt"))
    assert result["available"] is True
    by_name = {r["name"]: r for r in result["readings"]}
    assert by_name["FAN1"] == {"name": "FAN1", "status": "ok", "value": "4500 RPM"}
    assert by_name["CPU1 Temp"]["value"] == "41 degrees C"
    assert by_name["FANA"]["status"] == "ns"
    assert by_name["PS2 Status"]["value"] == "Presence detected"
    assert len(by_name) == 9


def test_sensors_readings_with_alarms() -> None:
    good = readings.sensors_json(text("sensors.json"))
    assert {r["name"]: (r["value"], r["status"]) for r in good["readings"]} == {
        "coretemp-isa-0000 Package id 0": ("45 °C", "ok"),
        "coretemp-isa-0000 Core 0": ("43 °C", "ok"),
        "nct6775-isa-0290 Vcore": ("0.88 V", "ok"),
        "nct6775-isa-0290 fan2": ("1205 RPM", "ok"),
    }
    bad = {
        r["name"]: r["status"]
        for r in readings.sensors_json(text("sensors_failing.json"))["readings"]
    }
    assert bad["nct6775-isa-0290 fan2"] == "alarm"  # fan2_alarm set by the chip
    assert bad["coretemp-isa-0000 Core 0"] == "alarm"  # 101 °C over the critical 100 °C
    assert readings.sensors_json("not json") == {
        "available": False, "reason": "sensors gave no readable output"}  # fmt: skip


def test_mdstat_and_mdadm_readings() -> None:
    healthy = readings.mdstat(text("mdstat"))["arrays"]
    assert [(a["name"], a["level"], a["disks"], a["degraded"]) for a in healthy] == [
        ("md1", "raid1", "UU", False), ("md0", "raid1", "UU", False)]  # fmt: skip
    degraded = readings.mdstat(text("mdstat_degraded"))["arrays"][0]
    assert degraded["degraded"] is True and degraded["disks"] == "U_"
    recovering = readings.mdstat(text("mdstat_recovering"))["arrays"][0]
    assert recovering["progress"] == "recovery 21.4%"
    detail = readings.mdadm_detail(text("mdadm_detail_md1_degraded.txt"))
    assert detail == {"state": "clean, degraded", "active": 1, "working": 1, "failed": 1,
                      "spare": 0}  # fmt: skip


def test_smart_health() -> None:
    assert readings.smart_health(text("smartctl_H_passed.txt")) == "PASSED"
    assert readings.smart_health(text("smartctl_H_failed.txt")) == "FAILED"
    assert readings.smart_health("SMART Health Status: OK\n") == "PASSED"
    assert readings.smart_health("smartctl: no such device") == "unknown"


def reading(ipmi: str, sensors: str, mdstat: str, smart: str) -> dict[str, Any]:
    return {
        "ipmi": readings.ipmi_sdr(text(ipmi)),
        "sensors": readings.sensors_json(text(sensors)),
        "raid": readings.mdstat(text(mdstat)),
        "disks": {"available": True, "disks": [
            {"device": "/dev/sda", "health": "PASSED"},
            {"device": "/dev/sdb", "health": readings.smart_health(text(smart))}]},
    }  # fmt: skip


HEALTHY = ("ipmitool_sdr_elist.txt", "sensors.json", "mdstat", "smartctl_H_passed.txt")
FAILING = ("ipmitool_sdr_elist_failing.txt", "sensors_failing.json", "mdstat_degraded",
           "smartctl_H_failed.txt")  # fmt: skip


def test_changes_from_healthy_to_failing_and_back() -> None:
    healthy, failing = states(reading(*HEALTHY)), states(reading(*FAILING))
    assert changes(healthy, healthy) == []
    found = {c.sentence: c.severity for c in changes(healthy, failing)}
    assert found == {
        "IPMI sensor FAN2 is cr (was ok)": "critical",
        "IPMI sensor CPU1 Temp is unc (was ok)": "critical",
        "IPMI sensor PS2 Status is failed (was ok)": "critical",
        "sensor nct6775-isa-0290 fan2 is alarm (was ok)": "critical",
        "sensor coretemp-isa-0000 Core 0 is alarm (was ok)": "critical",
        "RAID md1 is active raid1 degraded [U_] (was active raid1 healthy [UU])": "critical",
        "disk /dev/sdb: SMART health is FAILED (was PASSED)": "critical",
    }
    back = {c.sentence: c.severity for c in changes(failing, healthy)}
    assert (
        back["RAID md1 is active raid1 healthy [UU] again (was active raid1 degraded [U_])"]
        == "info"
    )
    assert len(back) == 7 and set(back.values()) == {"info"}
    degraded = states(reading(HEALTHY[0], HEALTHY[1], "mdstat_degraded", HEALTHY[3]))
    recovering = states(reading(HEALTHY[0], HEALTHY[1], "mdstat_recovering", HEALTHY[3]))
    assert [c.sentence for c in changes(degraded, recovering)] == [
        "RAID md1 is active raid1 degraded [U_] recovery (was active raid1 degraded [U_])"
    ]


def test_a_tool_becoming_available_is_an_event() -> None:
    nothing = {"ipmi": readings.missing("ipmitool is not installed"),
               "sensors": readings.missing("lm-sensors is not installed"),
               "raid": readings.missing("no software RAID (no /proc/mdstat)"),
               "disks": readings.missing("smartmontools is not installed")}  # fmt: skip
    found = changes(states(nothing), states({**nothing, "ipmi": reading(*HEALTHY)["ipmi"]}))
    assert [(c.sentence, c.severity) for c in found] == [
        ("ipmitool (fans, temperatures, power supplies): readings available now", "info")
    ]
    gone = changes(states({**nothing, "ipmi": reading(*HEALTHY)["ipmi"]}), states(nothing))
    assert [c.severity for c in gone] == ["warning"]


def test_the_monitor_records_events_on_change_only(tmp_path: Path) -> None:
    root = Root(tmp_path)
    sequence = [reading(*HEALTHY), reading(*HEALTHY), reading(*FAILING), reading(*FAILING)]
    feed: Callable[[], dict[str, Any]] = lambda: sequence.pop(0)  # noqa: E731
    assert Monitor(root, probe_fn=feed).check() == []  # first start, all healthy: silence
    assert Monitor(root, probe_fn=feed).check() == []  # a restart raises nothing
    assert len(Monitor(root, probe_fn=feed).check()) == 7
    assert Monitor(root, probe_fn=feed).check() == []
    logged = read(root.state / "events.jsonl")
    assert len(logged) == 7 and {e.kind for e in logged} == {"hardware"}
    assert {e.severity for e in logged} == {"critical"}
    raid = next(e for e in logged if e.sentence.startswith("RAID md1"))
    assert raid.details == {"item": "raid md1", "before": "active raid1 healthy [UU]",
                            "after": "active raid1 degraded [U_]"}  # fmt: skip


def test_a_first_start_on_a_failing_machine_says_what_is_bad(tmp_path: Path) -> None:
    found = Monitor(Root(tmp_path), probe_fn=lambda: reading(*FAILING)).check()
    assert "RAID md1 is active raid1 degraded [U_] (software RAID)" in [c.sentence for c in found]


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_the_probes_run_the_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real probe code against stand-ins that print the recorded outputs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_tool(bin_dir, "ipmitool", f'cat "{DATA}/ipmitool_sdr_elist_failing.txt"\n')
    fake_tool(bin_dir, "sensors", f'cat "{DATA}/sensors.json"\n')
    fake_tool(bin_dir, "mdadm", f'cat "{DATA}/mdadm_detail_md1_degraded.txt"\n')
    fake_tool(
        bin_dir,
        "smartctl",
        f"""case "$1" in
  --scan) cat "{DATA}/smartctl_scan.txt" ;;
  -H) if [ "$2" = /dev/sdb ]; then cat "{DATA}/smartctl_H_failed.txt"; exit 8; fi
      cat "{DATA}/smartctl_H_passed.txt" ;;
esac
""",
    )
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    assert probes.ipmi()["readings"][4] == {"name": "FAN2", "status": "cr", "value": "0 RPM"}
    assert probes.sensors()["available"] is True
    raid = probes.raid(DATA / "mdstat_degraded")
    assert raid["arrays"][0]["detail"]["state"] == "clean, degraded"
    assert probes.disks()["disks"] == [{"device": "/dev/sda", "health": "PASSED"},
                                       {"device": "/dev/sdb", "health": "FAILED"}]  # fmt: skip
    fake_tool(bin_dir, "ipmitool", "echo 'Could not open device' >&2; exit 1\n")
    assert probes.ipmi() == {"available": False, "reason": "no IPMI controller answers"}


def test_on_this_machine_every_reading_is_not_available_or_real() -> None:
    """OP-8 acceptance: no IPMI, no RAID here; nothing raises, every section says why."""
    result = probes.probe()
    for section, part in result.items():
        assert part["available"] in (True, False), section
        if not part["available"]:
            assert part["reason"], section
    for tool, section in (("ipmitool", "ipmi"), ("sensors", "sensors"), ("smartctl", "disks")):
        if shutil.which(tool) is None:
            assert result[section] == {"available": False,
                                       "reason": result[section]["reason"]}  # fmt: skip
            assert "not installed" in result[section]["reason"]
    if not Path("/proc/mdstat").exists():
        assert result["raid"]["reason"] == "no software RAID (no /proc/mdstat)"
    out = tandem("hardware", "status")
    assert out.returncode == 0, out.stderr
    if not any(part["available"] for part in result.values()):
        assert out.stdout.count("not available") == 4
