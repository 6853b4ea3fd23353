"""Notifications: the outbox in the store is delivered to connectors (webhook, e-mail) by a Notifier.

The engine queues a notice for every connector its route picks, in the same transaction
as the incident change. `Notifier.deliver_due()` sends what is due, oldest first and one
at a time per ticket, each connector in its own thread; a failure is retried with
exponential backoff (bounded), a notice that cannot be delivered is marked failed with its
reason and holds up nothing else, and a receiver's own ticket id is kept for the updates
and the resolve of the same incident.
"""
