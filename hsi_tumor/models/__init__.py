"""Models: the classifier registry, training, the TumorModel and its safe model files.

::

    import hsi_tumor as ht
    model = ht.train(cubes, label_maps, classifier="svm", preprocessing=("snv", "pca"),
                     class_names={1: "normal", 2: "tumor"}, groups=patient_ids)
    ht.save_model(model, "gist_svm.htm")     # no code runs when it is loaded
    model = ht.load_model("gist_svm.htm")    # checked: sizes, checksums, schema, fitted arrays
    as_model("gist_svm.htm")                 # a TumorModel, a model file or a fitted estimator


:data:`CLASSIFIERS` and :data:`PREPROCESSING` are the registries of names ``train`` accepts;
any scikit-learn classifier, transformer or Pipeline is accepted as well.
"""

from hsi_tumor.models._domain import TrainingDomain
from hsi_tumor.models._model import TumorModel
from hsi_tumor.models._persistence import (
    KEY_VARIABLE,
    NEVER_TRUSTED,
    TRUSTED_TYPES,
    as_model,
    load_model,
    save_model,
)
from hsi_tumor.models._pls_da import PLSDAClassifier
from hsi_tumor.models._registry import (
    CLASSIFIERS,
    PREPROCESSING,
    ClassifierRecipe,
    PreprocessingRecipe,
)
from hsi_tumor.models._train import DEFAULT_PREPROCESSING, TUNING_PIXELS_PER_CLASS, train

__all__ = [
    "CLASSIFIERS",
    "DEFAULT_PREPROCESSING",
    "KEY_VARIABLE",
    "NEVER_TRUSTED",
    "PREPROCESSING",
    "TRUSTED_TYPES",
    "TUNING_PIXELS_PER_CLASS",
    "ClassifierRecipe",
    "PLSDAClassifier",
    "PreprocessingRecipe",
    "TrainingDomain",
    "TumorModel",
    "as_model",
    "load_model",
    "save_model",
    "train",
]
