"""2D keypoint files as detectors write them, read into one structure for ``posegcn lift``.

**Formats** (:func:`detect_format` tells them apart; ``posegcn lift --format`` forces one):

``posegcn``
    posegcn's own ``.npz``/``.json`` object: ``keypoints [F, J, 2]`` pixels (or ``[F, J, 3]``
    with a confidence column), ``width``, ``height`` and optionally ``layout``.
``coco``
    COCO keypoint *results* (``.json``), the output of most top-down detectors and of
    mmpose's COCO evaluation: a list of ``{"image_id", "category_id", "keypoints": [x, y, v,
    …51 values], "score"}``, several people per image, optionally a ``track_id``.  Entries
    with a ``category_id`` other than 1 (person) are ignored.  **Frames** are the distinct
    ``image_id`` values in natural order (numeric for integer ids: 2 before 10); an image
    without any detection is absent from such files, so it is absent from the sequence too.
``openpose``
    a folder of OpenPose ``--write_json`` files ``*_keypoints.json`` (or one such file), each
    ``{"people": [{"person_id", "pose_keypoints_2d": [x, y, c, …]}]}``.  75 values per person
    = BODY_25, 54 = COCO-18.  **Frames** are the files in natural order of their names (frame
    number 2 before 10); a file with no people is a frame in which every joint is missing.
``videopose3d``
    VideoPose3D's in-the-wild ``data_2d_custom_<name>.npz`` (``data/prepare_data_2d_custom.py``):
    ``positions_2d`` = ``{video: {"custom": [float32 [F, 17, 2]]}}`` and ``metadata`` =
    ``{"layout_name": "coco", "num_joints": 17, "keypoints_symmetry": …, "video_metadata":
    {video: {"w": …, "h": …}}}``.  It has no confidences: every finite joint is valid.

COCO results and OpenPose files carry no image size: ``--width``/``--height`` are required.

**Person selection.**  Per frame, the person with the highest mean keypoint confidence (over
all joints of the layout; ties go to the first listed).  With a track id (``--track-id N``:
COCO ``track_id``, OpenPose ``person_id``), the person with that id; frames without it have
every joint missing (and filled, below).

**Missing joints.**  A joint is *valid* when its coordinates are finite and its confidence is
finite, above zero and at least ``min_confidence``.  :func:`fill_missing` replaces every other
position by linear interpolation over time between the nearest valid frames of the same joint
(frames before the first / after the last valid one hold that value).  A joint the model needs
that is valid in no frame at all cannot be filled: :class:`MissingJointError`.  A sequence
with no valid joint at all: :class:`NoPersonError`.

**Layouts and the mapping to Human3.6M** (one table per layout: :data:`TO_H36M_17`; each
row lists the detector joints averaged to make the Human3.6M joint, an index listed twice
weighs twice).  Human3.6M-16 is Human3.6M-17 without Neck/Nose (9).

==========  ========================  =========================  =========================
H36M-17     COCO-17                   OpenPose BODY_25           OpenPose COCO-18
==========  ========================  =========================  =========================
0 Hip       mean(l_hip 11, r_hip 12)  mean(RHip 9, LHip 12)      mean(RHip 8, LHip 11)
1 RHip      right_hip 12              RHip 9                     RHip 8
2 RKnee     right_knee 14             RKnee 10                   RKnee 9
3 RFoot     right_ankle 16            RAnkle 11                  RAnkle 10
4 LHip      left_hip 11               LHip 12                    LHip 11
5 LKnee     left_knee 13              LKnee 13                   LKnee 12
6 LFoot     left_ankle 15             LAnkle 14                  LAnkle 13
7 Spine     mean(Hip, Thorax)         mean(Hip, Neck 1)          mean(Hip, Neck 1)
8 Thorax    mean(l/r_shoulder 5, 6)   Neck 1                     Neck 1
9 Neck/Nose nose 0                    Nose 0                     Nose 0
10 Head     mean(l/r_eye 1, 2)        mean(REye 15, LEye 16)     mean(REye 14, LEye 15)
11–13 L arm shoulder 5, elbow 7,      LShoulder 5, LElbow 6,     LShoulder 5, LElbow 6,
            wrist 9                   LWrist 7                   LWrist 7
14–16 R arm shoulder 6, elbow 8,      RShoulder 2, RElbow 3,     RShoulder 2, RElbow 3,
            wrist 10                  RWrist 4                   RWrist 4
==========  ========================  =========================  =========================

Pelvis, spine, thorax and head top have no detector keypoint and are synthesised (COCO-17:
the convention of MotionBERT's ``coco2h36m``).  OpenPose's Neck is the mid-shoulder point of
its training labels, the same point as the COCO thorax synthesis; its MidHip (BODY_25 8) is
the mid-hip point, left unused so that the root is built the same way from every layout.
Ears, BODY_25 feet and MidHip are not used: missing values there are never filled or errors.
The synthesised joints differ systematically from Human3.6M's markers (the detectors' hips are
wider and lower than the mocap hip joints, the eyes lie below the head top): expect larger
errors than on Human3.6M detections unless the model was trained on such input.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from posegcn.errors import InputFileNotFoundError, InputKeyError, PoseGCNInputError
from posegcn.skeleton import H36M_16, H36M_17, Skeleton

__all__ = [
    "COCO_17_NAMES",
    "OPENPOSE_25_NAMES",
    "OPENPOSE_18_NAMES",
    "COCO_TO_H36M_17",
    "OPENPOSE_25_TO_H36M_17",
    "OPENPOSE_18_TO_H36M_17",
    "TO_H36M_17",
    "LAYOUTS",
    "FORMATS",
    "DEFAULT_MIN_CONFIDENCE",
    "Keypoints",
    "MissingJointError",
    "NoPersonError",
    "layout_matrix",
    "to_model_layout",
    "coco_to_h36m",
    "detect_format",
    "read_posegcn",
    "read_coco_results",
    "read_openpose",
    "read_videopose3d",
    "read_keypoint_file",
    "valid_mask",
    "interpolate_missing",
    "fill_missing",
]

COCO_17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

#: OpenPose BODY_25 (``pose_keypoints_2d`` of 75 values), OpenPose's own joint names.
OPENPOSE_25_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
    "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)  # fmt: skip

#: OpenPose COCO-18 (``--model_pose COCO``, 54 values): BODY_25 without MidHip and the feet.
OPENPOSE_18_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
)  # fmt: skip

#: For every ``H36M_17`` joint the COCO joints averaged to make it (one index = copied).
#: Spine (7) is the mean of the *synthesised* Hip and Thorax, i.e. of COCO 5, 6, 11, 12.
COCO_TO_H36M_17: tuple[tuple[int, ...], ...] = (
    (11, 12),  # 0 Hip        = mid-hip (synthesised)
    (12,),  # 1 RHip
    (14,),  # 2 RKnee
    (16,),  # 3 RFoot
    (11,),  # 4 LHip
    (13,),  # 5 LKnee
    (15,),  # 6 LFoot
    (5, 6, 11, 12),  # 7 Spine = mean(Hip, Thorax) (synthesised)
    (5, 6),  # 8 Thorax       = mid-shoulder (synthesised)
    (0,),  # 9 Neck/Nose      = nose
    (1, 2),  # 10 Head        = mid-eyes (approximates the head top)
    (5,),  # 11 LShoulder
    (7,),  # 12 LElbow
    (9,),  # 13 LWrist
    (6,),  # 14 RShoulder
    (8,),  # 15 RElbow
    (10,),  # 16 RWrist
)

#: For every ``H36M_17`` joint the BODY_25 joints averaged to make it.  Spine (7) =
#: mean(Hip, Neck): Neck listed twice weighs 1/2, each hip 1/4.
OPENPOSE_25_TO_H36M_17: tuple[tuple[int, ...], ...] = (
    (9, 12),  # 0 Hip         = mid-hip of RHip, LHip (synthesised)
    (9,),  # 1 RHip
    (10,),  # 2 RKnee
    (11,),  # 3 RFoot         = RAnkle
    (12,),  # 4 LHip
    (13,),  # 5 LKnee
    (14,),  # 6 LFoot         = LAnkle
    (1, 1, 9, 12),  # 7 Spine = mean(Hip, Neck) (synthesised)
    (1,),  # 8 Thorax         = Neck (OpenPose's mid-shoulder point)
    (0,),  # 9 Neck/Nose      = Nose
    (15, 16),  # 10 Head      = mid-eyes (approximates the head top)
    (5,),  # 11 LShoulder
    (6,),  # 12 LElbow
    (7,),  # 13 LWrist
    (2,),  # 14 RShoulder
    (3,),  # 15 RElbow
    (4,),  # 16 RWrist
)

#: For every ``H36M_17`` joint the OpenPose COCO-18 joints averaged to make it.
OPENPOSE_18_TO_H36M_17: tuple[tuple[int, ...], ...] = (
    (8, 11),  # 0 Hip         = mid-hip of RHip, LHip (synthesised)
    (8,),  # 1 RHip
    (9,),  # 2 RKnee
    (10,),  # 3 RFoot         = RAnkle
    (11,),  # 4 LHip
    (12,),  # 5 LKnee
    (13,),  # 6 LFoot         = LAnkle
    (1, 1, 8, 11),  # 7 Spine = mean(Hip, Neck) (synthesised)
    (1,),  # 8 Thorax         = Neck (OpenPose's mid-shoulder point)
    (0,),  # 9 Neck/Nose      = Nose
    (14, 15),  # 10 Head      = mid-eyes (approximates the head top)
    (5,),  # 11 LShoulder
    (6,),  # 12 LElbow
    (7,),  # 13 LWrist
    (2,),  # 14 RShoulder
    (3,),  # 15 RElbow
    (4,),  # 16 RWrist
)

#: The one mapping table of every detector layout to Human3.6M-17.
TO_H36M_17 = {
    "coco17": COCO_TO_H36M_17,
    "openpose25": OPENPOSE_25_TO_H36M_17,
    "openpose18": OPENPOSE_18_TO_H36M_17,
}

_JOINT_NAMES = {
    "h36m17": H36M_17.names,
    "h36m16": H36M_16.names,
    "coco17": COCO_17_NAMES,
    "openpose25": OPENPOSE_25_NAMES,
    "openpose18": OPENPOSE_18_NAMES,
}

#: Input layouts ``posegcn lift`` reads, with their joint counts.
LAYOUTS = {name: len(names) for name, names in _JOINT_NAMES.items()}

#: File formats ``posegcn lift`` reads (``--format``).
FORMATS = ("posegcn", "coco", "openpose", "videopose3d")
_FORMAT_NAMES = {
    "posegcn": "posegcn keypoint files",
    "coco": "COCO keypoint results",
    "openpose": "OpenPose keypoint files",
    "videopose3d": "VideoPose3D custom files",
}

#: Below this confidence a joint counts as missing.  Detectors score occluded joints low but
#: still place them (often on the wrong limb); OpenPose draws from 0.05, mmpose from 0.3.
DEFAULT_MIN_CONFIDENCE = 0.1


class NoPersonError(PoseGCNInputError):
    """A keypoint file in which no person (or not the requested one) is found in any frame."""


class MissingJointError(PoseGCNInputError):
    """A joint the model needs that is valid in no frame of the sequence (nothing to interpolate)."""


# --------------------------------------------------------------------------- layouts
def _table_matrix(table: tuple[tuple[int, ...], ...], num_in: int) -> np.ndarray:
    """Mapping table → averaging matrix ``[17, num_in]`` (an index listed twice weighs twice)."""
    m = np.zeros((len(table), num_in), dtype=np.float64)
    for h, sources in enumerate(table):
        np.add.at(m[h], list(sources), 1.0 / len(sources))
    return m


def layout_matrix(layout: str, skeleton: Skeleton) -> np.ndarray:
    """The linear map ``[J_model, J_in]`` from ``layout`` to the model's Human3.6M skeleton.

    Detector layouts go through their :data:`TO_H36M_17` table; 16-joint models drop
    Neck/Nose; a 16-joint input cannot feed a 17-joint model.
    """
    if layout not in LAYOUTS:
        raise PoseGCNInputError(f"unknown keypoint layout {layout!r}; expected one of {sorted(LAYOUTS)}")
    if layout in TO_H36M_17:
        m, h36m = _table_matrix(TO_H36M_17[layout], LAYOUTS[layout]), "h36m17"
    else:
        m, h36m = np.eye(LAYOUTS[layout]), layout
    if skeleton.parents == H36M_17.parents:
        if h36m != "h36m17":
            raise PoseGCNInputError(
                f"the model needs 17 Human3.6M joints but the input layout is {layout!r} "
                "(16 joints, no Neck/Nose): a 16-joint input cannot feed a 17-joint model"
            )
        return m
    if skeleton.parents == H36M_16.parents:
        return np.delete(m, 9, axis=0) if h36m == "h36m17" else m  # drop Neck/Nose
    raise PoseGCNInputError(
        f"posegcn lift reads Human3.6M (16/17), COCO and OpenPose layouts; the model's skeleton is "
        f"{skeleton.name!r}"
    )


def to_model_layout(keypoints: np.ndarray, layout: str, skeleton: Skeleton) -> np.ndarray:
    """Keypoints ``[F, J_in, D]`` in ``layout`` → the model's skeleton order ``[F, J, D]``.

    Only the detector joints the map uses are read, so unused ones (ears, feet) may be NaN.
    """
    if layout in LAYOUTS and keypoints.shape[-2] != LAYOUTS[layout]:
        raise PoseGCNInputError(
            f"layout {layout!r} has {LAYOUTS[layout]} joints but the keypoints have shape {tuple(keypoints.shape)}"
        )
    m = layout_matrix(layout, skeleton)
    used = m.any(axis=0)
    out = np.einsum("hc,...cd->...hd", m[:, used], np.asarray(keypoints)[..., used, :])
    return out.astype(keypoints.dtype)


def coco_to_h36m(keypoints: np.ndarray) -> np.ndarray:
    """COCO-17 keypoints → Human3.6M-17 order (:data:`COCO_TO_H36M_17`).

    Shapes: ``[..., 17, D] → [..., 17, D]``.
    """
    if keypoints.shape[-2] != 17:
        raise ValueError(f"coco_to_h36m: expected 17 COCO joints [..., 17, D], got {tuple(keypoints.shape)}")
    return to_model_layout(keypoints, "coco17", H36M_17)


# --------------------------------------------------------------------------- the common structure
@dataclass
class Keypoints:
    """2D keypoints of one person read from a file.

    Attributes:
        xy: ``[F, J, 2]`` float32 pixels; NaN where the file has nothing.
        width, height: image size in pixels (``None`` when the file does not say).
        layout: joint order, a key of :data:`LAYOUTS`.
        path: the file or folder read.
        confidence: ``[F, J]`` float32 detector confidence; 0 where the file has nothing
            (default: 1 wherever ``xy`` is finite, for files without confidences).
        frame_ids: ``[F]`` the frames' ids in the file (image ids, frame numbers, 0…F−1).
        format: one of :data:`FORMATS`.
        source: how the keypoints were chosen, for messages (format, person, video).
        where: the keypoints' place in the file, for messages (``'keypoints'``, …).
    """

    xy: np.ndarray
    width: float | None
    height: float | None
    layout: str
    path: str = ""
    confidence: np.ndarray | None = None
    frame_ids: np.ndarray | None = None
    format: str = "posegcn"
    source: str = ""
    where: str = "'keypoints'"

    def __post_init__(self) -> None:
        self.xy = np.asarray(self.xy, dtype=np.float32)
        if self.confidence is None:
            self.confidence = np.isfinite(self.xy).all(-1).astype(np.float32)
        if self.frame_ids is None:
            self.frame_ids = np.arange(len(self.xy))


def _natural_key(text: Any) -> list:
    """Sort key that orders embedded numbers numerically: ``frame_2`` before ``frame_10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", str(text))]


