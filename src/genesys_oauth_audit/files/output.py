"""Writing the files a run produces (reports, snapshots, baselines) as one set, the way every CLI does.

- ``-`` is standard output (``/dev/stdout`` and ``/dev/stderr`` are the streams
  themselves, so nothing is reopened or truncated under a shell redirect).
- A path that is not a regular file (``/dev/null``, a FIFO, ``>(jq .)``), or an
  open file of the process (``/dev/fd/N``, ``/proc/...``), is written directly:
  it cannot be renamed over, and replacing it would break it.
- A regular file is written atomically: in full to a temporary file beside it,
  then renamed over it. A symlink is followed and its target replaced, never
  the link. A new file gets ``0666 & ~umask`` like any tool's; an existing
  file keeps its mode (and, run as root, its owner).
- Every path is checked when it is added, before the run does any work: the
  directory exists and is writable, the path is not a directory, no two
  outputs name one file. A bad second path fails before the first is written.
- ``OutputSet.writing()`` commits the set together: every temporary file is
  written first, then all are renamed, then the direct outputs are written,
  then standard output. On an error, SIGINT or SIGTERM every temporary file is
  removed and the error says truthfully which outputs were written and which
  were not.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from genesys_oauth_audit.errors import BadInputError
from genesys_oauth_audit.files.interrupt import Interrupted, Terminated, sigterm_raises

STDOUT = "-"
_STDOUT_ALIASES = ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")
_STDERR_ALIASES = ("/dev/stderr", "/dev/fd/2", "/proc/self/fd/2")
# Open files of a process: renaming over what they point at would leave the holder writing to
# an unlinked file, so they are always written in place.
_SPECIAL_TREES = ("/dev/fd/", "/proc/")

Kind = Literal["stdout", "stderr", "atomic", "direct"]


@dataclass(eq=False)
class Output:
    """One output of the set: where it goes, how it is written, and its staged state."""

    label: str  # the flag that named it ("--sarif-output"), for messages
    shown: str  # the path as given, or "standard output"
    kind: Kind
    target: str | None = None  # the file written: a symlink's target for an atomic output
    mode: int | None = None  # permission bits of the new file (atomic outputs)
    owner: tuple[int, int] | None = None  # uid, gid to keep when run as root
    text: str | None = None
    tmp: str | None = None
    written: bool = False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


@dataclass
class OutputSet:
    """The outputs of one run, checked up front and committed together (see the module doc)."""

    stdout: TextIO
    stderr: TextIO
    outputs: list[Output] = field(default_factory=list)

    def add(self, path: Path | str, label: str) -> Output:
        """Check one output path now (exit 2 when it cannot be written) and add it to the set."""
        output = self._plan(str(path), label)
        for other in self.outputs:
            same = (output.kind in ("stdout", "stderr") and other.kind == output.kind) or (
                output.kind == "atomic" and other.kind == "atomic" and output.target == other.target
            )
            if same:
                raise BadInputError(
                    f"{other.label} and {label} both write {output.shown}; give each its own path"
                )
        self.outputs.append(output)
        return output

    def _plan(self, path: str, label: str) -> Output:
        def refuse(why: str) -> BadInputError:
            return BadInputError(f"cannot write {label} {path}: {why}")

        if path == STDOUT or path in _STDOUT_ALIASES or self._is_stream(path, self.stdout):
            return Output(label, "standard output", "stdout")
        if path in _STDERR_ALIASES:
            return Output(label, "standard error", "stderr")
        if not path:
            raise refuse("the path is empty")
        absolute = os.path.abspath(path)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise refuse(_reason(exc)) from None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise refuse("it is a directory")
        if info is not None and stat.S_ISSOCK(info.st_mode):
            raise refuse("it is a socket")
        if info is not None and (
            absolute.startswith(_SPECIAL_TREES) or not stat.S_ISREG(info.st_mode)
        ):
            # A device, a FIFO, a process substitution: written as it is, never renamed over.
            if not os.access(path, os.W_OK):
                raise refuse("permission denied")
            return Output(label, path, "direct", target=path)
        # A regular file (or a new one): atomically, at the symlink's target if it is a link.
        target = os.path.realpath(path) if os.path.islink(path) else absolute
        directory = os.path.dirname(target) or "."
        if not os.path.isdir(directory):
            raise refuse(f"directory {os.path.dirname(path) or directory} does not exist")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise refuse(f"directory {os.path.dirname(path) or '.'} is not writable")
        if info is not None:
            if not os.access(target, os.W_OK):
                raise refuse("the file is not writable")
            return Output(
                label,
                path,
                "atomic",
                target=target,
                mode=stat.S_IMODE(info.st_mode),
                owner=(info.st_uid, info.st_gid),
            )
        return Output(label, path, "atomic", target=target, mode=0o666 & ~_umask())

    @staticmethod
    def _is_stream(path: str, stream: TextIO) -> bool:
        """Whether ``path`` is the very file a stream writes to (``--json-output r.json > r.json``
        would otherwise rename a new file under the shell's redirect)."""
        try:
            fd = stream.fileno()
            mine = os.fstat(fd)
            theirs = os.stat(path)
        except (AttributeError, OSError, ValueError):
            return False
        return stat.S_ISREG(theirs.st_mode) and (mine.st_dev, mine.st_ino) == (
            theirs.st_dev,
            theirs.st_ino,
        )

    @contextlib.contextmanager
    def writing(self) -> Iterator[Writer]:
        """Stage outputs inside the block (``writer.write``); leaving it commits them all. An error,
        SIGINT or SIGTERM inside removes every temporary file; nothing was written."""
        writer = Writer(self)
        with sigterm_raises():
            try:
                yield writer
                self._commit()
            except BaseException as exc:
                self._settle()
                self._discard()
                done = [o.shown for o in self.outputs if o.written]
                if not done:
                    raise
                summary = self._summary()
                if isinstance(exc, KeyboardInterrupt):
                    cause = "terminated" if isinstance(exc, Terminated) else "interrupted"
                    raise Interrupted(f"{cause}; {summary}") from None
                raise BadInputError(f"{exc}; {summary}") from None

    def _summary(self) -> str:
        done = [o.shown for o in self.outputs if o.written]
        rest = [o.shown for o in self.outputs if not o.written]
        said = f"{', '.join(done)} {'was' if len(done) == 1 else 'were'} written"
        if rest:
            said += (
                f"; {', '.join(rest)} {'was' if len(rest) == 1 else 'were'} not"
                " (temporary files removed)"
            )
        return said

    def _stage(self, output: Output, text: str) -> None:
        if output not in self.outputs:
            raise ValueError(f"{output.label} is not an output of this set")
        output.text = text
        if output.kind != "atomic":
            return  # written at commit
        if output.tmp is not None:  # staged twice: the last text wins
            with contextlib.suppress(OSError):
                os.unlink(output.tmp)
            output.tmp = None
        assert output.target is not None
        directory = os.path.dirname(output.target) or "."
        name = os.path.basename(output.target)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise BadInputError(f"cannot write {output.shown}: {_reason(exc)}") from None
        output.tmp = tmp
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if output.mode is not None:
                os.chmod(tmp, output.mode)
            if output.owner is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
                with contextlib.suppress(OSError):
                    os.chown(tmp, *output.owner)
        except OSError as exc:
            raise BadInputError(f"cannot write {output.shown}: {_reason(exc)}") from None

    def _commit(self) -> None:
        for output in self.outputs:
            if output.text is None:
                raise ValueError(f"{output.label}: nothing was staged for {output.shown}")
        # Renames first (each is atomic and quick), then what must be written in place.
        for output in self.outputs:
            if output.kind == "atomic":
                assert output.tmp is not None
                assert output.target is not None
                try:
                    os.replace(output.tmp, output.target)
                except OSError as exc:
                    raise BadInputError(f"cannot write {output.shown}: {_reason(exc)}") from None
                output.tmp = None
                output.written = True
        for output in self.outputs:
            if output.kind == "direct":
                assert output.target is not None
                assert output.text is not None
                try:
                    with open(output.target, "w", encoding="utf-8", newline="\n") as handle:
                        handle.write(output.text)
                except OSError as exc:
                    raise BadInputError(f"cannot write {output.shown}: {_reason(exc)}") from None
                output.written = True
        for output in self.outputs:
            if output.kind in ("stdout", "stderr"):
                assert output.text is not None
                stream = self.stdout if output.kind == "stdout" else self.stderr
                stream.write(output.text)
                stream.flush()
                output.written = True

    def _settle(self) -> None:
        """After an interruption, trust the file system: a temporary file that is gone was renamed
        (the signal may land between the rename and the bookkeeping)."""
        for output in self.outputs:
            if output.tmp is not None and not os.path.lexists(output.tmp):
                output.tmp = None
                output.written = True

    def _discard(self) -> None:
        for output in self.outputs:
            if output.tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(output.tmp)
                output.tmp = None


@dataclass
class Writer:
    """What the body of ``OutputSet.writing()`` stages outputs with."""

    outputs: OutputSet

    def write(self, output: Output, text: str) -> None:
        """Stage ``text`` for ``output``: a temporary file now, the real one at commit."""
        self.outputs._stage(output, text)


def write_atomically(path: Path | str, text: str, *, label: str = "output") -> None:
    """One output written the way a set writes it (``-`` is standard output; a FIFO or a device
    is written directly; a regular file, or a symlink's target, is replaced atomically)."""
    import sys

    outputs = OutputSet(stdout=sys.stdout, stderr=sys.stderr)
    output = outputs.add(path, label)
    with outputs.writing() as writer:
        writer.write(output, text)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """JSON as every file and report writes it: UTF-8 characters as they are, but a lone surrogate
    (from a ``\\ud800`` escape in an API answer or a snapshot) as its escape again, since no UTF-8
    file can hold it. Readers get back exactly the string that came in.

    Indented, pydantic-core's encoder (Rust; pydantic's own, so no new dependency) writes it: the
    same text as ``json.dumps(indent=2, ensure_ascii=False)`` for the types reports and snapshots
    hold (no floats), several times faster. ``indent=None`` is ``json.dumps``'s compact form
    (``", "`` and ``": "``); ``compact_json_text`` is the tighter and faster one for large
    reports.
    """
    if indent is not None:
        encoded = _rust_json(data, indent)
        if encoded is not None:
            return encoded
    return _std_json(data, indent, None)


def compact_json_text(data: Any) -> str:
    """``json_text`` on one line without spaces (``{"a":1,"b":[2,3]}``), for large reports: a
    100,000-client report takes a second instead of three with ``json.dumps``."""
    encoded = _rust_json(data, None)
    return encoded if encoded is not None else _std_json(data, None, (",", ":"))


def _rust_json(data: Any, indent: int | None) -> str | None:
    """pydantic-core's encoding, or None when the data holds a lone surrogate (no UTF-8 text can
    hold one, so the encoder refuses it; such hostile text takes the standard library's path)."""
    from pydantic_core import PydanticSerializationError, to_json

    try:
        return to_json(data, indent=indent).decode("utf-8")
    except PydanticSerializationError:
        return None


def _std_json(data: Any, indent: int | None, separators: tuple[str, str] | None) -> str:
    text = json.dumps(data, indent=indent, ensure_ascii=False, separators=separators)
    if _LONE_SURROGATE.search(text) is None:
        return text
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
