"""Hub helpers: repo ids and one clear message for each way a Hub call can fail.

`parse_repo_id("owner/name@rev")` checks an id before any network call;
`classify(err)` sorts an exception from huggingface_hub into a `HubFailure` whose
`kind` says what went wrong (the Hub unreachable, the token rejected, the repo
missing, ...) and whose `message` says it in one line. Only public error classes
are used, so this works with huggingface_hub 1.x (httpx) and 2.x (httpx2) alike.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants, errors

logger = logging.getLogger(__name__)

# A Hub name: letters, digits, '-', '_' and '.', not starting or ending with '-' or '.',
# no '--' or '..', at most 96 characters (huggingface_hub.utils.validate_repo_id).
_NAME = re.compile(r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?")

# Kinds of failure where the Hub could not answer at all; a caller may fall back.
UNREACHABLE = frozenset({"offline", "unreachable"})


@dataclass(frozen=True)
class HubFailure:
    """What went wrong with a Hub call: a kind (see `classify`) and a one-line message."""

    kind: str
    message: str

    @property
    def unreachable(self) -> bool:
        """True when the Hub gave no answer (offline mode, no connection, Hub down)."""
        return self.kind in UNREACHABLE


def _valid_name(part: str) -> bool:
    return bool(_NAME.fullmatch(part)) and "--" not in part and ".." not in part


def parse_repo_id(text: str) -> tuple[str, str | None]:
    """'owner/name' or 'owner/name@revision' -> (repo_id, revision or None).

    Raises ValueError with a clear message for anything else (no owner, extra
    slashes, characters the Hub refuses, an empty revision).
    """
    repo_id, at, revision = str(text).partition("@")
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(_valid_name(p) for p in parts) or (at and not revision):
        raise ValueError(
            f"{text!r} is not a Hub repo id: expected OWNER/NAME or OWNER/NAME@REVISION "
            "(letters, digits, '-', '_' and '.')."
        )
    if repo_id.endswith(".git"):
        raise ValueError(f"{text!r} is not a Hub repo id: a name may not end in '.git'.")
    return repo_id, (revision or None)


def is_repo_id(text: str) -> bool:
    """True when text parses as OWNER/NAME[@REVISION]."""
    try:
        parse_repo_id(text)
    except ValueError:
        return False
    return True


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection and timeout errors of whichever HTTP clients huggingface_hub uses."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, names in (
        ("httpx2", ("TransportError",)),  # huggingface_hub 2.x
        ("httpx", ("TransportError",)),  # huggingface_hub 1.x
        ("requests", ("ConnectionError", "Timeout")),  # huggingface_hub 0.x
    ):
        loaded = sys.modules.get(module)  # only a client already in use can have raised
        found += [getattr(loaded, n) for n in names if hasattr(loaded, n)]
    return tuple(found)


def _chain(err: BaseException) -> Iterator[BaseException]:
    """err, then what caused it, and so on (each exception once)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _status(err: BaseException) -> int | None:
    response = getattr(err, "response", None)
    return getattr(response, "status_code", None)


def _offline_set(err: BaseException) -> bool:
    offline = getattr(errors, "OfflineModeIsEnabled", ())
    return constants.HF_HUB_OFFLINE or any(isinstance(e, offline) for e in _chain(err))


def _kind(err: BaseException) -> str | None:
    """The kind of one exception, without looking at its causes."""
    remote_entry = getattr(errors, "RemoteEntryNotFoundError", errors.EntryNotFoundError)
    checks: list[tuple[type | tuple, str]] = [
        (errors.LocalEntryNotFoundError, "not_cached"),
        (getattr(errors, "OfflineModeIsEnabled", ()), "offline"),
        (errors.LocalTokenNotFoundError, "no_token"),
        (errors.RevisionNotFoundError, "revision_not_found"),
        (remote_entry, "file_not_found"),
        (errors.GatedRepoError, "gated"),
        (errors.RepositoryNotFoundError, "repo_not_found"),
    ]
    for types, kind in checks:
        if isinstance(err, types):
            return kind
    if isinstance(err, errors.HfHubHTTPError):
        status = _status(err) or 0
        if status == 401:
            return "token_rejected"
        if status == 403:
            return "forbidden"
        return "unreachable" if status >= 500 or status == 429 else "http"
    if isinstance(err, _transport_errors()):
        return "unreachable"
    return None


def _messages(repo: str) -> dict[str, str]:
    return {
        "offline": "HF_HUB_OFFLINE is set, so the Hub cannot be reached",
        "unreachable": f"Cannot reach the Hugging Face Hub ({constants.ENDPOINT})",
        "no_token": (
            "No Hugging Face token: set HF_TOKEN or log in with `hf auth login` "
            "(a token with write access, to push)"
        ),
        "token_rejected": (
            "The Hub rejected the token (HF_TOKEN, else the saved login): it is invalid or "
            "expired; create a new one at https://huggingface.co/settings/tokens"
        ),
        "forbidden": f"The token may not do this on {repo} (it needs write access there)",
        "repo_not_found": (
            f"Hub repo {repo} was not found, or it is private and the token cannot see it"
        ),
        "gated": f"Hub repo {repo} is gated: ask for access on its page first",
        "revision_not_found": f"Hub repo {repo} has no such revision",
        "file_not_found": f"Hub repo {repo} lacks a file that is needed",
        "http": f"The Hub refused the request for {repo}",
    }


def classify(err: BaseException, repo: str = "the repo") -> HubFailure | None:
    """Sort a Hub exception into a HubFailure; None when it is not a Hub failure at all.

    A file missing from the cache while the Hub could not be asked (LocalEntryNotFound)
    counts as "offline" or "unreachable", whichever caused it.
    """
    kinds = [k for k in (_kind(e) for e in _chain(err)) if k is not None]
    if not kinds:
        return None
    kind, not_cached = kinds[0], kinds[0] == "not_cached"
    if not_cached:
        cause = next((k for k in kinds[1:] if k != "not_cached"), None)
        kind = "offline" if _offline_set(err) else (cause or "unreachable")
    message = _messages(repo)[kind]
    status = next((s for s in map(_status, _chain(err)) if s), None)
    if kind == "unreachable" and status:
        message = f"The Hugging Face Hub is not answering (HTTP {status})"
    elif kind == "http" and status:
        message += f" (HTTP {status})"
    if not_cached and kind in UNREACHABLE:
        message += ", and the files are not in the local Hub cache"
    return HubFailure(kind, message + ".")


def repo_url(model_id: str) -> str:
    """The Hub page of OWNER/NAME[@REVISION] (HF_ENDPOINT honoured)."""
    repo_id, revision = parse_repo_id(model_id)
    return f"{constants.ENDPOINT}/{repo_id}" + (f"/tree/{revision}" if revision else "")


def fetch_optional(model_id: str, filename: str, **kwargs) -> Path | None:
    """Best effort: a small extra file of a Hub repo through the cache; None when unavailable."""
    from huggingface_hub import hf_hub_download

    repo_id, revision = parse_repo_id(model_id)
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, **kwargs))
    except Exception as err:
        failure = classify(err, repo_id)
        if failure is None and not isinstance(err, OSError):
            raise
        logger.info("No %s from %s: %s", filename, model_id, failure.message if failure else err)
        return None
