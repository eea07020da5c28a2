"""Writes keypoint_scorer_fixtures.json: keypoint predictions and the scores the real Python
client's ScorerKeypointDetection computes for them.

The keypoint scorer shipped in lightly 1.2.x-1.4.6 and was removed in 1.4.7; 1.4.6 is the last
release that has it (its formula did not change after it first appeared). It needs only numpy.

How to re-run it (from the repository root):
    python3 -m venv .build/keypoint-venv
    .build/keypoint-venv/bin/pip install "numpy<2"
    .build/keypoint-venv/bin/pip install --no-deps lightly==1.4.6
    .build/keypoint-venv/bin/python Tests/LightlyClientTests/Fixtures/make_keypoint_fixtures.py

`__LIGHTLY_SETUP__` makes `import lightly` a partial import that skips torch, so no stubs are
needed for these modules.
"""
import builtins
import json
import os
import warnings

builtins.__LIGHTLY_SETUP__ = True
import numpy as np

import lightly  # partial import ("setup mode")
from lightly.active_learning.scorers.keypoint_detection import ScorerKeypointDetection
from lightly.active_learning.utils.keypoint_predictions import (
    KeypointInstancePrediction,
    KeypointPrediction,
)

warnings.simplefilter("ignore", DeprecationWarning)
rng = np.random.default_rng(4321)


def random_instance(n_keypoints):
    keypoints = []
    for _ in range(n_keypoints):
        c = float(rng.uniform(0, 1))
        r = rng.uniform(0, 1)
        if r < 0.05:
            c = 0.0
        elif r < 0.1:
            c = 1.0
        keypoints += [float(rng.uniform(0, 640)), float(rng.uniform(0, 480)), c]
    return {"keypoints": keypoints, "category_id": int(rng.integers(0, 5)), "score": float(rng.uniform(0, 1))}


cases = []
# Random images: 0-4 instances of 0-17 keypoints each (an instance without keypoints is skipped,
# an image without any keypoint scores 0).
for n_images in (1, 7, 25):
    images = []
    for _ in range(n_images):
        n_instances = int(rng.integers(0, 5))
        images.append([random_instance(int(rng.choice([0, 1, 2, 5, 17]))) for _ in range(n_instances)])
    cases.append(images)
# Hand-made edges: empty image, only empty instances, one keypoint, all-zero and all-one confidences.
cases.append([
    [],
    [{"keypoints": [], "category_id": 0, "score": 0.5}],
    [{"keypoints": [1.0, 2.0, 0.3], "category_id": 1, "score": 0.9}],
    [{"keypoints": [1.0, 2.0, 0.0, 3.0, 4.0, 0.0], "category_id": 1, "score": 0.1}],
    [{"keypoints": [1.0, 2.0, 1.0], "category_id": 2, "score": 0.2},
     {"keypoints": [5.0, 6.0, 1.0, 7.0, 8.0, 1.0], "category_id": 2, "score": 0.3}],
    [{"keypoints": [], "category_id": 0, "score": 0.5},
     {"keypoints": [1.0, 2.0, 0.2, 3.0, 4.0, 0.4, 5.0, 6.0, 0.9], "category_id": 3, "score": 0.7}],
])
# No images at all.
cases.append([])

out = {"lightly_version": lightly.__version__, "numpy_version": np.__version__, "cases": [], "invalid": []}
for images in cases:
    model_output = [KeypointPrediction.from_dicts(dicts) for dicts in images]
    scores = ScorerKeypointDetection(model_output).calculate_scores()
    out["cases"].append({
        "images": images,
        "scores": {k: [float(x) for x in np.asarray(v).ravel()] for k, v in scores.items()},
    })

# Instances the Python client rejects with ValueError, and ones it accepts at the bounds.
for keypoints in ([1.0, 2.0], [1.0, 2.0, 0.5, 3.0], [1.0, 2.0, -0.01], [1.0, 2.0, 1.01],
                  [1.0, 2.0, 0.0], [1.0, 2.0, 1.0], []):
    try:
        KeypointInstancePrediction(keypoints)
        rejected = False
    except ValueError:
        rejected = True
    out["invalid"].append({"keypoints": keypoints, "rejected": rejected})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keypoint_scorer_fixtures.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path)
