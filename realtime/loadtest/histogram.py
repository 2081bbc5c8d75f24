"""An HDR-style histogram of durations: log-bucketed, bounded relative error, mergeable.

Values are whole microseconds. Below 128 µs every value has its own bucket; above, each power of
two is split into 64 equal buckets, so any value is known to within 1/64 (1.6 %) of itself. Memory
does not grow with the number of samples, and histograms from several processes merge by adding
their bucket counts, which is how the reader processes report to the coordinator.
"""

from __future__ import annotations

import math

import msgspec

SUB_BITS = 7
EXACT = 1 << SUB_BITS  # values below this are stored exactly
HALF = EXACT >> 1  # buckets per power of two above that


def bucket_of(value: int) -> int:
    if value < EXACT:
        return value
    shift = value.bit_length() - SUB_BITS
    return shift * HALF + (value >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The lowest and highest value that land in bucket `index`."""
    if index < EXACT:
        return index, index
    shift = index // HALF - 1
    top = index % HALF + HALF
    return top << shift, ((top + 1) << shift) - 1


class HistogramData(msgspec.Struct, frozen=True):
    """The wire and JSON form: sparse bucket counts plus exact count, sum, min and max."""

    counts: dict[int, int]
    count: int
    total: int
    min: int
    max: int


class Histogram:
    __slots__ = ("counts", "count", "total", "min", "max")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total = 0
        self.min = 0
        self.max = 0

    def record(self, micros: int) -> None:
        micros = max(micros, 0)
        index = bucket_of(micros)
        self.counts[index] = self.counts.get(index, 0) + 1
        if self.count == 0 or micros < self.min:
            self.min = micros
        if micros > self.max:
            self.max = micros
        self.count += 1
        self.total += micros

    def record_seconds(self, seconds: float) -> None:
        self.record(int(seconds * 1_000_000))

    def merge(self, other: Histogram | HistogramData) -> Histogram:
        if other.count == 0:
            return self
        for index, n in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + n
        self.min = other.min if self.count == 0 else min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.count += other.count
        self.total += other.total
        return self

    def percentile(self, fraction: float) -> int:
        """The value at or below which `fraction` of the samples lie (bucket top, capped at max)."""
        if self.count == 0:
            return 0
        rank = max(1, math.ceil(fraction * self.count))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return min(bucket_bounds(index)[1], self.max)
        return self.max

    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def data(self) -> HistogramData:
        return HistogramData(dict(self.counts), self.count, self.total, self.min, self.max)

    @classmethod
    def of(cls, data: HistogramData) -> Histogram:
        return cls().merge(data)
