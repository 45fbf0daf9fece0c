"""Run by tests/test_readonly_install.py inside a mount namespace where the package folder and
$HOME are read-only: import, detect and one training step must work. Prints one JSON object."""
import json
import sys
import warnings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import numpy as np

    import tinymtcnn
    from tinymtcnn.io import load_image
    from tinymtcnn.kernels import _jit
    from tinymtcnn.nets import PNet

    faces = tinymtcnn.MTCNN(num_threads=2).detect(load_image(tinymtcnn.__path__[0] + "/assets/astronaut.png"))
    net = PNet()
    net.training = True
    out = net.forward(np.random.default_rng(0).standard_normal((8, 3, 12, 12)).astype(np.float32))
    net.backward({"face_logits": np.ones_like(out["face_logits"])}, input_grad=False)

print(json.dumps({"package": tinymtcnn.__path__[0], "faces": len(faces), "cache": _jit.CACHE,
                  "cache_dir": _jit.numba.config.CACHE_DIR,
                  "warnings": [str(w.message) for w in caught if "tinymtcnn" in str(w.message)]}))
sys.exit(0)
