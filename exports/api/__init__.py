"""The HTTP API (/v1/exports of seed 000): personal tokens, immediate and background exports,
status, files, history, and its OpenAPI document. A web edge like views.py: it may import
jobs, delivery, datasets, formats and models; nothing imports it but a host's urls.py."""
