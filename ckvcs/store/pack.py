"""Pack files: many frames in one file, written once by repack, located through the index.

Layout (docs/format.md, "Pack files"): a 16-byte header, the frames back to
back (each byte-identical to a loose object file), a table of (id, offset,
length) entries, and a tail of entry count, table offset, the xxh3-128 of every
byte before it, and an end magic. The pack's name is that hash, so a pack is
content-addressed like the objects in it, and a truncated or altered pack
fails its tail check before any frame is trusted.

The index (``objects.pack_id`` / ``pack_offset`` / ``stored_size``) is where
readers find an object; the table in the pack lets fsck check the index
against the file, and rebuild what the index says if it ever had to.
"""
from __future__ import annotations

import os
import struct
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import xxhash

from ..errors import CorruptObjectError, MissingObjectError
from ..ids import is_id
from ._atomic import fsync_dir, remove, storage_error

PACK_MAGIC = b"CKVPACK\x00"
PACK_END = b"CKVPEND\x00"
PACK_VERSION = 1
PACK_SUFFIX = ".pack"
_HEADER = struct.Struct("<8sII")      # magic, version, reserved (0)
_ENTRY = struct.Struct("<16sQQ")      # raw object id, offset, length
_TAIL = struct.Struct("<QQ16s8s")     # entry count, table offset, xxh3-128 of all bytes before it, end magic
_HASHED_TAIL = 16 + 8                 # the hash and end magic are the only bytes the hash does not cover


@dataclass(frozen=True)
class PackEntry:
    id: str
    offset: int
    length: int


class PackError(CorruptObjectError):
    """A pack file is missing, truncated or fails its checksum; ``object_id`` is the pack id."""


class PackWriter:
    """Write one pack into ``tmp_dir``; ``finish`` makes it durable and names it by its hash."""

    def __init__(self, tmp_dir: Path) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=".pack-")
        self.tmp = Path(name)
        self._f = os.fdopen(fd, "wb")
        self._h = xxhash.xxh3_128()
        self._pos = 0
        self.entries: list[PackEntry] = []
        self._write(_HEADER.pack(PACK_MAGIC, PACK_VERSION, 0))

    def _write(self, data: bytes) -> None:
        try:
            self._f.write(data)
        except OSError as e:
            raise storage_error(self.tmp, e) from e
        self._h.update(data)
        self._pos += len(data)

    def add(self, oid: str, frame: bytes) -> PackEntry:
        e = PackEntry(oid, self._pos, len(frame))
        self._write(frame)
        self.entries.append(e)
        return e

    @property
    def size(self) -> int:
        return self._pos

    def finish(self, packs_dir: Path) -> tuple[str, int]:
        """Write the table and tail, fsync, rename to ``packs_dir/<id>.pack``: (pack id, file size)."""
        table_at = self._pos
        for e in self.entries:
            self._write(_ENTRY.pack(bytes.fromhex(e.id), e.offset, e.length))
        head = struct.pack("<QQ", len(self.entries), table_at)
        self._write(head)
        digest = self._h.digest()
        pack_id = digest.hex()
        try:
            self._f.write(digest + PACK_END)
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            os.chmod(self.tmp, 0o444)
            packs_dir.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp, packs_dir / (pack_id + PACK_SUFFIX))
        except OSError as e:
            self.abort()
            raise storage_error(packs_dir, e) from e
        fsync_dir(packs_dir)
        return pack_id, self._pos + len(digest) + len(PACK_END)

    def abort(self) -> None:
        try:
            self._f.close()
        except OSError:
            pass
        try:
            self.tmp.unlink()
        except OSError:
            pass


def read_table(path: Path, pack_id: str, *, verify_hash: bool = False) -> list[PackEntry]:
    """The pack's entry table, after checking its header and tail (and, with ``verify_hash``, every byte)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < _HEADER.size + _TAIL.size:
                raise PackError(pack_id, f"is truncated: {size} bytes")
            magic, version, _ = _HEADER.unpack(f.read(_HEADER.size))
            if magic != PACK_MAGIC:
                raise PackError(pack_id, "is not a ckv pack (bad magic)")
            if version != PACK_VERSION:
                raise PackError(pack_id, f"has pack format version {version}, this ckv reads {PACK_VERSION}")
            f.seek(size - _TAIL.size)
            count, table_at, digest, end = _TAIL.unpack(f.read(_TAIL.size))
            if end != PACK_END:
                raise PackError(pack_id, "is truncated: no end marker")
            if digest.hex() != pack_id:
                raise PackError(pack_id, f"tail names hash {digest.hex()}, not the pack's name")
            if table_at < _HEADER.size or table_at + count * _ENTRY.size + _TAIL.size != size:
                raise PackError(pack_id, "is truncated or has a bad table offset")
            f.seek(table_at)
            table = f.read(count * _ENTRY.size)
            if verify_hash:
                f.seek(0)
                h = xxhash.xxh3_128()
                left = size - _HASHED_TAIL
                while left > 0:
                    chunk = f.read(min(left, 8 << 20))
                    if not chunk:
                        break
                    h.update(chunk)
                    left -= len(chunk)
                if h.hexdigest() != pack_id:
                    raise PackError(pack_id, "content does not match its hash")
    except FileNotFoundError:
        raise MissingObjectError(pack_id) from None
    except OSError as e:
        raise storage_error(path, e) from e
    out = []
    for i in range(count):
        raw, off, length = _ENTRY.unpack_from(table, i * _ENTRY.size)
        if off < _HEADER.size or off + length > table_at:
            raise PackError(pack_id, f"entry {i} lies outside the frame area")
        out.append(PackEntry(raw.hex(), off, length))
    return out


class PackSet:
    """The ``packs/`` folder: read ranges of packs by id, keeping files open (pread is thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()

    def path(self, pack_id: str) -> Path:
        if not is_id(pack_id):
            raise ValueError(f"not a pack id: {pack_id!r}")
        return self.root / (pack_id + PACK_SUFFIX)

    def _fd(self, pack_id: str) -> int:
        with self._lock:
            fd = self._fds.get(pack_id)
            if fd is None:
                try:
                    fd = os.open(self.path(pack_id), os.O_RDONLY)
                except FileNotFoundError:
                    raise MissingObjectError(pack_id) from None
                except OSError as e:
                    raise storage_error(self.path(pack_id), e) from e
                self._fds[pack_id] = fd
            return fd

    def read(self, pack_id: str, offset: int, length: int, oid: str) -> bytes:
        try:
            data = os.pread(self._fd(pack_id), length, offset)
        except OSError as e:
            raise storage_error(self.path(pack_id), e) from e
        if len(data) != length:
            raise CorruptObjectError(oid, f"runs past the end of pack {pack_id} (truncated pack)")
        return data

    def list(self) -> Iterator[str]:
        """Ids of the pack files present."""
        if not self.root.is_dir():
            return
        for f in sorted(self.root.iterdir()):
            if f.name.endswith(PACK_SUFFIX) and is_id(f.name[: -len(PACK_SUFFIX)]):
                yield f.name[: -len(PACK_SUFFIX)]

    def delete(self, pack_id: str) -> None:
        self.forget(pack_id)
        remove(self.path(pack_id))

    def forget(self, pack_id: str) -> None:
        with self._lock:
            fd = self._fds.pop(pack_id, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for pid in list(self._fds):
            self.forget(pid)
