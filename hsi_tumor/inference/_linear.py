"""Linear decisions fused with the preprocessing: ``tail(x) W + w₀`` as one matrix product.

A linear decision ``z W + w₀`` of affine features ``z = u A + b`` is ``u (A W) + (b W + w₀)``:
the preprocessing tail and the classifier collapse into one ``(n_bands, n_outputs)`` matrix,
evaluated in float64 (steps before the tail keep the input's precision).

Error bound, per pixel and output column ``c`` (``ε_tail`` the epsilon of the precision
scikit-learn evaluates the tail in, ``ν`` the tail's input scale from
:class:`~hsi_tumor.preprocessing._affine.Stage`)::

    e_c = 2 · [ c_pre ε_tail (ν κ + β) ‖W_c‖            scikit-learn's rounded features
              + c_own ε₆₄ (ν ‖A W‖ + ‖b W + w₀‖) ]         our product, n terms long

with ``c_pre``, ``c_own`` from :func:`~hsi_tumor.preprocessing._affine.rounding_factor`

The first term is zero when there is no preprocessing tail (scikit-learn then sees the same
features as we do: the prefix is its own ``transform``). scikit-learn evaluates the decision
itself in float64.

A tail that scikit-learn evaluates in float32 (a ``StandardScaler`` on a float32 cube, a PCA
fitted on float32 data) is not fused for float32 pixels: its steps run by their own
``transform``, as scikit-learn runs them, and only the decision ``z W + w₀`` is ours, so the
first term is zero there too. Fusing it saved one pass over the features but cost far more:
on Indian Pines (real AVIRIS, 4 classes, SNV → StandardScaler → LogisticRegression) the first
term's bound sent 51 % of the pixels back to scikit-learn, and the fast path was 3.4x slower
than ``predict_proba``.

Handing back the features (``features=``, for the training-domain flag of
:class:`~hsi_tumor.inference._classify._DomainFlag`): the decision is then not fused. The
features are :meth:`~hsi_tumor.preprocessing._affine.AffineChain.exact_stage`'s (scikit-learn's
``pipeline[:-1].transform``, up to float64 rounding where the tail is fused in float64), and the
decision is ``z W + w₀`` on them, in float64, with the bound::

    e_c = 2 · [ c_own ε₆₄ (‖z‖ ‖W‖ + ‖w₀‖)                 our product
              + c_tail ε₆₄ (ν κ + β) ‖W_c‖ ]                the fused tail's rounding, if any

(``ν κ + β`` the tail's feature scale, ``c_tail`` its rounding factor.) Computing the features
once for both costs about what the fused product saved: on Indian Pines (LDA, SNV, 200 bands)
the flag had computed SNV a second time, as much as the whole classification.
"""

from __future__ import annotations

import numpy as np

from hsi_tumor.preprocessing._affine import (
    Affine,
    AffineChain,
    Stage,
    rounding_factor,
    tail_rounding_factor,
)

__all__ = ["SAFETY", "LinearScorer"]

#: Factor between the first-order rounding bounds and the bound used to flag near-ties.
SAFETY = 2.0


class LinearScorer:
    """``pixels -> (decisions (n, k) float64, error bounds (n, k) float64)``.

    Parameters
    ----------
    chain : AffineChain
        The preprocessing split by :func:`~hsi_tumor.preprocessing._affine.split_chain`.
    weights : ndarray of shape (n_features, k)
        Decision weights on the preprocessed features.
    intercept : ndarray of shape (k,)
        Decision offsets.
    """

    def __init__(self, chain: AffineChain, weights: np.ndarray, intercept: np.ndarray) -> None:
        weights = np.asarray(weights, dtype=np.float64)
        intercept = np.asarray(intercept, dtype=np.float64).reshape(-1)
        n_features = weights.shape[0]
        affine = chain.affine
        pre = affine if affine is not None else Affine.identity(n_features)
        decision = Affine(n_features, None, weights, intercept, False)
        total = pre.then(decision, rounded=False)
        # float64: a handful of outputs make the product memory-bound, so it costs about the
        # same, and unregularised models (large decisions) need the precision for softmax
        self.stage = Stage(chain.prefix, total)
        self._tail64 = chain.float64
        # float32 pixels through a float32 tail: scikit-learn's own steps, then the decision
        alone = Affine.identity(n_features).then(decision, rounded=False)
        self._stage32 = None if affine is None or chain.float64 else Stage(chain.steps, alone)
        self._own_factor32 = 8 * rounding_factor(2, n_features)
        n_in = total.n_in
        self._pre_factor = tail_rounding_factor(affine)
        # scikit-learn's feature error ~ ε (ν κ_pre + β_pre), times ‖W_c‖ on decision c; our
        # scale is ν κ_tot + β_tot: ours / gain · sk_gain converts it (κ_tot ≤ κ_pre ‖W‖)
        w_norm = float(np.linalg.norm(weights, 2)) if weights.size else 0.0
        self._gain = max(w_norm, np.finfo(float).tiny)
        self._sk_gain = np.linalg.norm(weights, axis=0)
        self._own_factor = 8 * rounding_factor(2, n_in)  # our arithmetic: the plain count
        self.n_outputs = weights.shape[1]
        # features= : scikit-learn's features, then the decision alone (see the module)
        self._exact = chain.exact_stage()
        self._decide = Stage([], alone)
        self._feature_factor = tail_rounding_factor(self._exact.affine)
        self.n_features = n_features

    def __call__(
        self, x: np.ndarray, features: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decisions (n, k) and their bounds (n, k) of pixels ``x``; ``features`` (n,
        n_features), when given, receives scikit-learn's features of ``x`` (then the decision
        is evaluated on them, not fused: see the module)."""
        eps = float(np.finfo(np.float64).eps)
        if features is not None:
            return self._on_features(x, features, eps)
        if x.dtype == np.float32 and self._stage32 is not None:
            dec, scale = self._stage32(x)
            err = np.repeat((self._own_factor32 * eps * scale)[:, np.newaxis], dec.shape[1], 1)
            return dec, err * SAFETY
        tail32 = x.dtype == np.float32 and not self._tail64
        eps_tail = float(np.finfo(np.float32 if tail32 else np.float64).eps)
        dec, scale = self.stage(x)
        # scale = ν ‖A W‖₂ + ‖b W + w₀‖ bounds our decisions' size before rounding
        err = np.repeat((self._own_factor * eps * scale)[:, np.newaxis], dec.shape[1], axis=1)
        if self._pre_factor:  # scikit-learn's preprocessing, in the input's precision
            err += (self._pre_factor * eps_tail * scale / self._gain)[:, np.newaxis] * self._sk_gain
        err *= SAFETY
        return dec, err

    def _on_features(
        self, x: np.ndarray, features: np.ndarray, eps: float
    ) -> tuple[np.ndarray, np.ndarray]:
        z, feature_scale = self._exact(x)
        features[:] = z
        dec, scale = self._decide(features)  # float64 already
        err = np.repeat((self._own_factor32 * eps * scale)[:, np.newaxis], dec.shape[1], 1)
        if feature_scale is not None:  # the fused tail's rounding, through each W_c
            err += (self._feature_factor * eps * feature_scale)[:, np.newaxis] * self._sk_gain
        err *= SAFETY
        return dec, err
