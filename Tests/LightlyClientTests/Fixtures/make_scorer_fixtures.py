"""Writes scorer_fixtures.json: predictions and the scores the real Python client computes.

How it was made (run from the repository root):
    python3 -m venv /tmp/fixvenv && /tmp/fixvenv/bin/pip install "numpy<2"
    /tmp/fixvenv/bin/pip install --no-deps lightly==1.1.23
    /tmp/fixvenv/bin/python Tests/LightlyClientTests/Fixtures/make_scorer_fixtures.py

The scorer modules need only numpy; `__LIGHTLY_SETUP__` keeps `import lightly` from
importing torch (Tests/conformance/README.md).
"""
import builtins, json, os, sys, types
import importlib.util

builtins.__LIGHTLY_SETUP__ = True
import numpy as np
import lightly  # partial import ("setup mode")

def load(modname):
    import importlib
    return importlib.import_module(modname)

# lightly.active_learning/__init__ imports agents -> api -> torch; load the scorer modules directly.
base = os.path.dirname(lightly.__file__)
def load_file(name, rel):
    spec = importlib.util.spec_from_file_location(name, os.path.join(base, rel))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod

pkg = types.ModuleType("lightly.active_learning"); pkg.__path__ = [os.path.join(base, "active_learning")]
sys.modules["lightly.active_learning"] = pkg
sc = types.ModuleType("lightly.active_learning.scorers"); sc.__path__ = [os.path.join(base, "active_learning/scorers")]
sys.modules["lightly.active_learning.scorers"] = sc
ut = types.ModuleType("lightly.active_learning.utils"); ut.__path__ = [os.path.join(base, "active_learning/utils")]
sys.modules["lightly.active_learning.utils"] = ut
scorer = load_file("lightly.active_learning.scorers.scorer", "active_learning/scorers/scorer.py")
cls = load_file("lightly.active_learning.scorers.classification", "active_learning/scorers/classification.py")
sc.ScorerClassification = cls.ScorerClassification
bb = load_file("lightly.active_learning.utils.bounding_box", "active_learning/utils/bounding_box.py")
odo = load_file("lightly.active_learning.utils.object_detection_output", "active_learning/utils/object_detection_output.py")
det = load_file("lightly.active_learning.scorers.detection", "active_learning/scorers/detection.py")
seg = load_file("lightly.active_learning.scorers.semantic_segmentation", "active_learning/scorers/semantic_segmentation.py")

rng = np.random.default_rng(1234)
out = {"lightly_version": lightly.__version__, "numpy_version": np.__version__, "classification": [], "detection": [], "segmentation": []}

def tolist(d):
    return {k: [float(x) for x in np.asarray(v).ravel()] for k, v in d.items()}

for classes in (1, 2, 5, 10):
    p = rng.dirichlet(np.ones(max(classes, 2)) * 0.7, size=40)
    if classes == 1:
        p = p[:, :1]
    p = np.vstack([p, np.eye(p.shape[1])[:1], np.ones((1, p.shape[1])) / p.shape[1]]) if classes > 1 else p
    s = cls.ScorerClassification(p).calculate_scores()
    out["classification"].append({"predictions": p.tolist(), "scores": tolist(s)})

for _ in range(3):
    outputs = []
    for img in range(12):
        nboxes = int(rng.integers(0, 5))
        boxes = [bb.BoundingBox(0.1, 0.1, 0.5, 0.5) for _ in range(nboxes)]
        obj = [float(x) for x in rng.uniform(0, 1, nboxes)]
        clsp = [list(map(float, rng.dirichlet(np.ones(4)))) for _ in range(nboxes)]
        outputs.append((obj, clsp))
    model_output = [odo.ObjectDetectionOutput([bb.BoundingBox(0.1, 0.1, 0.5, 0.5)] * len(o), o, c) for o, c in outputs]
    s = det.ScorerObjectDetection(model_output).calculate_scores()
    out["detection"].append({"outputs": [{"objectProbabilities": o, "classProbabilities": c} for o, c in outputs], "scores": tolist(s)})

preds = [rng.dirichlet(np.ones(3), size=(4, 5)) for _ in range(6)]
s = seg.ScorerSemanticSegmentation(preds).calculate_scores()
out["segmentation"].append({"predictions": [p.reshape(-1, 3).tolist() for p in preds], "scores": tolist(s)})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scorer_fixtures.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path)
