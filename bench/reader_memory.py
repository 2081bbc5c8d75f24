"""Where a reader's memory goes: tracemalloc in a server process holding N idle readers.

Runs the app under uvicorn in a thread of this process (as the tests do), warms it up with a few
readers, snapshots, connects `--readers` more from a child process (so that the clients'
memory is not counted), snapshots again and prints the difference per reader, by file and by
line. tracemalloc sees Python allocations only; RSS (bench/capacity.py) adds the C side.

    python bench/reader_memory.py [--readers 2000]
"""

from __future__ import annotations

import argparse
import gc
import linecache
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx
from _common import ROOT, machine, today

sys.path.insert(0, str(ROOT))
from tests.servers import ThreadServer, make_settings  # noqa: E402

CLIENTS = """
import asyncio, sys
from websockets.asyncio.client import connect

async def main(url, n):
    gate, held = asyncio.Semaphore(100), []
    async def one():
        async with gate:
            ws = await connect(url, compression=None, proxy=None, ping_interval=None)
            await ws.recv()
            held.append(ws)
    await asyncio.gather(*(one() for _ in range(n)))
    print(len(held), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def hold(url: str, n: int) -> subprocess.Popen[bytes]:
    """A child process holding `n` readers open; returns once they all have their hello."""
    child = subprocess.Popen([sys.executable, "-c", CLIENTS, url, str(n)], stdout=subprocess.PIPE)
    assert child.stdout is not None
    if int(child.stdout.readline() or 0) != n:
        raise SystemExit("the readers did not all connect")
    return child


def where(frame: tracemalloc.Frame) -> str:
    name = frame.filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
    return name.replace(sys.base_prefix + "/lib/", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    n = args.readers
    print(f"bench/reader_memory.py on {machine()}, {today()}")
    tracemalloc.start(1)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        settings = make_settings(Path(tmp) / "m.db", admin_token="t", rate_limit="off")
        server = ThreadServer(settings).start()
        auth = {"authorization": "Bearer t"}
        httpx.put(f"{server.url}/api/articles/a", json={"title": "A"}, headers=auth)
        url = f"{server.ws_url}/ws/articles/a"
        children = [hold(url, 20)]  # one-time allocations happen here, not below
        time.sleep(1)
        gc.collect()
        before = tracemalloc.take_snapshot()
        children.append(hold(url, n))
        time.sleep(3)
        gc.collect()
        after = tracemalloc.take_snapshot()
        for child in children:
            child.kill()
        server.stop()
    by_file = after.compare_to(before, "filename")
    total = sum(stat.size_diff for stat in by_file)
    print(f"  traced Python memory: {total / n / 1024:.1f} KiB per reader ({n} readers)")
    print("  by file:")
    for stat in by_file[: args.top]:
        blocks = stat.count_diff / n
        print(f"    {stat.size_diff / n:7.0f} B  {blocks:5.1f} blocks  {where(stat.traceback[0])}")
    print("  by line:")
    for stat in after.compare_to(before, "lineno")[: args.top]:
        frame = stat.traceback[0]
        code = linecache.getline(frame.filename, frame.lineno).strip()[:60]
        print(f"    {stat.size_diff / n:7.0f} B  {where(frame)}:{frame.lineno}  {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
