"""What every controller shares: the API client, the cluster view, records, the work queue, the runtime,
the run decision, Jobs, conditions and status writing, Events, metrics and settings."""
