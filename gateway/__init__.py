"""person-gateway: signed, retried, replayable deliveries of person.run events."""

__version__ = "0.1.0"
