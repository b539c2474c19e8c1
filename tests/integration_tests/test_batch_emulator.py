"""QwenVLBatch against the emulator's Batch API over loopback: submit, poll, results, cancel."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from PIL import Image

from langchain_qwen_vl import ChatQwenVL, QwenVLBatch, QwenVLBatchError, QwenVLBatchJob
from langchain_qwen_vl._batch_job import encode_job_id
from langchain_qwen_vl.emulator import EmulatorHandle
from langchain_qwen_vl.errors import (
    QwenVLBadRequestError,
    QwenVLContentModerationError,
    QwenVLInputError,
    QwenVLTimeoutError,
)

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("no_poll_sleep")


def _llm(emu: EmulatorHandle) -> ChatQwenVL:
    return ChatQwenVL(base_url=emu.base_url, api_key="sk-emulator")


def _png(width: int, height: int) -> str:
    """Noise, so that the PNG's size grows with its pixels (a flat colour compresses to nothing)."""
    buffer = io.BytesIO()
    Image.frombytes(
        "RGB", (width, height), random.Random(width).randbytes(width * height * 3)
    ).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _image_message(text: str, width: int = 64, height: int = 48) -> list[HumanMessage]:
    block = {"type": "image", "base64": _png(width, height), "mime_type": "image/png"}
    return [HumanMessage(content=[{"type": "text", "text": text}, block])]


def test_results_in_input_order_as_invoke_gives_them(emu: EmulatorHandle) -> None:
    llm = _llm(emu)
    inputs = [_image_message("What colour?"), "Hello", ("Think first", {"enable_thinking": True})]
    job = QwenVLBatch(llm).submit(inputs)
    assert isinstance(job.id, str)
    assert job.id.startswith("qvlb2:")
    results = job.results(poll_interval=0.01, timeout=10)
    assert job.status == "completed"
    expected = [
        llm.invoke(inputs[0]),
        llm.invoke("Hello"),
        llm.invoke("Think first", enable_thinking=True),
    ]
    for got, want in zip(results, expected, strict=True):
        assert isinstance(got, AIMessage)
        assert got.content == want.content
        assert got.usage_metadata == want.usage_metadata
        assert got.additional_kwargs == want.additional_kwargs
        assert set(got.response_metadata) == set(want.response_metadata)
    # the line carried exactly the real-time payload (thinking at the top level of the body)
    assert "enable_thinking" not in str(emu.requests[0])


def test_failed_line_among_successes_is_the_typed_error(emu: EmulatorHandle) -> None:
    emu.batch.fail_line("1")
    results = QwenVLBatch(_llm(emu)).submit(["a", "b", "c"]).results(poll_interval=0.01, timeout=10)
    assert [type(r).__name__ for r in results] == [
        "AIMessage",
        "QwenVLContentModerationError",
        "AIMessage",
    ]
    assert isinstance(results[1], QwenVLContentModerationError)
    assert results[1].code == "data_inspection_failed"


def test_failed_line_in_the_output_file_is_still_an_error(emu: EmulatorHandle) -> None:
    emu.batch.settings.failed_lines_in_output = True
    emu.batch.fail_line("0")
    job = QwenVLBatch(_llm(emu)).submit(["a", "b"])
    results = job.results(poll_interval=0.01, timeout=10)
    assert job.request_counts["failed"] == 0  # as observed on the service
    assert isinstance(results[0], QwenVLContentModerationError)
    assert isinstance(results[1], AIMessage)


