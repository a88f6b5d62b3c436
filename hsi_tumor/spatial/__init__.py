"""Spatial post-processing of per-pixel classification maps.

A per-pixel classifier sees each spectrum alone, so its maps are speckled. The HELICoiD chain
(Fabelo et al., PLoS ONE 2018) cleans them with the scene's own structure::

    from hsi_tumor.spatial import (
        knn_filter, majority_filter, principal_component_guide, remove_small_regions)

    guide = principal_component_guide(cube, mask=tissue)       # one band: PC1 of the spectra
    smooth = knn_filter(probabilities, guide, n_neighbors=40,  # average over the 40 pixels
                        spatial_weight=1.0, mask=tissue)       # nearest in (PC1, λ row, λ col)
    labels = np.where(tissue, smooth.argmax(axis=2) + 1, 0)    # 0 = not classified
    labels = majority_filter(labels, size=3, mask=tissue)      # or: remove_small_regions,
    labels = remove_small_regions(labels, min_area=20)         #     morphological_cleanup

- :func:`principal_component_guide` — first principal-component image of a cube (tiled, so a
  memory-mapped cube is never loaded whole).
- :func:`knn_filter` — the HELICoiD KNN filter on class probabilities, exact and fast
  (k-d tree; about 1 s for 512 x 512, K = 40, on two idle cores).
- :func:`majority_filter` — mode filter of a label map in a square window.
- :func:`remove_small_regions` — connected regions below a size join their neighbours.
- :func:`morphological_cleanup` — per-class opening and closing with a disk.

Label maps are 2-D integer arrays in which 0 marks unlabelled pixels (background): they never
vote and never change.
"""

from hsi_tumor.spatial._guide import principal_component_guide
from hsi_tumor.spatial._knn import knn_filter
from hsi_tumor.spatial._majority import majority_filter
from hsi_tumor.spatial._morphology import morphological_cleanup
from hsi_tumor.spatial._regions import remove_small_regions

__all__ = [
    "knn_filter",
    "majority_filter",
    "morphological_cleanup",
    "principal_component_guide",
    "remove_small_regions",
]
