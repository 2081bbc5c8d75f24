"""Summarise py-spy's raw (collapsed-stack) output: where the samples are, by function.

    python bench/profile_summary.py FILE [--top 25]

Prints the functions with the most samples on top of the stack (self time) and those with the
most samples anywhere in the stack (total time), as shares of all samples.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    """`send (starlette/websockets.py)` from py-spy's `send (/long/path/starlette/...py:70)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rpartition(":")[0] or where.rstrip(")")
    parts = where.split("/")
    return f"{name} ({'/'.join(parts[-2:])})" if where else name


def thread_of(frames: list[str]) -> str:
    """With `py-spy record --threads` the first frame names the thread."""
    first = frames[0]
    return first if first.startswith(("thread ", "process ")) else "all threads"


def summarize(path: Path, top: int = 25) -> str:
    if not path.exists():
        return f"no profile at {path}: py-spy did not write one (it needs ptrace rights)"
    stacks = load(path)
    total = sum(n for _, n in stacks)
    if not total:
        return f"no samples in {path}"
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for frames, n in stacks:
        thread = thread_of(frames)
        threads[thread] += n
        code = frames[1:] if thread != "all threads" else frames
        if code:
            own[short(code[-1])] += n
        for frame in {short(f) for f in code}:
            anywhere[frame] += n
    lines = [f"{total} samples (idle time excluded) from {path}", "", "threads:"]
    lines += [f"  {n / total:6.1%}  {thread}" for thread, n in threads.most_common()]
    lines += ["", "self time (top of stack):"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "total time (anywhere in the stack):"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in anywhere.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarize(args.file, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
