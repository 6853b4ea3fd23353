"""Incidents: correlation, reconciliation (pure), the ticket store and the engine that runs them."""
