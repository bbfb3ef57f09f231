"""The gateway's services, one per domain; none knows HTTP."""
