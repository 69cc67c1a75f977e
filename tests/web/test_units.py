"""The small pieces on their own: throttle, journal, hardware probes, apt's list, jobs,
restart impact, and the German catalog's completeness."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tandem.config import parse_config
from tandem.web import hardware, i18n, restarts, updates
from tandem.web.jobs import Busy, Jobs
from tandem.web.journal import Entry, Journal
from tandem.web.throttle import LoginThrottle

WEB = Path(i18n.__file__).parent


def test_throttle_waits_double_after_five_failures() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(5):
        assert throttle.retry_after("a") == 0
        throttle.failed("a")
    assert throttle.retry_after("a") == 1.0
    throttle.failed("a")
    assert throttle.retry_after("a") == 2.0
    assert throttle.retry_after("b") == 0  # per address
    now[0] += 2.0
    assert throttle.retry_after("a") == 0
    throttle.succeeded("a")
    throttle.failed("a")
    assert throttle.retry_after("a") == 0
    now[0] += 10_000  # old failures are forgotten
    assert throttle.retry_after("a") == 0


def test_journal_keeps_one_entry_per_kind_and_target(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.add(Entry("config", "node2", "first", {"toml": "a"}))
    journal.add(Entry("admin_password", "node2", "pw", {"entry": "x"}))
    journal.add(Entry("config", "node2", "second", {"toml": "b"}))
    assert [e.summary for e in Journal(tmp_path).entries()] == ["pw", "second"]
    assert (tmp_path / "pending.json").stat().st_mode & 0o777 == 0o600
    journal.remove(journal.entries()[0].id)
    assert [e.summary for e in journal.entries()] == ["second"]
    journal.notice("something did not happen")
    notice = journal.notices()[0]
    assert journal.dismiss(notice.id) and not journal.notices()


def test_a_damaged_journal_is_kept_aside(tmp_path: Path) -> None:
    (tmp_path / "pending.json").write_text("{not json")
    assert Journal(tmp_path).entries() == []
    assert (tmp_path / "pending.damaged").exists()


MDSTAT = """Personalities : [raid1]
md0 : active raid1 sdb1[1] sda1[0]
      976630336 blocks super 1.2 [2/1] [U_]
      [=>...................]  recovery =  8.5% (83440000/976630336) finish=75.6min

unused devices: <none>
"""


def test_raid_from_mdstat(tmp_path: Path) -> None:
    mdstat = tmp_path / "mdstat"
    mdstat.write_text(MDSTAT)
    result = hardware.raid(mdstat)
    assert result["available"] is True
    array = result["arrays"][0]
    assert (array["name"], array["level"], array["disks"]) == ("md0", "raid1", "U_")
    assert array["degraded"] is True
    assert array["progress"] == "recovery 8.5%"


def test_missing_tools_and_hardware_are_not_available(tmp_path: Path) -> None:
    assert hardware.raid(tmp_path / "absent") == {
        "available": False, "reason": "no software RAID (no /proc/mdstat)"}  # fmt: skip
    probe = hardware.probe()
    for key, tool in (("ipmi", "ipmitool"), ("sensors", "sensors"), ("disks", "smartctl")):
        assert probe[key]["available"] is bool(shutil.which(tool)) or "reason" in probe[key]
        if not shutil.which(tool):
            assert "not installed" in probe[key]["reason"]


APT = """Listing...
apt/oldstable-security 2.6.2 amd64 [upgradable from: 2.6.1]
bash/oldstable 5.2.15-2+b13 amd64 [upgradable from: 5.2.15-2+b8]
"""


def test_apt_list_is_parsed() -> None:
    packages = updates.parse(APT)
    assert [(p["name"], p["installed"], p["version"], p["security"]) for p in packages] == [
        ("apt", "2.6.1", "2.6.2", True),
        ("bash", "5.2.15-2+b8", "5.2.15-2+b13", False),
    ]


def test_apt_lists_this_machine() -> None:
    result = updates.upgradable({"LC_ALL": "C"})
    assert result["available"] is bool(shutil.which("apt"))
    if result["available"]:
        assert all(p["name"] and p["version"] for p in result["packages"])


def test_a_job_streams_its_output_and_holds_its_lock() -> None:
    async def main() -> None:
        jobs = Jobs()
        job = jobs.start("count", ["sh", "-c", "echo one; sleep 0.2; echo two; exit 3"], "apt", {})
        with pytest.raises(Busy):
            jobs.start("again", ["true"], "apt", {})
        seen: list[str] = []
        since = 0
        while job.state == "running" or since < job.first_line + len(job.lines):
            await jobs.wait(job, since, 5)
            view = job.view(since)
            seen += view["lines"]
            since = view["next"]
        assert seen[1:] == ["one", "two"]
        assert (job.state, job.exit_code) == ("failed", 3)
        after = jobs.start("next", ["true"], "apt", {})  # the lock is free again
        while after.state == "running":
            await jobs.wait(after, after.first_line + len(after.lines), 5)
        assert after.state == "done"
        await jobs.close()

    asyncio.run(main())


def test_jobs_end_their_children_when_the_web_stops() -> None:
    async def main() -> int:
        jobs = Jobs()
        job = jobs.start("slow", ["sleep", "60"], "apt", {})
        while not job.lines:
            await jobs.wait(job, 0, 5)
        await asyncio.sleep(0.2)
        (proc,) = jobs._procs
        await jobs.close()
        assert proc.returncode is not None and not jobs._procs and not jobs._tasks
        return proc.pid

    pid = asyncio.run(main())
    assert not Path(f"/proc/{pid}").exists()


BASE = """
[node1]
hostname = "node1"
crossover = "192.168.255.1"
external = "10.0.0.11"
[node2]
hostname = "node2"
crossover = "192.168.255.2"
external = "10.0.0.12"
"""


def test_what_a_change_restarts() -> None:
    old = parse_config(BASE)
    ping = parse_config(BASE + '[ping]\nnodes = ["10.0.0.1"]\n')
    mail = parse_config(BASE + '[notification]\naddress = ["ops@example.com"]\n')
    assert restarts.affected(old, ping) == {"membership"}
    assert restarts.affected(old, mail) == set()
    assert restarts.changed_sections(old, mail) == ["notification"]


def test_every_message_has_a_german_translation() -> None:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"N_": None, "gettext": None, "_": None}
    found = {msg for _, _, msg, _, _ in extract_from_dir(str(WEB), method_map, keywords=keywords)}
    with (WEB / "locale" / "de" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    missing = sorted(m for m in found if not (catalog.get(m) and catalog.get(m).string))
    assert not missing, f"untranslated (run make web-messages, then translate): {missing}"
    assert i18n.translations("de").gettext("Network") == "Netzwerk"
    assert i18n.translations("en").gettext("Network") == "Network"
    assert all(isinstance(m, str) for m in found)  # plain strings only, no plural tuples
