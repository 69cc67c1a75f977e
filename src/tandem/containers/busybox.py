"""The busybox OS template: a complete little system from the node's static busybox,
built offline in well under a second (for tests, the demo and the rescue system of repair
mode).

It has what the panel functions need to show: an init (busybox init), services with
init scripts that answer start/stop/restart/status (syslogd, crond and a web server on
port 80 that shows the container's host name), a root account, and `passwd`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tandem.containers.errors import ContainerError

BUSYBOX = Path("/bin/busybox")
PT_INTERP = 3
# name -> (command that stays in the foreground, what it is)
SERVICES = {
    "syslogd": ("syslogd -n -O /var/log/messages", "system log"),
    "crond": ("crond -f -c /etc/crontabs", "cron daemon"),
    "httpd": ("httpd -f -p 80 -h /var/www", "web server on port 80"),
}
ENABLED = ("S10syslogd", "S20crond", "S50httpd")

FUNCTIONS = """\
# Shared by the init scripts in /etc/init.d: start, stop, restart and status of one
# daemon that stays in the foreground; its pid is kept in /var/run/NAME.pid.
# status exits 0 when running and 3 when stopped (as LSB init scripts do).
PIDFILE=/var/run/$NAME.pid
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
start() {
    if running; then echo "$NAME is running"; return 0; fi
    $DAEMON </dev/null >/dev/null 2>&1 &
    echo $! > "$PIDFILE"
    echo "$NAME started"
}
stop() {
    if running; then kill "$(cat "$PIDFILE")"; fi
    rm -f "$PIDFILE"
    echo "$NAME stopped"
}
status() {
    if running; then echo "$NAME is running (pid $(cat "$PIDFILE"))"; return 0; fi
    echo "$NAME is stopped"; return 3
}
case "$1" in
    start) start ;;
    stop) stop ;;
    restart) stop; sleep 0.2; start ;;
    status) status ;;
    *) echo "usage: $0 start|stop|restart|status"; exit 2 ;;
esac
"""

RCS = """\
#!/bin/sh
# Boot script (busybox init runs it once): hostname, a page for the web server, then
# every service linked in /etc/rc.d, in order.
[ -s /etc/hostname ] && hostname -F /etc/hostname
mkdir -p /var/run /var/log /var/www
# Pid files of an earlier boot are stale (after a crash or a failover they are still on
# disk), and in a new PID namespace their numbers are soon those of this boot's scripts.
rm -f /var/run/*.pid
echo "<html><body><h1>$(hostname)</h1><p>a tandem container</p></body></html>" \\
    > /var/www/index.html
for script in /etc/rc.d/S*; do
    [ -x "$script" ] && "$script" start
done
"""

INITTAB = """\
# busybox init: the boot script at start; on halt, stop the services in reverse order.
::sysinit:/etc/init.d/rcS
::shutdown:/bin/sh -c 'for s in $(ls -r /etc/rc.d/S*); do "$s" stop; done' >/dev/null 2>&1
"""


def check_static(path: Path = BUSYBOX) -> None:
    """The template must run on either node without the node's libraries: a static
    busybox (Debian's busybox-static), found by the absence of an ELF interpreter."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ContainerError(f"{path} is missing; install Debian's busybox-static") from None
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ContainerError(f"{path} is not a 64-bit ELF program; install busybox-static")
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    for i in range(phnum):
        start = phoff + i * phentsize
        if int.from_bytes(data[start : start + 4], "little") == PT_INTERP:
            raise ContainerError(
                f"{path} is dynamically linked; install Debian's busybox-static package"
            )


def applets(path: Path = BUSYBOX) -> list[str]:
    out = subprocess.run([str(path), "--list"], capture_output=True, text=True, check=True)
    return [a for a in out.stdout.split() if a and a != "busybox" and "/" not in a]


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def build(root: Path) -> None:
    """Write the template's root filesystem into the empty directory `root`."""
    check_static()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc/init.d", "etc/rc.d", "etc/crontabs",
              "dev", "proc", "sys", "mnt", "home", "run", "var/log", "var/run", "var/www",
              "var/spool/cron"):  # fmt: skip
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir()
    (root / "tmp").chmod(0o1777)
    (root / "root").mkdir()
    (root / "root").chmod(0o700)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for name in applets():
        link = root / "bin" / name
        if not link.exists():
            link.symlink_to("busybox")
    (root / "sbin" / "init").symlink_to("../bin/busybox")
    _write(root / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    _write(root / "etc/group", "root:x:0:\n")
    _write(root / "etc/shadow", "root:*:19000:0:99999:7:::\n", 0o600)
    _write(root / "etc/profile", 'export PS1="[\\u@\\h \\W]\\$ "\n')
    _write(root / "etc/fstab", "")
    _write(root / "etc/hostname", "")
    _write(root / "etc/hosts", "127.0.0.1 localhost\n")
    _write(root / "etc/resolv.conf", "")
    _write(root / "etc/inittab", INITTAB)
    _write(root / "etc/init.d/rcS", RCS, 0o755)
    _write(root / "etc/init.d/functions", FUNCTIONS)
    _write(root / "etc/crontabs/root", "")
    for name, (daemon, what) in SERVICES.items():
        script = (
            f"#!/bin/sh\n# {name}: the {what} of this container\n"
            f'NAME={name}\nDAEMON="{daemon}"\n. /etc/init.d/functions\n'
        )
        _write(root / "etc/init.d" / name, script, 0o755)
    for order in ENABLED:
        (root / "etc/rc.d" / order).symlink_to(f"../init.d/{order[3:]}")
    # passwd and su need setuid root, as in LXC's own busybox template
    (root / "bin" / "busybox").chmod(0o4755)
