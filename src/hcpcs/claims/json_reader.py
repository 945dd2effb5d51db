"""A JSON list of claims read as columns, in chunks of whole claim objects, with memory bounded by the
chunk: the bytes are scanned for the boundaries of the list's elements (vectorised: quotes, escapes and
bracket depth, from a point known to lie between elements), and each run of whole elements is read by pyarrow
as `hcpcs.claims.jsonl_reader` reads lines, the elements it refuses one by one by the row-wise reader
(locations `claims[N]`). A document that is not a list (one claim object, or `{"claims": [...]}`) is read
whole by the row-wise reader instead."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from hcpcs.claims.frame import ClaimChunk, chunk_of
from hcpcs.claims.jsonl_reader import Records, read_records
from hcpcs.claims.model import ClaimError

WINDOW_BYTES = 16 << 20
_QUOTE, _BACKSLASH, _COMMA, _CLOSE_LIST = ord('"'), ord("\\"), ord(","), ord("]")
_DEPTH = np.zeros(256, dtype=np.int64)
_DEPTH[[ord("["), ord("{")]] = 1
_DEPTH[[ord("]"), ord("}")]] = -1


def is_list(head: bytes) -> bool:
    return head.lstrip().startswith(b"[")


def chunks(read: Callable[[int], bytes], name: str, *, head: bytes = b"", window_bytes: int = WINDOW_BYTES
           ) -> Iterator[ClaimChunk]:
    """The chunks of a JSON list of claims (`head`: bytes already read, starting the document)."""
    data = bytes(head)
    while not data.lstrip():
        more = read(window_bytes)
        if not more:
            return
        data += more
    stripped = data.lstrip()
    if not stripped.startswith(b"["):
        raise ValueError("not a JSON list")
    pending = stripped[1:]  # just after the list's "[": between elements
    position = 0
    while True:
        more = read(window_bytes)
        pending += more
        separators, end = _boundaries(pending)
        if end is None and more and not len(separators):
            continue  # no whole element yet
        # The elements to read now: all of them up to the end of the list (or of the input), else up to the
        # last comma (the rest waits for more bytes).
        cut = end if end is not None else len(pending) if not more else int(separators[-1])
        inner = separators[separators < cut]
        # The commas between elements become line breaks, so that a run of elements reads as JSON Lines.
        body_array = np.frombuffer(pending[:cut], dtype=np.uint8).copy()
        body_array[inner] = ord("\n")
        body = body_array.tobytes()
        starts = np.concatenate(([0], inner + 1)).astype(np.int64)
        ends = np.append(inner, cut).astype(np.int64)
        keep = np.ones(len(starts), dtype=bool)
        for edge in {0, len(starts) - 1}:  # "[]", "[ ]" and "[..., ]" leave an empty first or last part
            keep[edge] = bool(body[starts[edge]:ends[edge]].strip())
        if keep.any():
            records = Records(body, starts[keep], ends[keep], np.arange(position, position + int(keep.sum())),
                              "claims[", "]", True)
            chunk = read_records(records, position)
            position += chunk.size
            yield chunk
        if end is not None:
            after = pending[end + 1:]
            while more and len(after) < 1024:
                more = read(window_bytes)
                after += more
            if after.strip():
                yield chunk_of([ClaimError(None, f"{name}, after the list", "text follows the end of the JSON list")],
                               position)
            return
        if not more:
            yield chunk_of([ClaimError(None, f"{name}, end of input",
                                       "the JSON list is not closed: the input ends inside it (is it cut short?)")],
                           position)
            return
        pending = pending[cut + 1:]


def _boundaries(data: bytes) -> tuple[np.ndarray, int | None]:
    """In bytes that start between two elements of the list: the positions of the commas between elements
    and of the list's closing bracket (None when not in `data`)."""
    array = np.frombuffer(data, dtype=np.uint8)
    if not len(array):
        return np.zeros(0, dtype=np.int64), None
    quotes = array == _QUOTE
    backslashes = array == _BACKSLASH
    escaped = np.zeros(len(array), dtype=bool)
    if backslashes.any():
        # A quote is escaped when an odd run of backslashes ends just before it.
        index = np.arange(len(array))
        last_other = np.maximum.accumulate(np.where(~backslashes, index, -1))
        run_before = np.zeros(len(array), dtype=np.int64)
        run_before[1:] = index[:-1] - last_other[:-1]
        escaped = (run_before % 2) == 1
    toggles = quotes & ~escaped
    inside = (np.cumsum(toggles) - toggles) % 2 == 1  # within a string (its quotes excluded)
    structure = ~inside & ~toggles
    depth = np.cumsum(np.where(structure, _DEPTH[array], 0))
    separators = np.flatnonzero(structure & (array == _COMMA) & (depth == 0)).astype(np.int64)
    closes = np.flatnonzero(structure & (array == _CLOSE_LIST) & (depth == -1))
    if len(closes):
        end = int(closes[0])
        return separators[separators < end], end
    return separators, None
