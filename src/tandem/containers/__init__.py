"""Containers (VE-1..VE-7): LXC system containers managed the way vzctl users expect.

Everything a container is lives on /vz (the replicated filesystem), so it follows the
active node: the definition (`/vz/lxc/<ID>/ve.conf`), the generated LXC config, the
filesystem image that is its disk, its logs. See docs/containers.md.
"""
