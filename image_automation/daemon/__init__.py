"""The daemon: scheduler, HTTP server (health, metrics, hooks, status), lifecycle."""
