"""Labelers: the interface shared with human labeling (``base``), the simulated panel and
inter-labeler agreement."""

from instructrl.labelers.agreement import AgreementReport, inter_labeler_agreement, pairwise_agreement
from instructrl.labelers.base import BatchStatus, LabelBatch, LabelerBackend, LabelResults, RankingItem
from instructrl.labelers.panel import QUIRKS, SimulatedLabeler, SimulatedPanel, heldout_panel, training_panel

__all__ = [
    "AgreementReport", "BatchStatus", "LabelBatch", "LabelResults", "LabelerBackend", "QUIRKS", "RankingItem",
    "SimulatedLabeler", "SimulatedPanel", "heldout_panel", "inter_labeler_agreement", "pairwise_agreement",
    "training_panel",
]
