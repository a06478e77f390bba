"""Tests for the CSV reading of fastlinreg.sources._readers and fastlinreg.sources.file: pyarrow's
streaming parser and the Python reader behind it agree on the cell grammar, the values
(bit for bit), blank lines, line numbers and messages."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fastlinreg import FileSource
from fastlinreg.sources import _readers as readers
from fastlinreg.sources._readers import (
    _NUMBER,
    ArrowRefused,
    DataError,
    arrow_csv_blocks,
    csv_head,
    read_table,
)


def raises_exactly(error_type, message: str):
    """pytest.raises matching the whole message, not a prefix or a regex."""
    return pytest.raises(error_type, match=f"^{re.escape(message)}$")


def bits(a) -> np.ndarray:
    """float64 values as their bit patterns: equality of these is bit-exactness."""
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


def write_text(path, text: str, newline: str = "\n") -> str:
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return str(path)


def every_row(source: FileSource) -> np.ndarray:
    """A pass of ``source`` (without a target): every row, every column."""
    return np.concatenate(list(source.feature_batches()))


def arrow_rows(path: str) -> np.ndarray:
    """The rows as pyarrow's reader gives them (no Python reader behind it)."""
    columns, header_lines = csv_head(path)
    return np.concatenate(list(arrow_csv_blocks(path, len(columns), header_lines)))


# --- the cell grammar ---------------------------------------------------------------------

# Cells that are numbers: (text, value).
ACCEPTED = [
    ("1", 1.0),
    ("+1", 1.0),
    ("-1", -1.0),
    (".5", 0.5),
    ("5.", 5.0),
    ("+.5", 0.5),
    ("-5.e3", -5000.0),
    ("1e5", 1e5),
    ("1E+05", 1e5),
    ("1e-5", 1e-5),
    ("00012", 12.0),
    ("0e0", 0.0),
    ("-0", -0.0),
    ("1e-400", 0.0),  # rounds to zero, as float() does
    ("4.9e-324", 5e-324),
    (" 1", 1.0),
    ("1 ", 1.0),
    ("\t1\t", 1.0),
]
# Cells that are not: (text, the message after "PATH line 3, column 'b': ").
REFUSED = [
    ("1_000", "'1_000' is not a number"),  # float() reads it
    ("\u0661\u0662", "'\u0661\u0662' is not a number"),  # Arabic-Indic digits: float() reads
    ("\uff11", "'\uff11' is not a number"),  # a full-width 1: float() reads it
    ("0x10", "'0x10' is not a number"),
    ("0x1p3", "'0x1p3' is not a number"),
    ("1e", "'1e' is not a number"),
    ("e5", "'e5' is not a number"),
    ("1.5.5", "'1.5.5' is not a number"),
    (".", "'.' is not a number"),
    ("--1", "'--1' is not a number"),
    ("1 2", "'1 2' is not a number"),
    ("1d5", "'1d5' is not a number"),
    ("abc", "'abc' is not a number"),
    ("", "empty cell"),
    ("  ", "empty cell"),
    ("NA", "missing value 'NA'"),
    ("n/a", "missing value 'n/a'"),
    ("nan", "missing value (NaN)"),
    ("-NaN", "missing value (NaN)"),
    ("inf", "infinite value (inf)"),
    ("-Infinity", "infinite value (-inf)"),
    ("1e999", "infinite value (inf)"),
    ("-1e999", "infinite value (-inf)"),
]


@pytest.mark.parametrize(("cell", "value"), ACCEPTED, ids=repr)
def test_numbers_of_the_grammar_are_read_by_both_readers(tmp_path, cell, value):
    assert _NUMBER.fullmatch(cell)
    assert float(cell) == value
    path = write_text(tmp_path / "data.csv", f"a,b\n1,2\n3,{cell}\n")
    expected = bits([[1, 2], [3, value]])
    # pyarrow reads it (not the Python reader behind it) to float()'s value, bit for bit...
    np.testing.assert_array_equal(bits(arrow_rows(path)), expected)
    np.testing.assert_array_equal(bits(read_table(path).data), expected)
    np.testing.assert_array_equal(bits(every_row(FileSource(path, None))), expected)
    # ... and so does the Python reader, which reads the quoted cell.
    quoted = write_text(tmp_path / "quoted.csv", f'a,b\n1,2\n3,"{cell}"\n')
    np.testing.assert_array_equal(bits(read_table(quoted).data), expected)
    np.testing.assert_array_equal(bits(every_row(FileSource(quoted, None))), expected)


