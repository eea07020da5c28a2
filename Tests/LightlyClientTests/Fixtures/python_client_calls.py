"""Calls the real Python client (lightly 1.5.26) on a dataset and prints what it gets, as JSON,
so `PythonClientParityTests` can check that the Swift client gets the same from the same server.

Usage: python_client_calls.py DATASET_NAME TAG_NAME SELECTION_NAME
with LIGHTLY_SERVER_LOCATION and LIGHTLY_TOKEN set. The test runs it with the venv made by
(from the repository root):
    python3 -m venv .build/pyclient/1.5.26
    .build/pyclient/1.5.26/bin/pip install "numpy<2" requests tqdm six python-dateutil urllib3 \
        certifi pillow pyyaml "pydantic>=1.10.5,<2.7" "aenum>=3.1.11"
    .build/pyclient/1.5.26/bin/pip install --no-deps lightly==1.5.26 lightly-utils==0.0.2
torch and friends are stubbed by Tests/conformance/lightly_harness.py.
"""
import contextlib
import importlib
import io
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conformance"))
import lightly_harness  # noqa: E402

lightly_harness.install_torch_stubs()
warnings.simplefilter("ignore")
with contextlib.redirect_stdout(io.StringIO()):
    lightly = importlib.import_module("lightly")
    ApiWorkflowClient = importlib.import_module("lightly.api.api_workflow_client").ApiWorkflowClient
    SelectionConfig = importlib.import_module("lightly.active_learning.config.selection_config").SelectionConfig
    SamplingMethod = importlib.import_module("lightly.openapi_generated.swagger_client.models").SamplingMethod

dataset_name, tag_name, selection_name = sys.argv[1:4]
client = ApiWorkflowClient(token=os.environ["LIGHTLY_TOKEN"])
out = {"version": lightly.__version__}
out["datasets_by_name"] = [d.id for d in client.get_datasets_by_name(dataset_name)]
out["datasets_by_name_missing"] = [d.id for d in client.get_datasets_by_name(dataset_name + "-missing")]
try:
    client.create_dataset(dataset_name)
    out["create_existing_raises"] = False
except ValueError:
    out["create_existing_raises"] = True
client.set_dataset_id_by_name(dataset_name)
out["dataset_id"] = client.dataset_id
out["filenames"] = client.get_filenames()
out["export_filenames"] = client.export_filenames_by_tag_name(tag_name)
out["export_filenames_and_read_urls"] = client.export_filenames_and_read_urls_by_tag_name(tag_name)
# 1.5.26 answers LabelStudioTask models here, not dicts: the download mixin's
# export_label_studio_tasks_by_tag_id comes first in the client's bases.
out["label_studio"] = [t if isinstance(t, dict) else t.to_dict(by_alias=True)
                       for t in client.export_label_studio_tasks_by_tag_name(tag_name)]
client.wait_time_till_next_poll = 0.1
tag = client.selection(SelectionConfig(method=SamplingMethod.CORESET, n_samples=30, name=selection_name))
out["selection"] = {"name": tag.name, "bitMaskData": tag.bit_mask_data}
print(json.dumps(out))
