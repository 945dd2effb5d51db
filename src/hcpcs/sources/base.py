"""What every parser shares: the file handle it reads (from a folder, a zip member or a download) and the
table of rows it returns."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from hcpcs.core.errors import SourceFormatError


@dataclass(frozen=True)
class SourceFile:
    """One CMS file, wherever it lives: a plain file, a gzip-compressed file (`name.gz`), or a member of
    a zip. `name` is the CMS file name (without a `.gz` storage suffix); `origin` says where it came from."""

    name: str
    origin: str
    _path: Path | None = None
    _zip_path: Path | None = None
    _member: str | None = None
    _data: bytes | None = None

    @classmethod
    def from_path(cls, path: Path) -> SourceFile:
        name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
        return cls(name=name, origin=str(path), _path=path)

    @classmethod
    def from_zip_member(cls, zip_path: Path, member: str) -> SourceFile:
        return cls(name=Path(member).name, origin=f"{zip_path}!{member}", _zip_path=zip_path, _member=member)

    @classmethod
    def from_bytes(cls, name: str, data: bytes, origin: str | None = None) -> SourceFile:
        return cls(name=name, origin=origin or name, _data=data)

    def read_bytes(self) -> bytes:
        """The file's content, decompressed when stored as `.gz`."""
        if self._data is not None:
            return self._data
        if self._zip_path is not None:
            try:
                with zipfile.ZipFile(self._zip_path) as zf:
                    return zf.read(self._member or "")
            except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
                raise SourceFormatError(self.origin, None, f"cannot read zip member ({exc})") from exc
        assert self._path is not None
        raw = self._path.read_bytes()
        if self._path.name.lower().endswith(".gz"):
            import gzip

            try:
                return gzip.decompress(raw)
            except (OSError, EOFError) as exc:
                raise SourceFormatError(self.origin, None, f"not a valid gzip file ({exc})") from exc
        return raw

    def text(self, encoding: str = "latin-1") -> str:
        """Decoded text. CMS text files are ASCII with stray Windows-1252 bytes; latin-1 never fails."""
        data = self.read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        if b"\x00" in data[:4096]:
            raise SourceFormatError(self.origin, None, "binary content where a text file was expected")
        return data.decode(encoding)

    def stream(self) -> io.BytesIO:
        return io.BytesIO(self.read_bytes())

    def _open_stream(self) -> io.BufferedIOBase:
        if self._data is not None:
            return io.BytesIO(self._data)
        if self._zip_path is not None:
            zf = zipfile.ZipFile(self._zip_path)
            return zf.open(self._member or "")  # type: ignore[return-value]
        assert self._path is not None
        if self._path.name.lower().endswith(".gz"):
            import gzip

            return gzip.open(self._path, "rb")  # type: ignore[return-value]
        return self._path.open("rb")

    def digest(self) -> tuple[str, int]:
        """sha256 and size of the content (decompressed), read in chunks once and remembered, so that a
        large file is not decompressed again to identify it."""
        key = self._cache_key()
        if key is not None and key in _DIGESTS:
            return _DIGESTS[key]
        hasher = hashlib.sha256()
        size = 0
        try:
            with self._open_stream() as stream:
                while chunk := stream.read(1 << 20):
                    hasher.update(chunk)
                    size += len(chunk)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
            raise SourceFormatError(self.origin, None, f"cannot read the file ({exc})") from exc
        result = (hasher.hexdigest(), size)
        if key is not None:
            _DIGESTS[key] = result
        return result

    def _cache_key(self) -> tuple[str, int, int] | None:
        path = self._path or self._zip_path
        if path is None:
            return None
        stat = path.stat()
        return (self.origin, stat.st_mtime_ns, stat.st_size)

    def sha256(self) -> str:
        return self.digest()[0]

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()


_DIGESTS: dict[tuple[str, int, int], tuple[str, int]] = {}


@dataclass
class ParsedTable:
    """Rows of one store table parsed from one file. `columns` name the store columns in row order
    (without `release_id`, which the store adds). `meta` carries release-level facts found in the file
    (conversion factor, title, year, quarter...)."""

    table: str
    columns: Sequence[str]
    rows: list[tuple[Any, ...]]
    source: SourceFile
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


def parse_mmddyyyy(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    return date(int(text[4:8]), int(text[0:2]), int(text[2:4]))


def parse_yyyymmdd(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))


def parse_julian(value: Any) -> date | None:
    """NCCI add-on file dates: 7-digit YYYYDDD (year and day of the year), e.g. 2014001 = 2014-01-01."""
    if value is None or value == "":
        return None
    text = str(int(value)) if isinstance(value, float) else str(value).strip()
    if not text or text in {"*", "0"}:
        return None
    if len(text) != 7 or not text.isdigit():
        raise ValueError(f"expected a YYYYDDD date, found {value!r}")
    from datetime import timedelta

    year, day = int(text[:4]), int(text[4:])
    if not 1 <= day <= 366:
        raise ValueError(f"expected a YYYYDDD date, day of year out of range in {value!r}")
    return date(year, 1, 1) + timedelta(days=day - 1)
