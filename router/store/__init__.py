"""The router's SQL, one module per concept: inbound messages, the assignment queue, agents, conversations."""