@pytest.mark.parametrize(("cell", "message"), REFUSED, ids=repr)
def test_other_cells_are_refused_by_both_readers_with_their_line(tmp_path, cell, message):
    # Not a number of the grammar, or one beyond float64.
    assert not _NUMBER.fullmatch(cell) or np.isinf(float(cell))
    path = write_text(tmp_path / "data.csv", f"a,b\n1,2\n3,{cell}\n")
    # pyarrow does not read it as a finite number...
    with pytest.raises(ArrowRefused):
        arrow_rows(path)
    # ... and the Python reader says where it is, and what.
    for text in (f"a,b\n1,2\n3,{cell}\n", f'a,b\n1,2\n3,"{cell}"\n'):
        path = write_text(tmp_path / "data.csv", text)
        with raises_exactly(DataError, f"{path} line 3, column 'b': {message}"):
            read_table(path)
        with raises_exactly(DataError, f"{path} line 3, column 'b': {message}"):
            every_row(FileSource(path, None))
        with raises_exactly(DataError, f"{path} line 3, column 'b': {message}"):
            FileSource(path, "a").loss_grad(np.zeros((1, 1)), np.zeros(1))


@pytest.mark.parametrize(
    "threads, large", [(False, False), (True, False), (True, True)],
    ids=["one-thread", "threads", "large-file-chunks"],
)  # fmt: skip
def test_random_doubles_written_with_repr_read_back_bit_for_bit(
    tmp_path, monkeypatch, threads, large
):

    # pyarrow's threads parse the blocks of a chunk in files from _CSV_THREADS_BYTES on;
    # small blocks: several per chunk (larger ones, and chunks, from _LARGE_CSV_BYTES).
    monkeypatch.setattr(readers, "_CSV_THREADS_BYTES", 0 if threads else 1 << 62)
    monkeypatch.setattr(readers, "_LARGE_CSV_BYTES", 0 if large else 1 << 62)
    monkeypatch.setattr(readers, "_ARROW_BLOCK_BYTES", 1 << 14)
    rng = np.random.default_rng(7)
    # Every exponent: random bit patterns, the finite ones; and subnormals, and the
    # shortest and longest forms of ordinary values.
    patterns = rng.integers(0, 2**64, size=20_000, dtype=np.uint64).view(np.float64)
    values = np.concatenate(
        [
            patterns[np.isfinite(patterns)],
            rng.standard_normal(5000) * 1e-310,
            rng.standard_normal(5000),
            np.round(rng.standard_normal(5000), 3),
        ]
    )
    values = values[: len(values) // 4 * 4].reshape(-1, 4)
    lines = ["a,b,c,d"] + [",".join(map(repr, row)) for row in values.tolist()]
    path = write_text(tmp_path / "data.csv", "\n".join(lines) + "\n")
    expected = bits(values)
    np.testing.assert_array_equal(bits(arrow_rows(path)), expected)
    np.testing.assert_array_equal(bits(read_table(path).data), expected)
    np.testing.assert_array_equal(bits(every_row(FileSource(path, None, batch_rows=999))), expected)
    # %.17g and scientific forms too: float() of the text, whatever the writer.
    texts = [[f"{v:.17g}", f"{v:.6e}", f"{v:.3E}", f"{v:.20f}"] for v in values[:3000, 0]]
    lines = ["a,b,c,d"] + [",".join(row) for row in texts]
    path = write_text(tmp_path / "forms.csv", "\n".join(lines) + "\n")
    expected = bits([[float(text) for text in row] for row in texts])
    np.testing.assert_array_equal(bits(arrow_rows(path)), expected)
    np.testing.assert_array_equal(bits(read_table(path).data), expected)


# --- blank lines, line numbers, quoting -----------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("quoted", [False, True], ids=["pyarrow", "python"])
def test_blank_and_whitespace_only_lines_are_skipped(tmp_path, newline, quoted):
    two = '"2"' if quoted else "2"  # a quoted cell: the Python reader reads the file
    text = f"\n \n\ufeffa,b\n\n1,{two}\n   \n\t\n \t \n3,4\n\n  \n"
    text = text.replace("\ufeff", "")  # a BOM is only at the start of a file
    path = write_text(tmp_path / "data.csv", "\ufeff" + text, newline)
    table = read_table(path)
    assert table.columns == ["a", "b"]
    np.testing.assert_array_equal(table.data, [[1, 2], [3, 4]])
    source = FileSource(path, "b")
    np.testing.assert_array_equal(every_row(FileSource(path, None)), [[1, 2], [3, 4]])
    assert np.concatenate([X for X, _, _ in source.row_blocks()]).tolist() == [[1], [3]]
    assert source.n_samples == 2
    # Lines are counted physically, blank ones too.
    bad = write_text(tmp_path / "bad.csv", text.replace("3,4", "3,x"), newline)
    message = f"{bad} line 9, column 'b': 'x' is not a number"
    with raises_exactly(DataError, message):
        read_table(bad)
    with raises_exactly(DataError, message):
        every_row(FileSource(bad, None))


def test_whitespace_only_lines_in_a_one_column_file_are_skipped(tmp_path):
    path = write_text(tmp_path / "data.csv", "a\n1\n  \n\t\n2\n")
    np.testing.assert_array_equal(read_table(path).data, [[1], [2]])
    np.testing.assert_array_equal(every_row(FileSource(path, None)), [[1], [2]])


def test_a_header_over_two_lines_and_quoted_line_breaks(tmp_path):
    path = write_text(tmp_path / "data.csv", '"a\nb",c\n1,2\n3,4\n')
    np.testing.assert_array_equal(arrow_rows(path), [[1, 2], [3, 4]])
    assert read_table(path).columns == ["a\nb", "c"]
    bad = write_text(tmp_path / "bad.csv", '"a\nb",c\n1,"2\n"\n3,4\n5,y\n')
    message = f"{bad} line 6, column 'c': 'y' is not a number"
    with raises_exactly(DataError, message):
        read_table(bad)
    with raises_exactly(DataError, message):
        every_row(FileSource(bad, None))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('1,"1"2', "line 3: malformed CSV (',' expected after '\"')"),  # pyarrow: 12
        ('1,"2" ', "line 3: malformed CSV (',' expected after '\"')"),  # pyarrow: 2
        ("1,2,3", "line 3: 3 cells, the header has 2"),
        ("1", "line 3: 1 cells, the header has 2"),
        ("1,", "line 3, column 'b': empty cell"),
    ],
)
def test_rows_that_pyarrow_would_read_otherwise_are_refused(tmp_path, row, message):
    path = write_text(tmp_path / "data.csv", f"a,b\n1,2\n{row}\n")
    with raises_exactly(DataError, f"{path} {message}"):
        read_table(path)
    with raises_exactly(DataError, f"{path} {message}"):
        every_row(FileSource(path, None))


