"""The web Cluster Management (MG-1..5): pages, the JSON API, and the node-to-node
configuration protocol, served over HTTPS by `tandem web run` on each node."""
