"""The node's persistent event log (CM-5, NT-1): failovers, switchovers, resource actions,
and every state change an operator is told about."""
