"""The prompt dataset: task families over a small made-up world, their grader and demonstrator.

A task owns its prompts, its grader and its reward (style.md §6): every generated prompt
carries a machine-checkable spec in ``metadata["spec"]``, and ``grade(prompt, response)``
is the one scorer shared by the simulated labelers, evaluation and the programmatic reward.
"""

from instructrl.tasks.constraints import CHECKERS, CONSTRAINT_TYPES, check, describe
from instructrl.tasks.corpus import generate_pretraining_corpus
from instructrl.tasks.demonstrator import demonstrate
from instructrl.tasks.generator import DIFFICULTIES, TABLE1_MIX, Difficulty, generate_prompts
from instructrl.tasks.grader import Grade, grade, reward, spec_of
from instructrl.tasks.perturb import PERTURBATIONS, perturb, response_mix

__all__ = [
    "CHECKERS", "CONSTRAINT_TYPES", "DIFFICULTIES", "Difficulty", "Grade", "PERTURBATIONS", "TABLE1_MIX",
    "check", "demonstrate", "describe", "generate_pretraining_corpus", "generate_prompts", "grade",
    "perturb", "response_mix", "reward", "spec_of",
]
