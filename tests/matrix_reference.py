"""Independent numerical references for matrix-group layers, written for the tests only.

Nothing here calls the library's group actions, engines or solvers: group elements are drawn from the
groups' definitions (Haar-like orthogonal matrices from QR, explicit boosts, signed permutations), the
representation matrices are Kronecker products built here, monomials come from itertools, and the
dimension of the equivariant space is read off either

* a dense float64 SVD of ``f(ρ_in(h) x) = ρ_out(h) f(x)`` over many random ``(h, x)`` (any group), or
* the character average ``(1/|G|) Σ_h h_d(ρ_in(h)) χ_out(h)`` over every element (finite groups).
"""

from __future__ import annotations

import itertools
import json
import re
from fractions import Fraction
from functools import reduce

import numpy as np
from scipy.linalg import expm

from polyequiv.matrix_spec import MatrixLayerSpec


def _haar_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _boost(q: int, rng: np.random.Generator, spread: float = 0.4) -> np.ndarray:
    w = rng.standard_normal(q) * spread
    phi = float(np.linalg.norm(w))
    n = w / phi
    out = np.eye(q + 1)
    out[0, 0] = np.cosh(phi)
    out[0, 1:] = out[1:, 0] = np.sinh(phi) * n
    out[1:, 1:] += (np.cosh(phi) - 1) * np.outer(n, n)
    return out


def _lorentz(kind: str, q: int, rng: np.random.Generator) -> np.ndarray:
    rotation = _haar_orthogonal(q, rng)
    if kind != "O" and np.linalg.det(rotation) < 0:
        rotation[:, 0] *= -1
    flip = np.eye(q + 1)
    if kind == "O" and rng.integers(2):
        flip[0, 0] = -1  # time reversal
    if kind == "SO" and rng.integers(2):
        flip[0, 0] = flip[1, 1] = -1  # the other component of determinant one
    return _boost(q, rng) @ np.block([[np.eye(1), np.zeros((1, q))], [np.zeros((q, 1)), rotation]]) @ flip


def _custom(label: str, rng: np.random.Generator) -> np.ndarray:
    document = json.loads(label[label.index("{") :])
    finite = [np.array([[float(Fraction(str(v))) for v in row] for row in g]) for g in document["finite"]]
    lie = [np.array([[float(Fraction(str(v))) for v in row] for row in a]) for a in document["lie"]]
    d = len((finite + lie)[0])
    coefficients = rng.standard_normal(len(lie)) * 0.5
    element = expm(sum((c * a for c, a in zip(coefficients, lie, strict=True)), np.zeros((d, d))))
    for _ in range(int(rng.integers(0, 6)) if finite else 0):
        element = element @ finite[int(rng.integers(len(finite)))]
    return element


def random_matrix(label: str, rng: np.random.Generator) -> np.ndarray:
    """A random element of the matrix group called ``label``, from its definition."""
    if label.startswith("M"):
        return _custom(label, rng)
    kind, first, second = re.fullmatch(r"(SO\+|SO|O|B)\((\d+)(?:,(\d+))?\)", label).groups()
    if second is not None:
        return _lorentz(kind, int(second), rng)
    d = int(first)
    if kind == "B":
        return np.eye(d)[rng.permutation(d)] * rng.choice([-1.0, 1.0], size=d)[:, None]
    g = _haar_orthogonal(d, rng)
    if kind == "SO" and np.linalg.det(g) < 0:
        g[:, 0] *= -1
    return g


