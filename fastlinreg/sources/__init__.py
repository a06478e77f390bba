"""Where the rows come from: every data source a solver can read, behind one protocol.

:mod:`.base` states the protocol (:class:`DataSource`, its optional capabilities
:class:`SliceableSource`, :class:`FactoringSource` and :class:`ColumnFactoringSource`,
and :class:`PassSource`, the part an objective reads); a new source is a module of its
own here that offers it. The sources: :mod:`.memory` (arrays in RAM), :mod:`.sparse`
(SciPy sparse X, in CSR form), :mod:`.file` (``.npy``, ``.csv``, ``.parquet`` files read
in row batches, with its readers in :mod:`._readers`), :mod:`.dask` (Dask
arrays and DataFrames, one task per chunk) and :mod:`.precomputed` (the triangular
factor, which stands in for the rows once one pass has built it). The pass that builds
the factor is in :mod:`._factor`, its block arithmetic in :mod:`._tsqr`, and the scaling
that keeps squares of tiny and huge values finite in :mod:`._powers_of_two`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

# Each source is imported on first use (PEP 562): reading a file does not import SciPy's
# sparse matrices or the Dask source.
_SOURCES = {
    "ColumnFactoringSource": ".base",
    "DataSource": ".base",
    "FactoringSource": ".base",
    "PassSource": ".base",
    "SliceableSource": ".base",
    "DaskSource": ".dask",
    "FileSource": ".file",
    "InMemorySource": ".memory",
    "PrecomputedSource": ".precomputed",
    "SparseSource": ".sparse",
}

__all__ = [
    "ColumnFactoringSource",
    "DaskSource",
    "DataSource",
    "FactoringSource",
    "FileSource",
    "InMemorySource",
    "PassSource",
    "PrecomputedSource",
    "SliceableSource",
    "SparseSource",
]


__getattr__, __dir__ = lazy_attributes(__name__, __path__, _SOURCES)

if TYPE_CHECKING:
    from .base import (
        ColumnFactoringSource,
        DataSource,
        FactoringSource,
        PassSource,
        SliceableSource,
    )
    from .dask import DaskSource
    from .file import FileSource
    from .memory import InMemorySource
    from .precomputed import PrecomputedSource
    from .sparse import SparseSource

    # Checked by mypy: each source offers its part of the protocol.
    _DATA_SOURCES: tuple[type[DataSource], ...] = (
        InMemorySource,
        FileSource,
        DaskSource,
        SparseSource,
    )
    _PASS_SOURCES: tuple[type[PassSource], ...] = (PrecomputedSource, *_DATA_SOURCES)
