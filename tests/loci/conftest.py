"""Shared fixtures of the loci tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Every loci test runs torch on one thread (the suite shares a small CPU)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
