"""Errors of the triage classifier: one small hierarchy, explained to the user at the edge."""

from __future__ import annotations


class ClassifierError(Exception):
    """Base class: anything that stops a model from being trained, loaded or promoted."""


class ArtifactError(ClassifierError):
    """A model directory is missing, corrupted, or was built with incompatible libraries."""


class TrainingDataError(ClassifierError):
    """The ticket history cannot train a model (too few rows or labels, unreadable CSV, bad mapping)."""


class RegistryError(ClassifierError):
    """A registry operation cannot be done (unknown version, nothing to roll back to)."""