def random_permutation(letter: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """A random element of Sₙ, Cₙ or Dₙ in array form."""
    if letter == "S":
        return rng.permutation(n)
    shift = (np.arange(n) + int(rng.integers(n))) % n
    return shift if letter == "C" or rng.integers(2) == 0 else (-shift) % n


def _point_coordinates(term: str, n: int) -> list[tuple[int, ...]]:
    if term == "E":
        return list(itertools.combinations(range(n), 2))
    arity = 0 if term == "1" else int(term[1:] or 1)
    return list(itertools.product(range(n), repeat=arity))


def representation_matrix(terms, n: int, sigma: np.ndarray | None, g: np.ndarray) -> np.ndarray:
    """``⊕_terms I_m ⊗ P_σ ⊗ g^{⊗k}`` with ``(P_σ x)_c = x_{σ(c)}`` (σ on every index, pairs re-sorted)."""
    blocks = []
    for term in terms:
        coordinates = _point_coordinates(term.points, n)
        number = {c: i for i, c in enumerate(coordinates)}
        moved = np.zeros((len(coordinates), len(coordinates)))
        for i, c in enumerate(coordinates):
            image = tuple(int(sigma[j]) for j in c) if sigma is not None else c
            moved[i, number[tuple(sorted(image)) if term.points == "E" else image]] = 1
        tensor = reduce(np.kron, [g] * term.power, np.eye(1))
        blocks.append(np.kron(np.eye(term.multiplicity), np.kron(moved, tensor)))
    size = sum(b.shape[0] for b in blocks)
    out, offset = np.zeros((size, size)), 0
    for block in blocks:
        out[offset : offset + len(block), offset : offset + len(block)] = block
        offset += len(block)
    return out


def random_element(spec: MatrixLayerSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(ρ_in, ρ_out)`` of a random group element (``ρ_in`` with the bias coordinate, fixed)."""
    g = random_matrix(spec.group.matrix.label, rng)
    sigma = random_permutation(spec.group.points, spec.n, rng) if spec.group.points else None
    rho_in = representation_matrix(spec.input.terms, spec.n, sigma, g)
    if spec.bias:
        rho_in = np.block([[rho_in, np.zeros((len(rho_in), 1))], [np.zeros((1, len(rho_in))), np.eye(1)]])
    return rho_in, representation_matrix(spec.output.terms, spec.n, sigma, g)


def monomials(x: np.ndarray, degree: int) -> np.ndarray:
    """All monomials of degree ``degree`` of the columns of ``x`` (batch, N), as (batch, M)."""
    combos = list(itertools.combinations_with_replacement(range(x.shape[1]), degree))
    return np.stack([np.prod(x[:, list(c)], axis=1) for c in combos], axis=1)


def numeric_function_dim(spec: MatrixLayerSpec, seed: int = 0) -> tuple[int, float]:
    """Dimension of ``{W : f_W(ρ_in(h) x) = ρ_out(h) f_W(x)}`` on random ``(h, x)`` by SVD, and the gap
    (smallest nonzero singular value over the largest) that separates it from the rest."""
    rng = np.random.default_rng(seed)
    outputs, big_n = spec.num_outputs, spec.num_inputs
    size = monomials(np.ones((1, big_n)), spec.degree).shape[1]
    rows = []
    for _ in range(3 * size + 5):
        rho_in, rho_out = random_element(spec, rng)
        x = rng.standard_normal(big_n)
        if spec.bias:
            x[-1] = 1.0
        moved, plain = monomials((rho_in @ x)[None], spec.degree)[0], monomials(x[None], spec.degree)[0]
        rows.append(np.kron(np.eye(outputs), moved[None]) - np.kron(rho_out, plain[None]))
    singular = np.linalg.svd(np.concatenate(rows), compute_uv=False)
    singular = singular / max(singular[0], 1.0)  # rows hold entries of order 1; all zero: no constraint
    nullity = int(np.count_nonzero(singular < 1e-9)) + max(outputs * size - len(singular), 0)
    nonzero = singular[singular >= 1e-9]
    return nullity, float(nonzero.min()) if nonzero.size else 1.0


def finite_elements(spec: MatrixLayerSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every ``(ρ_in, ρ_out)`` of a finite group: ``B(n)``, ``O(1)``, the quarter-turn group, times
    Sₙ/Cₙ/Dₙ."""
    label = spec.group.matrix.label
    d = spec.dim
    if label.startswith("B"):
        matrices = [
            np.eye(d)[list(p)] * np.array(s)[:, None]
            for p in itertools.permutations(range(d))
            for s in itertools.product((1.0, -1.0), repeat=d)
        ]
    elif label == "O(1)":
        matrices = [np.eye(1), -np.eye(1)]
    else:
        turn = np.array([[0.0, -1.0], [1.0, 0.0]])
        matrices = [np.linalg.matrix_power(turn, k) for k in range(4)]
    if spec.group.points is None:
        perms = [None]
    else:
        n, letter = spec.n, spec.group.points
        shifts = [(np.arange(n) + k) % n for k in range(n)]
        perms = (
            [np.array(p) for p in itertools.permutations(range(n))]
            if letter == "S"
            else shifts
            if letter == "C"
            else {tuple(s): s for s in shifts + [(-s) % n for s in shifts]}.values()
        )
    out = []
    for sigma in perms:
        for g in matrices:
            rho_in, rho_out = (
                representation_matrix(r.terms, spec.n, sigma, g) for r in (spec.input, spec.output)
            )
            out.append(
                (
                    np.block([[rho_in, np.zeros((len(rho_in), 1))], [np.zeros((1, len(rho_in))), np.eye(1)]])
                    if spec.bias
                    else rho_in,
                    rho_out,
                )
            )
    return out


def character_dim(spec: MatrixLayerSpec) -> int:
    """``(1/|G|) Σ_h h_d(eigenvalues of ρ_in(h)) · tr ρ_out(h)`` (Molien in degree d), rounded."""
    total = 0.0
    elements = finite_elements(spec)
    for rho_in, rho_out in elements:
        powers = [np.trace(np.linalg.matrix_power(rho_in, j)) for j in range(1, spec.degree + 1)]
        h = [1.0]
        for j in range(1, spec.degree + 1):
            h.append(sum(powers[i - 1] * h[j - i] for i in range(1, j + 1)) / j)
        total += h[spec.degree] * np.trace(rho_out)
    value = total / len(elements)
    assert abs(value - round(value)) < 1e-6, value
    return round(value)
