"""Stream a finished batch's result JSONL from its ``outputUrl``, one line at a time.

Sync's ``outputUrl`` (``https://api.sync.so/v2/batches/<id>/result``) answers a redirect to a
signed, expiring link on a storage host. The download carries no API key, follows redirects
only to hosts syncdrop allows, and never holds the whole file in memory.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager

import httpx

from syncdrop.adapters.policy import (
    DEFAULT_POLICY,
    RetryPolicy,
    call_with_retries,
    shared_tls_context,
)
from syncdrop.adapters.sync_api import USER_AGENT
from syncdrop.errors import SyncdropError, TransientError

# Where Sync's result links may lead besides the API host, which is always allowed: nothing.
# The deployment names the rest (the ResultUrlHosts parameter, default ``*.sync.so``, as
# ``*.suffix`` or exact hosts); docs/security.md says which hosts Sync's links use and why
# no blanket ``*.amazonaws.com`` (any bucket of any account) is allowed.
DEFAULT_RESULT_HOSTS: tuple[str, ...] = ()

# A result line is one Generation (a few KB); anything this long is a broken file.
MAX_LINE_BYTES = 8 * 1024 * 1024

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_EXPIRED_STATUSES = frozenset({403, 404, 410})
_RETRY_NOW_STATUSES = frozenset({408, 429})


class ResultDownloadError(TransientError):
    """The result file could not be read now (5xx, timeout, cut stream, expired link, bad file).

    The caller restarts the whole chunk later, getting the batch again for a fresh
    ``outputUrl`` first. ``status`` is the HTTP status that ended the download, if any.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ResultUrlRefused(SyncdropError):
    """The result URL, or a redirect from it, leads somewhere syncdrop will not fetch."""


def host_matches(host: str, pattern: str) -> bool:
    """Whether ``host`` is ``pattern``, or a subdomain of it when the pattern is ``*.suffix``.

    ``*.sync.so`` matches ``api.sync.so`` and ``a.b.sync.so``, not ``sync.so`` nor
    ``evilsync.so``. Case and a trailing dot are ignored.
    """
    host = host.lower().rstrip(".")
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return len(host) > len(suffix) and host.endswith(suffix)
    return host == pattern


def _checked_pattern(pattern: str) -> str:
    normal = pattern.strip().lower().rstrip(".")
    bare = normal[2:] if normal.startswith("*.") else normal
    if not bare or "*" in bare or not bare.isascii() or "/" in bare:
        raise ValueError(f"not a host or *.suffix pattern: {pattern!r}")
    return normal


def _host_of(url: httpx.URL) -> str:
    return url.raw_host.decode("ascii", errors="replace").lower().rstrip(".")


