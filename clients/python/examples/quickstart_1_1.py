# lightly 1.1.0 – 1.2.13: ActiveLearningAgent + SamplerConfig.
import os

os.environ.setdefault("LIGHTLY_SERVER_LOCATION", "http://127.0.0.1:8421")  # your lightly-server

import lightly
import numpy as np
from lightly.active_learning.agents.agent import ActiveLearningAgent
from lightly.active_learning.config.sampler_config import SamplerConfig
from lightly.active_learning.scorers.classification import ScorerClassification
from lightly.api.api_workflow_client import ApiWorkflowClient
from lightly.openapi_generated.swagger_client.models.sampling_method import SamplingMethod

IMAGES = os.environ.get("IMAGES_DIR", "images/")              # a folder of images (sub-folders allowed)
EMBEDDINGS = os.environ.get("EMBEDDINGS_CSV", "embeddings.csv")  # filenames,embedding_0,...,labels

client = ApiWorkflowClient(token=os.environ["LIGHTLY_TOKEN"])
client.create_dataset("quickstart")
client.upload_dataset(IMAGES, mode="thumbnails")
client.upload_embeddings(EMBEDDINGS, name="default")

agent = ActiveLearningAgent(client)
agent.query(SamplerConfig(method=SamplingMethod.CORESET, n_samples=10, name="coreset-10"))

# your model's softmax output, one row per sample of agent.query_set
# (1.1.0-1.1.6: one row per sample of agent.unlabeled_set)
up_to_1_1_6 = tuple(int(x) for x in lightly.__version__.split(".")[:3]) <= (1, 1, 6)
rows = len(agent.unlabeled_set) if up_to_1_1_6 else len(agent.query_set)
predictions = np.random.default_rng(0).dirichlet(np.ones(5), size=rows)
agent.query(SamplerConfig(method=SamplingMethod.CORAL, n_samples=20, name="coral-20"),
            al_scorer=ScorerClassification(predictions))
print("selected so far:", len(agent.labeled_set), "samples")
