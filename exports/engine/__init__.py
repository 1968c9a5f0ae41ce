"""The export engine: datasets in, a writer's bytes out. Table sources, PostgreSQL COPY SQL,
row sources, the COPY fast paths and progress reporting. Imports datasets and formats only."""

from exports.engine.pipeline import Result, export, export_tables, row_cap

__all__ = ["Result", "export", "export_tables", "row_cap"]