def _load_json(path: str) -> Any:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # e.g. an .npz given with --format coco
        raise PoseGCNInputError(f"{path}: not valid JSON ({exc})") from None


# --------------------------------------------------------------------------- format detection
def detect_format(path: str) -> str:
    """The format of ``path`` (one of :data:`FORMATS`), from its type and top-level keys."""
    if os.path.isdir(path):
        return "openpose"
    if not os.path.isfile(path):
        raise InputFileNotFoundError(f"keypoint file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        with np.load(path, allow_pickle=False) as f:  # listing the keys unpickles nothing
            keys = list(f.files)
        if "positions_2d" in keys:
            return "videopose3d"
        if "keypoints" in keys:
            return "posegcn"
        raise PoseGCNInputError(
            f"{path}: cannot tell the keypoint format from the keys {keys}; expected 'keypoints' "
            "(posegcn) or 'positions_2d' (VideoPose3D data_2d_custom_<name>.npz)"
        )
    if ext == ".json":
        return _json_format(_load_json(path), path)
    raise PoseGCNInputError(
        f"{path}: unsupported keypoint file type {ext!r}; use .npz, .json or an OpenPose folder"
    )


def _json_format(data: Any, path: str) -> str:
    if isinstance(data, list):
        return "coco"
    if isinstance(data, dict) and "people" in data:
        return "openpose"
    if isinstance(data, dict) and "keypoints" in data:
        return "posegcn"
    keys = sorted(data) if isinstance(data, dict) else type(data).__name__
    raise PoseGCNInputError(
        f"{path}: cannot tell the keypoint format ({keys}); expected a list of COCO results, an OpenPose "
        "frame with 'people' or an object with 'keypoints'"
    )


# --------------------------------------------------------------------------- person selection
def _select_people(
    people: np.ndarray,
    frame_of: np.ndarray,
    num_frames: int,
    ids: np.ndarray,
    track_id: int | None,
    path: str,
    id_name: str,
) -> tuple[np.ndarray, np.ndarray]:
    """One person per frame from ``people [N, J, 3]`` (x, y, confidence) of frames ``frame_of [N]``.

    The highest mean confidence per frame, among those whose ``ids [N]`` equal ``track_id``
    when given.  Returns ``xy [F, J, 2]`` (NaN where no person) and ``confidence [F, J]``.
    """
    candidate = np.ones(len(people), dtype=bool) if track_id is None else ids == track_id
    if not candidate.any():
        found = sorted(set(ids.tolist()), key=_natural_key)  # ids may mix numbers and null
        raise NoPersonError(
            f"{path}: no person with {id_name} {track_id} in any frame (the file's {id_name}s: {found[:10]})"
        )
    score = np.nan_to_num(people[..., 2], nan=0.0).mean(axis=1)
    rows = np.flatnonzero(candidate)
    # sort by frame, then by decreasing score: the first row of each frame is its best person
    rows = rows[np.lexsort((-score[rows], frame_of[rows]))]
    frames, first = np.unique(frame_of[rows], return_index=True)
    best = rows[first]
    xy = np.full((num_frames, people.shape[1], 2), np.nan, dtype=np.float32)
    confidence = np.zeros((num_frames, people.shape[1]), dtype=np.float32)
    xy[frames] = people[best, :, :2]
    confidence[frames] = people[best, :, 2]
    return xy, confidence


def _selection_text(track_id: int | None, id_name: str) -> str:
    if track_id is None:
        return "the person with the highest mean keypoint score per frame"
    return f"the person with {id_name} {track_id}"


# --------------------------------------------------------------------------- readers
def read_posegcn(path: str, data: dict | None = None) -> Keypoints:
    """posegcn's own ``.npz``/``.json``: ``keypoints [F, J, 2|3]``, ``width``, ``height``, ``layout``."""
    if data is None:
        ext = os.path.splitext(path)[1].lower()
        if ext == ".npz":
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        elif ext == ".json":
            data = _load_json(path)
        else:
            raise PoseGCNInputError(f"{path}: unsupported keypoint file type {ext!r}; use .npz or .json")
    if not isinstance(data, dict):
        raise PoseGCNInputError(f"{path}: expected a JSON object with keys 'keypoints', 'width', 'height'")
    if "keypoints" not in data:
        raise InputKeyError(
            f"{path}: no 'keypoints' entry ([frames, joints, 2] pixels); keys: {sorted(data)}"
        )
    kp = np.asarray(data["keypoints"], dtype=np.float32)
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3 or kp.shape[-1] not in (2, 3) or kp.shape[0] == 0:
        raise PoseGCNInputError(
            f"{path}: 'keypoints' must have shape [frames, joints, 2] (or [..., 3] with confidences), "
            f"got {tuple(kp.shape)}"
        )
    layout = (
        str(np.asarray(data["layout"])) if "layout" in data else {17: "h36m17", 16: "h36m16"}.get(kp.shape[1])
    )
    size = {key: (float(np.asarray(data[key])) if key in data else None) for key in ("width", "height")}
    return Keypoints(
        kp[..., :2], size["width"], size["height"], layout, path,
        confidence=kp[..., 2] if kp.shape[-1] == 3 else None,
        format="posegcn", source=f"{path} (posegcn keypoints)",
    )  # fmt: skip


def read_coco_results(path: str, track_id: int | None = None, entries: list | None = None) -> Keypoints:
    """COCO keypoint results: one person per image (see the module docstring), frames = sorted image ids."""
    if entries is None:
        entries = _load_json(path)
    if not isinstance(entries, list):
        raise PoseGCNInputError(
            f"{path}: COCO results must be a JSON list of detections, got {type(entries).__name__}"
        )
    people, image_ids, tracks = [], [], []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "keypoints" not in entry or "image_id" not in entry:
            raise PoseGCNInputError(
                f"{path}: entry {i} is not a COCO keypoint result (needs 'image_id' and 'keypoints')"
            )
        if entry.get("category_id", 1) != 1:  # not a person
            continue
        values = np.asarray(entry["keypoints"], dtype=np.float32)
        if values.shape != (51,):
            raise PoseGCNInputError(
                f"{path}: entry {i} (image_id {entry['image_id']}): 'keypoints' must hold 51 values "
                f"(17 COCO joints × [x, y, score]), got shape {values.shape}"
            )
        people.append(values.reshape(17, 3))
        image_ids.append(entry["image_id"])
        tracks.append(entry.get("track_id", -1))
    if not people:
        raise NoPersonError(f"{path}: no person detection (category_id 1) in the COCO results")
    frame_ids = sorted(set(image_ids), key=_natural_key)
    index = {image_id: f for f, image_id in enumerate(frame_ids)}
    frame_of = np.array([index[i] for i in image_ids])
    xy, confidence = _select_people(
        np.stack(people), frame_of, len(frame_ids), np.array(tracks), track_id, path, "track_id"
    )
    return Keypoints(
        xy, None, None, "coco17", path, confidence=confidence, frame_ids=np.array(frame_ids), format="coco",
        source=f"{path} (COCO results, {_selection_text(track_id, 'track_id')})",
        where="'keypoints' of the chosen detections",
    )  # fmt: skip


_OPENPOSE_LAYOUTS = {75: "openpose25", 54: "openpose18"}


def _openpose_files(path: str) -> list[str]:
    if os.path.isfile(path):
        return [path]
    files = sorted(glob.glob(os.path.join(glob.escape(path), "*_keypoints.json")), key=_natural_key)
    if not files:
        raise InputFileNotFoundError(
            f"{path}: no *_keypoints.json files (the output of OpenPose --write_json) in this folder"
        )
    return files


def read_openpose(path: str, track_id: int | None = None) -> Keypoints:
    """An OpenPose ``--write_json`` folder (or one file): one person per frame, BODY_25 or COCO-18."""
    files = _openpose_files(path)
    people, frame_of, ids, layout, layout_file = [], [], [], None, ""
    for f, name in enumerate(files):
        frame = _load_json(name)
        if not isinstance(frame, dict) or "people" not in frame:
            raise PoseGCNInputError(f"{name}: not an OpenPose keypoint file (no 'people' list)")
        for p, person in enumerate(frame["people"]):
            values = np.asarray(person.get("pose_keypoints_2d") or [], dtype=np.float32)
            if values.size == 0:  # OpenPose writes [] when run without the body model
                continue
            if values.size not in _OPENPOSE_LAYOUTS:
                raise PoseGCNInputError(
                    f"{name}: people[{p}].pose_keypoints_2d has {values.size} values; expected 75 (BODY_25) "
                    "or 54 (COCO-18) = joints × [x, y, confidence]"
                )
            if layout is None:
                layout, layout_file = _OPENPOSE_LAYOUTS[values.size], name
            elif _OPENPOSE_LAYOUTS[values.size] != layout:
                raise PoseGCNInputError(
                    f"{name}: people[{p}] is {_OPENPOSE_LAYOUTS[values.size]} but {layout_file} is {layout}: "
                    "one folder must come from one OpenPose model"
                )
            person_id = person.get("person_id", -1)
            if isinstance(person_id, list):  # OpenPose writes [-1]
                person_id = person_id[0] if person_id else -1
            people.append(values.reshape(-1, 3))
            frame_of.append(f)
            ids.append(int(person_id))
    if not people:
        raise NoPersonError(
            f"{path}: no person in any of the {len(files)} OpenPose files (every 'people' is empty)"
        )
    xy, confidence = _select_people(
        np.stack(people), np.array(frame_of), len(files), np.array(ids), track_id, path, "person_id"
    )
    # the frame number OpenPose writes into the name (<video>_000000000012_keypoints.json)
    numbers = [re.findall(r"\d+", os.path.basename(n)[: -len("_keypoints.json")]) for n in files]
    frame_ids = np.array([int(n[-1]) if n else f for f, n in enumerate(numbers)])
    return Keypoints(
        xy, None, None, layout, path, confidence=confidence, frame_ids=frame_ids, format="openpose",
        source=f"{path} (OpenPose {layout}, {len(files)} files, {_selection_text(track_id, 'person_id')})",
        where="people[].pose_keypoints_2d of the chosen people",
    )  # fmt: skip


#: VideoPose3D ``metadata['layout_name']`` → posegcn layout.
_VIDEOPOSE3D_LAYOUTS = {"coco": "coco17", "h36m": "h36m17"}


def read_videopose3d(path: str, video: str | None = None) -> Keypoints:
    """VideoPose3D's ``data_2d_custom_<name>.npz``: ``positions_2d[video]['custom'][0]`` and its size."""
    # Its dicts are stored as pickled object arrays (np.savez of a dict), as in VideoPose3D.
    with np.load(path, allow_pickle=True) as f:
        for key in ("positions_2d", "metadata"):
            if key not in f.files:
                raise InputKeyError(
                    f"{path}: no {key!r} (a VideoPose3D data_2d_custom_<name>.npz has positions_2d, metadata)"
                )
        positions, metadata = f["positions_2d"].item(), f["metadata"].item()
    names = sorted(positions)
    if video is None:
        if len(names) != 1:
            raise PoseGCNInputError(
                f"{path}: holds {len(names)} videos {names}; choose one with --video NAME"
            )
        video = names[0]
    if video not in positions:
        raise InputKeyError(f"{path}: no video {video!r} in positions_2d; videos: {names}")
    if "custom" not in positions[video]:
        raise InputKeyError(
            f"{path}: positions_2d[{video!r}] has no 'custom' entry; keys: {sorted(positions[video])}"
        )
    where = f"positions_2d[{video!r}]['custom'][0]"
    kp = np.asarray(positions[video]["custom"][0], dtype=np.float32)
    if kp.ndim != 3 or kp.shape[-1] not in (2, 3):
        raise PoseGCNInputError(f"{path}: {where} must have shape [frames, joints, 2], got {tuple(kp.shape)}")
    layout = _VIDEOPOSE3D_LAYOUTS.get(str(metadata.get("layout_name")))
    if layout is None:
        raise PoseGCNInputError(
            f"{path}: metadata['layout_name'] is {metadata.get('layout_name')!r}; expected one of "
            f"{sorted(_VIDEOPOSE3D_LAYOUTS)}"
        )
    if kp.shape[1] != LAYOUTS[layout] or metadata.get("num_joints", kp.shape[1]) != kp.shape[1]:
        raise PoseGCNInputError(
            f"{path}: {where} has {kp.shape[1]} joints; metadata says layout {metadata['layout_name']!r} "
            f"with {metadata.get('num_joints')} joints"
        )
    size = metadata.get("video_metadata", {}).get(video)
    if not isinstance(size, dict) or "w" not in size or "h" not in size:
        raise InputKeyError(
            f"{path}: no metadata['video_metadata'][{video!r}] with the image size 'w', 'h' (pixels)"
        )
    return Keypoints(
        kp[..., :2], float(size["w"]), float(size["h"]), layout, path,
        confidence=kp[..., 2] if kp.shape[-1] == 3 else None, format="videopose3d",
        source=f"{path} (VideoPose3D custom, video {video!r})", where=where,
    )  # fmt: skip


def read_keypoint_file(
    path: str,
    format: str | None = None,
    width: float | None = None,
    height: float | None = None,
    layout: str | None = None,
    track_id: int | None = None,
    video: str | None = None,
) -> Keypoints:
    """Read keypoints of any :data:`FORMATS` (auto-detected unless ``format``); arguments override the file.

    ``layout`` overrides the posegcn format's ``layout``; the other formats define their own.
    The image size must be known (from the file or ``width``/``height``) and positive.
    """
    if format is not None and format not in FORMATS:
        raise PoseGCNInputError(f"unknown keypoint format {format!r}; expected one of {list(FORMATS)}")
    data = None
    if format is None:
        if os.path.isfile(path) and os.path.splitext(path)[1].lower() == ".json":
            data = _load_json(path)  # read once: COCO results of long videos are large
            format = _json_format(data, path)
        else:
            format = detect_format(path)
    elif not os.path.exists(path):
        raise InputFileNotFoundError(f"keypoint file not found: {path}")
    if format == "posegcn":
        kp = read_posegcn(path, data)
    elif format == "coco":
        kp = read_coco_results(path, track_id, data)
    elif format == "openpose":
        kp = read_openpose(path, track_id)
    else:
        kp = read_videopose3d(path, video)
    if layout is not None and layout != kp.layout:
        if format != "posegcn":
            raise PoseGCNInputError(
                f"{path}: --layout {layout} does not apply: the {format} format is {kp.layout}"
            )
        kp.layout = layout
    if kp.layout is None or kp.layout not in LAYOUTS:
        raise PoseGCNInputError(
            f"{path}: cannot tell the joint layout of {kp.xy.shape[1]} joints ({kp.layout!r}); "
            f"give 'layout' (one of {sorted(LAYOUTS)}) in the file or --layout"
        )
    if kp.xy.shape[1] != LAYOUTS[kp.layout]:
        raise PoseGCNInputError(
            f"{path}: layout {kp.layout!r} has {LAYOUTS[kp.layout]} joints, the keypoints have {kp.xy.shape[1]}"
        )
    for key, given in (("width", width), ("height", height)):
        value = given if given is not None else getattr(kp, key)
        if value is None:
            if format == "posegcn":
                raise InputKeyError(f"{path}: the image {key} is needed (file entry {key!r} or --{key})")
            raise PoseGCNInputError(
                f"{path}: {_FORMAT_NAMES[format]} carry no image size: give --width and --height "
                "(pixels of the images the keypoints were detected in)"
            )
        if value <= 0:
            raise PoseGCNInputError(f"{path}: image {key} must be positive, got {float(value)}")
        setattr(kp, key, float(value))
    return kp


# --------------------------------------------------------------------------- missing joints
def valid_mask(kp: Keypoints, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> np.ndarray:
    """``[F, J]`` True where a joint is usable: finite, confidence above 0 and ``>= min_confidence``."""
    conf = kp.confidence
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(conf) & (conf > 0) & (conf >= min_confidence)
    return np.isfinite(kp.xy).all(axis=-1) & ok


def interpolate_missing(xy: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill ``xy [F, J, D]`` where ``valid [F, J]`` is False, per joint, linearly over frames.

    Between the nearest valid frames ``a < f < b`` of a joint: ``xy[a] + (f − a)/(b − a)·(xy[b] − xy[a])``;
    before the first / after the last valid frame the nearest valid value is held.  Every joint
    needs at least one valid frame.  Vectorised: no loop over frames or joints.
    """
    num_frames, num_joints = valid.shape
    t = np.arange(num_frames)[:, None]
    # previous / next valid frame of every (frame, joint); -1 / F where there is none
    prev = np.maximum.accumulate(np.where(valid, t, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(valid, t, num_frames)[::-1], axis=0)[::-1]
    prev, nxt = np.where(prev < 0, nxt, prev), np.where(nxt >= num_frames, prev, nxt)  # hold the edges
    span = nxt - prev
    w = np.where(span > 0, (t - prev) / np.maximum(span, 1), 0.0)[..., None]
    joints = np.arange(num_joints)
    a, b = xy[prev, joints], xy[nxt, joints]
    return np.where(valid[..., None], xy, a + w * (b - a)).astype(xy.dtype)


def fill_missing(
    kp: Keypoints, min_confidence: float = DEFAULT_MIN_CONFIDENCE, used: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints with missing joints interpolated (:func:`interpolate_missing`), and what was filled.

    Args:
        kp: keypoints as read.
        min_confidence: joints below it count as missing (:func:`valid_mask`).
        used: ``[J]`` bool, the joints the model reads (default: all); the others are left as
            they are, NaN included, and are never an error.

    Returns:
        ``xy [F, J, 2]`` with every used joint finite, and ``filled [F, J]`` bool.

    Raises:
        NoPersonError: no used joint is valid in any frame.
        MissingJointError: a used joint is valid in no frame (named, with the frame count).
    """
    num_frames, num_joints = kp.confidence.shape
    used = np.ones(num_joints, dtype=bool) if used is None else np.asarray(used, dtype=bool)
    valid = valid_mask(kp, min_confidence)
    threshold = f"confidence < {min_confidence:g}"
    if not valid[:, used].any():
        raise NoPersonError(
            f"{kp.path}: {kp.where} contains NaN or infinite values or {threshold} for every joint in "
            f"every one of the {num_frames} frames: no person to lift"
        )
    never = np.flatnonzero(used & ~valid.any(axis=0))
    if never.size:
        names = ", ".join(f"{_JOINT_NAMES[kp.layout][j]!r} ({kp.layout} {j})" for j in never)
        raise MissingJointError(
            f"{kp.path}: joint(s) {names} never valid in the {num_frames} frames (NaN or {threshold} "
            "everywhere): nothing to interpolate from; lower --min-confidence or use a sequence where it is seen"
        )
    filled = used & ~valid
    xy = kp.xy.copy()
    xy[:, used] = interpolate_missing(kp.xy[:, used], valid[:, used])
    return xy, filled
