"""Datasets: which rows an export may read. The registry of declared datasets, the conditions
language for their filters, and changelist sources replayed through a ModelAdmin.
Imports only Django: everything else builds on this package.

Public: `Dataset`, `Column`, `registry` (declare datasets in your app's `datasets.py`).
"""

from exports.datasets.base import Column, Dataset
from exports.datasets.conditions import ConditionError
from exports.datasets.registry import UnknownDataset, get_dataset, registry

__all__ = ["Column", "ConditionError", "Dataset", "UnknownDataset", "get_dataset", "registry"]
