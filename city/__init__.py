"""The city tier: every hall on one clustered bus (NATS) and one event store (PostgreSQL)."""