def test_split_over_the_request_limit_is_one_handle(
    emu: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    job = QwenVLBatch(_llm(emu), max_requests_per_file=2).submit([f"q{i}" for i in range(5)])
    assert len(job.sub_jobs) == 3
    assert emu.batch.uploads == 3
    results = job.results(poll_interval=0.01, timeout=10, show_progress=True)
    assert "5/5" in capsys.readouterr().err  # the tqdm bar reached every request
    assert [r.content for r in results if isinstance(r, AIMessage)] == [
        f'[emulator] No images received. You asked: "q{i}"' for i in range(5)
    ]


def test_split_over_the_byte_limit(emu: EmulatorHandle) -> None:
    inputs = [_image_message(f"p{i}", 200, 200) for i in range(4)]
    job = QwenVLBatch(_llm(emu), max_file_bytes=3000).submit(inputs)
    assert len(job.sub_jobs) == 4
    assert all(isinstance(r, AIMessage) for r in job.results(poll_interval=0.01, timeout=10))


def test_statuses_progress_with_the_clock(emu: EmulatorHandle) -> None:
    settings = emu.batch.settings
    settings.validating_s, settings.seconds_per_request, settings.finalizing_s = 10, 5, 10
    job = QwenVLBatch(_llm(emu)).submit(["a", "b", "c", "d"])
    seen = [job.refresh().status]
    for _ in range(3):
        emu.batch.advance(11)
        seen.append(job.refresh().status)
    emu.batch.advance(30)
    seen.append(job.refresh().status)
    assert seen == ["validating", "in_progress", "in_progress", "finalizing", "completed"]
    with pytest.raises(QwenVLBatchError, match="not finished"):
        QwenVLBatch(_llm(emu)).submit(["x"]).results(wait=False)


def test_wait_times_out_with_the_job_id(emu: EmulatorHandle) -> None:
    emu.batch.settings.validating_s = 3600
    job = QwenVLBatch(_llm(emu)).submit(["a"])
    with pytest.raises(QwenVLTimeoutError, match=re.escape(job.id)):
        job.results(poll_interval=0.01, timeout=0.05)


def test_cancel_keeps_finished_results(emu: EmulatorHandle) -> None:
    emu.batch.settings.seconds_per_request = 10
    job = QwenVLBatch(_llm(emu)).submit(["a", "b", "c", "d"])
    job.refresh()
    emu.batch.advance(21)  # two lines have run
    job.cancel()
    assert job.status in ("cancelling", "cancelled")
    results = job.results(poll_interval=0.01, timeout=10)
    assert job.status == "cancelled"
    assert [type(r).__name__ for r in results] == ["AIMessage"] * 2 + ["QwenVLBatchError"] * 2
    assert job.request_counts == {"total": 4, "completed": 2, "failed": 2}
    # cancelling a settled batch is refused by the service
    response = httpx.post(
        f"{emu.base_url}/batches/{job.sub_jobs[0].batch_id}/cancel",
        headers={"Authorization": "Bearer sk-emulator"},
    )
    assert response.status_code == 400
    assert "cannot be cancelled" in response.json()["error"]["message"]


def test_expiry_leaves_unrun_lines_as_errors(emu: EmulatorHandle) -> None:
    emu.batch.settings.seconds_per_request = 3600 * 20
    job = QwenVLBatch(_llm(emu)).submit(["a", "b", "c"])
    emu.batch.advance(25 * 3600)
    results = job.results(poll_interval=0.01, timeout=10)
    assert job.status == "expired"
    assert isinstance(results[0], AIMessage)
    assert [getattr(r, "code", None) for r in results[1:]] == ["batch_expired"] * 2


def _raw(emu: EmulatorHandle, lines: list[dict[str, object]]) -> dict[str, object]:
    headers = {"Authorization": "Bearer sk-emulator"}
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    uploaded = httpx.post(
        emu.base_url + "/files",
        headers=headers,
        files={"file": ("in.jsonl", data)},
        data={"purpose": "batch"},
    ).json()
    created = httpx.post(
        emu.base_url + "/batches",
        headers=headers,
        json={"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions",
              "completion_window": "24h"},
    ).json()  # fmt: skip
    assert created["status"] == "validating"  # validation is asynchronous, as on the service
    batch: dict[str, object] = httpx.get(
        f"{emu.base_url}/batches/{created['id']}", headers=headers
    ).json()
    return batch


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        (
            [{"custom_id": "1", "method": "POST", "url": "/v1/chat/completion", "body": {}}],
            "url_not_found",
        ),
        (
            [
                {"custom_id": "1", "method": "POST", "url": "/v1/chat/completions",
                 "body": {"model": "qwen3-vl-flash", "messages": []}},
            ] * 2,
            "duplicate_custom_id",
        ),
        (
            [
                {"custom_id": str(i), "method": "POST", "url": "/v1/chat/completions",
                 "body": {"model": model, "messages": []}}
                for i, model in enumerate(["qwen3-vl-flash", "qwen3-vl-plus"])
            ],
            "mismatched_model",
        ),
    ],
)  # fmt: skip
def test_file_validation_fails_the_batch(
    emu: EmulatorHandle, lines: list[dict[str, object]], code: str
) -> None:
    batch = _raw(emu, lines)
    assert batch["status"] == "failed"
    errors = batch["errors"]
    assert isinstance(errors, dict)
    assert errors["data"][0]["code"] == code
    assert batch["output_file_id"] is None
    assert batch["error_file_id"] is None


def test_list_jobs_empty_is_null_then_lists(emu: EmulatorHandle) -> None:
    batch = QwenVLBatch(_llm(emu))
    raw = httpx.get(emu.base_url + "/batches", headers={"Authorization": "Bearer sk-emulator"})
    assert raw.json()["data"] is None
    assert batch.list_jobs() == []
    job = batch.submit(["a"])
    assert [b["id"] for b in batch.list_jobs()] == [job.sub_jobs[0].batch_id]


