"""Status list benchmarks: build + compress + sign, lookup, and publishing one revocation.

Run: ``.venv/bin/python bench/bench_statuslist.py`` (a few seconds).

Targets: a list of 1,048,576 two-bit entries built, compressed and signed in under 100 ms;
one lookup in a decoded list under 5 µs; a revocation published (flip one index, compress,
sign) in under 200 ms. Each time is the best of several runs, on one core.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from passerelle import jose, statuslist
from passerelle.keys import generate_key
from passerelle.statuslist import StatusList, create_status_list_token

SIZE = 1 << 20
BITS = 2
URI = "https://issuer.example/statuslists/1"
NOW = 1_800_000_000
REPEAT = 5


def best_of(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    key = generate_key("EdDSA")
    rng = random.Random(2026)
    cases = {
        "empty (all valid)": [],
        "sparse (1% revoked, random)": rng.sample(range(SIZE), SIZE // 100),
        "10% revoked, random": rng.sample(range(SIZE), SIZE // 10),
    }
    print(f"build + compress + sign, {SIZE:,} entries x {BITS} bits, EdDSA (best of {REPEAT})")
    print(f"{'case':30} {'level':>5} {'ms':>8} {'lst chars':>10} {'token bytes':>12}")
    for name, revoked in cases.items():
        for level in range(1, 10):
            token = ""

            def run(revoked: list[int] = revoked, level: int = level) -> None:
                nonlocal token
                lst = StatusList(BITS, SIZE)
                for index in revoked:
                    lst.set(index, statuslist.REVOKED)
                token = create_status_list_token(lst, key, uri=URI, now=NOW, level=level)

            seconds = best_of(run, 3 if level >= 8 else REPEAT)
            lst_len = len(jose.parse_compact(token).payload["status_list"]["lst"])
            mark = " <- default" if level == statuslist.DEFAULT_COMPRESSION_LEVEL else ""
            print(
                f"{name:30} {level:>5} {seconds * 1e3:>8.1f} {lst_len:>10,} {len(token):>12,}{mark}"
            )

    sparse = StatusList(BITS, SIZE)
    for index in cases["sparse (1% revoked, random)"]:
        sparse.set(index, statuslist.REVOKED)
    token = create_status_list_token(sparse, key, uri=URI, now=NOW)

    verify = best_of(
        lambda: statuslist.verify_status_list_token(token, key.public, expected_uri=URI, now=NOW)
    )
    print(f"\nverify + decode the sparse token: {verify * 1e3:.1f} ms")

    decoded = statuslist.verify_status_list_token(token, key.public, expected_uri=URI, now=NOW)
    indices = [rng.randrange(SIZE) for _ in range(100_000)]
    get = decoded.status_list.get
    lookup = best_of(lambda: [get(i) for i in indices]) / len(indices)
    print(f"one-index lookup in a decoded list: {lookup * 1e6:.2f} µs")

    for level in (statuslist.DEFAULT_COMPRESSION_LEVEL, 9):

        def publish(level: int = level) -> None:
            sparse.set(rng.randrange(SIZE), statuslist.REVOKED)
            create_status_list_token(sparse, key, uri=URI, now=NOW, level=level)

        print(
            f"publish one revocation (flip one index, compress, sign), level {level}: "
            f"{best_of(publish) * 1e3:.1f} ms"
        )


if __name__ == "__main__":
    main()
