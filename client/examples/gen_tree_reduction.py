#!/usr/bin/env python3
"""Generates tree-reduction.json: a pairwise sum of 0..leaves-1.

1,024 `const` leaves (leaf-0 .. leaf-1023, args {"value": i}) are added in
pairs, level by level, by 1,023 `add` tasks of exactly two inputs each; the
last one is `root`, whose result is 1023 * 1024 / 2 = 523776.

    python3 gen_tree_reduction.py > tree-reduction.json
    python3 gen_tree_reduction.py --leaves 64 > small-tree.json
"""
import argparse
import json
import sys


def build(leaves):
    if leaves < 2 or leaves & (leaves - 1):
        raise ValueError("--leaves must be a power of two, at least 2")
    tasks = [{"id": f"leaf-{i}", "fn": "const", "args": {"value": i}}
             for i in range(leaves)]
    level_ids = [task["id"] for task in tasks]
    level = 1
    while len(level_ids) > 1:
        next_ids = []
        for i in range(0, len(level_ids), 2):
            last = len(level_ids) == 2
            task_id = "root" if last else f"add-{level}-{i // 2}"
            tasks.append({"id": task_id, "fn": "add",
                          "inputs": [level_ids[i], level_ids[i + 1]]})
            next_ids.append(task_id)
        level_ids = next_ids
        level += 1
    return {"name": f"tree-reduction-{leaves}", "tasks": tasks}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1024)
    options = parser.parse_args()
    job = build(options.leaves)
    # One task per line: small enough to diff, easy to grep.
    sys.stdout.write('{"name": %s, "tasks": [\n' % json.dumps(job["name"]))
    sys.stdout.write(",\n".join("  " + json.dumps(task) for task in job["tasks"]))
    sys.stdout.write("\n]}\n")


if __name__ == "__main__":
    main()
