"""Standard evaluation of face detectors and landmarks (``tinymtcnn evaluate``; protocols in docs/evaluation.md).

    >>> from tinymtcnn import MTCNN
    >>> from tinymtcnn.eval import evaluate, load_set, markdown
    >>> data = load_set("val_bbx_gt.txt", images="images")          # doctest: +SKIP
    >>> print(markdown(evaluate({"authors": MTCNN()}, data)))        # doctest: +SKIP

* :mod:`tinymtcnn.eval.detection`: WIDER FACE-style precision-recall and AP, FDDB discrete ROC with
  elliptical-region IoU, recall at IoU, recall by face size.
* :mod:`tinymtcnn.eval.landmarks`: NME (inter-ocular and box), CED, AUC at 8 % / 10 %, failure rate.
* :mod:`tinymtcnn.eval.datasets`: sets from the training readers, WIDER easy/medium/hard lists.
* :mod:`tinymtcnn.eval.run`, :mod:`tinymtcnn.eval.report`: the runner, Markdown and PNG plots.
"""
from .datasets import EvalSet, load_set, read_split
from .detection import (average_precision, discrete_roc, ellipse_box_overlap, label_detections, label_fddb,
                        precision_recall, recall_by_size)
from .landmarks import auc, ced, failure_rate, match_face, nme
from .report import markdown, plot_curves
from .run import evaluate

__all__ = ["EvalSet", "load_set", "read_split", "average_precision", "discrete_roc", "ellipse_box_overlap",
           "label_detections", "label_fddb", "precision_recall", "recall_by_size", "auc", "ced", "failure_rate",
           "match_face", "nme", "markdown", "plot_curves", "evaluate"]
