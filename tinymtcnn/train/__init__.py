"""Training MTCNN from scratch (spec §8): losses, optimisers, samples, hard-example mining, trainer.

Modules: :mod:`.losses` (joint loss + OHEM), :mod:`.optim` (SGD, Adam, schedules),
:mod:`.readers` (WIDER / FDDB / landmark lists / JSON), :mod:`.synthetic` (procedural faces),
:mod:`.samples` and :mod:`.dataset` (crops, targets, shards), :mod:`.mining` (hard examples between
stages), :mod:`.trainer` (``Trainer``), :mod:`.cascade` (all three stages + evaluation),
:mod:`.cli` (``tinymtcnn train``).
"""
from .losses import TASK_WEIGHTS, classification_loss, joint_loss, squared_l2_loss
from .optim import SGD, Adam, CosineLR, StepLR, make_optimizer, make_schedule
from .readers import Photo, PhotoList, read_annotations, read_fddb, read_json, read_landmark_list, read_wider
from .samples import SamplingConfig, iou
from .sampleset import SampleSet
from .synthetic import SyntheticFaces
from .trainer import TrainConfig, Trainer, evaluate_samples, make_net

__all__ = ["TASK_WEIGHTS", "classification_loss", "joint_loss", "squared_l2_loss", "SGD", "Adam", "CosineLR",
           "StepLR", "make_optimizer", "make_schedule", "Photo", "PhotoList", "read_annotations", "read_fddb",
           "read_json", "read_landmark_list", "read_wider", "SampleSet", "SamplingConfig", "iou",
           "SyntheticFaces", "TrainConfig", "Trainer", "evaluate_samples", "make_net"]
