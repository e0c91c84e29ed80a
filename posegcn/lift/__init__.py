"""Your own 2D keypoints to 3D poses: ``posegcn lift`` (README.md § Lift your own video's keypoints).

* :mod:`posegcn.lift.formats` — detector files (posegcn, COCO results, OpenPose, VideoPose3D)
  read into one :class:`Keypoints`, their joint layouts and the mapping to Human3.6M, and the
  temporal fill of missing joints;
* :mod:`posegcn.lift.lifting` — the command: read, fill, normalise with the training codec,
  run a checkpoint (:func:`load_module`), write self-describing millimetre poses.
"""

from posegcn.lift.formats import (
    FORMATS,
    LAYOUTS,
    TO_H36M_17,
    Keypoints,
    MissingJointError,
    NoPersonError,
    coco_to_h36m,
    fill_missing,
    read_keypoint_file,
    to_model_layout,
)
from posegcn.lift.lifting import lift_keypoints, load_module, read_keypoints, temporal_windows, write_poses

__all__ = [
    "FORMATS",
    "LAYOUTS",
    "TO_H36M_17",
    "Keypoints",
    "MissingJointError",
    "NoPersonError",
    "coco_to_h36m",
    "fill_missing",
    "lift_keypoints",
    "load_module",
    "read_keypoint_file",
    "read_keypoints",
    "temporal_windows",
    "to_model_layout",
    "write_poses",
]
