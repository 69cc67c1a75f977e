"""Scripts run inside a lab node (`python -c`) for the volume's lab tests (waiting for a
status is membership_probe.PROBE with the volume's socket).

WRITER appends numbered, checksummed records to a file on /vz and prints each
number only after its fsync returned: what it printed was acknowledged.
"""

WRITER = r"""
import hashlib, os, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
d = os.open(os.path.dirname(path), os.O_RDONLY)
os.fsync(d)
n = 0
end = time.time() + seconds
while time.time() < end:
    body = f"{n:08d} " + "x" * (n % 300)
    line = f"{body} {hashlib.sha256(body.encode()).hexdigest()[:16]}\n"
    os.write(fd, line.encode())
    os.fsync(fd)
    print(n, flush=True)
    n += 1
print("done", flush=True)
"""

# Reads a record file: prints JSON {"records": [numbers of intact records], "bad": [line
# numbers of damaged lines]}.
READER = r"""
import hashlib, json, sys
records, bad = [], []
try:
    lines = open(sys.argv[1], "rb").read().split(b"\n")
except FileNotFoundError:
    lines = []
for i, raw in enumerate(lines):
    if not raw:
        continue
    try:
        body, digest = raw.decode().rsplit(" ", 1)
        ok = hashlib.sha256(body.encode()).hexdigest()[:16] == digest
        number = int(body.split(" ", 1)[0])
    except (ValueError, UnicodeDecodeError):
        ok = False
    if ok:
        records.append(number)
    else:
        bad.append(i)
print(json.dumps({"records": records, "bad": bad}))
"""
