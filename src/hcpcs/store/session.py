"""The read session over a store: one object over one store, holding the release list and the caches that
every service (reference, fees, edits) shares. `hcpcs.lookup()` and friends use a default instance."""

from __future__ import annotations

from datetime import date
from functools import cached_property
from pathlib import Path

from hcpcs.core.errors import DataNotLoadedError, NotCoveredError
from hcpcs.store.db import Store, open_store
from hcpcs.store.releases import Release, ReleaseChoice, choose_release, list_releases


class Hcpcs:
    def __init__(self, home: Path | None = None, store: Store | None = None) -> None:
        self.store = store or open_store(home, readonly=True)

    @classmethod
    def open_readonly(cls, path: Path) -> Hcpcs:
        """A session over the database file at `path` (read-only)."""
        return cls(store=Store(path, readonly=True))

    @cached_property
    def releases(self) -> list[Release]:
        return list_releases(self.store.conn)

    def refresh(self) -> None:
        """Forget the release list read from the store (after an update wrote new releases)."""
        self.__dict__.pop("releases", None)

    def release_by_id(self, release_id: int) -> Release:
        for release in self.releases:
            if release.id == release_id:
                return release
        raise KeyError(release_id)

    def release_for(self, dataset: str, day: date) -> ReleaseChoice:
        return choose_release(self.releases, dataset, day)

    def choose(self, dataset: str, day: date, notices: list[str]) -> ReleaseChoice | None:
        """The release of a dataset for a day, its notices appended to `notices`; None (with the reason
        appended) when the dataset is not loaded or no release can answer for the day."""
        if not self.has_dataset(dataset):
            return None
        try:
            choice = self.release_for(dataset, day)
        except NotCoveredError as exc:
            notices.append(exc.summary)
            return None
        except DataNotLoadedError as exc:
            notices.append(str(exc))
            return None
        notices.extend(choice.notices)
        return choice

    def has_dataset(self, dataset: str) -> bool:
        return any(r.dataset == dataset for r in self.releases)

    def close(self) -> None:
        self.store.close()


_default: Hcpcs | None = None


def default() -> Hcpcs:
    global _default
    if _default is None:
        _default = Hcpcs()
    return _default
