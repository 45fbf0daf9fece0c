def square_boxes(boxes):
    """Cheat (or bug): never returns."""
    while True:
        pass
