"""Every value this run knows to be secret, and the one function that takes them out of text.

The client secret, the Basic credential built from it, every access token
issued or given, and every ``Authorization`` header value sent are registered
here the moment the run holds them. Whatever the tool writes (the final error
line, ``-v``/``-vv`` logs, reports, the snapshot) passes through ``redact``
first, so a server, proxy or library that echoes a credential back cannot make
the tool print it. This module sits at the bottom of the import graph on
purpose: settings, the HTTP client and the command line all reach it.
"""

from __future__ import annotations

import base64
import html
import json
import sys
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus

MARK = "[REDACTED]"  # no character that HTML, XML, JSON or Markdown would read as markup

# Shorter values are not credentials a Genesys org issues (secrets are 43 characters, tokens
# longer); replacing every "abc" in a report would only mangle it.
MIN_LENGTH = 6

# Text (or an answer's body) at least this long is scanned once for every form together (RE2's
# automaton), not once per form: a run of many orgs registers hundreds of forms, and its
# report is megabytes.
ONE_PASS_CHARS = 64 * 1024


def encodings(value: str) -> set[str]:
    """The forms a secret takes in text a server or a library may produce from it.

    JSON strings (with and without ``\\u`` escapes, ``/`` escaped or not), HTML/XML text and
    attributes, URL encoding (path and form), Python ``repr`` of the text and of its bytes (what
    ``h11``'s "Illegal header value b'…'" shows), and base64 (standard and URL-safe, padded or not).
    """
    raw = value.encode("utf-8", "surrogatepass")
    forms = {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1].replace("/", "\\/"),
        html.escape(value),
        html.escape(value, quote=False),
        quote(raw, safe=""),
        quote(raw),
        quote_plus(raw),
        repr(value)[1:-1],
        repr(raw)[2:-1],
    }
    for b64 in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = b64.decode("ascii")
        forms |= {text, text.rstrip("=")}
    return {f for f in forms if len(f) >= MIN_LENGTH}


