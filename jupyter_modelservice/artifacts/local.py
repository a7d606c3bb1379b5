"""`LocalStore`: model files in a folder, written atomically and hashed on the way.

Write protocol: serialize into a temp file in the target folder → fsync
(while a second thread hashes the file) → the caller registers the row as pending → `publish`
renames the temp file to its final name and fsyncs the folder. A crash at any
point leaves either no final file or a complete one; temp files are named
``.tmp-*`` so that ``gc`` can find them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ..exceptions import ArtifactError, ArtifactIntegrityError
from .digests import Digests, file_digests
from .store import Staged, check_relpath

__all__ = ["LocalStore", "Staged", "open_regular", "sha256_bytes"]

TEMP_PREFIX = ".tmp-"


def sha256_bytes(data: bytes | memoryview) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def open_regular(path: str | os.PathLike[str]) -> io.BufferedReader:
    """Open ``path`` for reading in binary mode if it is a regular file.

    The file is opened without blocking and checked on its descriptor: a named
    pipe (which would wait forever for a writer), a folder, a device or a
    socket raises `ArtifactIntegrityError` (it is not the file that was saved);
    a missing file raises `FileNotFoundError`.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ArtifactIntegrityError(
                f"{os.fspath(path)} is {_file_kind(mode)}, not a regular file; refusing to read it. "
                "Remove it (or put the model file back), then run `modelservice verify`."
            )
        if flags & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


class LocalStore:
    """Model files under one local folder.

    Parameters
    ----------
    root : str or Path
        The models directory; created when missing.
    """

    transactional = False  # publish renames on its own, after the pending row is committed
    sidecars = True
    streams = True

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = str(self.root)

    def path(self, relpath: str) -> Path:
        """The absolute path of ``relpath`` (`check_relpath`), refused if it would leave the store."""
        full = self.root.joinpath(*check_relpath(relpath, str(self.root))).resolve()
        root = self.root.resolve()
        if full != root and root not in full.parents:
            raise ArtifactIntegrityError(
                f"{relpath!r} resolves to {full}, outside the models directory {root}; refusing it."
            )
        return full

    def location(self, relpath: str) -> str:
        """The absolute path of ``relpath``, as a user would open it."""
        return str(self.root.joinpath(*check_relpath(relpath, str(self.root))))

    def target(self, relpath: str) -> Path:
        """Where to write or delete ``relpath``: its folder must be a real folder of the store.

        Unlike `path`, the last component is not followed, so replacing or
        deleting a planted symlink acts on the link, never on what it points
        at; and no folder on the way may be a symlink (``rf -> other_model``
        would make one model's save overwrite another's files).
        """
        parts = check_relpath(relpath, str(self.root))
        root = self.root.resolve()
        final = root.joinpath(*parts)
        if final.parent.resolve() != final.parent:
            raise ArtifactIntegrityError(
                f"{final.parent} is (or passes through) a symbolic link; model folders must be real "
                "folders inside the models directory. Refusing to write there."
            )
        return final

    def stage(self, relpath: str, write: Callable[[IO[bytes]], None]) -> Staged:
        """Write a temp file beside ``relpath`` with ``write(fileobj)``, fsync it, hash it.

        The digests (sha256 and BLAKE3) are computed from the page cache on a
        second thread while the fsync waits for the disk, so hashing costs
        almost nothing extra.
        """
        final = self.target(relpath)
        temp = final.parent / f"{TEMP_PREFIX}{final.name}-{uuid.uuid4().hex[:12]}"
        try:
            with _create_in_folder(temp) as fh:
                write(fh)
                fh.flush()
                found: list[Digests | Exception] = []

                def digest() -> None:
                    try:
                        found.append(file_digests(temp))
                    except Exception as err:  # noqa: BLE001 - handed to the caller below, not lost in the thread
                        found.append(err)

                hasher = threading.Thread(target=digest)
                hasher.start()
                os.fsync(fh.fileno())
                hasher.join()
                nbytes = fh.tell()
        except BaseException:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # no temp file was made
                temp.unlink()
            raise
        digests = found[0] if found else None
        if not isinstance(digests, Digests):
            temp.unlink(missing_ok=True)
            reason = digests if digests is not None else "its hashing thread ended without a result"
            raise ArtifactError(f"Could not hash the new model file {temp}: {reason}.") from digests
        return Staged(relpath, temp, digests.sha256, nbytes, digests.blake3, digests.chunks)

    def publish(self, staged: Staged) -> None:
        """Atomically move a staged file to its final name and make the rename durable."""
        final = self.target(staged.relpath)
        os.replace(staged.temp, final)
        _fsync_dir(final.parent)

    def discard(self, staged: Staged) -> None:
        """Remove a staged temp file that will not be published."""
        Path(staged.temp).unlink(missing_ok=True)

    def read_bytes(self, relpath: str) -> bytes:
        """The whole content of a file; `ArtifactError` when it is missing, `ArtifactIntegrityError`
        when it is not a regular file or resolves outside the store."""
        full = self.path(relpath)
        try:
            with open_regular(full) as fh:
                return fh.read()
        except FileNotFoundError as err:
            raise ArtifactError(f"Model file {full} is missing.") from err

    def open(self, relpath: str) -> IO[bytes]:
        """``relpath`` opened for reading, with the checks and errors of `read_bytes`."""
        full = self.path(relpath)
        try:
            return open_regular(full)
        except FileNotFoundError as err:
            raise ArtifactError(f"Model file {full} is missing.") from err

    def write_text(self, relpath: str, text: str) -> None:
        """Write a small text file atomically (temp + rename, no fsync)."""
        final = self.target(relpath)
        temp = final.parent / f"{TEMP_PREFIX}{final.name}-{uuid.uuid4().hex[:12]}"
        with _create_in_folder(temp) as fh:
            fh.write(text.encode("utf-8"))
        os.replace(temp, final)

    def exists(self, relpath: str) -> bool:
        """Whether ``relpath`` exists in the store."""
        return self.path(relpath).exists()

    def delete(self, relpath: str) -> None:
        """Remove a file if present (a symlink is removed itself, never what it points at).

        A model's folder left empty is removed too: deleting a model's last
        version leaves no ``<model_id>/`` behind. A save into that folder at the
        same moment recreates it (see `_create_in_folder`).
        """
        final = self.target(relpath)
        final.unlink(missing_ok=True)
        if final.parent != self.root.resolve():
            try:
                final.parent.rmdir()  # only succeeds when nothing is left in it
            except OSError:
                pass


def _create_in_folder(path: Path, attempts: int = 5) -> IO[bytes]:
    """Create the new file ``path`` (``"xb"``), creating its folder; a folder removed in between
    (`LocalStore.delete` of another version's last file) is created again."""
    for attempt in range(attempts):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as err:  # a file where a folder should be
            blocker = next((p for p in (path.parent, *path.parent.parents) if p.exists() and not p.is_dir()),
                           path.parent)
            raise ArtifactError(
                f"Cannot create the folder {path.parent} for a model file: {blocker} is a file, not a "
                "folder. Move or rename it (the models folder holds one folder per model id)."
            ) from err
        try:
            return open(path, "xb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
