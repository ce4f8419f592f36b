"""The environment a command the agent starts may see: the parent's, minus secrets.

One function, :func:`scrubbed_env`, serves the ``run`` tool and verification's
test runs alike, so a model-written test cannot print what ``run`` may not.
A variable goes when its *name* says credential (``*KEY*``, ``*TOKEN*``,
``*SECRET*``, ``*PASS*``, ``*AUTH*`` ...) or its *value* looks like one: a URL
with ``user:password@`` (``PIP_INDEX_URL``, ``DATABASE_URL``), a vendor key
format (``sk-...``, ``ghp_...``, ``AKIA...``, JWTs) or a long high-entropy
token. Whatever the agent's own process needs (``REDLINE_*``) goes too.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Mapping

SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASS|CREDENTIAL|CREDS|AUTH(?!OR)|COOKIE|SESSION|PRIVATE|SIGNATURE|"
    r"SIGNING|BEARER|DSN|WEBHOOK|_PAT$|^PAT_",
    re.I,
)
_URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@", re.I)
_KEY_FORMATS = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"sk-[A-Za-z0-9_-]{16,}|sk_(?:live|test)_[A-Za-z0-9]{16,}|"
    r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{16,}|"
    r"xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,}|"
    r"hf_[A-Za-z0-9]{30,}|csk-[A-Za-z0-9]{20,}|gsk_[A-Za-z0-9]{20,}|"
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r")"
)
_TOKEN_RUN = re.compile(r"[A-Za-z0-9+_=-]{32,}")  # no "/": paths are not tokens
_ALWAYS_DROP = ("REDLINE_",)


def looks_secret(value: str) -> bool:
    """Whether ``value`` holds a credential-bearing URL, a vendor key or a random token."""
    if _URL_CREDENTIALS.search(value) or _KEY_FORMATS.search(value):
        return True
    return any(_random_token(run) for run in _TOKEN_RUN.findall(value))


def _random_token(run: str) -> bool:
    """Long, mixed-class and high-entropy: an API key, not a word, path or hex digest."""
    kinds = (str.islower, str.isupper, str.isdigit)
    classes = sum(any(kind(c) for c in run) for kind in kinds)
    if classes < 3:
        return False
    counts = Counter(run)
    entropy = -sum(n / len(run) * math.log2(n / len(run)) for n in counts.values())
    return entropy >= 4.0


def is_secret(name: str, value: str) -> bool:
    """The one rule: a variable whose name or value marks it as a credential."""
    return bool(SECRET_NAME.search(name)) or looks_secret(value)


def scrubbed_env(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``base`` (default: this process's environment) without secrets, plus ``extra``."""
    source = os.environ if base is None else base
    env = {
        k: v for k, v in source.items() if not k.startswith(_ALWAYS_DROP) and not is_secret(k, v)
    }
    env.update(extra or {})
    env["REDLINE_AGENT"] = "1"
    return env
