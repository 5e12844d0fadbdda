"""The static snapshot: every public page, JSON document, feed and badge as files.

Layout under ``settings.STATUSPAGE_SNAPSHOT_DIR``::

    releases/<stamp>/           one complete snapshot; paths mirror the URLs
        status/index.html       /status/
        api/v2/summary.json     /api/v2/summary.json
        manifest.json           path → etag, size, content type (and a page's
                                fingerprint); generated_at
    current -> releases/<stamp> the live snapshot (a symlink)

A publish writes a new release directory, then swaps ``current`` with
``os.replace`` of a fresh symlink: readers (Django or nginx) see either the old
complete snapshot or the new one, never a half-written file. Publishes are
serialised by a file lock; old releases are pruned. The manifest keeps each page's
content fingerprint: the next publish hard-links the pages whose fingerprint is
unchanged (past incidents, older history pages) instead of rendering them again.
"""

import fcntl
import hashlib
import json
import os
import secrets
import shutil
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from statuspage import documents, pages

CURRENT = "current"
RELEASES = "releases"
MANIFEST = "manifest.json"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


def root() -> Path:
    return Path(settings.STATUSPAGE_SNAPSHOT_DIR)


def content_type(path: str) -> str:
    return CONTENT_TYPES.get(os.path.splitext(path)[1], "application/octet-stream")


def render_all(*, now: datetime, previous: dict[str, str] | None = None):
    """Every file of a snapshot (``pages.Rendered``): the JSON documents and the pages.
    Reads the database. ``previous``: the previous release's page fingerprints by
    path; the pages whose fingerprint is unchanged are listed as kept, not rendered."""
    rendered = pages.render_pages(now=now, previous=previous)
    for name, document in documents.all_documents(now=now).items():
        rendered.files[f"api/v2/{name}"] = json.dumps(document, separators=(",", ":")).encode()
    return rendered


def _previous_files() -> tuple[Path | None, dict[str, dict]]:
    """The live release and its manifest's files, or (None, {}) when there is none."""
    release = current_release()
    if release is None:
        return None, {}
    try:
        return release, json.loads((release / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError):
        return None, {}


def _keep(source: Path, target: Path) -> None:
    """The previous release's file in the new one: a hard link (no copy, no write)."""
    try:
        os.link(source, target)
    except FileNotFoundError:
        raise
    except OSError:  # a file system without hard links
        shutil.copyfile(source, target)


def _write_release(
    rendered, generated_at: datetime, previous: Path | None, previous_files: dict[str, dict]
) -> Path:
    releases = root() / RELEASES
    releases.mkdir(parents=True, exist_ok=True)
    name = f"{generated_at:%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"
    tmp = releases / f".tmp-{name}"
    tmp.mkdir()
    manifest = {"generated_at": generated_at.isoformat(), "files": {}}
    try:
        for rel, body in rendered.files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            manifest["files"][rel] = {
                "etag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                "size": len(body),
                "content_type": content_type(rel),
            }
            if rel in rendered.fingerprints:
                manifest["files"][rel]["fingerprint"] = rendered.fingerprints[rel]
        for rel in rendered.kept:
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            _keep(previous / rel, target)
            manifest["files"][rel] = previous_files[rel]
        (tmp / MANIFEST).write_text(json.dumps(manifest))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = releases / name
    os.rename(tmp, final)
    return final


def _swap(release: Path) -> None:
    link = root() / CURRENT
    tmp_link = root() / f".{CURRENT}-{secrets.token_hex(4)}"
    os.symlink(os.path.join(RELEASES, release.name), tmp_link)
    os.replace(tmp_link, link)  # atomic on POSIX: readers see old or new, never neither


def _prune(keep: int) -> None:
    releases = root() / RELEASES
    live = current_release()
    names = sorted(p.name for p in releases.iterdir() if not p.name.startswith("."))
    for name in names[:-keep]:
        if live is None or name != live.name:
            shutil.rmtree(releases / name, ignore_errors=True)


def snapshot_publish(*, now: datetime | None = None) -> Path:
    """Render and atomically publish a new snapshot. Returns the release dir.

    The pages whose fingerprint did not change since the live release are linked
    from it, not rendered again (``statuspage.fingerprints``)."""
    root().mkdir(parents=True, exist_ok=True)
    with open(root() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        generated_at = now or timezone.now()
        previous, previous_files = _previous_files()
        fingerprints = {
            rel: meta["fingerprint"]
            for rel, meta in previous_files.items()
            if "fingerprint" in meta
        }
        rendered = render_all(now=generated_at, previous=fingerprints)
        try:
            release = _write_release(rendered, generated_at, previous, previous_files)
        except FileNotFoundError:
            # A file of the previous release is gone (deleted by hand?): render them all.
            rendered = render_all(now=generated_at)
            release = _write_release(rendered, generated_at, None, {})
        _swap(release)
        _prune(settings.STATUSPAGE_SNAPSHOT_KEEP)
    return release


def current_release() -> Path | None:
    link = root() / CURRENT
    try:
        target = os.readlink(link)
    except OSError:
        return None
    return root() / target


def generated_at() -> datetime | None:
    """When the live snapshot was generated, or None when there is none."""
    release = current_release()
    if release is None:
        return None
    try:
        manifest = json.loads((release / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return datetime.fromisoformat(manifest["generated_at"])