def test_media_url_hook_for_lines_over_the_limit(emu: EmulatorHandle, tmp_path: Path) -> None:
    served: list[str] = []

    def host(data: bytes, mime: str) -> str:
        path = tmp_path / f"{len(served)}.png"
        path.write_bytes(data)
        served.append(mime)
        return f"https://images.example/{path.name}"

    job = QwenVLBatch(_llm(emu), media_url=host, max_line_bytes=3000).submit(
        [_image_message("small", 16, 16), _image_message("big", 400, 300)]
    )
    results = job.results(poll_interval=0.01, timeout=10)
    assert served == ["image/png"]  # only the line that did not fit
    assert all(isinstance(r, AIMessage) for r in results)


def test_resume_from_the_id_in_a_fresh_process(emu: EmulatorHandle) -> None:
    emu.batch.settings.validating_s = 5
    job = QwenVLBatch(_llm(emu)).submit(["first", "second"])
    emu.batch.advance(6)
    code = (
        "import json, sys\n"
        "from langchain_qwen_vl import ChatQwenVL, QwenVLBatch\n"
        "llm = ChatQwenVL(base_url=sys.argv[1], api_key='sk-emulator')\n"
        "results = QwenVLBatch(llm).job(sys.argv[2]).results(poll_interval=0.05, timeout=20)\n"
        "print(json.dumps([r.content for r in results]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, emu.base_url, job.id],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        '[emulator] No images received. You asked: "first"',
        '[emulator] No images received. You asked: "second"',
    ]


def test_async_twins(emu: EmulatorHandle) -> None:
    async def main() -> tuple[str | None, list[object], str | None]:
        llm = _llm(emu)
        batch = QwenVLBatch(llm)
        job = await batch.asubmit(["a", _image_message("b")])
        results = await job.aresults(poll_interval=0.01, timeout=10)
        emu.batch.settings.validating_s = 600
        other = await batch.asubmit(["c"])
        await other.acancel()
        await other.arefresh()
        await llm.aclose()
        return job.status, list(results), other.status

    status, results, cancelled = asyncio.run(main())
    assert status == "completed"
    assert all(isinstance(r, AIMessage) for r in results)
    assert cancelled == "cancelled"


def test_result_files_in_the_recorded_line_format(emu: EmulatorHandle) -> None:
    headers = {"Authorization": "Bearer sk-emulator"}
    emu.batch.fail_line("1")
    job = QwenVLBatch(_llm(emu)).submit(["a", "b"])
    job.results(poll_interval=0.01, timeout=10)
    batch = job.batches[job.sub_jobs[0].batch_id]
    assert batch["expires_at"] is None  # as recorded
    assert batch["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    for key in ("output_file_id", "error_file_id"):
        assert str(batch[key]).startswith("file-batch_output-")
    output = httpx.get(f"{emu.base_url}/files/{batch['output_file_id']}/content", headers=headers)
    [ok] = output.text.splitlines()
    line = json.loads(ok)
    assert set(line) == {"id", "custom_id", "response", "error"}
    assert line["id"] == line["response"]["request_id"]
    assert line["response"]["body"]["id"] == "chatcmpl-" + line["id"]
    assert line["error"] is None
    errors = httpx.get(f"{emu.base_url}/files/{batch['error_file_id']}/content", headers=headers)
    [bad] = errors.text.splitlines()
    failed = json.loads(bad)
    assert failed["custom_id"] == "1"
    assert failed["error"]["code"] == "data_inspection_failed"
    # inputs cannot be downloaded, as documented
    denied = httpx.get(f"{emu.base_url}/files/{batch['input_file_id']}/content", headers=headers)
    assert denied.status_code == 400


def test_on_part_runs_as_each_batch_is_created_and_a_resubmit_adopts(emu: EmulatorHandle) -> None:
    llm = _llm(emu)
    seen: list[tuple[str, int, int]] = []

    def on_part(part: QwenVLBatchJob) -> None:  # what the service holds at that moment
        seen.append((part.id, emu.batch.uploads, len(emu.batch.batches)))

    job = QwenVLBatch(llm, max_requests_per_file=2).submit(["a", "b", "c"], on_part=on_part)
    assert [(uploads, batches) for _, uploads, batches in seen] == [(1, 1), (2, 2)]
    assert [part_id for part_id, _, _ in seen] == [encode_job_id([s]) for s in job.sub_jobs]
    second = QwenVLBatch(llm).job(seen[1][0]).results(poll_interval=0.01, timeout=10)
    assert [m.content for m in second] == ['[emulator] No images received. You asked: "c"']
    # the same inputs again: adopted with adopt_existing (nothing uploaded), created without
    again = QwenVLBatch(llm, max_requests_per_file=2, adopt_existing=True).submit(["a", "b", "c"])
    assert again.id == job.id
    assert emu.batch.uploads == 2
    QwenVLBatch(llm, max_requests_per_file=2).submit(["a", "b", "c"])
    assert len(emu.batch.batches) == 4


def test_an_id_of_an_earlier_version_still_reads(emu: EmulatorHandle) -> None:
    """qvlb1 ids numbered lines by input index: a second file's ids start at its first index."""
    lines = [
        {"custom_id": str(i), "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": "qwen3-vl-flash", "messages": [{"role": "user", "content": f"q{i}"}]}}
        for i in (2, 3)
    ]  # fmt: skip
    batch = _raw(emu, lines)
    job = QwenVLBatch(_llm(emu)).job(f"qvlb1:{batch['id']}@2+2")
    assert [m.content for m in job.results(poll_interval=0.01, timeout=10)] == [
        f'[emulator] No images received. You asked: "q{i}"' for i in (2, 3)
    ]


