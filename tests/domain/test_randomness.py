import os
import re
from collections import Counter

from cauri.domain.randomness import BASE36, base36, random_hex


def test_base36_draws_every_digit_about_equally_and_never_repeats_a_draw() -> None:
    draws = [base36(16) for _ in range(5000)]  # 80,000 digits, several 4 KB batches
    assert len(set(draws)) == len(draws)
    assert all(re.fullmatch(r"[0-9a-z]{16}", d) for d in draws)
    counts = Counter("".join(draws))
    assert set(counts) == set(BASE36)
    expected = 80_000 / 36
    # Rejection sampling keeps the digits uniform: each within 10 % of its share (~7 standard deviations).
    assert all(abs(n - expected) < expected / 10 for n in counts.values()), counts


def test_random_hex_is_hex_of_the_requested_size() -> None:
    values = {random_hex(8) for _ in range(2000)}
    assert len(values) == 2000
    assert all(re.fullmatch(r"[0-9a-f]{16}", v) for v in values)


def test_a_forked_child_never_hands_out_its_parents_next_ids() -> None:
    base36(1)  # the parent has a batch read ahead
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write its next id, leave at once
        os.write(write, base36(16).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert re.fullmatch(r"[0-9a-z]{16}", child)
    assert child != base36(16)
