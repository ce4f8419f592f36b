"""The workspace: the one folder the agent may touch, and safe ways to touch it.

Every file access the agent makes goes through one decision,
:meth:`Workspace.contains` (symlinks resolved): :meth:`Workspace.resolve` refuses
``..``, absolute paths, control characters in names, ``.git`` and symlinks that
lead outside with a :class:`WorkspaceError` the model can read, and
:meth:`Workspace.list_files` (what search, the overview, the repo map and
verification walk) leaves out every file whose real path is outside.

Writes are atomic (temp file in the same folder, fsync, ``os.replace``) so a
crash at any moment leaves a file either old or new, never truncated.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import subprocess
import tempfile
from pathlib import Path, PurePosixPath

from redline.errors import WorkspaceError

TEMP_MARK = ".redline-tmp"
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".tox"}
_SKIP_DIRS |= {".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "build", "dist"}


def inside(root: Path, path: Path) -> bool:
    """The one place that decides: does ``path``, every symlink resolved, lie inside
    ``root`` (itself resolved)? Everything that reads project files asks this."""
    real = Path(os.path.realpath(path))
    return real == root or root in real.parents


class Workspace:
    """A root folder plus the rules for reading, listing and writing inside it."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise WorkspaceError(f"workspace root {self.root} is not a folder")

    # -- confinement -------------------------------------------------------
    def contains(self, path: Path) -> bool:
        """Does ``path``, every symlink resolved, lie inside the workspace root?"""
        return inside(self.root, path)

    def resolve(self, path: str) -> Path:
        """The absolute path for ``path`` (relative to the root), or a clear refusal."""
        if not isinstance(path, str) or not path.strip():
            raise WorkspaceError("empty path", hint="give a path relative to the workspace root")
        if any(ord(ch) < 32 or ch == "\x7f" for ch in path):
            raise WorkspaceError(f"refused {path!r}: control characters (newline?) in the name")
        if os.path.isabs(path) or path.startswith("~"):
            raise WorkspaceError(
                f"refused {path!r}: absolute paths are outside the workspace",
                hint="use a path relative to the workspace root",
            )
        parts = PurePosixPath(path.replace("\\", "/")).parts
        if ".." in parts:
            raise WorkspaceError(f"refused {path!r}: '..' leaves the workspace")
        if ".git" in parts:
            raise WorkspaceError(f"refused {path!r}: the .git folder is off limits")
        candidate = self.root.joinpath(*parts) if parts else self.root
        if not self.contains(candidate):
            raise WorkspaceError(f"refused {path!r}: a symlink leads outside the workspace")
        return candidate

    def locate(self, path: str) -> str:
        """``path``, or the one project file whose path ends with it (small models
        often drop the folder: ``test_x.py`` for ``tests/test_x.py``)."""
        if self.resolve(path).exists():
            return path
        tail = "/" + path.lstrip("./")
        hits = [f for f in self.list_files() if f.endswith(tail)]
        return hits[0] if len(hits) == 1 else path

    def rel(self, path: Path) -> str:
        """``path`` as the POSIX-style relative name the model sees."""
        return path.resolve().relative_to(self.root).as_posix() if path.is_absolute() else str(path)

    # -- reading -----------------------------------------------------------
    def read_text(self, path: str) -> str:
        target = self.resolve(path)
        if not target.is_file():
            raise WorkspaceError(f"{path}: no such file")
        try:  # bytes, not read_text(): keep "\r\n" so edits preserve line endings
            return target.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkspaceError(f"{path}: not a UTF-8 text file") from exc

    def exists(self, path: str) -> bool:
        return self.resolve(path).exists()

    def is_file(self, path: str) -> bool:
        """A regular file inside the workspace (False, not an error, for a refused path)."""
        try:
            return self.resolve(path).is_file()
        except WorkspaceError:
            return False

    def read_optional(self, path: str) -> str | None:
        """The text of ``path`` if it is a readable file inside the workspace, else None."""
        try:
            return self.read_text(path) if self.is_file(path) else None
        except WorkspaceError:
            return None

    # -- writing -----------------------------------------------------------
    def write_text(self, path: str, text: str) -> Path:
        """Atomically replace (or create) ``path`` with ``text``."""
        target = self.resolve(path)
        if target.is_dir():
            raise WorkspaceError(f"{path}: is a folder")
        atomic_write(Path(os.path.realpath(target)), text.encode("utf-8"))
        return target

    def delete(self, path: str) -> None:
        target = self.resolve(path)
        if target.is_file() or target.is_symlink():
            target.unlink()

    # -- listing -----------------------------------------------------------
    def list_files(self, under: str = "") -> list[str]:
        """Files below ``under`` that a human would call the project (.gitignore respected)."""
        base = self.resolve(under) if under else self.root
        files = self._git_files() if (self.root / ".git").exists() else None
        if files is None:
            files = self._walk_files()
        prefix = "" if base == self.root else base.relative_to(self.root).as_posix() + "/"
        return sorted(
            f
            for f in files
            if f.startswith(prefix) and TEMP_MARK not in f and self.contains(self.root / f)
        )

    def _git_files(self) -> list[str] | None:
        """Tracked plus untracked-not-ignored files, read-only use of the user's git."""
        try:
            out = subprocess.run(
                ["git", "-C", str(self.root), "ls-files", "-co", "--exclude-standard", "-z"],
                capture_output=True,
                timeout=20,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        names = [n for n in out.decode("utf-8", "replace").split("\0") if n]
        return [n for n in names if (self.root / n).is_file()]

    def _walk_files(self) -> list[str]:
        patterns = _gitignore_patterns(self.root)
        found: list[str] = []
        for folder, dirs, names in os.walk(self.root):
            rel_folder = Path(folder).relative_to(self.root).as_posix()
            rel_folder = "" if rel_folder == "." else rel_folder + "/"
            dirs[:] = sorted(
                d
                for d in dirs
                if d not in _SKIP_DIRS
                and not d.endswith(".egg-info")
                and not _ignored(rel_folder + d, patterns, True)
            )
            for name in names:
                rel = rel_folder + name
                if not _ignored(rel, patterns, False):
                    found.append(rel)
        return found


def _gitignore_patterns(root: Path) -> list[str]:
    path = root / ".gitignore"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith(("#", "!"))]


def _ignored(rel: str, patterns: list[str], is_dir: bool) -> bool:
    """A light .gitignore matcher for folders that are not git repositories."""
    name = rel.rsplit("/", 1)[-1]
    for pat in patterns:
        dir_only = pat.endswith("/")
        pat = pat.rstrip("/")
        if dir_only and not is_dir:
            continue
        if "/" in pat.lstrip("/"):
            if fnmatch.fnmatch(rel, pat.lstrip("/")):
                return True
        elif fnmatch.fnmatch(name, pat):
            return True
    return False


def atomic_write(target: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``target`` so readers see the old bytes or the new, never a mix.

    The temp file lives in the same folder (same filesystem, so ``os.replace``
    is atomic), keeps the old file's permission bits, and is fsynced before the
    rename; the folder is fsynced after it so the rename itself survives a crash.
    """
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_MARK, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # Folder fsync makes the rename durable; some filesystems cannot do it, and the
    # file itself is already complete either way, so that failure is not an error.
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
