"""Hardware and RAID for the Status page (OP-8): the probes live in tandem.hardware; this
module keeps the web's names for them."""

from tandem.hardware.probe import MDSTAT, TIMEOUT, disks, ipmi, probe, raid, sensors

__all__ = ["MDSTAT", "TIMEOUT", "disks", "ipmi", "probe", "raid", "sensors"]
