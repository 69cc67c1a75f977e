"""Run inside a lab node (`python -c`): poll a daemon's local status every 20 ms until a
condition holds, then print the wall time and the status as JSON. Timing measured this
way is not blurred by the start-up of `tandem lab exec`; and one `lab exec` replaces one
per poll.

Arguments: the condition (Python over `s`), the timeout in seconds, and optionally the
daemon's socket (default: membership's). A daemon that does not answer yet counts as the
condition not holding.
"""

PROBE = r"""
import json, sys, time
from tandem import rpc
from tandem.membership.daemon import SOCKET
condition = compile(sys.argv[1], "condition", "eval")
deadline = time.time() + float(sys.argv[2])
socket = sys.argv[3] if len(sys.argv) > 3 else SOCKET
status = None
while time.time() < deadline:
    try:
        status = rpc.call(socket, "status", timeout=2.0)
        if eval(condition, {"s": status}):
            print(json.dumps({"t": time.time(), "status": status}))
            sys.exit(0)
    except (KeyError, TypeError):
        pass
    except Exception as exc:
        status = {"unreachable": str(exc)}
    time.sleep(0.02)
print(json.dumps({"t": None, "status": status}))
sys.exit(1)
"""
