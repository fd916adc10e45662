"""State stores: tags, digests, first-seen times, decisions (SQLite default, PostgreSQL)."""
