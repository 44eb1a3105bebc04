"""Training data: the data-set readers, person-grouped sampling and folds, the palsy
simulator and the on-disk modality/embedding cache.

Training-only: :mod:`palsy_core` (the inference library) never imports this package.
"""
