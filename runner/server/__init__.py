"""The HTTP side of `runwatch serve`: the server and its connections, /metrics and
/healthz, the ping API and its tokens, and the pinger of an external heartbeat URL."""
