"""polyequiv: the weight ties that make polynomial layers permutation-equivariant, derived exactly.

    >>> from polyequiv import LayerSpec, derive
    >>> derive(LayerSpec(n=5, degree=2)).distinct_weights
    4

Convention used throughout: (σ·x)_i = x_{σ(i)}; a layer is equivariant when
f(σ·x) = σ·f(x) and invariant when f(σ·x) = f(x).
"""

from polyequiv.derivation import Derivation, derive
from polyequiv.errors import SchemeFileError, SizeLimitError, SpecError
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.scheme import TyingScheme, load_scheme
from polyequiv.spec import LayerSpec
from polyequiv.specs import parse_spec
from polyequiv.verify import verify

__version__ = "0.1.0"

__all__ = [
    "Derivation",
    "LayerSpec",
    "MatrixLayerSpec",
    "SchemeFileError",
    "SizeLimitError",
    "SpecError",
    "TyingScheme",
    "__version__",
    "derive",
    "load_scheme",
    "parse_spec",
    "verify",
]
