r"""Random forests and extra trees on tiles of pixels: every tree in one compiled kernel.

``RandomForestClassifier.predict_proba`` walks each tree over all the pixels it is given, one
pixel after the other (a hard-to-predict branch at every node), then gathers and adds each
tree's leaf values over all of them: for a cube, hundreds of MB read again for every tree.
Here a numba kernel takes the pixels in blocks of :data:`BLOCK_BYTES` (a block's spectra
stay in cache while every tree passes over it) and sends a block through a tree node by node:
a node's pixels are a segment of an index array, split into those going left and those going
right without a branch per pixel (depth first, empty subtrees skipped); a leaf adds its value
to its pixels' sums. The kernel releases the GIL, so ``classify_cube``'s tile threads run in
parallel whatever the forest's ``n_jobs``.

Exactly scikit-learn's probabilities
------------------------------------
With ``n_jobs=1`` scikit-learn (:mod:`sklearn.ensemble._forest`, ``_accumulate_prediction``)
converts ``X`` to float32, takes each tree's leaf value (``tree_.value``; since scikit-learn
1.4 the stored values are already the leaf's class fractions, which ``predict_proba`` returns
as they are), adds them in tree order into a float64 accumulator that starts at zero, and
divides it by the number of trees. The kernel performs these same float64 operations in the
same order for every pixel, so its probabilities are bitwise those of ``predict_proba`` at
``n_jobs=1``, and the labels are ``classes_[argmax]`` of them, as ``predict``. When every leaf
is pure (one fraction 1.0, the others 0.0: trees grown to the end, scikit-learn's default)
the sums are whole numbers, exact in any order, and a leaf adds 1.0 to its class's sum alone
— the same bits with one addition per tree instead of one per class.

A node sends a pixel left when ``x <= threshold``, ``x`` float32 and ``threshold`` float64
(the float32 value promoted); the packed node holds ``t₃₂``, the largest float32 not above
the threshold, for which ``x <= t₃₂ ⇔ x <= threshold`` for every float32 ``x``. A NaN goes
to the side of ``tree_.missing_go_to_left``, ±inf compare as numbers: scikit-learn's own
traversal (``Tree._apply_dense``), i.e. ``predict_proba`` under
``sklearn.config_context(assume_finite=True)``, as ``classify_cube``'s scikit-learn path calls
it (without it, scikit-learn refuses inf, and NaN for trees fitted without missing values).

With ``n_jobs > 1`` scikit-learn adds the trees' values in the order its threads finish them
(under a lock), so its own result varies in the last bits from run to run wherever leaves are
not pure (measured: 16 classes, ``max_depth=4``, 2 threads: 18–85 thousand of 320 thousand
probabilities differ from ``n_jobs=1``, by up to 4e-17, different ones at each call); trees
grown until their leaves are pure (leaf values 0 or 1) sum exactly in any order. This
predictor ignores the forest's ``n_jobs`` (``classify_cube`` runs tiles on threads instead)
and always gives the ``n_jobs=1`` result: it is identical to ``predict_proba`` at
``n_jobs=1``.

Safety
------
The kernel trusts the packed arrays, so they are checked first with the checks of model files
(:mod:`hsi_tumor.models._fitted`): child indices inside the tree and after their parent (no
cycle), every node but the root the child of exactly one node, split features inside
``n_features_in_``, no NaN or −inf threshold, finite values; pixels must have exactly
``n_features_in_`` columns.

Without numba (or with :data:`USE_NUMBA` off) the same sums are made with scikit-learn's
trees: ``tree.predict_proba`` tree by tree into one accumulator, as ``n_jobs=1`` does.
"""

from __future__ import annotations

import logging
import threading
import weakref

import numpy as np
import sklearn
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from hsi_tumor._shared.errors import InvalidOptionError, ModelFileError
from hsi_tumor.models._fitted import _check_forest, _check_tree
from hsi_tumor.preprocessing._affine import flatten_steps, split_chain

logger = logging.getLogger("hsi_tumor.inference")

