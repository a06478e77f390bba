"""Safe model files: save and load without pickle (placeholder, being written)."""

from __future__ import annotations


def save(model, path) -> None:
    raise NotImplementedError("fastlinreg.persistence.save is being written")


def load(path):
    raise NotImplementedError("fastlinreg.persistence.load is being written")
