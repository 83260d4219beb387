"""person.run intake: the API client (``client``), the pure task -> ``task.completed`` mapping
(``mapping``) and the poller that drives them (CONTRACT §5)."""