__all__ = ["BLOCK_BYTES", "BLOCK_PIXELS", "USE_NUMBA", "ForestPredictor", "forest_predictor"]

#: Evaluate the trees with the numba kernel (False: scikit-learn's trees, the same sums).
USE_NUMBA = True

#: Bytes of transposed float32 spectra per block: the pixels sent through every tree before
#: the next block. They stay in cache while all the trees pass over them, and a tree's nodes
#: each get enough pixels to amortise the work per node. Measured, one thread: on 200
#: features 4096–8192 pixels (3–6 MiB) were best, 2048 up to 25 % slower (trees of
#: 1,300–4,600 nodes) and 16384 up to 40 %; on 50 features 16384 pixels (3 MiB) was 24 %
#: faster than 4096 (trees of 19,600 nodes).
BLOCK_BYTES = 4 << 20

#: Pixels per block, when set (tests); by default ``BLOCK_BYTES / (4 n_features)`` within
#: 1024–16384.
BLOCK_PIXELS: int | None = None


def _block_pixels(n_features: int) -> int:
    if BLOCK_PIXELS is not None:
        return BLOCK_PIXELS
    return int(np.clip(BLOCK_BYTES // (4 * n_features), 1024, 16384))


_FORESTS = (RandomForestClassifier, ExtraTreesClassifier)


# --- the kernel ------------------------------------------------------------------------------


def _make_kernel():
    import numba

    @numba.njit(nogil=True, cache=True)
    def forest_sum(
        x, feature, left, right, threshold, missing_left, leaf_row, roots, leaf_values,
        leaf_class, stack_size, block, out,
    ):  # fmt: skip
        """``out[i] = (Σ_t value_t(leaf of x[i])) / n_trees``, trees in order, block by block.

        A block's spectra are transposed (a node reads one contiguous column). Per tree, a
        node's pixels are a segment of one of two index rows; it is split into the other row,
        those going left from the segment's start and those going right from its end,
        without a branch per pixel. A leaf adds its value to its pixels' sums. Indices are
        unsigned (numba adds no negative-index wraparound), and the rows of the scratch arrays
        are padded off multiples of 4 KiB (loads and stores 4 KiB apart stall on x86).
        """
        n = x.shape[0]
        n_features = x.shape[1]
        n_classes = leaf_values.shape[1]
        n_trees = roots.shape[0]
        pure = leaf_class.shape[0] > 0
        one = np.uint64(1)
        zero = np.uint64(0)
        columns = np.empty((n_features, block + 8), np.float32)
        order = np.empty((2, block + 24), np.uint32)
        stack_node = np.empty(stack_size, np.uint64)
        stack_start = np.empty(stack_size, np.uint64)
        stack_stop = np.empty(stack_size, np.uint64)
        stack_row = np.empty(stack_size, np.uint64)
        for first in range(0, n, block):
            m = min(n, first + block) - first
            for j in range(m):
                for c in range(n_classes):
                    out[first + j, c] = 0.0
                for f in range(n_features):
                    columns[f, j] = x[first + j, f]
            for t in range(n_trees):
                for j in range(m):
                    order[0, j] = np.uint32(j)
                stack_node[0] = np.uint64(roots[t])
                stack_start[0] = zero
                stack_stop[0] = np.uint64(m)
                stack_row[0] = zero
                top = 1
                while top > 0:
                    top -= 1
                    k = stack_node[top]
                    s = stack_start[top]
                    e = stack_stop[top]
                    a = stack_row[top]
                    src = order[a]
                    if left[k] < 0:  # a leaf
                        row = np.uint64(leaf_row[k])
                        if pure:  # adds 1.0 to one class and 0.0 to the others: exact
                            cls = np.uint64(leaf_class[row])
                            for j in range(s, e):
                                out[first + src[j], cls] += 1.0
                            continue
                        for j in range(s, e):
                            i = first + src[j]
                            for c in range(n_classes):
                                out[i, c] += leaf_values[row, c]
                        continue
                    b = one - a
                    dst = order[b]
                    column = columns[np.uint64(feature[k])]
                    thr = threshold[k]
                    nan_left = missing_left[k] != 0
                    lo = s
                    hi = e - one
                    for j in range(s, e):
                        i = src[j]
                        v = column[i]
                        go = np.uint64((v <= thr) | ((v != v) & nan_left))
                        dst[lo] = i  # one of the two stays: the other slot is written again
                        dst[hi] = i
                        lo += go
                        hi -= one - go
                    if lo < e:
                        stack_node[top] = np.uint64(right[k])
                        stack_start[top] = lo
                        stack_stop[top] = e
                        stack_row[top] = b
                        top += 1
                    if lo > s:
                        stack_node[top] = np.uint64(left[k])
                        stack_start[top] = s
                        stack_stop[top] = lo
                        stack_row[top] = b
                        top += 1
            for j in range(m):
                for c in range(n_classes):
                    out[first + j, c] /= n_trees
        return out

    return forest_sum


_KERNEL: list = []


def _kernel():
    """The compiled kernel, or None when numba cannot be imported or :data:`USE_NUMBA` is off."""
    if not USE_NUMBA:
        return None
    if not _KERNEL:
        try:
            _KERNEL.append(_make_kernel())
        except ImportError:
            logger.info("numba is not installed: forests are evaluated by scikit-learn's trees")
            _KERNEL.append(None)
    return _KERNEL[0]


# --- packing ---------------------------------------------------------------------------------


def _floor_float32(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 not above each float64 threshold (+inf stays +inf)."""
    with np.errstate(over="ignore"):  # beyond float32: inf, then the largest float32
        t32 = threshold.astype(np.float32)
    above = t32.astype(np.float64) > threshold
    t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
    return t32


class _Packed:
    """The trees of a forest as flat arrays, node ids global across trees.

    ``feature``, ``left``, ``right`` (int32; a leaf's children are −1), ``threshold``
    (float32, :func:`_floor_float32`), ``missing_left`` (uint8), ``leaf_row`` (int32: a leaf's
    row of ``leaf_values``, its ``tree_.value``, float64), ``roots`` (each tree's first node)
    and ``stack_size`` (more than any tree's nodes: the kernel's depth-first stack).
    """

    def __init__(self, forest) -> None:
        n_features = int(forest.n_features_in_)
        n_classes = len(forest.classes_)
        trees = [estimator.tree_ for estimator in forest.estimators_]
        for tree in trees:
            _check_tree(tree, n_features)
            if tree.value.shape != (tree.node_count, 1, n_classes):
                raise ModelFileError(
                    f"a tree's values have shape {tree.value.shape}, not "
                    f"({tree.node_count}, 1, {n_classes})",
                    field="model",
                    fix="use an unaltered model, or train it again",
                )
        sizes = np.array([tree.node_count for tree in trees], dtype=np.int64)
        if sizes.sum() >= 2**31:
            raise InvalidOptionError(
                f"the forest has {sizes.sum()} nodes, more than 2**31",
                field="model",
                fix="train a smaller forest",
            )
        leaves = [tree.children_left == -1 for tree in trees]
        n_nodes = int(sizes.sum())
        self.n_features = n_features
        self.n_nodes = n_nodes
        self.feature = np.zeros(n_nodes, np.int32)
        self.left = np.full(n_nodes, -1, np.int32)
        self.right = np.full(n_nodes, -1, np.int32)
        self.threshold = np.full(n_nodes, np.inf, np.float32)
        self.missing_left = np.empty(n_nodes, np.uint8)
        self.leaf_row = np.full(n_nodes, -1, np.int32)
        self.leaf_values = np.empty((sum(int(leaf.sum()) for leaf in leaves), n_classes))
        self.roots = np.zeros(len(trees), np.int32)
        self.roots[1:] = np.cumsum(sizes)[:-1]
        self.stack_size = int(sizes.max()) + 1
        n_leaves = 0
        for tree, leaf, root in zip(trees, leaves, self.roots.tolist(), strict=True):
            here = slice(root, root + tree.node_count)
            inner = np.flatnonzero(~leaf)
            self.feature[here][inner] = tree.feature[inner]
            self.left[here][inner] = tree.children_left[inner] + root
            self.right[here][inner] = tree.children_right[inner] + root
            self.threshold[here][inner] = _floor_float32(tree.threshold[inner])
            self.missing_left[here] = tree.missing_go_to_left
            rows = np.flatnonzero(leaf)
            self.leaf_row[here][rows] = np.arange(n_leaves, n_leaves + rows.size)
            self.leaf_values[n_leaves : n_leaves + rows.size] = tree.value[rows, 0, :]
            n_leaves += rows.size
        # every leaf pure (one fraction 1, the others 0: trees grown to the end): scikit-learn's
        # float64 sums are then whole numbers, exact in any order, and adding 1.0 to the leaf's
        # class alone gives the same bits (one addition per tree instead of one per class)
        values = self.leaf_values
        one_hot = ((values == 0.0) | (values == 1.0)).all() and (values.sum(axis=1) == 1.0).all()
        self.leaf_class = (
            np.argmax(values, axis=1).astype(np.int32) if one_hot else np.zeros(0, np.int32)
        )

    def arguments(self) -> tuple:
        """The kernel's arguments before ``block`` and ``out``."""
        return (
            self.feature, self.left, self.right, self.threshold, self.missing_left,
            self.leaf_row, self.roots, self.leaf_values, self.leaf_class, self.stack_size,
        )  # fmt: skip


_PACKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PACKED_LOCK = threading.Lock()


def _packed(forest) -> _Packed:
    """The forest's :class:`_Packed` arrays, packed and checked once per fitted forest.

    Kept while the forest lives, for as long as it holds the same tree objects (refitting
    replaces them): packing and checking 200 trees costs about 27 ms, paid before at every
    ``classify_cube`` call. The kernel reads only these checked copies, so a tree edited in
    place after the first call cannot make it read out of bounds.
    """
    trees = tuple(estimator.tree_ for estimator in forest.estimators_)
    with _PACKED_LOCK:
        entry = _PACKED.get(forest)
    if (
        entry is not None
        and len(entry[0]) == len(trees)
        and all(a is b for a, b in zip(entry[0], trees, strict=True))
    ):
        return entry[1]
    packed = _Packed(forest)
    with _PACKED_LOCK:
        _PACKED[forest] = (trees, packed)  # the trees held: their ids cannot be reused
    return packed


# --- the predictor ---------------------------------------------------------------------------


class ForestPredictor:
    """A pipeline ending in a random forest or extra trees: ``pixels -> (labels, probabilities)``.

    Build it with :func:`forest_predictor`. The preprocessing steps run with their own
    ``transform``; the trees are packed and checked at construction, and a call only reads
    them, so one instance serves several threads at once.

    Parameters
    ----------
    pipeline : fitted Pipeline or classifier
    forest : RandomForestClassifier or ExtraTreesClassifier
        The pipeline's final step.
    preprocessing : list of fitted transformers
        The steps before it, in order.

    Attributes
    ----------
    classes_ : ndarray
        The forest's ``classes_``.
    has_proba : bool
        Always True.
    tile_parallel : bool
        Always True: the kernel runs on the caller's thread, whatever the forest's ``n_jobs``.
    feature_width : int or None
        The forest's number of features when a call can hand them back (``features=``): the
        preprocessing's output is then :class:`~hsi_tumor.inference._classify._DomainFlag`'s
        features; None when an affine tail runs in float64 (the domain fuses it).
    """

    has_proba = True
    tile_parallel = True

    def __init__(self, pipeline, forest, preprocessing: list) -> None:
        self.pipeline = pipeline
        self.forest = forest
        self.preprocessing = list(preprocessing)
        self.classes_ = np.asarray(forest.classes_)
        self.packed = _packed(forest)
        # the preprocessing's output is the training domain's features (exact_stage) unless
        # scikit-learn evaluates an affine tail in float64, which the domain fuses
        chain = split_chain(self.preprocessing) if self.preprocessing else None
        shares = chain is None or not chain.float64
        self.feature_width = self.packed.n_features if shares else None

    def _preprocess(self, pixels: np.ndarray) -> np.ndarray:
        """The preprocessing's output (before the forest's float32 cast)."""
        x = pixels
        with sklearn.config_context(assume_finite=True):
            for step in self.preprocessing:
                x = step.transform(x)
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.packed.n_features:
            raise InvalidOptionError(
                f"the forest takes {self.packed.n_features} features, got shape {x.shape}",
                field="pixels",
                fix="give pixels with the bands the model was trained on",
            )
        return x

    def predict_proba(self, pixels: np.ndarray) -> np.ndarray:
        """``pipeline.predict_proba(pixels)`` (float64) as scikit-learn computes it at ``n_jobs=1``.

        Parameters
        ----------
        pixels : ndarray of shape (n, n_bands)

        Returns
        -------
        ndarray of shape (n, n_classes), float64
        """
        return self._proba(self._preprocess(pixels))

    def _proba(self, features: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(features, dtype=np.float32)  # scikit-learn's cast
        kernel = _kernel()
        p = self.packed
        if kernel is not None:
            out = np.empty((x.shape[0], self.classes_.size), np.float64)
            return kernel(x, *p.arguments(), _block_pixels(p.n_features), out)
        out = np.zeros((x.shape[0], self.classes_.size), np.float64)
        for estimator in self.forest.estimators_:
            out += estimator.predict_proba(x, check_input=False)
        out /= len(self.forest.estimators_)
        return out

    def __call__(
        self, pixels: np.ndarray, features: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels (as ``pipeline.predict``) and probabilities (float32) of each pixel.

        Parameters
        ----------
        pixels : ndarray of shape (n, n_bands)
        features : ndarray of shape (n, feature_width), optional
            Filled with the preprocessing's output (the training domain's features), when
            :attr:`feature_width` is not None.

        Returns
        -------
        labels : ndarray of shape (n,)
            ``classes_[argmax(proba)]``, as the forest's ``predict``.
        probabilities : ndarray of shape (n, n_classes), float32
            :meth:`predict_proba` cast to float32.
        """
        preprocessed = self._preprocess(pixels)
        if features is not None:
            features[:] = preprocessed
        proba = self._proba(preprocessed)
        labels = self.classes_.take(np.argmax(proba, axis=1))
        return labels, proba.astype(np.float32)


def forest_predictor(pipeline) -> ForestPredictor | None:
    """A :class:`ForestPredictor` for a pipeline ending in a forest, or None.

    Parameters
    ----------
    pipeline : fitted Pipeline or classifier
        Its final step a fitted ``RandomForestClassifier`` or ``ExtraTreesClassifier`` (one
        output, two numeric classes or more), the steps before it transformers.

    Returns
    -------
    ForestPredictor or None
        None for any other final step: the caller uses scikit-learn.

    Raises
    ------
    ModelFileError
        If the fitted trees are inconsistent (a child index out of range or not after its
        parent, a split feature outside the features, ...): the kernel would read out of
        bounds.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 30))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    >>> labels, proba = forest_predictor(forest)(X)
    >>> bool(np.array_equal(forest_predictor(forest).predict_proba(X), forest.predict_proba(X)))
    True
    """
    if not hasattr(pipeline, "classes_"):
        return None
    steps = flatten_steps(pipeline)
    forest = steps[-1]
    if type(forest) not in _FORESTS or not hasattr(forest, "estimators_"):
        return None
    if getattr(forest, "n_outputs_", None) != 1 or np.ndim(forest.classes_) != 1:
        return None
    if len(forest.classes_) < 2 or np.asarray(forest.classes_).dtype.kind not in "iuf":
        return None  # what model files and classify_cube hold: two or more numeric ids
    _check_forest(forest, int(forest.n_features_in_))
    return ForestPredictor(pipeline, forest, steps[:-1])
