"""The dimension of a polynomial ideal over Q from a Gröbner basis (FLINT), with limits.

For polynomials ``f_1 … f_m`` with integer coefficients in ``P`` variables, the Krull dimension of
the ideal they generate (the dimension of their common zeros over ℂ) equals that of the ideal of
the leading monomials of a Gröbner basis, for any monomial order: ``P`` minus the fewest variables
that meet the support of every leading monomial (:func:`monomial_dimension`, branch and bound).
The basis is FLINT's ``fmpz_mpoly_vec.buchberger_naive`` in degree-reverse-lexicographic order
(python-flint), computed in a forked child process that is stopped after a time limit, within
limits on its length, the terms of one polynomial and the bits of a coefficient.

    >>> groebner_dimension([{(1, 1, 0): 1}, {(0, 1, 1): 1, (1, 0, 0): -1}], 3, seconds=None).dimension
    1
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

#: Limits of the Gröbner basis computation: basis length, terms of one polynomial, coefficient bits.
GROEBNER_LIMITS = (4000, 20000, 4000)
#: Seconds a Gröbner basis may take (it runs in a child process that is then stopped).
GROEBNER_SECONDS = 60.0
#: Search nodes of the smallest set of variables meeting every leading monomial.
MAX_COVER_NODES = 2_000_000


def monomial_dimension(
    monomials: list[tuple[int, ...]], num_vars: int, max_nodes: int = MAX_COVER_NODES
) -> int:
    """Krull dimension of the ideal spanned by ``monomials``: ``num_vars`` minus the fewest variables
    meeting every monomial's support (branch and bound; ``RuntimeError`` past ``max_nodes``)."""
    supports = sorted({frozenset(i for i, e in enumerate(m) if e) for m in monomials}, key=len)
    if any(not s for s in supports):
        return -1  # the ideal is the whole ring: V is empty
    minimal: list[frozenset[int]] = []
    for s in supports:
        if not any(m <= s for m in minimal):
            minimal.append(s)
    best = [num_vars + 1]
    nodes = [0]

    def search(chosen: frozenset[int], open_sets: list[frozenset[int]]) -> None:
        nodes[0] += 1
        if nodes[0] > max_nodes:
            raise RuntimeError(f"the cover search passed {max_nodes:,} nodes")
        if not open_sets:
            best[0] = min(best[0], len(chosen))
            return
        if len(chosen) + _disjoint_lower_bound(open_sets) >= best[0]:
            return
        for variable in sorted(open_sets[0]):
            search(chosen | {variable}, [s for s in open_sets if variable not in s])

    search(frozenset(), minimal)
    return num_vars - best[0]


def _disjoint_lower_bound(sets: list[frozenset[int]]) -> int:
    """Pairwise disjoint sets each need their own variable: a greedy packing counts some."""
    used: set[int] = set()
    count = 0
    for s in sets:
        if not (s & used):
            used |= s
            count += 1
    return count


@dataclass
class GroebnerDimension:
    """``dim V`` from a Gröbner basis over Q (``complete``) or, when a limit stopped it, ``None``."""

    dimension: int | None
    complete: bool
    basis_size: int
    seconds: float
    message: str = ""


def groebner_dimension(
    polynomials: list[dict[tuple[int, ...], int]],
    num_vars: int,
    limits: tuple[int, int, int] = GROEBNER_LIMITS,
    seconds: float | None = GROEBNER_SECONDS,
) -> GroebnerDimension:
    """Krull dimension of the ideal of ``polynomials`` (``{exponents: integer coefficient}``) over Q.

    The basis is computed in a child process that is stopped after ``seconds`` (``None``: in this
    process, without a time limit); its leading monomials come back.
    """
    started = time.perf_counter()
    if not polynomials:
        return GroebnerDimension(num_vars, True, 0, 0.0, "no equations")
    if seconds is None:
        outcome = _leading_monomials(polynomials, num_vars, limits)
    else:
        outcome = _in_child(polynomials, num_vars, limits, seconds)
        if outcome is None:
            return GroebnerDimension(
                None, False, 0, time.perf_counter() - started, f"stopped after {seconds:g} s"
            )
    complete, size, leading = outcome
    elapsed = time.perf_counter() - started
    if not complete:
        return GroebnerDimension(None, False, size, elapsed, f"stopped at the limits {limits}")
    try:
        dimension = monomial_dimension(leading, num_vars)
    except RuntimeError as error:
        return GroebnerDimension(None, False, size, elapsed, str(error))
    return GroebnerDimension(dimension, True, size, time.perf_counter() - started)


def _leading_monomials(
    polynomials: list[dict[tuple[int, ...], int]], num_vars: int, limits: tuple[int, int, int]
) -> tuple[bool, int, list[tuple[int, ...]]]:
    """FLINT's naive Buchberger in degrevlex: (finished, basis size, leading exponents)."""
    import flint

    context = flint.fmpz_mpoly_ctx.get(("t", num_vars), "degrevlex")
    vector = flint.fmpz_mpoly_vec([context.from_dict(p) for p in polynomials], context)
    basis, complete = vector.buchberger_naive(limits=limits)
    leading = [tuple(int(e) for e in basis[i].monoms()[0]) for i in range(len(basis))]
    return bool(complete), len(basis), leading


def _in_child(
    polynomials: list[dict[tuple[int, ...], int]], num_vars: int, limits: tuple[int, int, int], seconds: float
) -> tuple[bool, int, list[tuple[int, ...]]] | None:
    """:func:`_leading_monomials` in a forked process, ``None`` when it passes ``seconds``."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(send, polynomials, num_vars, limits), daemon=True)
    child.start()
    send.close()
    try:
        if receive.poll(seconds):
            return receive.recv()
        return None
    except EOFError:
        return None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()


def _child_main(send: Any, polynomials: list, num_vars: int, limits: tuple[int, int, int]) -> None:
    send.send(_leading_monomials(polynomials, num_vars, limits))
    send.close()
