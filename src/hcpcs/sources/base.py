"""What every parser shares: the file handle it reads (from a folder, a zip member or a download) and the
table of rows it returns.

Compressed content (zip members, `.gz` files) is read through a guard that stops past sane limits
(`LIMITS`): an archive bomb is refused after a few megabytes of output, with bounded memory, instead of
being expanded in full."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zlib import error as zlib_error

from hcpcs.core.errors import SourceFormatError


@dataclass(frozen=True)
class ArchiveLimits:
    """What an input may expand to. CMS's largest file (an NCCI PTP table) is under 200 MB uncompressed,
    its text compresses about 5 to 25 times, and a CMS zip holds a few dozen members."""

    file_bytes: int = 512 << 20  # uncompressed size of one file or zip member
    archive_bytes: int = 4 << 30  # all the members of one zip together
    ratio: int = 100  # uncompressed / compressed size of one member ...
    ratio_after: int = 1 << 20  # ... checked once this much has come out (tiny files compress anyhow)
    members: int = 2000  # members of one zip
    nesting: int = 1  # zips inside a zip: one level is opened (a zip of CMS zips), deeper is refused


LIMITS = ArchiveLimits()


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB"


class GuardedStream(io.RawIOBase):
    """A read-only stream over decompressed content that raises SourceFormatError as soon as the output
    exceeds `LIMITS.file_bytes`, or `LIMITS.ratio` times the compressed size (once past
    `LIMITS.ratio_after`)."""

    def __init__(self, inner: Any, origin: str, compressed: int | None, limits: ArchiveLimits = LIMITS) -> None:
        super().__init__()
        self.inner = inner
        self.origin = origin
        self.compressed = compressed
        self.limits = limits
        self.produced = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        data = self.inner.read(size)
        self.produced += len(data)
        self._check()
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _check(self) -> None:
        limits = self.limits
        if self.produced > limits.file_bytes:
            raise SourceFormatError(
                self.origin, None,
                f"expands to more than {_mib(limits.file_bytes)}: refused (no CMS file is that large; "
                "an archive bomb or not a CMS file)")
        if (self.compressed and self.produced > limits.ratio_after
                and self.produced > limits.ratio * self.compressed):
            raise SourceFormatError(
                self.origin, None,
                f"expands more than {limits.ratio} times ({self.compressed:,} compressed bytes gave "
                f"{self.produced:,} and counting): refused as an archive bomb (CMS files compress about "
                "5 to 25 times)")

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            super().close()


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
        """The file's content, decompressed when stored as `.gz` or in a zip (within `LIMITS`)."""
        if self._data is not None:
            return self._data
        if self._zip_path is None and not self._is_gzip:
            assert self._path is not None
            size = self._path.stat().st_size
            if size > LIMITS.file_bytes:
                raise SourceFormatError(self.origin, None, f"{size:,} bytes: larger than any CMS file "
                                        f"({_mib(LIMITS.file_bytes)} at most); refused")
            return self._path.read_bytes()
        what = "zip member" if self._zip_path is not None else "gzip file"
        try:
            with self._open_stream() as stream:
                # Grown in place (one copy of the content in memory, not a list of chunks plus their join).
                content = bytearray()
                while chunk := stream.read(1 << 20):
                    content += chunk
                return content  # type: ignore[return-value]  # bytes-like: every reader takes it
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib_error) as exc:
            raise SourceFormatError(self.origin, None, f"cannot read the {what} ({exc})") from exc

    @property
    def _is_gzip(self) -> bool:
        return self._path is not None and self._path.name.lower().endswith(".gz")

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

    def _open_stream(self) -> Any:
        """A binary stream of the content; compressed content comes through a `GuardedStream`."""
        if self._data is not None:
            return io.BytesIO(self._data)
        if self._zip_path is not None:
            zf = zipfile.ZipFile(self._zip_path)
            try:
                info = zf.getinfo(self._member or "")
                member = zf.open(info)
            except BaseException:
                zf.close()
                raise
            return GuardedStream(_Closing(member, zf), self.origin, info.compress_size)
        assert self._path is not None
        if self._is_gzip:
            import gzip

            return GuardedStream(gzip.open(self._path, "rb"), self.origin, self._path.stat().st_size)
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
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib_error) as exc:
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


class _Closing:
    """A zip member's stream that also closes its zip file."""

    def __init__(self, member: Any, archive: zipfile.ZipFile) -> None:
        self.member = member
        self.archive = archive

    def read(self, size: int = -1) -> bytes:
        return self.member.read(size)

    def close(self) -> None:
        try:
            self.member.close()
        finally:
            self.archive.close()


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
