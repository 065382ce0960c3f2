import os
import warnings

import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    warnings.simplefilter("default")
