"""The registry of declared datasets: filled at start-up from every installed app's
`datasets.py` (ExportsConfig.ready() runs `autodiscover_modules("datasets")`, as the admin
does for `admin.py`), read by the admin, the commands and the worker.

    # myapp/datasets.py
    from exports.datasets import Column, Dataset, registry

    registry.register(Dataset(name="orders", title="Orders", model_label="shop.Order",
                              columns=(Column("id", "id"), Column("total", "total")),
                              filters={"created": "created"}))
"""

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from exports.i18n import later

if TYPE_CHECKING:
    from exports.datasets.base import Dataset


class UnknownDataset(LookupError):
    pass


class AlreadyRegistered(ValueError):
    """Two datasets with one name: the second would silently replace the first."""


class DatasetRegistry:
    """Name -> Dataset, in registration order. Nothing registers itself: a `datasets.py`
    calls register() explicitly. `_registry` is the name autodiscover_modules() restores
    when a module fails to import."""

    def __init__(self) -> None:
        self._registry: dict[str, Dataset] = {}

    def register(self, *datasets: "Dataset") -> None:
        for dataset in datasets:
            if dataset.name in self._registry:
                raise AlreadyRegistered(f"A dataset named {dataset.name!r} is already registered.")
            self._registry[dataset.name] = dataset

    def unregister(self, name: str) -> None:
        self.get(name)
        del self._registry[name]

    def get(self, name: str) -> "Dataset":
        """The dataset, with its columns completed from the model (apps must be ready)."""
        try:
            dataset = self._registry[name]
        except (KeyError, TypeError):
            raise UnknownDataset(later(_("Unknown dataset %(name)s."), name=repr(name))) from None
        if not dataset.completed:
            dataset = self._registry[name] = dataset.complete()
        return dataset

    def all(self) -> list["Dataset"]:
        return [self.get(name) for name in self._registry]

    def names(self) -> list[str]:
        return list(self._registry)

    def __contains__(self, name: object) -> bool:
        return name in self._registry


registry = DatasetRegistry()


def get_dataset(name: str) -> "Dataset":
    return registry.get(name)
