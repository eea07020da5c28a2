#!/usr/bin/env python3
"""Writes an embedding CSV exactly as lightly.utils.save_embeddings does (csv.writer, excel
dialect, '\\r\\n' line ends, str() of each np.float32), with shuffled filenames, plus the
mapping order (one filename per line, sorted) next to it.

usage: gen_csv.py OUT.csv ROWS DIM [SEED]
"""
import csv
import sys

import numpy as np


def save_embeddings(path, embeddings, labels, filenames):
    # Same as lightly.utils.io.save_embeddings (lightly 1.1.x).
    with open(path, "w") as f:
        writer = csv.writer(f)
        header = ["filenames"]
        header += [f"embedding_{i}" for i in range(embeddings.shape[-1])]
        header += ["labels"]
        writer.writerow(header)
        for filename, embedding, label in zip(filenames, embeddings, labels):
            writer.writerow([filename] + list(embedding) + [str(label)])


def main():
    out, rows, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    rng = np.random.default_rng(seed)
    emb = (rng.standard_normal((rows, dim)) * rng.uniform(0.01, 3.0, size=dim)).astype(np.float32)
    names = [f"images/class_{i % 100:03d}/img_{i:07d}.jpg" for i in range(rows)]
    mapping = sorted(names)
    order = rng.permutation(rows)
    names = [names[i] for i in order]
    labels = rng.integers(0, 10, size=rows)
    save_embeddings(out, emb, labels, names)
    with open(out + ".mapping", "w") as f:
        f.write("\n".join(mapping) + "\n")


if __name__ == "__main__":
    main()
