"""Cluster resource management: who runs the service group (CM-1 to CM-5, HB-4, HB-6)."""
