"""The dashboard's page and static assets (served by ``gateway/api/dashboard.py``)."""
