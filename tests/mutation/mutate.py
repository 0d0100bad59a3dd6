#!/usr/bin/env python3
"""Mutation check of the test suite (`make mutate`).

Each line of tests/mutation/mutants.txt is one small deliberate bug:

    id | file | pattern | replacement | tests (a ctest -R regex)

The script copies the tracked sources into a temporary tree, builds it once, then for each
mutant replaces the first occurrence of `pattern` in `file` (the pattern must occur, or the
mutant is reported as stale), rebuilds incrementally, runs the named tests and restores the
file. A mutant is killed when the tests fail, survives when they pass, and is invalid when it
does not compile. The score is killed / (killed + survived).

Usage: mutate.py [--only ID[,ID...]] [--keep] [--jobs N]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIST = os.path.join(ROOT, "tests", "mutation", "mutants.txt")


def load(path):
    mutants = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = [p.strip() for p in line.split(" | ")]
            if len(parts) != 5:
                sys.exit("%s:%d: want 5 fields 'id | file | pattern | replacement | tests', got %d"
                         % (path, n, len(parts)))
            mid, file, pat, rep, tests = parts
            # \| in a field stands for a literal " | " would-be separator; \n for a newline.
            pat = pat.replace("\\n", "\n")
            rep = rep.replace("\\n", "\n")
            mutants.append({"id": mid, "file": file, "pattern": pat, "replacement": rep,
                            "tests": tests, "line": n})
    return mutants


def run(cmd, cwd, log, timeout=None):
    with open(log, "ab") as out:
        try:
            return subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return 124


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", action="store_true", help="keep the temporary tree")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()

    mutants = load(LIST)
    if args.only:
        want = set(args.only.split(","))
        mutants = [m for m in mutants if m["id"] in want]
    ids = [m["id"] for m in mutants]
    if len(ids) != len(set(ids)):
        sys.exit("duplicate mutant ids in %s" % LIST)

    tree = tempfile.mkdtemp(prefix="ztpd-mutate.")
    log = os.path.join(tree, "mutate.log")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    src = os.path.join(tree, "src")
    for f in files:
        if not f:
            continue
        dst = os.path.join(src, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.isfile(os.path.join(ROOT, f)):
            shutil.copy2(os.path.join(ROOT, f), dst)

    # Stale mutants first: a pattern that no longer occurs means the list needs an update.
    stale = []
    for m in mutants:
        p = os.path.join(src, m["file"])
        if not os.path.isfile(p) or m["pattern"] not in open(p, encoding="utf-8").read():
            stale.append(m)
    if stale:
        for m in stale:
            print("STALE   %-28s %s: pattern not found (mutants.txt line %d)"
                  % (m["id"], m["file"], m["line"]))
        sys.exit("%d stale mutant(s): update tests/mutation/mutants.txt" % len(stale))

    build = os.path.join(tree, "build")
    print("tree: %s (log: %s)" % (tree, log), flush=True)
    if run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
            "-DZTPD_WERROR=OFF"], tree, log) != 0 or \
       run(["cmake", "--build", build, "-j", str(args.jobs)], tree, log) != 0:
        sys.exit("baseline build failed: see %s" % log)
    env_tests = os.environ.copy()

    results = {"killed": [], "survived": [], "invalid": []}
    for m in mutants:
        path = os.path.join(src, m["file"])
        original = open(path, encoding="utf-8").read()
        mutated = original.replace(m["pattern"], m["replacement"], 1)
        start = time.time()
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(mutated)
            with open(log, "a") as f:
                f.write("\n==== %s: %s\n" % (m["id"], m["file"]))
            if run(["cmake", "--build", build, "-j", str(args.jobs)], tree, log) != 0:
                verdict = "invalid"
            else:
                rc = run(["ctest", "-R", m["tests"], "-j", str(args.jobs), "--timeout", "300",
                          "--no-tests=error"], build, log, timeout=1800)
                verdict = "killed" if rc != 0 else "survived"
        finally:
            with open(path, "w", encoding="utf-8") as f:
                f.write(original)
        results[verdict].append(m["id"])
        print("%-8s %-28s %5.0f s  %s  [%s]" % (verdict.upper(), m["id"], time.time() - start,
                                                m["file"], m["tests"]), flush=True)

    # Leave the tree built from the unmutated sources.
    run(["cmake", "--build", build, "-j", str(args.jobs)], tree, log)
    k, s, i = (len(results[x]) for x in ("killed", "survived", "invalid"))
    score = 100.0 * k / (k + s) if k + s else 0.0
    print("\n%d mutants: %d killed, %d survived, %d invalid; score %.1f%%" % (len(mutants), k, s, i, score))
    if results["survived"]:
        print("survived: " + ", ".join(results["survived"]))
    if not args.keep:
        shutil.rmtree(tree, ignore_errors=True)
    return 0 if not results["survived"] else 1


if __name__ == "__main__":
    sys.exit(main())
