# lightly 1.4.7 – 1.5.26: no ActiveLearningAgent: selection -> upload_scores -> selection.
# upload_dataset is gone from 1.4.13 (and cannot run in 1.4.8-1.4.12): the samples are added
# through the generated API instead.
import os

os.environ.setdefault("LIGHTLY_SERVER_LOCATION", "http://127.0.0.1:8421")  # your lightly-server

import numpy as np
import requests
from PIL import Image
from lightly.active_learning.config.selection_config import SelectionConfig
from lightly.api.api_workflow_client import ApiWorkflowClient
from lightly.openapi_generated.swagger_client.models.initial_tag_create_request import InitialTagCreateRequest
from lightly.openapi_generated.swagger_client.models.sample_create_request import SampleCreateRequest
from lightly.openapi_generated.swagger_client.models.sample_meta_data import SampleMetaData
from lightly.openapi_generated.swagger_client.models.sampling_method import SamplingMethod

IMAGES = os.environ.get("IMAGES_DIR", "images/")              # a folder of images (sub-folders allowed)
EMBEDDINGS = os.environ.get("EMBEDDINGS_CSV", "embeddings.csv")  # filenames,embedding_0,...,labels


def add_images(client, folder):
    """What upload_dataset(folder, mode="full") did: one sample per image, the image bytes PUT
    to the sample's signed write URL, then the dataset's initial tag."""
    for dirpath, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            with Image.open(path) as im:
                shape = [im.height, im.width, len(im.getbands())]
            meta = SampleMetaData(size_in_bytes=os.path.getsize(path), shape=shape)
            request = SampleCreateRequest(file_name=os.path.relpath(path, folder), meta_data=meta)
            sample = client._samples_api.create_sample_by_dataset_id(
                dataset_id=client.dataset_id, sample_create_request=request)
            url = client._samples_api.get_sample_image_write_url_by_id(
                dataset_id=client.dataset_id, sample_id=sample.id, is_thumbnail=False)
            with open(path, "rb") as f:
                requests.put(url, data=f.read()).raise_for_status()
    client._tags_api.create_initial_tag_by_dataset_id(
        dataset_id=client.dataset_id, initial_tag_create_request=InitialTagCreateRequest(img_type="full"))


client = ApiWorkflowClient(token=os.environ["LIGHTLY_TOKEN"])
client.create_dataset("quickstart")
add_images(client, IMAGES)  # upload_dataset: broken in 1.4.8-1.4.12, gone from 1.4.13
client.upload_embeddings(EMBEDDINGS, name="default")
initial = client.get_tag_by_name("initial-tag")

coreset = client.selection(SelectionConfig(method=SamplingMethod.CORESET, n_samples=10, name="coreset-10"))

# your model's softmax output, one row per sample of the query tag (initial-tag), in the
# order of client.get_filenames(); CORAL reads the "uncertainty_margin" score
probs = np.random.default_rng(0).dirichlet(np.ones(5), size=initial.tot_size)
top2 = np.sort(probs, axis=1)[:, -2:]
client.upload_scores({"uncertainty_margin": 1 - (top2[:, 1] - top2[:, 0])}, query_tag_id=initial.id)
coral = client.selection(SelectionConfig(method=SamplingMethod.CORAL, n_samples=20, name="coral-20"),
                         preselected_tag_id=coreset.id, query_tag_id=initial.id)
print("to label next:", client.get_filenames_in_tag(coral, exclude_parent_tag=True))
