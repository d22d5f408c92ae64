"""Board tracebacks annotated with the host source lines of the board-side files they name.

The exceptions a HIL test sees are host_harness.transport.result's BoardError family.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

_FILE_LINE = re.compile(r'^(\s*)File "([^"]+)", line (\d+)(.*)$')


def board_path_candidates(board_path: str, roots: Iterable[Path]) -> Iterable[Path]:
    """Host files a board-side path may come from: /lib/cases/x.py -> <root>/x.py, <root>/cases/x.py, ..."""
    p = Path(board_path)
    if p.is_absolute() and p.is_file():
        yield p  # the cpython backend runs host files in place
    parts = [x for x in p.parts if x not in ("/", "")]
    if parts and parts[0] in ("lib", "flash", "sd"):
        parts = parts[1:]
    if parts and parts[-1].endswith(".mpy"):
        parts[-1] = parts[-1][:-4] + ".py"
    for root in roots:
        for i in range(len(parts)):
            cand = root.joinpath(*parts[i:])
            if cand.is_file():
                yield cand


def annotate_traceback(
    text: str,
    *,
    roots: Iterable[Path] = (),
    inline_sources: dict[str, str] | None = None,
    line_map: Callable[[str, int], tuple[str, int] | None] | None = None,
) -> str:
    """Add the source line under every `File "...", line N` entry we can find on the host.

    `inline_sources` maps pseudo-file names such as "<stdin>" to the code that was sent; `line_map` lets the
    caller translate wrapper lines (e.g. drop our generated call stub) before lookup.
    """
    roots = list(roots)
    out: list[str] = []
    for line in text.splitlines():
        m = _FILE_LINE.match(line)
        if not m:
            out.append(line)
            continue
        indent, fname, lineno_s, rest = m.groups()
        lineno = int(lineno_s)
        if line_map is not None:
            mapped = line_map(fname, lineno)
            if mapped is None:
                continue  # a frame of our own generated stub: noise for the reader
            fname, lineno = mapped
            line = f'{indent}File "{fname}", line {lineno}{rest}'
        out.append(line)
        src = None
        if inline_sources and fname in inline_sources:
            src_lines = inline_sources[fname].splitlines()
            if 0 < lineno <= len(src_lines):
                src = src_lines[lineno - 1]
        else:
            for cand in board_path_candidates(fname, roots):
                try:
                    src_lines = cand.read_text(errors="replace").splitlines()
                except OSError:
                    continue
                if 0 < lineno <= len(src_lines):
                    src = src_lines[lineno - 1]
                    break
        if src is not None and src.strip():
            out.append(f"{indent}    {src.strip()}")
    return "\n".join(out)
