"""A sparse X in memory as a data source: SciPy CSR rows, never densified whole.

:class:`SparseSource` offers the whole protocol of
:class:`fastlinreg.sources.base.DataSource` with the fused CSR kernels
(``fastlinreg.kernels.csr_loss_grad``: one read of the stored entries per pass; for
very wide X, one over the rows and one over the columns of a CSC copy), the
optional :class:`fastlinreg.sources.base.SliceableSource` (``rows``: sgd's mini-batches
are views of the CSR arrays) and :class:`fastlinreg.sources.base.ColumnFactoringSource`
(the columns' means and centred norms for feature scaling, from the stored entries)
and :class:`fastlinreg.sources.base.FactoringSource` (the triangular factor from the
sparse Gram matrix, where that is accurate).

The intercept and feature scaling cost no memory: the solvers never centre X, they
move the intercept instead (b - w @ center, see ``fastlinreg._objective``), so a centred
X, which would be dense, is never made. Only ``row_blocks`` (the precompute pass when
the sparse Gram is not accurate enough, and sgd's largest row) hands out dense blocks,
a few MiB of rows at a time.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
import zipfile
from collections.abc import Iterator

import numpy as np
import scipy.sparse

from .. import _config, kernels
from ..kernels import CSRRows
from ._powers_of_two import max_abs, power_of_two_exponents
from ._tsqr import Factor, gram_factor
from .base import squares_limit
from .memory import RowsInMemory, overflow_error, refuse_bad_array, sum_of_squares

# A dense block of row_blocks() holds at most this many bytes (fewer rows than the
# precompute pass would take for X wider than 2048 columns).
_DENSE_BLOCK_BYTES = 64 * 1024 * 1024


class SparseSource(RowsInMemory):
    """A sparse X (n, d) in CSR form, targets Y (n, k) and optional row weights.

    Parameters
    ----------
    X : scipy.sparse CSR matrix or array, or :class:`fastlinreg.kernels.CSRRows`
        float32 or float64, int32 or int64 indices; never written. Used as it is when
        in canonical form (sorted indices, no duplicates); otherwise the source holds a
        canonical copy (duplicates added, as SciPy's products add them).
    Y, sample_weight, parallel, y_scale
        As for :class:`fastlinreg.sources.InMemorySource`.
    by_columns : bool or None, default=None
        Whether passes sum the gradient down the columns of a CSC copy of X
        (``kernels.csc_columns``, made at the first pass: X's stored entries again in
        memory, a binary X's indices alone). None: where the fused pass's per-block
        partial gradients would leave the caches (``_config.sparse_gradient_by_columns``,
        decided by d and k), unless X is memory-mapped (:func:`open_npz`: the copy would
        be in RAM).
    binary : bool or None, default=None
        Whether every stored value of X is 1 (one-hot and binary features), so that its
        passes and its Gram pass read only the column indices
        (``kernels.csr_is_binary``). None: checked once, at the first of them.
    """

    def __init__(
        self,
        X,
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        parallel: bool | None = None,
        y_scale: float | None = None,
        by_columns: bool | None = None,
        binary: bool | None = None,
    ):
        if not isinstance(X, CSRRows):
            if X.format != "csr":
                raise TypeError(f"SparseSource needs CSR rows, got the {X.format} format")
            if not X.has_canonical_format:
                X = X.copy()  # the caller's matrix is never modified
                X.sum_duplicates()
            X = CSRRows(X.data, X.indices, X.indptr, X.shape[1])
        self._hold(X, Y, sample_weight, parallel, y_scale)
        self._block_starts: np.ndarray | None = None
        if by_columns is None:
            # Not for a memory-mapped X (open_npz): its copy would have to fit in RAM.
            by_columns = _config.sparse_gradient_by_columns(
                self.n_features, self.n_targets
            ) and not _memory_mapped(X.data)
        self.by_columns = by_columns
        self._columns: kernels.CSCColumns | None = None
        self._binary = binary

    def rows(self, start: int, stop: int) -> SparseSource:
        """The source of rows [start, stop): views of the CSR arrays, nothing copied
        (and never a copy by columns: a mini-batch is passed over once). Whether X is
        binary is decided once for all of them, here."""
        X = self.X
        weights = None if self.sample_weight is None else self.sample_weight[start:stop]
        rows = CSRRows(X.data, X.indices, X.indptr[start : stop + 1], X.n_features)
        return SparseSource(rows, self.Y[start:stop], weights, parallel=self.parallel,
                            y_scale=self.y_scale, by_columns=False,
                            binary=self._is_binary())  # fmt: skip

    def _layout(self) -> np.ndarray:
        # Computed once: a fit runs many passes over the same rows.
        if self._block_starts is None:
            self._block_starts = kernels.csr_block_starts(
                self.X.indptr, self.n_features, self.n_targets
            )
        return self._block_starts

    def _by_columns(self) -> kernels.CSCColumns | None:
        if self.by_columns and self._columns is None:
            self._columns = kernels.csc_columns(self.X, binary=self._is_binary())
        return self._columns

    def _is_binary(self) -> bool:
        # Checked once: one read of a binary X's values saves one at every pass.
        if self._binary is None:
            self._binary = kernels.csr_is_binary(self.X)
        return self._binary

    def loss_grad(self, W: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(Weighted) MSE over rows and targets, and the gradients of each target's MSE:
        one fused pass over the stored entries for all targets."""
        loss, G, gb = kernels.csr_loss_grad(
            self.X,
            self.Y,
            W,
            b,
            sample_weight=self.sample_weight,
            parallel=self.parallel,
            block_starts=self._layout(),
            columns=self._by_columns(),
            binary=self._is_binary(),
        )
        return loss, G, np.asarray(gb)

    def hessian_vector(self, V: np.ndarray, vb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The MSE's Hessian times (V, vb): the gradient at (V, vb) against zero targets."""
        _, hv, hvb = kernels.csr_loss_grad(
            self.X,
            self.zero_targets(V.shape[0]),
            V,
            vb,
            sample_weight=self.sample_weight,
            parallel=self.parallel,
            block_starts=self._layout(),
            columns=self._by_columns(),
            binary=self._is_binary(),
        )
        return hv, np.asarray(hvb)

    def dense_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of X as a dense (stop - start, d) array (a new one)."""
        data, indices, indptr = self.X.data, self.X.indices, self.X.indptr
        first, last = int(indptr[start]), int(indptr[stop])
        block = scipy.sparse.csr_matrix(
            (data[first:last], indices[first:last], indptr[start : stop + 1] - first),
            shape=(stop - start, self.n_features),
        )
        return block.toarray()

    def row_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """(X rows densified, Y rows, weights or None) in fixed consecutive blocks: the
        precompute pass's blocks, at most _DENSE_BLOCK_BYTES each."""
        columns = self.n_features + self.n_targets
        block = min(
            _config.rows_per_factor_block(columns), max(1, _DENSE_BLOCK_BYTES // (8 * columns))
        )
        for start in range(0, self.n_samples, block):
            stop = min(start + block, self.n_samples)
            weights = None if self.sample_weight is None else self.sample_weight[start:stop]
            yield self.dense_rows(start, stop), self.Y[start:stop], weights

    def triangular_factor(self) -> Factor | None:
        """The factor of [X Y] from its Gram matrix (``fastlinreg.kernels.csr_gram``:
        work of about each row's stored entries squared, not n d²), centred afterwards,
        where :func:`fastlinreg.sources._tsqr.gram_factor` finds that as accurate as the
        dense pass; None otherwise (columns beyond 2**±256, a NaN or infinity, an
        ill-conditioned X), and the factor pass then factors dense blocks of rows."""
        from .. import _jit_sparse

        X, d = self.X, self.n_features
        entries = slice(int(X.indptr[0]), int(X.indptr[-1]))
        largest = np.zeros(d)
        _jit_sparse.csr_column_largest(X.data[entries], X.indices[entries], largest)
        extremes = np.concatenate([largest, max_abs(self.Y)])[None, :]
        if not np.all(np.isfinite(extremes)) or np.any(power_of_two_exponents(extremes)):
            return None
        gram, sums, total = kernels.csr_gram(
            X, self.Y, sample_weight=self.sample_weight, parallel=self.parallel,
            binary=self._is_binary(),
        )  # fmt: skip
        if not total > 0.0:
            return None  # the pass says what is wrong
        mean = sums / total
        mean_squares = total * mean**2
        gram -= total * np.outer(mean, mean)
        spread = np.diag(gram) > 0.0
        ratio = float(np.max(mean_squares[spread] / np.diag(gram)[spread], initial=0.0))
        R = gram_factor(gram, ratio)
        if R is None:
            return None
        R[:, d:] *= self.y_scale  # exact: a power of two
        mean[d:] *= self.y_scale
        return Factor(R, mean, total, d)

    def column_factor(self) -> Factor:
        """Each column's weighted mean and centred norm (zeros included) from the stored
        entries alone: a :class:`Factor` whose R is the single row of those norms, which
        is all feature scaling reads of it. Columns beyond 2**±256 are scaled by powers
        of two before they are squared."""
        from .. import _jit_sparse

        X, d = self.X, self.n_features
        largest = np.zeros(d)
        entries = slice(int(X.indptr[0]), int(X.indptr[-1]))
        _jit_sparse.csr_column_largest(X.data[entries], X.indices[entries], largest)
        exponents = power_of_two_exponents(largest[None, :])
        weighted = self.sample_weight is not None
        weights = self.sample_weight if weighted else kernels._NO_WEIGHTS
        sums, squares = np.empty(d), np.empty(d)
        total = _jit_sparse.csr_column_moments(
            X.data, X.indices, X.indptr, weights, weighted, np.ldexp(1.0, -exponents), sums, squares
        )
        if total <= 0.0:
            raise ValueError("sample_weight sums to zero: there is nothing to fit")
        norms = np.ldexp(np.sqrt(squares), exponents)
        mean = np.ldexp(sums / total, exponents)
        return Factor(norms[None, :], mean, total, d)

    def largest_row_square(self, center: np.ndarray, scale: np.ndarray) -> float:
        """max_i |(x_i - center) / scale|² over the rows of positive weight, from each
        row's stored entries: |center / scale|² plus, per entry, v (v - 2 c) with
        v = x / scale and c = center / scale (the zeros' terms are the constant)."""
        from .. import _jit_sparse

        X = self.X
        inv_scale = 1.0 / np.asarray(scale, dtype=np.float64)
        shift = np.asarray(center, dtype=np.float64) * inv_scale
        weighted = self.sample_weight is not None
        weights = self.sample_weight if weighted else kernels._NO_WEIGHTS
        return float(
            _jit_sparse.csr_largest_row_square(
                X.data, X.indices, X.indptr, weights, weighted, inv_scale, shift,
                float(shift @ shift),
            )
        )  # fmt: skip

    def check_values(self) -> None:
        """Refuse NaN and infinity in X's stored entries and in Y, naming the row and
        column, and columns whose (weighted) norm is beyond float64, naming their
        largest value. One read of the entries and Y (more on the error path)."""
        X, d = self.X, self.n_features
        n_columns = d + self.n_targets
        data = X.data[X.indptr[0] : X.indptr[-1]]
        weights = self.sample_weight
        heaviest = 1.0 if weights is None else max(1.0, float(np.max(weights, initial=0.0)))
        limit = squares_limit(n_columns)
        with np.errstate(over="ignore", invalid="ignore"):
            # By blocks where data is float32 or unaligned (mapped from a file): no copy.
            fine = sum_of_squares(data[:, None]) * heaviest <= limit
        if not fine:
            self._refuse_bad_entries(limit, n_columns)
        refuse_bad_array("y", self.Y, self.y_scale, weights, n_columns)

    def _refuse_bad_entries(self, limit: float, n_columns: int) -> None:
        """ValueError naming X's first non-finite entry, or the largest entry of the
        first column whose weighted norm exceeds ``limit``."""
        from .. import _jit_sparse

        X, d = self.X, self.n_features
        offset = int(X.indptr[0])
        data = X.data[offset : X.indptr[-1]]
        indices = X.indices[offset : X.indptr[-1]]
        entry_rows = np.repeat(np.arange(self.n_samples), np.diff(X.indptr))
        bad = np.flatnonzero(~np.isfinite(data))
        if bad.size:
            p = bad[0]
            what = "NaN" if np.isnan(data[p]) else "infinity"
            raise ValueError(
                f"Input X contains {what} at row {entry_rows[p]}, column {indices[p]}."
            )
        largest = np.zeros(d)
        _jit_sparse.csr_column_largest(data, indices, largest)
        exponents = power_of_two_exponents(largest[None, :])
        scaled = np.ldexp(np.asarray(data, np.float64), -exponents[indices])
        if self.sample_weight is not None:
            scaled *= np.sqrt(self.sample_weight[entry_rows])
        squares = np.bincount(indices, weights=scaled**2, minlength=d)
        with np.errstate(over="ignore"):
            norms = np.ldexp(np.sqrt(squares), exponents)
        for column in np.flatnonzero(~(norms <= limit))[:1]:
            in_column = np.flatnonzero(indices == column)
            p = in_column[np.argmax(np.abs(data[in_column]))]
            raise overflow_error(
                "X", float(data[p]), int(entry_rows[p]), int(column), norms[column], limit,
                n_columns, self.sample_weight,
            )  # fmt: skip


def _memory_mapped(array: np.ndarray) -> bool:
    """Whether ``array`` is a view of a memory-mapped file (an np.memmap's copy is an
    np.memmap in memory: only the mmap at the end of the chain of bases tells)."""
    base: object = array
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, mmap.mmap)


def open_npz(path: str | os.PathLike[str]) -> scipy.sparse.csr_matrix:
    """A CSR matrix written by ``scipy.sparse.save_npz(path, X, compressed=False)``, its
    three arrays memory-mapped from the file rather than read: ``fit`` and ``predict``
    stream it as they stream a ``np.memmap``, and the OS pages it in and out, so it may
    be larger than RAM (``scipy.sparse.load_npz`` reads it all into memory).

    Raises
    ------
    ValueError
        When the file was saved compressed (its arrays cannot be mapped: save it with
        ``compressed=False``), or holds another format than CSR.
    """
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: info for info in archive.infolist()}
        stored_format = np.load(io.BytesIO(archive.read("format.npy"))).item()
        shape = tuple(int(v) for v in np.load(io.BytesIO(archive.read("shape.npy"))))
    stored_format = stored_format.decode() if isinstance(stored_format, bytes) else stored_format
    if stored_format != "csr":
        raise ValueError(
            f"{path} holds a {stored_format} matrix; open_npz maps CSR matrices: save "
            "X.tocsr() (its rows are what a pass reads)"
        )
    arrays = {}
    with open(path, "rb") as f:
        for name in ("data", "indices", "indptr"):
            info = members[f"{name}.npy"]
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(
                    f"{path} was saved compressed, and a compressed array cannot be "
                    "memory-mapped: save it with scipy.sparse.save_npz(path, X, "
                    "compressed=False), or read it whole with scipy.sparse.load_npz"
                )
            # The member's bytes follow its local header (30 bytes, its name and extra
            # field); they are a .npy file, whose own header gives dtype and shape.
            f.seek(info.header_offset)
            local = f.read(30)
            name_length, extra_length = struct.unpack("<HH", local[26:30])
            f.seek(info.header_offset + 30 + name_length + extra_length)
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            array_shape, fortran_order, dtype = read_header(f)
            arrays[name] = np.memmap(
                path, dtype=dtype, mode="r", offset=f.tell(), shape=array_shape,
                order="F" if fortran_order else "C",
            )  # fmt: skip
    # Not csr_matrix((data, indices, indptr)): SciPy would cast int64 indices that fit
    # in int32, a copy in memory of the largest array but one.
    matrix = scipy.sparse.csr_matrix(shape, dtype=arrays["data"].dtype)
    matrix.data, matrix.indices, matrix.indptr = (
        arrays["data"],
        arrays["indices"],
        arrays["indptr"],
    )
    matrix.check_format(full_check=False)
    return matrix
