"""Registry adapter: OCI distribution API client, auth flows, credentials, politeness."""