def test_files_list_and_delete(emu: EmulatorHandle) -> None:
    headers = {"Authorization": "Bearer sk-emulator"}

    def upload(name: str) -> str:
        answer = httpx.post(
            emu.base_url + "/files",
            headers=headers,
            files={"file": (name, b"{}\n")},
            data={"purpose": "batch"},
        )
        return str(answer.json()["id"])

    first, second = upload("a.jsonl"), upload("b.jsonl")
    listed = httpx.get(emu.base_url + "/files", headers=headers).json()
    assert listed["object"] == "list"
    assert listed["has_more"] is False
    assert {(f["id"], f["filename"], f["purpose"]) for f in listed["data"]} == {
        (first, "a.jsonl", "batch"),
        (second, "b.jsonl", "batch"),
    }
    deleted = httpx.delete(f"{emu.base_url}/files/{first}", headers=headers)
    assert deleted.json() == {"id": first, "object": "file", "deleted": True}  # as recorded
    assert [
        f["id"] for f in httpx.get(emu.base_url + "/files", headers=headers).json()["data"]
    ] == [second]
    for gone in (
        httpx.get(f"{emu.base_url}/files/{first}", headers=headers),
        httpx.delete(f"{emu.base_url}/files/{first}", headers=headers),
    ):
        assert gone.status_code == 404
        assert first in gone.json()["error"]["message"]


def test_a_line_the_service_refuses_comes_back_as_that_lines_typed_error(
    emu: EmulatorHandle,
) -> None:
    """Each line runs the real-time validation: an image the service cannot fetch."""
    llm = _llm(emu)
    unreachable = emu.base_url.split("/compatible-mode")[0] + "/missing.png"
    image = [HumanMessage(content=[{"type": "text", "text": "what"},
                                   {"type": "image", "url": unreachable}])]  # fmt: skip
    results = QwenVLBatch(llm).submit(["fine", image]).results(poll_interval=0.01, timeout=10)
    assert isinstance(results[0], AIMessage)
    for result, value in zip(results[1:], [image], strict=True):
        with pytest.raises(QwenVLBadRequestError) as realtime:
            llm.invoke(value)
        assert type(result) is type(realtime.value)
        assert result.code == realtime.value.code == "invalid_parameter_error"
        assert str(result).split(" [request_id")[0] == str(realtime.value).split(" [request_id")[0]


def test_alist_jobs_pages_and_filters(emu: EmulatorHandle) -> None:
    emu.batch.delay(3, 3600)  # the third batch stays validating

    async def main() -> tuple[list[str], list[list[str]]]:
        batch = QwenVLBatch(_llm(emu))
        empty = await batch.alist_jobs()
        jobs = [await batch.asubmit([f"q{i}"]) for i in range(3)]
        newest = await batch.alist_jobs(limit=2)
        rest = await batch.alist_jobs(limit=2, after=newest[-1]["id"])
        validating = await batch.alist_jobs(status="validating")
        completed = await batch.alist_jobs(status="completed,cancelled")
        await batch.llm.aclose()
        ids = [job.sub_jobs[0].batch_id for job in jobs]
        pages = [empty, newest, rest, validating, completed]
        return ids, [[b["id"] for b in page] for page in pages]

    ids, (empty, newest, rest, validating, completed) = asyncio.run(main())
    assert empty == []  # the service's data: null
    assert newest + rest == ids[::-1]  # newest first, the second page after the first's last id
    assert validating == [ids[2]]
    assert completed == [ids[1], ids[0]]
    with pytest.raises(QwenVLInputError, match="limit=0"):
        asyncio.run(QwenVLBatch(_llm(emu)).alist_jobs(limit=0))
