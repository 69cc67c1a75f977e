"""The two-node lab on one host (LAB-1, LAB-2, LAB-3): namespaces for node1, node2 and the
router, a crossover link, an external network of two switches, a serial null-modem line,
and faults on demand."""