class ResultDownloader:
    """Reads result files over HTTP. Sends a User-Agent and nothing that identifies the account."""

    def __init__(
        self,
        *,
        api_base_url: str,
        allowed_redirect_hosts: Collection[str] = DEFAULT_RESULT_HOSTS,
        policy: RetryPolicy = DEFAULT_POLICY,
        transport: httpx.BaseTransport | None = None,
        max_redirects: int = 3,
    ) -> None:
        base = httpx.URL(api_base_url)
        if base.scheme not in ("http", "https") or not base.raw_host:
            raise ValueError(f"api_base_url must be an http(s) URL, not {api_base_url!r}")
        if max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        self._api_host = _host_of(base)
        # Plain http only when the API itself is (the local emulator); never a downgrade.
        self._schemes = frozenset({"https"} if base.scheme == "https" else {"https", "http"})
        self._patterns = tuple(_checked_pattern(p) for p in allowed_redirect_hosts)
        self._policy = policy
        self._max_redirects = max_redirects
        # No auth, no API key, no redirects followed by httpx: every hop is checked here.
        self._http = httpx.Client(
            timeout=policy.http_timeout(),
            follow_redirects=False,
            headers={"user-agent": USER_AGENT},
            transport=transport,
            verify=shared_tls_context() if transport is None else True,
        )

    def close(self) -> None:
        self._http.close()

    def lines(self, output_url: str) -> Iterator[bytes]:
        """Each non-empty line of the result file, without its line ending.

        The URL is checked at once (ResultUrlRefused); the request starts on the first
        ``next()``. Failures before the first line are retried with the shared backoff; after
        it, they raise ResultDownloadError and the caller starts again from the top.
        """
        url = self._checked(output_url, what="The batch's outputUrl")
        return self._stream(url)

    @contextmanager
    def file_chunks(self, url: str, *, chunk_size: int = 1 << 20) -> Iterator[Iterator[bytes]]:
        """A generation's output file as byte chunks, through the same checked redirects.

        Opening is retried with the shared backoff; a failure that outlasts it, or one while
        reading, raises ResultDownloadError (never a raw httpx error) and the caller starts
        the copy again.
        """
        checked = self._checked(url, what="The generation's outputUrl")
        try:
            response = call_with_retries(
                lambda: self._open(checked), retry_on=_worth_retrying_now, policy=self._policy
            )
        except httpx.HTTPError as exc:
            raise _as_download_error(exc, checked, mid_stream=False) from exc
        try:
            yield _guarded(response.iter_bytes(chunk_size), checked)
        finally:
            response.close()

    def _stream(self, url: httpx.URL) -> Iterator[bytes]:
        delays = self._policy.delays()
        while True:
            yielded = False
            try:
                response = self._open(url)
                try:
                    for line in split_lines(response.iter_bytes(), max_line=MAX_LINE_BYTES):
                        yielded = True
                        yield line
                finally:
                    response.close()
                return
            except (httpx.RequestError, ResultDownloadError) as exc:
                failure = _as_download_error(exc, url, mid_stream=yielded)
                if yielded or not _worth_retrying_now(exc):
                    if failure is exc:
                        raise
                    raise failure from exc
                delay = next(delays, None)
                if delay is None:
                    if failure is exc:
                        raise
                    raise failure from exc
                time.sleep(delay)

    def _open(self, url: httpx.URL) -> httpx.Response:
        """GET ``url``, following checked redirects, up to a 2xx response with an unread body."""
        current = url
        for _ in range(self._max_redirects + 1):
            response = self._http.send(self._http.build_request("GET", current), stream=True)
            if response.is_success:
                return response
            response.close()
            status = response.status_code
            if status not in _REDIRECT_STATUSES:
                raise _status_error(status, current)
            location = response.headers.get("location")
            if not location:
                raise ResultDownloadError(
                    f"{_host_of(current)} answered {status} without a Location to follow.",
                    status=status,
                )
            try:
                target = current.join(location)
            except httpx.InvalidURL as exc:
                raise ResultUrlRefused(
                    f"{_host_of(current)} redirected the result download to an invalid URL."
                ) from exc
            current = self._checked(target, what=f"A redirect from {_host_of(current)}")
        raise ResultDownloadError(
            f"The result download from {_host_of(url)} redirected more than "
            f"{self._max_redirects} times."
        )

    def _checked(self, url: str | httpx.URL, *, what: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ResultUrlRefused(f"{what} is not a valid URL.") from exc
        if parsed.scheme not in self._schemes:
            allowed = " or ".join(sorted(self._schemes))
            raise ResultUrlRefused(f"{what} must use {allowed}, not {parsed.scheme or 'nothing'}.")
        if parsed.userinfo:
            # httpx would turn user:password@ into an Authorization header.
            raise ResultUrlRefused(f"{what} carries credentials in the URL; it is not fetched.")
        host = _host_of(parsed)
        if not host:
            raise ResultUrlRefused(f"{what} has no host.")
        if host != self._api_host and not any(host_matches(host, p) for p in self._patterns):
            raise ResultUrlRefused(
                f"{what} points at {host}, which is neither Sync's API host ({self._api_host}) "
                "nor an allowed result host (the ResultUrlHosts parameter); it is not fetched."
            )
        return parsed


def _guarded(chunks: Iterator[bytes], url: httpx.URL) -> Iterator[bytes]:
    try:
        yield from chunks
    except httpx.HTTPError as exc:
        raise _as_download_error(exc, url, mid_stream=True) from exc


def split_lines(chunks: Iterable[bytes], *, max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Split a byte stream on ``\\n``: CRLF handled, blank lines skipped, a last line kept.

    Holds at most one partial line; a line longer than ``max_line`` raises ResultDownloadError.
    """
    pending = bytearray()
    for chunk in chunks:
        if not chunk:
            continue
        pieces = chunk.split(b"\n")
        pending += pieces[0]
        if len(pieces) > 1:
            complete = [bytes(pending), *pieces[1:-1]]
            pending = bytearray(pieces[-1])
            for piece in complete:
                line = _without_cr(piece)
                _check_length(len(line), max_line)
                if line.strip():
                    yield line
        # A trailing CR may still be waiting for its LF: it does not count.
        _check_length(len(pending) - pending.endswith(b"\r"), max_line)
    line = _without_cr(bytes(pending))
    if line.strip():
        yield line


def _without_cr(piece: bytes) -> bytes:
    return piece[:-1] if piece.endswith(b"\r") else piece


def _check_length(length: int, max_line: int) -> None:
    if length > max_line:
        raise ResultDownloadError(
            f"The result file has a line longer than {max_line} bytes; it is not a valid "
            "result file. Get the batch again and retry; if it persists, ask Sync support."
        )


def _worth_retrying_now(exc: Exception) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    status = exc.status if isinstance(exc, ResultDownloadError) else None
    return status is not None and (status >= 500 or status in _RETRY_NOW_STATUSES)


def _as_download_error(exc: Exception, url: httpx.URL, *, mid_stream: bool) -> Exception:
    if isinstance(exc, ResultDownloadError):
        return exc
    try:
        host = _host_of(exc.request.url) if isinstance(exc, httpx.RequestError) else ""
    except RuntimeError:  # an error raised before httpx attached the request
        host = ""
    host = host or _host_of(url)
    kind = type(exc).__name__  # not str(exc): it may quote the signed URL
    if mid_stream:
        return ResultDownloadError(
            f"The download from {host} broke off mid-file ({kind}); it is fetched again "
            "from the beginning."
        )
    if isinstance(exc, httpx.TimeoutException):
        return ResultDownloadError(f"The download from {host} timed out ({kind}).")
    return ResultDownloadError(f"The download from {host} failed ({kind}).")


def _status_error(status: int, url: httpx.URL) -> ResultDownloadError:
    host = _host_of(url)
    if status in _EXPIRED_STATUSES:
        return ResultDownloadError(
            f"The link on {host} answered {status}: it has expired or is no longer valid.",
            status=status,
        )
    if status >= 500 or status in _RETRY_NOW_STATUSES:
        return ResultDownloadError(
            f"{host} answered {status} to the download; it is tried again later.", status=status
        )
    return ResultDownloadError(
        f"{host} answered {status} to the download.",
        status=status,
    )
