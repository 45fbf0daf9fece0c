def apply_box_regression(boxes, offsets, plus_one):
    """Each edge moves by its offset times the box's width or height, one box at a time."""
    extra = 1.0 if plus_one else 0.0
    moved = boxes.copy()
    for i in range(boxes.shape[0]):
        width = boxes[i, 2] - boxes[i, 0] + extra
        height = boxes[i, 3] - boxes[i, 1] + extra
        moved[i, 0] = boxes[i, 0] + offsets[i, 0] * width
        moved[i, 1] = boxes[i, 1] + offsets[i, 1] * height
        moved[i, 2] = boxes[i, 2] + offsets[i, 2] * width
        moved[i, 3] = boxes[i, 3] + offsets[i, 3] * height
    return moved
