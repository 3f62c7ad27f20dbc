"""Concurrent conversations: the connection cap holds, samples and several models run together."""

from __future__ import annotations

import json
from pathlib import Path

from evalkit import api
from tests.fakeserver import FakeProvider
from tests.tutor import TRIO, answer, expected_parts


def config(tmp: Path, base_url: str, **kw) -> api.RunConfig:
    return api.RunConfig(
        base_url=base_url,
        problems=str(TRIO / "problems"),
        rubrics=str(TRIO / "rubrics"),
        runs_dir=str(tmp / "runs"),
        cache=False,
        **kw,
    )


def test_max_connections_is_never_exceeded(tmp_path, provider_env) -> None:
    with FakeProvider(latency_s=0.1) as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        result = api.run(
            config(tmp_path, fake.openai_base_url, model="openai:m", samples=4, max_connections=4)
        )
        assert fake.max_in_flight == 4  # saturated, never above
        assert len(result.to_json()["parts"]) == 4 * 5
        assert fake.request_count == 4 * 7


def test_samples_each_get_their_own_conversation(tmp_path, provider_env) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        result = api.run(config(tmp_path, fake.openai_base_url, model="openai:m", samples=3))
    data = result.to_json()
    for sample in range(3):
        got = {
            (p["problem"], p["part"]): (p["status"], p["first_attempt_status"], p["attempts"], p["hints"])
            for p in data["parts"]
            if p["sample"] == sample
        }
        assert got == expected_parts()
    convs = {
        json.loads(line)["conv"]
        for line in (result.run_dir / "journal.jsonl").read_text().splitlines()
        if json.loads(line)["type"] == "conversation_start"
    }
    assert convs == {f"s{s}/{p}" for s in range(3) for p in ("sums", "products", "words")}


def test_several_models_run_together_one_directory_each(tmp_path, provider_env) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        results = api.run_many(
            config(
                tmp_path, fake.anthropic_base_url, model="anthropic:a", models=("anthropic:a", "anthropic:b")
            )
        )
        models = {r.body["model"] for r in fake.chat_requests()}
    assert models == {"a", "b"}
    assert [r.model for r in results] == ["anthropic:a", "anthropic:b"]
    assert len({r.run_dir for r in results}) == 2
    for r in results:
        assert json.loads((r.run_dir / "run.json").read_text())["model"] == r.model


def test_export_has_a_row_per_sample_and_part(tmp_path) -> None:
    import pandas as pd

    from evalkit.models.registry import register_provider
    from evalkit.models.scripted import ScriptedModel
    from evalkit.report import export_parts

    register_provider(
        "scripted", lambda model_id, settings: ScriptedModel(lambda r: answer(r.messages[-1].content))
    )
    result = api.run(config(tmp_path, None, model="scripted:t", samples=2))
    path = export_parts([api.load_run(result.run_dir)], "csv", tmp_path / "parts.csv")
    frame = pd.read_csv(path)
    assert len(frame) == 2 * 5
    assert sorted(frame["sample"].unique()) == [0, 1]
    assert set(frame[frame["problem"] == "products"]["hints"]) == {2}
