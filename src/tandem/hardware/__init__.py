"""Hardware and RAID (OP-8): readings through ipmitool, lm-sensors, /proc/mdstat and mdadm,
smartctl; a missing tool or device is "not available", never an error; the monitor turns
every change of state into an event (and so a mail, NT-1)."""
