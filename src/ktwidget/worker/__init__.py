"""The worker: runs the jobs the outbox holds (expiry, crediting, clearing) and delivers notifications."""
