"""Notifications of submission state changes: signed webhooks and e-mail, queued in the database,
sent by a worker thread with retries and backoff, every attempt kept in a delivery log."""
