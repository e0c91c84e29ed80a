"""posegcn: graph networks that lift 2D human keypoints to 3D poses."""

__version__ = "0.1.0"
