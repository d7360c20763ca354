"""Prediction files made better without a model: repair into valid graphs, and
ensembles of several systems' files."""
