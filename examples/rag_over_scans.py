"""RAG over scans: scan -> Markdown pages -> chunks -> BM25 -> answers citing page numbers.

The bundled ``examples/assets/scanned_report.pdf`` is a 4-page *scan* (images only, no text
layer; made by ``scripts/make_scanned_pdf.py``): a report with text, a results table and a red
approval stamp. Qwen3-VL transcribes each page to Markdown, the pages are split into chunks
that remember their page, a BM25 retriever (no embeddings, no network) picks the chunks for a
question, and the model answers from them, citing pages.

With DASHSCOPE_API_KEY set this uses the real Qwen3-VL-Flash service. Without it, it runs
offline against the bundled emulator with **scripted replies** (the emulator is not a model):

- each page image is answered with that page's transcript from
  ``examples/assets/scanned_report_pages.json`` — ``by_image`` matches the page images the
  loader sends to thumbnails of the PDF's pages, so the scan loader, cache, chunking and BM25
  all run on real report text;
- each question is answered by a small function that quotes the line of the top-ranked excerpt
  that shares the most words with the question, citing its page — standing in for the model.

    python examples/rag_over_scans.py

Transcribed pages are cached (see CACHE below): a second run makes no page requests.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr
from rank_bm25 import BM25Okapi

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.document_loaders import QwenVLScanLoader

SCAN = Path(__file__).parent / "assets" / "scanned_report.pdf"
TRANSCRIPTS = Path(__file__).parent / "assets" / "scanned_report_pages.json"
CACHE = Path(tempfile.gettempdir()) / "langchain-qwen-vl-example-scans"
QUESTIONS = (
    "What turbidity was measured on filter bed 3, and what is the limit?",
    "Who approved the report, and on which date?",
    "How much did the filter bed 3 media replacement cost?",
)


@contextlib.contextmanager
def chat_model() -> Iterator[ChatQwenVL]:
    if os.environ.get("DASHSCOPE_API_KEY"):
        print("Using the real Qwen3-VL-Flash service (DASHSCOPE_API_KEY is set).")
        yield ChatQwenVL()
        return
    from langchain_qwen_vl.emulator import by_image, run_emulator

    replies = by_image(page_transcripts(), default=quote_best_line)
    with run_emulator(replies=replies) as emulator:
        print(f"No DASHSCOPE_API_KEY: offline against the emulator at {emulator.base_url},")
        print("  scripted with the report's page transcripts (the emulator is not a model).")
        yield ChatQwenVL(api_key="sk-emulator", base_url=emulator.base_url)


# --- offline: what the scripted emulator answers ------------------------------------------------


def page_transcripts() -> list[tuple[Any, str]]:
    """(thumbnail of page N, transcript of page N) pairs, for ``by_image``."""
    import pypdfium2

    texts = json.loads(TRANSCRIPTS.read_text(encoding="utf-8"))
    pdf = pypdfium2.PdfDocument(SCAN)
    try:
        return [(pdf[i].render(scale=0.3).to_pil(), text) for i, text in enumerate(texts)]
    finally:
        pdf.close()


def quote_best_line(request: Any) -> str:
    """Answer a question from the excerpts in the prompt: the line of the first (top-ranked)
    excerpt sharing most words with the question, with that excerpt's page."""
    prompt = request.text
    question = set(_words(prompt.rpartition("Question:")[2]))
    excerpts = re.findall(r"\[page (\d+)\]\n(.*?)(?=\n\n\[page |\n\nQuestion:)", prompt, re.S)
    if not excerpts:
        return "The report does not say."
    page, text = excerpts[0]
    lines = [line for line in text.splitlines() if line.strip()]
    best = max(lines, key=lambda line: len(question & set(_words(line))))
    return f"{best.strip()} (p. {page})"


# --- split: paragraphs packed into chunks, each keeping its page ----------------------------


def split_pages(pages: Sequence[Document], max_chars: int = 800) -> list[Document]:
    """Chunks of whole paragraphs (a Markdown table stays one paragraph) per page."""
    chunks: list[Document] = []
    for page in pages:
        if "error" in page.metadata:
            print(f"  skipped: {page.metadata['error']}")
            continue
        current = ""
        for paragraph in re.split(r"\n\s*\n", page.page_content):
            if current and len(current) + len(paragraph) > max_chars:
                chunks.append(Document(current, metadata=dict(page.metadata)))
                current = ""
            current = f"{current}\n\n{paragraph}".strip()
        if current:
            chunks.append(Document(current, metadata=dict(page.metadata)))
    return chunks


# --- retrieve: BM25 in a dozen lines ------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


class BM25Retriever(BaseRetriever):
    """Keyword retrieval with rank-bm25: no embeddings, no network."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    documents: list[Document]
    k: int = 3
    _index: BM25Okapi = PrivateAttr()

    def model_post_init(self, __context: object) -> None:
        self._index = BM25Okapi([_words(d.page_content) for d in self.documents])

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        scores = self._index.get_scores(_words(query))
        ranked = sorted(range(len(self.documents)), key=lambda i: scores[i], reverse=True)
        return [self.documents[i] for i in ranked[: self.k]]


# --- answer with citations ------------------------------------------------------------------------


def answer(llm: BaseChatModel, retriever: BM25Retriever, question: str) -> tuple[str, list[int]]:
    """The model's answer from the retrieved chunks, and the (1-based) pages it was given."""
    chunks = retriever.invoke(question)
    context = "\n\n".join(f"[page {d.metadata['page'] + 1}]\n{d.page_content}" for d in chunks)
    messages = [
        SystemMessage(
            "Answer from the excerpts of a scanned report only. Cite the page of every fact "
            "as (p. N). If the excerpts do not say, answer that the report does not say."
        ),
        HumanMessage(f"Excerpts:\n{context}\n\nQuestion: {question}"),
    ]
    reply = llm.invoke(messages)
    return reply.text, sorted({d.metadata["page"] + 1 for d in chunks})


def main() -> None:
    with chat_model() as llm:
        loader = QwenVLScanLoader(SCAN, llm=llm, cache_dir=CACHE / llm.model, max_concurrency=4)
        print(f"\n== Dry run: {loader.estimate_cost()}")

        print("\n== Transcribing the scan page by page (Markdown)")
        pages = loader.load()
        stats = loader.last_run_stats
        if stats is not None:
            print(
                f"  {stats.pages_done} pages, {stats.pages_cached} from the cache, "
                f"{stats.input_tokens:,} input + {stats.output_tokens:,} output tokens billed"
            )
        for page in pages:
            first_line = page.page_content.strip().splitlines()[0] if page.page_content else ""
            print(f"  p. {page.metadata['page'] + 1}: {first_line[:90]}")

        chunks = split_pages(pages)
        retriever = BM25Retriever(documents=chunks, k=2)
        print(f"\n== Indexed {len(chunks)} chunks with BM25")

        for question in QUESTIONS:
            text, cited = answer(llm, retriever, question)
            print(f"\nQ: {question}\nA: {text.strip()[:400]}")
            print(f"   sources: {', '.join(f'{SCAN.name} p. {n}' for n in cited)}")


if __name__ == "__main__":
    main()
