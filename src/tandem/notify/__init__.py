"""Notifications (NT-1): every event of the node's event log becomes a mail, through a
queue on disk, so that mail is never lost and never sent twice (see docs/notifications.md)."""
