"""What README.md and docs/design.md name exists in the repository.

A user's clone holds only the repository: a picture, a file or a module the documents
name must be in it. Which names are checked (the rule; everything else is prose):

- Markdown image and link targets, ``![alt](target)`` and ``[text](target)``, except
  URLs (``scheme:`` or ``//``) and in-page anchors (``#...``): the file, relative to
  the document's folder. Images must also be tracked by git (a ``.gitignore`` rule once
  dropped ``docs/loss.png``, and the README opened on a broken picture); that check is
  skipped outside a git checkout.
- Repository paths, in backticks or anywhere in a fenced code block: a word that
  starts with one of the repository's top-level folders followed by ``/``
  (``docs/loss.png``, ``benchmarks/large_data.py``, ``fastlinreg/_jit.py``), relative
  to the repository root. Globs (``benchmarks/*.py``) must match a file; braces expand
  (``fastlinreg/sources/{memory,file}.py``). A pytest node id
  (``tests/test_kernels.py::test_name``) must name a test function defined in that file.
- Bare Python file names in backticks (``test_memory.py``): some file of that name
  exists in the repository. Bare test names in backticks
  (``test_a_fit_through_the_factor_reads_the_data_once``): some file in ``tests/``
  defines that test function.
- Dotted names under ``fastlinreg`` in backticks (``fastlinreg.sources.FileSource``,
  ``fastlinreg.DataError``): importable, attribute by attribute.

Not checked: bare names of other kinds (``train.csv``, ``model.npz``, ``loss.png`` are
files a user's commands read or write), and paths outside the top-level folders
(``/tmp``). Neither document may point outside the repository (``../shared``).
"""

from __future__ import annotations

import glob
import importlib
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTS = ["README.md", "docs/design.md"]

_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_BACKTICKS = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"(!?)\[[^\]]*\]\(([^)\s]+)[^)]*\)")
_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*:|//|#)")
_DOTTED = re.compile(r"fastlinreg(?:\.[A-Za-z_]\w*)+")
_BRACES = re.compile(r"\{([^{}]*)\}")


def _top_level_folders(root: str) -> list[str]:
    return sorted(
        name
        for name in os.listdir(root)
        if os.path.isdir(os.path.join(root, name))
        and not name.startswith((".git", ".venv", ".mypy", ".ruff", ".pytest"))
        and not name.endswith(".egg-info")
        and name not in ("build", "dist", "__pycache__")
    )


def _expand_braces(word: str) -> list[str]:
    match = _BRACES.search(word)
    if match is None:
        return [word]
    head, tail = word[: match.start()], word[match.end() :]
    return [w for part in match.group(1).split(",") for w in _expand_braces(head + part + tail)]


def _path_words(text: str, folders: list[str]) -> list[str]:
    """Words of ``text`` that start with a top-level folder and a slash."""
    start = r"(?<![\w./-])(?:" + "|".join(re.escape(f) for f in folders) + r")/"
    pattern = re.compile(start + r"(?:\{[^{}\s]*\}|[^\s`'\"()<>,;{}])*")
    return [m.group(0).rstrip(".:") for m in pattern.finditer(text)]


def _missing_path(word: str, root: str) -> str | None:
    """Why the repository path ``word`` does not exist (None when it does)."""
    path, _, test = word.partition("::")
    test = test.split("[")[0]
    for candidate in _expand_braces(path):
        full = os.path.join(root, candidate)
        if any(c in candidate for c in "*?["):
            if not glob.glob(full):
                return f"{candidate}: no file matches"
        elif not os.path.exists(full):
            return f"{candidate}: no such file or folder"
        elif test:
            with open(full, encoding="utf-8") as file:
                source = file.read()
            if not re.search(rf"^\s*(?:async\s+)?def {re.escape(test)}\(", source, re.M):
                return f"{candidate}::{test}: no such test in that file"
    return None


def _file_names(root: str) -> set[str]:
    names = set()
    for folder in _top_level_folders(root):
        for _, _, files in os.walk(os.path.join(root, folder)):
            names.update(files)
    return names | set(os.listdir(root))


def _test_functions(root: str) -> set[str]:
    names: set[str] = set()
    for path in glob.glob(os.path.join(root, "tests", "**", "*.py"), recursive=True):
        with open(path, encoding="utf-8") as file:
            names.update(re.findall(r"^\s*(?:async\s+)?def (test_\w+)\(", file.read(), re.M))
    return names


