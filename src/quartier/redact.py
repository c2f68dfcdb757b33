"""Secrets made fit for showing: in answers and logs a URL's password is ``***``."""

from __future__ import annotations

import urllib.parse


def url_without_password(url: str | None) -> str | None:
    """``url`` with the password of its user part replaced by ``***`` (a broker's or a
    webhook's URL may carry one)."""
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
