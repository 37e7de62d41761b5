"""The router: stores each message once, assigns conversations to agents, serves the agent/admin API."""
