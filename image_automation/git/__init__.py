"""Git adapter: clone cache, commit, push with retry; commit messages (pure)."""
