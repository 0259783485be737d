#!/usr/bin/env python3
"""Writes a synthetic embedding dump for the streaming benchmark: `x.npy`
(rows × dims float32, C order) and `y.npy` (int32 labels from a noisy
linear teacher over `classes` classes), in chunks, so that a file larger
than memory can be written on a machine that cannot hold it.

    python3 make_embeddings.py OUT_DIR ROWS DIMS CLASSES [SEED]

Needs numpy. 2,000,000 × 768 is a 6.1 GB x.npy; 9,800,000 × 768 is 30.1 GB.
"""
import os
import sys

import numpy as np

CHUNK_ROWS = 65536


def main():
    out, rows, dims, classes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    teacher = rng.standard_normal((dims, classes)).astype(np.float32) / np.sqrt(dims)
    x = np.lib.format.open_memmap(
        os.path.join(out, "x.npy"), mode="w+", dtype=np.float32, shape=(rows, dims)
    )
    y = np.lib.format.open_memmap(
        os.path.join(out, "y.npy"), mode="w+", dtype=np.int32, shape=(rows,)
    )
    for first in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - first)
        # Embedding-like rows: a shared offset and uneven scales, so that
        # standardizing matters.
        block = rng.standard_normal((n, dims), dtype=np.float32)
        block *= np.linspace(0.5, 2.0, dims, dtype=np.float32)
        block += 0.25
        scores = block @ teacher + 0.5 * rng.standard_normal((n, classes), dtype=np.float32)
        x[first : first + n] = block
        y[first : first + n] = scores.argmax(axis=1)
        if (first // CHUNK_ROWS) % 32 == 0:
            print(f"{first + n}/{rows} rows", file=sys.stderr, flush=True)
    x.flush()
    y.flush()
    del x, y


if __name__ == "__main__":
    main()