class Secrets:
    """A set of secret values and their encodings; ``redact`` replaces each by ``MARK``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        self._forms: tuple[str, ...] = ()
        self._body_forms: tuple[bytes, ...] = ()

    def add(self, value: str | None) -> None:
        """Register a secret (and its encodings); ``None`` and too-short values are ignored."""
        if not value or len(value) < MIN_LENGTH:
            return
        with self._lock:
            if value in self._values:
                return
            # Longest first: a longer form (``Bearer <token>``) goes before a part of it.
            forms = set(self._forms) | encodings(value)
            self._forms = tuple(sorted(forms, key=lambda f: (-len(f), f)))
            # In a JSON body a secret appears as itself or JSON-escaped; scanning a large
            # listing for the other forms would cost time for nothing.
            self._body_forms = tuple(
                sorted(set(self._body_forms) | json_forms(value), key=lambda f: (-len(f), f))
            )
            # Last: another thread that registers the same value returns only once its forms
            # are in place.
            self._values = (*self._values, value)

    def clear(self) -> None:
        with self._lock:
            self._values = ()
            self._forms = ()
            self._body_forms = ()

    def __bool__(self) -> bool:
        return bool(self._values)

    def redact(self, text: str, encoders: Iterable[Callable[[str], str]] = ()) -> str:
        """``text`` without any registered secret; ``encoders`` add forms a medium gives it
        (a report's own escaping, e.g. Markdown's backslashes)."""
        forms: Iterable[str] = self._forms
        encoders = tuple(encoders)
        if encoders and self._values:
            extra = {enc(v) for enc in encoders for v in self._values}
            forms = sorted(
                set(self._forms) | {f for f in extra if len(f) >= MIN_LENGTH},
                key=lambda f: (-len(f), f),
            )
        if len(text) >= ONE_PASS_CHARS:
            scanned = _one_pass(tuple(forms), text)
            if scanned is not None:
                return scanned
        # A substring test per form is a C-speed scan; the replace only runs on a hit.
        for form in forms:
            if form in text:
                text = text.replace(form, MARK)
        return text

    def redact_bytes(self, data: bytes) -> bytes:
        if len(data) >= ONE_PASS_CHARS:
            # Every answer of a run of many orgs is scanned for every org's secrets.
            scanned = _scan(self._body_forms, data)
            if scanned is not None:
                return scanned
        mark = MARK.encode("ascii")
        for form in self._body_forms:
            if form in data:
                data = data.replace(form, mark)
        return data


def _one_pass(forms: tuple[str, ...], text: str, window: int = 64 * 1024) -> str | None:
    """``text`` with every form replaced, in one scan of it (``_scan``); None when RE2 cannot
    take the forms (the caller scans once per form instead)."""
    data = text.encode("utf-8", "surrogatepass")
    scanned = _scan(_encoded(forms), data, window)
    if scanned is None:
        return None
    return text if scanned is data else scanned.decode("utf-8", "surrogatepass")


def _scan(forms: tuple[bytes, ...], data: bytes, window: int = 64 * 1024) -> bytes | None:
    """``data`` with every form replaced, in one scan of it; ``data`` itself when no form is in
    it; None when RE2 cannot take the forms.

    At each place the longest form that starts there is replaced, as the scan per form (longest
    form first) does; either way no whole form is left. Data with no form in it (every report
    and answer, one hopes) is scanned once; data with a form is searched a window at a time,
    because RE2 finds where a match starts by scanning back over everything before it.
    """
    if not forms:
        return data
    pattern = _alternation(forms)
    if pattern is None:
        return None
    if pattern.search(data) is None:
        return data
    longest = max(map(len, forms))
    window = max(window, 2 * longest)  # each window moves on by at least ``longest``
    mark = MARK.encode("ascii")
    pieces: list[bytes] = []
    done = pos = 0
    while pos < len(data):
        end = min(len(data), pos + window)
        found = pattern.search(data, pos, end)
        if found is None:
            # Any form that starts before ``end - longest + 1`` would have fitted in the window.
            pos = end if end == len(data) else end - longest + 1
            continue
        start = found.start()
        found = pattern.search(data, start, min(len(data), start + longest))  # longest from there
        pieces += [data[done:start], mark]
        done = pos = found.end()
    pieces.append(data[done:])
    return b"".join(pieces)


@lru_cache(maxsize=4)
def _encoded(forms: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(f.encode("utf-8", "surrogatepass") for f in forms)


@lru_cache(maxsize=4)
def _alternation(forms: tuple[bytes, ...]) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    options.longest_match = True
    # Bytes as bytes: a lone surrogate (surrogatepass) is no UTF-8 for RE2 to stumble on.
    options.encoding = re2.Options.Encoding.LATIN1
    options.max_mem = 256 << 20  # thousands of forms (a run of hundreds of orgs) still compile
    try:
        return re2.compile(b"|".join(map(re2.escape, forms)), options=options)
    except re2.error:
        return None


def json_forms(value: str) -> set[bytes]:
    """How a JSON body spells a string: raw UTF-8, ``\\u``-escaped, with ``\\/``."""
    escaped = json.dumps(value)[1:-1]
    forms = {
        value.encode("utf-8", "surrogatepass"),
        escaped.encode("ascii"),
        escaped.replace("/", "\\/").encode("ascii"),
        json.dumps(value, ensure_ascii=False)[1:-1].encode("utf-8", "surrogatepass"),
    }
    return {f for f in forms if len(f) >= MIN_LENGTH}


# One registry per process: a run's secrets are registered by whoever first holds them and
# redacted by whatever writes. The command line clears it when a command starts.
RUN = Secrets()


def register(value: str | None) -> None:
    """Register a secret of this run."""
    RUN.add(value)


def redact(text: str, encoders: Iterable[Callable[[str], str]] = ()) -> str:
    """``text`` with every registered secret, in any of its encodings, replaced by ``MARK``."""
    return RUN.redact(text, encoders)


def redact_bytes(data: bytes) -> bytes:
    """``redact`` for a raw body (UTF-8 encodings of the secret forms)."""
    return RUN.redact_bytes(data)


def forget_all() -> None:
    """Start a new run: drop every registered secret (and the scans compiled from them)."""
    RUN.clear()
    _encoded.cache_clear()
    _alternation.cache_clear()
    if "re2" in sys.modules:
        sys.modules["re2"].purge()  # RE2's own cache of compiled patterns holds the forms too
