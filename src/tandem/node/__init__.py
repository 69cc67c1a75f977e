"""The node supervisor: what systemd starts on each node (`tandem node run`)."""
