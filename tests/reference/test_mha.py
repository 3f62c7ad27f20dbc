"""The homework's MultiHeadAttention: skeleton, blanks, filled reference, wide-values variant."""

from __future__ import annotations

import pytest
import torch

from evalkit.errors import SpecError
from evalkit.reference import BlankError, fill_blanks, find_blanks, get_reference, get_skeleton
from evalkit.reference.mha import MultiHeadAttention, MultiHeadAttentionWideValues
from evalkit.reference.skeletons import MHA_SKELETON

KEY = {
    "a": "d_model",
    "b": "d_model",
    "c": "d_model",
    "d": "Q",
    "e": "softmax",
    "f": "V",
    "g": "self.num_heads",
    "h": "W_o",
}


def _load(source: str) -> type:
    namespace: dict = {}
    exec(compile(source, "skeleton.py", "exec"), namespace)
    return namespace["MultiHeadAttention"]


def test_skeleton_has_the_homeworks_blanks() -> None:
    assert find_blanks(MHA_SKELETON) == ("a", "b", "c", "d", "e", "f", "g", "h")
    assert get_skeleton("mqa_step").blanks == ("C", "D", "E")
    assert get_skeleton("mha_wide_v_start").blanks == ()


def test_key_filled_skeleton_equals_the_reference() -> None:
    cls = _load(fill_blanks(MHA_SKELETON, KEY))
    reference = MultiHeadAttention(12, 3)
    model = cls(12, 3)
    model.load_state_dict(reference.state_dict())
    Q, K = torch.randn(2, 4, 12), torch.randn(2, 6, 12)
    torch.testing.assert_close(model(Q, K, K), reference(Q, K, K))


def test_fill_blanks_strips_a_repeated_prefix_and_parenthesizes_expressions() -> None:
    source = fill_blanks(
        MHA_SKELETON, {**KEY, "h": "self.W_o", "e": "torch.softmax", "a": "2 * d_model // 2"}
    )
    assert "self.W_o(self.combine_heads" in source
    assert "torch.softmax(attn_scores" in source
    assert "nn.Linear(d_model, (2 * d_model // 2))" in source


@pytest.mark.parametrize(
    "blank, value, message",
    [
        ("h", "W_o(x)", "must be a name"),
        ("a", "lambda: 3", "Lambda"),
        ("a", "d_model)\nimport os\n(", "not a Python expression"),
        ("d", "__import__('os')", "dunder"),
    ],
)
def test_fill_blanks_rejects_what_cannot_stand_in_a_blank(blank: str, value: str, message: str) -> None:
    with pytest.raises(BlankError, match=message):
        fill_blanks(MHA_SKELETON, {**KEY, blank: value})


def test_fill_blanks_needs_every_blank() -> None:
    with pytest.raises(BlankError, match=r"no value for blank \(g\)"):
        fill_blanks(MHA_SKELETON, {k: v for k, v in KEY.items() if k != "g"})


def test_wide_values_variant_projects_2d_model_back_to_d_model() -> None:
    mha = MultiHeadAttentionWideValues(16, 4)
    assert mha.W_v.out_features == 32 and mha.W_o.in_features == 32 and mha.d_v == 8
    Q, K = torch.randn(3, 5, 16), torch.randn(3, 2, 16)
    assert mha(Q, K, K).shape == (3, 5, 16)


def test_wide_values_variant_is_attention_over_wider_values() -> None:
    mha = MultiHeadAttentionWideValues(8, 2)
    Q, K = torch.randn(1, 3, 8), torch.randn(1, 4, 8)
    q = mha.W_q(Q).view(1, 3, 2, 4).transpose(1, 2)
    k = mha.W_k(K).view(1, 4, 2, 4).transpose(1, 2)
    v = mha.W_v(K).view(1, 4, 2, 8).transpose(1, 2)
    heads = torch.softmax(q @ k.transpose(-2, -1) / 2.0, dim=-1) @ v
    torch.testing.assert_close(mha(Q, K, K), mha.W_o(heads.transpose(1, 2).reshape(1, 3, 16)))


def test_the_unfixed_wide_start_crashes_in_split_heads() -> None:
    cls = _load(get_skeleton("mha_wide_v_start").source)
    x = torch.randn(2, 5, 16)
    with pytest.raises(RuntimeError, match="invalid for input of size"):
        cls(16, 4)(x, x, x)


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(SpecError, match=r"expected one of .*mha_wide_v"):
        get_reference("mha_wide")
    with pytest.raises(SpecError, match="mha_wide_v_start"):
        get_skeleton("nope")


def test_reference_build_is_seeded() -> None:
    ref = get_reference("mha")
    a, b = ref.build({"d_model": 8, "num_heads": 2}, 3), ref.build({"d_model": 8, "num_heads": 2}, 3)
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    with pytest.raises(SpecError, match="is a function"):
        get_reference("sdpa").build({}, 0)
