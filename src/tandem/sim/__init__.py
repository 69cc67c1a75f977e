"""The deterministic simulator (DESIGN): a virtual clock, a virtual network that drops,
delays, duplicates, reorders and partitions, node crashes and restarts; everything derived
from one seed, so that a failing schedule replays exactly from its seed."""