def test_a_quoted_cell_late_in_a_file_hands_over_to_the_python_reader(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.standard_normal((30_000, 3))
    lines = ["a,b,c"] + [",".join(map(repr, row)) for row in data.tolist()]
    lines[25_000] = '"' + lines[25_000].replace(",", '",', 1)  # a quoted cell, row 24,999
    path = write_text(tmp_path / "data.csv", "\n".join(lines) + "\n")
    with pytest.raises(ArrowRefused):
        arrow_rows(path)
    np.testing.assert_array_equal(bits(read_table(path).data), bits(data))
    source = FileSource(path, None, batch_rows=4096)
    for _ in range(2):  # the second pass: the Python reader from the start
        batches = list(source.feature_batches())
        assert [len(batch) for batch in batches[:-1]] == [4096] * (len(batches) - 1)
        np.testing.assert_array_equal(bits(np.concatenate(batches)), bits(data))
    assert source.n_samples == 30_000
    # A bad cell after it is located by the Python reader.
    lines[29_000] = "1,?,2"
    path = write_text(tmp_path / "bad.csv", "\n".join(lines) + "\n")
    message = f"{path} line 29001, column 'b': '?' is not a number"
    with raises_exactly(DataError, message):
        read_table(path)
    with raises_exactly(DataError, message):
        every_row(FileSource(path, None, batch_rows=4096))


@pytest.mark.parametrize("header", ["a,b", "a"], ids=["pyarrow", "python"])
def test_header_only_after_blank_lines(tmp_path, header):
    # (pyarrow reads a line of spaces of a one-column file as a cell, and refuses it.)
    path = write_text(tmp_path / "data.csv", f"{header}\n  \n\n")
    with raises_exactly(DataError, f"{path} has a header but no rows of numbers"):
        read_table(path)
    with raises_exactly(DataError, f"{path} has a header but no rows of numbers"):
        every_row(FileSource(path, None))
    path = write_text(tmp_path / "blank.csv", "\n \n\t\n")
    with raises_exactly(DataError, f"{path} is empty: a header row and rows of numbers are needed"):
        read_table(path)


# --- chunks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_chunks_are_cut_at_line_ends_whatever_their_size(tmp_path, monkeypatch, newline):

    # Chunks of 16 bytes: shorter than a line, so they grow; CRLFs cut in two.
    monkeypatch.setattr(readers, "_CSV_CHUNK_BYTES", 16)
    data = np.random.default_rng(5).standard_normal((300, 3)) * 1e3
    lines = ["a,b,c", ""] + [",".join(map(repr, row)) for row in data.tolist()] + ["", "  "]
    path = write_text(tmp_path / "data.csv", "\n".join(lines), newline)
    np.testing.assert_array_equal(bits(arrow_rows(path)), bits(data))
    np.testing.assert_array_equal(bits(every_row(FileSource(path, None, batch_rows=7))), bits(data))
    bad = write_text(tmp_path / "bad.csv", "\n".join(lines).replace(lines[250], "1,2,x"), newline)
    with raises_exactly(DataError, f"{bad} line 251, column 'c': 'x' is not a number"):
        every_row(FileSource(bad, None, batch_rows=7))


def test_a_header_longer_than_a_read_with_a_crlf_across_two_reads(tmp_path):
    # The header's CR is the last byte of the first 64 kB read, its LF the first of the next.
    names = [f"column_{j}" for j in range(5000)]
    header = ",".join(names)
    names[0] += "x" * (65535 - len(header))
    header = ",".join(names)
    assert len(header) == 65535
    path = write_text(tmp_path / "data.csv", header + "\n\n" + "1," * 4999 + "2\n", "\r\n")
    expected = [[1.0] * 4999 + [2.0]]
    np.testing.assert_array_equal(arrow_rows(path), expected)
    np.testing.assert_array_equal(read_table(path).data, expected)
    # A header ending in a CR at the end of the file: no rows.
    path = write_text(tmp_path / "header.csv", "a,b\r")
    with raises_exactly(DataError, f"{path} has a header but no rows of numbers"):
        read_table(path)


def test_long_lines_are_read_in_growing_chunks_with_the_same_values(tmp_path, monkeypatch):
    # A chunk of fewer than _MIN_CHUNK_ROWS rows grows (a 3,000-column file read at
    # 13 MB/s in 1 MB chunks): the blocks get longer, the values stay the same bits.
    monkeypatch.setattr(readers, "_CSV_CHUNK_BYTES", 4096)
    monkeypatch.setattr(readers, "_MIN_CHUNK_ROWS", 64)
    data = np.random.default_rng(3).standard_normal((600, 40))  # lines of about 800 bytes
    header = ",".join(f"x{j}" for j in range(40))
    lines = [header] + [",".join(map(repr, row)) for row in data.tolist()]
    path = write_text(tmp_path / "wide.csv", "\n".join(lines) + "\n")
    columns, header_lines = csv_head(path)
    blocks = list(arrow_csv_blocks(path, len(columns), header_lines))
    sizes = [len(block) for block in blocks]
    assert sizes[0] < 8 and max(sizes) >= 64  # 4 KB holds 5 lines; grown, 64 or more
    np.testing.assert_array_equal(bits(np.concatenate(blocks)), bits(data))
