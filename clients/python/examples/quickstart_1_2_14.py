# lightly 1.2.14 – 1.4.6: ActiveLearningAgent + SelectionConfig.
import os

os.environ.setdefault("LIGHTLY_SERVER_LOCATION", "http://127.0.0.1:8421")  # your lightly-server

import numpy as np
from lightly.active_learning.agents.agent import ActiveLearningAgent
from lightly.active_learning.config.selection_config import SelectionConfig
from lightly.active_learning.scorers.classification import ScorerClassification
from lightly.api.api_workflow_client import ApiWorkflowClient
from lightly.openapi_generated.swagger_client.models.sampling_method import SamplingMethod

IMAGES = os.environ.get("IMAGES_DIR", "images/")              # a folder of images (sub-folders allowed)
EMBEDDINGS = os.environ.get("EMBEDDINGS_CSV", "embeddings.csv")  # filenames,embedding_0,...,labels

client = ApiWorkflowClient(token=os.environ["LIGHTLY_TOKEN"])
client.create_dataset("quickstart")
client.upload_dataset(IMAGES, mode="thumbnails")
client.upload_embeddings(EMBEDDINGS, name="default")

agent = ActiveLearningAgent(client, query_tag_name="initial-tag")  # required from 1.4.6
agent.query(SelectionConfig(method=SamplingMethod.CORESET, n_samples=10, name="coreset-10"))

# your model's softmax output, one row per sample of agent.query_set
predictions = np.random.default_rng(0).dirichlet(np.ones(5), size=len(agent.query_set))
agent.query(SelectionConfig(method=SamplingMethod.CORAL, n_samples=20, name="coral-20"),
            al_scorer=ScorerClassification(predictions))
print("to label next:", sorted(agent.added_set))
