"""Datasets: which rows an export may read. The registry of declared datasets, the conditions
language for their filters, and changelist sources replayed through a ModelAdmin.
Imports only Django: everything else builds on this package.

Public: `Dataset`, `Column` (declare a dataset in your app's `datasets.py`).
"""

from exports.datasets.base import Column, Dataset, get_dataset
from exports.datasets.conditions import ConditionError

__all__ = ["Column", "ConditionError", "Dataset", "get_dataset"]
