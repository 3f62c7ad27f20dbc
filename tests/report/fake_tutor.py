"""A scripted tutor for report tests: realistic Markdown replies (math, code, tables) and hostile text.

``tutor-a`` answers Q3(b) only after the hint "Would you have to modify split_heads at all?" and
never gets Q4 right; ``tutor-b`` gets Q3(b) right at once and Q4 right after one hint. Q2(b) of
both carries text meant to break a report (script tags, TeX commands, unbalanced braces).
"""

from __future__ import annotations

from evalkit.models.base import ModelRequest

HOSTILE = r"""**Part (b)** Argmax is not differentiable, so no gradient reaches the queries.

<script>alert(1)</script> and </style><b>bold?</b> and [click me](javascript:alert(1))
and ![tracker](http://example.invalid/pixel.png) and <img src=x onerror=alert(1)>.

TeX in prose: \input{/etc/passwd} \write18{rm -rf /} \end{document} \csname x\endcsname %comment
# and ^^5c and ~ and } unbalanced { braces }} and $$ and \verb|x|.

TeX in math: $\input{/etc/passwd} + \write18{ls}$ and $\end{document}$ and ${a}}{$ and
$$\immediate\write18{id} \def\x{y} x^^5c \catcode`\@=11$$

```latex
\end{Verbatim}\end{document}\input{/etc/passwd} </script>
```

| attack | shown as |
|---|---|
| `<script>` | text: <script>x</script> |
| $\input{x}$ | math |
"""

OPENING = r"""Absolutely! I'd be happy to walk you through this homework on **transformers** and attention.

- **Q1:** why we scale dot-product attention by $\sqrt{d}$
- **Q2:** argmax attention (and why it breaks training)
- **Q3:** implementing multi-head attention in PyTorch
- **Q4:** memory traffic when decoding

Just let me know which question you'd like to tackle first."""

Q1 = r"""This question gets at *why* we divide by $\sqrt{d}$.

**Setup:** $q, k \stackrel{iid}{\sim} N(\mu, \sigma^2 I)$, so each $q_i, k_i$ is independent.

**Part (a)** By linearity and independence,

$$\mathbb{E}[q^\top k] = \sum_{i=1}^d \mathbb{E}[q_i]\,\mathbb{E}[k_i] = \boxed{0}$$

**Part (b)** Each term has variance one, so
$$
\begin{aligned}
\mathrm{Var}(q^\top k) &= \sum_{i=1}^d \mathrm{Var}(q_i k_i) \\
&= \boxed{d}
\end{aligned}
$$

**Part (c)** We need $\frac{d}{s^2} = 1 \implies s = \sqrt{d}$, so the answer is $\boxed{\sqrt{d}}$.

| quantity | value |
|:--|--:|
| $\mathbb{E}[q^\top k]$ | $0$ |
| $\mathrm{Var}(q^\top k)$ | $d$ |
"""

Q2 = (
    r"""**Part (a)** The scores are $q^\top k_i = [3, 11, 5, 2]$; the argmax picks $k_2$, so the output is
$v_2 = [1, 4, 3]^\top$.

"""
    + HOSTILE
)

Q3_WRONG = r"""**Part (a)** Blank (g) is `self.num_heads`.

**Part (b)** Only the output projection changes:

```python
self.W_v = nn.Linear(d_model, 2 * d_model)
self.W_o = nn.Linear(2 * d_model, d_model)
```

`combine_heads` then concatenates heads of width `2 * d_k`.
"""

Q3_FIXED = r"""Good catch: `split_heads` and `combine_heads` have to agree.

**Part (b)**

```python
self.W_o = nn.Linear(2 * d_model, d_model)

def split_heads(self, x, head_dim):
    batch_size, seq_length, _ = x.size()
    return x.view(batch_size, seq_length, self.num_heads, head_dim).transpose(1, 2)
```

In `forward`, call `self.split_heads(self.W_v(V), 2 * self.d_k)`.
"""

Q3_RIGHT_AWAY = r"""**Part (a)** `self.num_heads`

**Part (b)** Use `self.W_o = nn.Linear(2 * d_model, d_model)` and give `split_heads` the head width:

```python
def split_heads(self, x, head_dim):
    return x.view(x.size(0), x.size(1), self.num_heads, head_dim).transpose(1, 2)
```
"""


def reply(model_id: str, request: ModelRequest) -> str:
    """The scripted tutor's reply to ``request``."""
    turn = request.turn
    if turn.kind == "opening":
        return OPENING
    if turn.problem == "q1":
        return Q1
    if turn.problem == "q2":
        return Q2
    if turn.problem == "q3":
        if model_id == "tutor-b":
            return Q3_RIGHT_AWAY
        return Q3_WRONG if turn.kind == "question" else Q3_FIXED
    if turn.problem == "q4":
        if model_id == "tutor-b" and turn.kind == "hint":
            return "You're right, I miscounted: $\\boxed{41}$ KB."
        return f"Each token reads 1 KB, so the total is $\\boxed{{{40 - turn.hint}}}$ KB."
    return "I am not sure."
