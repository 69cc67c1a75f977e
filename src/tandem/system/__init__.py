"""Thin wrappers around the operating system's tools, shared by the lab and the agents."""
