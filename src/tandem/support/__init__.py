"""Remote support (OP-7): an outgoing `ssh -N -R` tunnel from a node to the support host,
switched on and off by the operator, kept alive and reconnected while it is on."""
