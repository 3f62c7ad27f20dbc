"""Transcripts from where people keep them: ChatGPT and Claude.ai data exports, and PDF write-ups.

* **chatgpt** — ChatGPT's data export ``conversations.json``: a list of
  conversations, each a message tree (``mapping`` of nodes with ``parent``,
  ``children`` and a ``message`` whose ``author.role`` is user, assistant, system
  or tool and whose ``content.parts`` hold the text). The branch shown in the app
  is the path from the root to ``current_node``; regenerated answers on other
  branches, system and tool messages, hidden context and the model's thoughts are left out.
* **claude** — Claude.ai's data export ``conversations.json``: a list of
  conversations (``uuid``, ``name``, ``chat_messages``), each message with
  ``sender`` (human or assistant) and ``content`` blocks (``text``; ``thinking``
  and tool blocks are left out) or a plain ``text``. A human turn's attachments
  with extracted text are kept (the homework is often pasted as a file).
* **pdf** — a write-up as PDF: its text through poppler's ``pdftotext``, then
  read as a write-up (role markers, margin notes removed).

An export holds many conversations: ``conversation`` picks one by id or by
title (exact, else the one title that contains it). Example::

    messages = export_messages(text, "chatgpt", "export.json", conversation="HW9 attention")
    text = pdf_text(Path("writeup.pdf"))
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalkit.errors import TranscriptError

__all__ = ["ExportKind", "Message", "detect_export", "export_messages", "pdf_text"]

ExportKind = Literal["chatgpt", "claude"]
PDF_TIMEOUT_S = 60
_MAX_LISTED = 8


@dataclass(frozen=True)
class Message:
    """One message of an export, reduced to a role and its visible text."""

    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class _Conversation:
    id: str
    title: str
    data: dict[str, Any]


def detect_export(data: Any) -> ExportKind | None:
    """Which export ``data`` (parsed JSON) is, if it is one: a list of conversations of either shape."""
    items = data if isinstance(data, list) else [data]
    first = next((x for x in items if isinstance(x, dict)), None)
    if first is None:
        return None
    if "mapping" in first and "current_node" in first:
        return "chatgpt"
    if "chat_messages" in first:
        return "claude"
    return None


def _conversations(data: Any, kind: ExportKind, source: str) -> list[_Conversation]:
    items = data if isinstance(data, list) else [data]
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise TranscriptError(f"{source}: conversation {i} of the {kind} export is not an object")
        if kind == "chatgpt":
            cid = str(item.get("conversation_id") or item.get("id") or i)
            title = str(item.get("title") or "")
        else:
            cid = str(item.get("uuid") or i)
            title = str(item.get("name") or "")
        out.append(_Conversation(cid, title, item))
    return out


def _listing(conversations: list[_Conversation]) -> str:
    shown = "; ".join(f"{c.id} ({c.title or 'untitled'})" for c in conversations[:_MAX_LISTED])
    more = f"; and {len(conversations) - _MAX_LISTED} more" if len(conversations) > _MAX_LISTED else ""
    return shown + more


def _pick(conversations: list[_Conversation], wanted: str | None, source: str) -> _Conversation:
    if not conversations:
        raise TranscriptError(f"{source}: the export holds no conversations")
    if wanted is None:
        if len(conversations) == 1:
            return conversations[0]
        raise TranscriptError(
            f"{source}: the export holds {len(conversations)} conversations; pick one with "
            f"--conversation ID or TITLE: {_listing(conversations)}"
        )
    for c in conversations:
        if c.id == wanted:
            return c
    exact = [c for c in conversations if c.title.strip().lower() == wanted.strip().lower()]
    partial = [c for c in conversations if wanted.strip().lower() in c.title.lower()]
    found = exact or partial
    if len(found) == 1:
        return found[0]
    if not found:
        raise TranscriptError(
            f"{source}: no conversation has the id or title {wanted!r}; it holds: {_listing(conversations)}"
        )
    raise TranscriptError(
        f"{source}: {len(found)} conversations match {wanted!r}; pick one by id: {_listing(found)}"
    )


# --- ChatGPT -------------------------------------------------------------------------------------------

_CHATGPT_TEXT = {"text", "multimodal_text"}


def _chatgpt_path(mapping: dict[str, Any], leaf: str | None, source: str) -> list[dict[str, Any]]:
    """The nodes from the root to ``leaf`` (the branch the app shows), oldest first."""
    if leaf is None or leaf not in mapping:  # no current node: follow the last child from the root
        roots = [k for k, n in mapping.items() if isinstance(n, dict) and not n.get("parent")]
        node_id = roots[0] if roots else None
        path = []
        while node_id is not None and node_id in mapping:
            path.append(mapping[node_id])
            children = mapping[node_id].get("children") or []
            node_id = children[-1] if children else None
        return path
    path, seen = [], set()
    current: str | None = leaf
    while current is not None:
        if current in seen or current not in mapping:
            raise TranscriptError(f"{source}: the conversation's message tree is broken at node {current!r}")
        seen.add(current)
        node = mapping[current]
        path.append(node)
        current = node.get("parent")
    return path[::-1]


def _chatgpt_text(message: dict[str, Any]) -> str | None:
    content = message.get("content") or {}
    if content.get("content_type") not in _CHATGPT_TEXT:
        return None  # code run by a tool, its output, thoughts, custom instructions
    if (message.get("metadata") or {}).get("is_visually_hidden_from_conversation"):
        return None
    if message.get("recipient") not in (None, "all"):
        return None  # addressed to a tool
    parts = [p for p in content.get("parts") or [] if isinstance(p, str)]
    return "\n\n".join(parts).strip() or None


def _chatgpt_messages(conv: dict[str, Any], source: str) -> list[Message]:
    mapping = conv.get("mapping")
    if not isinstance(mapping, dict):
        raise TranscriptError(f"{source}: the conversation has no 'mapping' of messages")
    out = []
    for node in _chatgpt_path(mapping, conv.get("current_node"), source):
        message = node.get("message") if isinstance(node, dict) else None
        if not isinstance(message, dict):
            continue
        role = (message.get("author") or {}).get("role")
        if role not in ("user", "assistant"):
            continue
        text = _chatgpt_text(message)
        if text is not None:
            out.append(Message(role, text))
    return out


# --- Claude.ai -----------------------------------------------------------------------------------------


def _claude_text(message: dict[str, Any]) -> str:
    blocks = message.get("content")
    if isinstance(blocks, list) and blocks:
        texts = [str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
        text = "\n\n".join(t for t in texts if t.strip())
    else:
        text = str(message.get("text") or "")
    return text.strip()


def _attachments(message: dict[str, Any]) -> Iterable[str]:
    for item in message.get("attachments") or []:
        if isinstance(item, dict) and isinstance(item.get("extracted_content"), str):
            name = item.get("file_name") or "attachment"
            yield f"[{name}]\n{item['extracted_content'].strip()}"


def _claude_messages(conv: dict[str, Any], source: str) -> list[Message]:
    messages = conv.get("chat_messages")
    if not isinstance(messages, list):
        raise TranscriptError(f"{source}: the conversation has no list of 'chat_messages'")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise TranscriptError(f"{source}: chat message {i} is not an object")
        sender = message.get("sender")
        if sender not in ("human", "assistant"):
            raise TranscriptError(
                f"{source}: chat message {i} has sender {sender!r}; expected human or assistant"
            )
        text = _claude_text(message)
        if sender == "human":
            text = "\n\n".join([text, *_attachments(message)]).strip()
        if text:
            out.append(Message("user" if sender == "human" else "assistant", text))
    return out


def export_messages(
    text: str, kind: ExportKind | None, source: str, conversation: str | None = None
) -> list[Message]:
    """The messages of one conversation of a ChatGPT or Claude.ai export (``kind`` None: detect it)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise TranscriptError(f"{source}:{err.lineno}: not valid JSON ({err.msg})") from None
    kind = kind or detect_export(data)
    if kind is None:
        raise TranscriptError(
            f"{source}: not a ChatGPT or Claude.ai export (expected a list of conversations with "
            "'mapping' or 'chat_messages')"
        )
    chosen = _pick(_conversations(data, kind, source), conversation, source)
    where = f"{source} (conversation {chosen.id})"
    if kind == "chatgpt":
        return _chatgpt_messages(chosen.data, where)
    return _claude_messages(chosen.data, where)


# --- PDF -----------------------------------------------------------------------------------------------


def pdf_text(path: Path) -> str:
    """The text of a PDF, page breaks as blank lines, through poppler's ``pdftotext``."""
    exe = shutil.which("pdftotext")
    if exe is None:
        raise TranscriptError(
            f"{path}: reading a PDF needs poppler's pdftotext (apt-get install poppler-utils), "
            "or convert it to text first"
        )
    try:
        done = subprocess.run(
            [exe, "-enc", "UTF-8", str(path), "-"],
            capture_output=True,
            timeout=PDF_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TranscriptError(f"{path}: pdftotext did not finish within {PDF_TIMEOUT_S} s") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise TranscriptError(
            f"{path}: pdftotext cannot read it ({why[-1] if why else f'exit {done.returncode}'})"
        )
    return done.stdout.decode("utf-8", "replace").replace("\f", "\n\n")
