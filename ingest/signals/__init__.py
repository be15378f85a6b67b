"""Signals computed from the store: switches, subagents, churn, thrash, context, advice."""