def _missing_dotted(name: str) -> str | None:
    """Why ``fastlinreg.a.b`` does not resolve (None when it does)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return f"{name}: {'.'.join(parts[:cut])} has no {attribute!r}"
            target = getattr(target, attribute)
        return None
    return f"{name}: not importable"  # pragma: no cover - fastlinreg itself imports


def problems(text: str, document_dir: str, root: str = ROOT) -> tuple[list[str], list[str]]:
    """(problems found, image paths relative to ``root``) of one Markdown text."""
    found: list[str] = []
    images: list[str] = []
    folders = _top_level_folders(root)
    for is_image, target in _LINK.findall(text):
        if _URL.match(target):
            continue
        path = os.path.normpath(os.path.join(document_dir, target.split("#")[0]))
        relative = os.path.relpath(path, root)
        if relative.startswith(".."):
            found.append(f"{target}: outside the repository")
        elif not os.path.exists(path):
            found.append(f"{target}: no such file")
        elif is_image:
            images.append(relative)
    fenced = "\n".join(block for block in _FENCE.findall(text))
    spans = _BACKTICKS.findall(_FENCE.sub("", text))
    words = _path_words(fenced, folders)
    for span in spans:
        words += _path_words(span, folders)
    for word in words:
        why = _missing_path(word, root)
        if why:
            found.append(why)
    names = _file_names(root)
    tests = _test_functions(root)
    for span in spans:
        if re.fullmatch(r"[\w.-]+\.py", span) and span not in names:
            found.append(f"{span}: no file of that name in the repository")
        if re.fullmatch(r"test_\w+", span) and span not in tests:
            found.append(f"{span}: no test of that name in tests/")
        for dotted in _DOTTED.findall(span):
            why = _missing_dotted(dotted)
            if why:
                found.append(why)
    if "../shared" in text:
        found.append("../shared: points outside the repository")
    return found, images


def _read(document: str) -> str:
    with open(os.path.join(ROOT, document), encoding="utf-8") as file:
        return file.read()


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_path_and_picture_named_exists(document):
    found, images = problems(_read(document), os.path.dirname(os.path.join(ROOT, document)))
    assert not found, f"{document} names what the repository does not hold:\n" + "\n".join(found)
    if document == "README.md":
        assert images, "the README's pictures were not found by the link pattern"


def test_the_readme_links_the_design_note():
    readme = _read("README.md")
    assert "(docs/design.md)" in readme
    assert "../shared" not in readme


def _git_tracked(root: str) -> set[str] | None:
    if shutil.which("git") is None:
        return None
    run = subprocess.run(
        ["git", "-C", root, "ls-files", "-z"], capture_output=True, text=True, check=False
    )
    if run.returncode != 0:
        return None
    return set(run.stdout.split("\0"))


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_picture_is_tracked_by_git(document):
    tracked = _git_tracked(ROOT)
    if tracked is None:
        pytest.skip("not a git checkout (or no git): cannot ask which files are tracked")
    _, images = problems(_read(document), os.path.dirname(os.path.join(ROOT, document)))
    untracked = [image for image in images if image.replace(os.sep, "/") not in tracked]
    assert not untracked, f"{document} shows pictures a clone lacks: {untracked}"


def test_the_checks_find_what_is_missing(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "here.png").write_bytes(b"")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_one():\n    pass\n")
    text = "\n".join(
        [
            "![ok](docs/here.png) ![gone](docs/gone.png) [web](https://example.org/x.png)",
            "[up](../shared/DESIGN.md) `tests/test_a.py::test_one` `tests/test_a.py::test_two`",
            "`docs/{here,there}.png` `docs/*.png` `tests/*.json` `test_a.py` `test_b.py`",
            "`train.csv` `model.npz` `loss.png` `fastlinreg.DataError` `fastlinreg.Nothing`",
            "`test_one` `test_three`",
            "```bash",
            "python tests/run_me.py --out docs/here.png --out elsewhere.json",
            "```",
        ]
    )
    found, images = problems(text, str(tmp_path), root=str(tmp_path))
    assert images == ["docs/here.png"]
    assert sorted(found) == sorted(
        [
            "docs/gone.png: no such file",
            "../shared/DESIGN.md: outside the repository",
            "tests/test_a.py::test_two: no such test in that file",
            "docs/there.png: no such file or folder",
            "tests/*.json: no file matches",
            "test_b.py: no file of that name in the repository",
            "fastlinreg.Nothing: fastlinreg has no 'Nothing'",
            "test_three: no test of that name in tests/",
            "tests/run_me.py: no such file or folder",
            "../shared: points outside the repository",
        ]
    )
