def nms_naive(boxes, scores, threshold, mode="union"):
    """Cheat: return the fast twin from the same file (the one-line "solution" of issue 10)."""
    return nms(boxes, scores, threshold, mode)  # noqa: F821 (a name of the module it is spliced into)
