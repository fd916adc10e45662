"""Forge adapters (GitHub, GitLab, Gitea, Bitbucket) behind one protocol."""
