"""Where the rows come from: every data source a solver can read, behind one protocol.

:mod:`.memory` (arrays in RAM), :mod:`.file` (``.npy``, ``.csv``, ``.parquet`` files read
in row batches, with its readers in :mod:`.readers`), :mod:`.dask` (Dask arrays and
DataFrames, one task per chunk) and :mod:`.precomputed` (the triangular factor that
stands in for the rows once one pass has built it).
"""

from .dask import DaskSource
from .file import FileSource
from .memory import InMemorySource
from .precomputed import PrecomputedSource

__all__ = ["DaskSource", "FileSource", "InMemorySource", "PrecomputedSource"]
