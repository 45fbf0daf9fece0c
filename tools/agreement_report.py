"""Print the worst differences between tinymtcnn and the reference pipeline's fixtures.

    python tools/agreement_report.py            # fixtures on images the repo holds
    python tools/agreement_report.py --shared   # also ../shared test1/test2 + faces_dev

Dev tool (never imported by the package); the reference numbers come from
tools/make_detect_fixtures.py (cv2.dnn + an independent port of detect_face.m).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from test_detector import _image_for, compare  # noqa: E402

from tinymtcnn import MTCNN  # noqa: E402


def run(cases, image_of, detectors):
    worst = {m: np.zeros(3) for m in detectors}
    faces = 0
    for case in cases:
        p = case["params"]
        for mode, det in detectors.items():
            det.min_face_size, det.scale_factor, det.thresholds = p["minsize"], p["factor"], tuple(p["thresholds"])
            d = det.detect(image_of(case))
            worst[mode] = np.maximum(worst[mode], compare(d, case, mode))
        faces += len(case["scores"])
    return worst, faces


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", action="store_true")
    args = ap.parse_args()
    detectors = {m: MTCNN(landmarks=m) for m in ("onet", "mirror", "refine")}
    sets = [("repo fixtures", json.loads((REPO / "tests/fixtures/detect_reference.json").read_text())["cases"],
             _image_for)]
    if args.shared:
        shared = REPO.parent / "shared"
        sets.append(("../shared photos",
                     json.loads((REPO / "tests/fixtures/detect_reference_shared.json").read_text())["cases"],
                     lambda c: shared / c["file"]))
    for name, cases, image_of in sets:
        worst, faces = run(cases, image_of, detectors)
        print(f"{name}: {len(cases)} images, {faces} reference faces")
        for mode, (b, s, l) in worst.items():
            print(f"  {mode:7s} max |box| {b:.2e} px  max |score| {s:.2e}  max |landmark| {l:.2e} px")


if __name__ == "__main__":
    main()
