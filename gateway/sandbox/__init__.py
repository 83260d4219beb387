"""The demo bench: everything the gateway is tried against, none of which the product imports.

- ``simulator/``: a faithful person.run API (studies, runs, tasks, results, turns, scores, faults).
- ``fakes/``: the platforms' receivers (webhook, Zapier, Make, n8n, Typeform) and Qualtrics' API,
  each checking what it receives the way the real consumer would.
- ``demo.py``: ``gateway demo``, the whole pipeline on embedded defaults.
- ``postgres.py``: scratch PostgreSQL databases for tests and benchmarks.

``gateway.app`` and everything it loads import nothing from here; ``gateway.cli`` reaches it
only inside the ``demo`` and ``simulate`` commands.
"""
