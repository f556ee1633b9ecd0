"""Synthetic room photos drawn with OpenCV, with known window and door positions.

They stand in for real listings photos in the mask and engine tests: the geometry is
known exactly, so a test can check that the window and the door stay protected.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Room:
    rgb: npt.NDArray[np.uint8]
    window: Box  # x0, y0, x1, y1 including the frame
    door: Box
    floor_y: int


def draw_room(width: int = 768, height: int = 576, seed: int = 0) -> Room:
    """An empty room: ceiling, beige back wall, wooden floor, a bright window, a brown door."""
    rng = np.random.default_rng(seed)
    ceiling_y = round(0.18 * height)
    floor_y = round(0.68 * height)
    img = np.zeros((height, width, 3), np.float32)
    img[:ceiling_y] = (236, 236, 232)
    ramp = np.linspace(0.93, 1.05, width, dtype=np.float32)[None, :, None]
    img[ceiling_y:floor_y] = np.array((200, 190, 175), np.float32) * ramp
    img[floor_y:] = (140, 100, 70)
    for y in range(floor_y + 12, height, max(8, height // 28)):  # floor planks
        img[y : y + 2] = (112, 80, 55)
    cv2.line(img, (0, ceiling_y), (width, ceiling_y), (170, 165, 160), 2)
    cv2.line(img, (0, floor_y), (width, floor_y), (90, 70, 50), 3)

    window = (round(0.12 * width), round(0.28 * height), round(0.35 * width), round(0.55 * height))
    x0, y0, x1, y1 = window
    img[y0:y1, x0:x1] = (215, 235, 255)
    frame = max(3, width // 120)
    cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), (248, 248, 248), frame)
    cv2.line(img, ((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1 - 1), (248, 248, 248), frame)
    cv2.line(img, (x0, (y0 + y1) // 2), (x1 - 1, (y0 + y1) // 2), (248, 248, 248), frame)

    door = (round(0.62 * width), round(0.30 * height), round(0.78 * width), floor_y)
    x0, y0, x1, y1 = door
    img[y0:y1, x0:x1] = (110, 75, 50)
    cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), (70, 48, 32), frame)
    cv2.circle(img, (x1 - 4 * frame, (y0 + y1) // 2), max(2, frame), (210, 190, 120), -1)

    img += rng.normal(0.0, 4.0, img.shape).astype(np.float32)
    rgb = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    return Room(rgb=rgb, window=window, door=door, floor_y=floor_y)
