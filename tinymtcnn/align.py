"""Face alignment from the five landmarks: similarity transform + bilinear warp.

Each face is mapped onto the usual ArcFace 112x112 five-point template with the
least-squares similarity transform (rotation, uniform scale, translation; no
reflection) of Umeyama (1991), then resampled bilinearly. Coordinates are 0-based
pixel positions with pixel centres at integers, in the source image (the
landmarks of :class:`~tinymtcnn.detect.result.Detections`) and in the crop (the
template), i.e. the convention of OpenCV's ``warpAffine``.
"""
import numpy as np

from .detect.pyramid import MAX_MEMORY, suggest_budget
from .io import load_image
from .layers._checks import check_number

#: Working memory of :func:`warp_affine` per crop pixel (coordinate grids, weights, float64
#: sums): 205 B measured on 2000 x 2000 crops.
WARP_BYTES_PER_PIXEL = 224

#: ArcFace 112x112 template, ``(x, y)`` of left eye, right eye, nose, mouth left, mouth right.
ARCFACE_TEMPLATE_112 = np.array([
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
])


def _points(a, name):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] < 2:
        raise ValueError(f"{name} must have shape (K, 2) with K >= 2, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def similarity_transform(src, dst):
    """Least-squares similarity transform mapping ``src`` points onto ``dst`` (Umeyama 1991).

    Finds scale ``c > 0``, rotation ``R`` (``det R = +1``, no reflection) and translation
    ``t`` minimising ``sum_i || dst_i - (c R src_i + t) ||^2``::

        mu_s, mu_d = mean(src), mean(dst);  S = src - mu_s;  D = dst - mu_d
        Sigma = D^T S / K = U diag(d) V^T                    (SVD, 2x2)
        E = diag(1, sign(det U det V))                       (forbids a reflection)
        R = U E V^T;   c = trace(diag(d) E) / (mean ||S_i||^2);   t = mu_d - c R mu_s

    Parameters
    ----------
    src, dst : array_like (K, 2)
        Corresponding ``(x, y)`` points, ``K >= 2``, finite.

    Returns
    -------
    ndarray (2, 3) float64
        ``M = [c R | t]``, so that ``dst ~ M @ [x, y, 1]``. Exact when ``dst`` is a
        similarity image of ``src``.

    Raises
    ------
    ValueError
        Bad shapes, non-finite values, or all ``src`` points equal (no unique transform).
    """
    src, dst = _points(src, "src"), _points(dst, "dst")
    if src.shape != dst.shape:
        raise ValueError(f"src and dst must have the same shape, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum(axis=1).mean()
    if var_s <= 1e-12 * max(1.0, float(np.abs(src).max()) ** 2):
        raise ValueError("src points all coincide: the similarity transform is undefined")
    sigma = d.T @ s / len(src)
    u, sv, vt = np.linalg.svd(sigma)
    e = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    r = (u * e) @ vt
    c = (sv * e).sum() / var_s
    t = mu_d - c * r @ mu_s
    return np.hstack([c * r, t[:, None]])


def template_for_size(size, margin=0):
    """The ArcFace template in a ``size x size`` crop with ``margin`` pixels of it around the face:
    ``ARCFACE_TEMPLATE_112 * (size - margin) / 112 + margin / 2`` (``margin = 0``: the plain template)."""
    return ARCFACE_TEMPLATE_112 * ((size - margin) / 112.0) + margin / 2.0


def warp_affine(image, matrix, size):
    """Sample ``image`` into a ``size x size`` crop through the affine ``matrix`` (bilinear, zero border).

    ``out[v, u] = image(M^-1 [u, v, 1])`` where ``M`` maps source to crop coordinates;
    the source is read at the fractional position ``(x, y)`` as
    ``sum w_ij image[y_i, x_j]`` over the four neighbouring pixels with bilinear
    weights; neighbours outside the image contribute 0 (black border). Rounded to uint8.

    Parameters
    ----------
    image : (H, W, 3) uint8
    matrix : (2, 3) float, source -> crop
    size : int

    Returns
    -------
    ndarray (size, size, 3) uint8
    """
    h, w = image.shape[:2]
    a = np.vstack([matrix, [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(a)[:2]
    v, u = np.mgrid[0:size, 0:size].astype(np.float64)
    x = inv[0, 0] * u + inv[0, 1] * v + inv[0, 2]
    y = inv[1, 0] * u + inv[1, 1] * v + inv[1, 2]
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    out = np.zeros((size, size, 3))
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            yy, xx = y0 + dy, x0 + dx
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            vals = image[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)] * inside[..., None].astype(np.float64)
            out += wy * wx * vals
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def align_cost(num_faces, size):
    """Bytes :func:`align_faces` needs for ``num_faces`` crops of ``size x size``: the crops
    (``3 * size**2`` each) plus one warp (:data:`WARP_BYTES_PER_PIXEL` ``* size**2``)."""
    return float(size) ** 2 * (3 * num_faces + WARP_BYTES_PER_PIXEL)


def align_faces(image, detections, size=112, *, margin=0, max_memory=MAX_MEMORY):
    """Aligned face crops: each face's five landmarks mapped onto the ArcFace template.

    Parameters
    ----------
    image : anything :func:`tinymtcnn.io.load_image` accepts
    detections : Detections or array_like (N, 5, 2) or (5, 2)
        The faces (only their ``landmarks`` are used), ``(x, y)`` in the order left eye,
        right eye, nose, mouth left, mouth right.
    size : int
        Side of the square crops; the 112 px template is scaled by ``size / 112``.
    margin : float
        Pixels of the crop around the face, ``0 <= margin < size`` (facenet's ``margin``, in
        pixels of the crop): the template is scaled into the centred ``size - margin`` square,
        leaving ``margin / 2`` on each side (:func:`template_for_size`).
    max_memory : float
        Budget in bytes (default 1.5e9, as detection's; ``math.inf``: no limit). The cost,
        :func:`align_cost`, is estimated before anything is allocated; above the budget
        ``ValueError`` gives the estimate and the ``max_memory`` that allows it (the default
        allows crops up to about 2,500 px).

    Returns
    -------
    ndarray (N, size, size, 3) uint8
        ``out[i] = warp(image, similarity_transform(landmarks[i], template))``; ``N == 0``
        gives an empty ``(0, size, size, 3)`` array.

    Raises
    ------
    TypeError
        ``size`` not an integer (a float, a string, a bool), ``margin`` or ``max_memory`` not a number.
    ValueError
        ``size < 1``, ``margin`` outside ``[0, size)``, bad landmarks, or a cost beyond ``max_memory``.
    """
    size = check_number("size", size, low=1, integer=True)
    margin = check_number("margin", margin, low=0)
    if margin >= size:
        raise ValueError(f"margin must be smaller than size ({size}), got {margin!r}")
    max_memory = check_number("max_memory", max_memory, low=0, low_open=True, allow_inf=True)
    landmarks = getattr(detections, "landmarks", detections)
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape == (5, 2):
        landmarks = landmarks[None]
    if landmarks.ndim != 3 or landmarks.shape[1:] != (5, 2):
        raise ValueError(f"landmarks must have shape (N, 5, 2), got {landmarks.shape}")
    need = align_cost(len(landmarks), size)
    if need > max_memory:
        raise ValueError(f"align_faces(size={size}) on {len(landmarks)} face(s) needs about {need / 1e9:.3g} GB of "
                         f"memory, more than max_memory={max_memory:.3g} bytes; use a smaller size, or allow it with "
                         f"align_faces(..., max_memory={suggest_budget(need):.2g})")
    image = load_image(image)
    template = template_for_size(size, margin)
    out = np.zeros((len(landmarks), size, size, 3), dtype=np.uint8)
    for i, points in enumerate(landmarks):
        out[i] = warp_affine(image, similarity_transform(points, template), size)
    return out
