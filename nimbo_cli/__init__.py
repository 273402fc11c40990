"""`nimbo`: the command-line client over Nimbo's REST API (tables for people, JSON for scripts)."""
