def square_boxes(boxes):
    """A crash in the student's code."""
    raise RuntimeError("crash in the student's code")
