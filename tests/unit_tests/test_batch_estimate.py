"""The scan loader's dry run prices batch mode at half the real-time figure (no API call)."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.document_loaders import QwenVLScanLoader

REPORT = Path(__file__).resolve().parents[2] / "examples" / "assets" / "scanned_report.pdf"


def test_estimate_cost_gives_the_batch_price() -> None:
    llm = ChatQwenVL(api_key="sk-test", region="beijing")
    loader = QwenVLScanLoader(REPORT, llm=llm, use_batch_api=True, show_progress=False)
    estimate = loader.estimate_cost()
    assert (estimate.pages, estimate.input_tokens, estimate.max_output_tokens) == (4, 9432, 16384)
    # ¥0.15 / M input and ¥1.5 / M output in real time (the price the docs quote), half in batch
    assert estimate.realtime_cost_cny == pytest.approx(0.0259908)
    assert estimate.batch_cost_cny == pytest.approx(0.0129954)
    assert "¥0.0260 real-time, ¥0.0130 with use_batch_api" in str(estimate)
