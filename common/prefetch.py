"""Filling a relation's prefetch cache from rows a write already holds."""

from django.db.models import Model


def cache_prefetched(instance: Model, name: str, rows) -> None:
    """Leave on ``instance`` what ``prefetch_related(name)`` would: ``rows`` are the
    related rows, in the relation's order. A write that just created them answers
    with the instance without reading them back."""
    related = getattr(instance, name).all()
    related._result_cache = list(rows)
    related._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = related


def forget_prefetched(instance: Model) -> None:
    """Drop every prefetch cache of ``instance``: its relations are read afresh."""
    instance.__dict__.pop("_prefetched_objects_cache", None)
