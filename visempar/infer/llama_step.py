"""The one-token decoding step of a Llama-architecture model, written out over its weights.

On a CPU a decoding step of a small model is mostly overhead around its matmuls: each of
its 30 layers goes through a dozen modules, a cache object that concatenates keys, a mask
built anew every step, and PyTorch's fused attention kernel, which for one query token
costs more than the matmuls around it (230 us a layer at 16 rows with padding, 1.5 ms
without, against 150 us written out). `LlamaStep` computes the model's step with its own
norms (fp32), rotary embeddings and SiLU MLP, over fused weights (q, k and v in one
matmul, gate and up in another: the same numbers as three and two matmuls), keys and
values in buffers with room to grow (`Buffers`), and attention written out (scores in
fp32, padding masked, softmax, values). In bf16 its matmuls take weights packed once for
oneDNN (`_linear_for`): the same products as F.linear, without F.linear's repacking of
the weight at every call; the packed copies add the size of the linear weights to
memory (270 MB for SmolLM2-135M), and are not made where that would take over a quarter
of the memory free. The logits differ from the model's own forward in the
last bits of bf16 (0.004 at most in a layer's attention output), as batch composition
already makes them differ; `docs/decoding.md` has what that does to the graphs.

It serves models whose config says `llama` (SmolLM2, Llama) without biases, with a SiLU
MLP and default rotary embeddings, held unquantised on the CPU; `fits` says so, and other
models decode through their own forward.
"""

from __future__ import annotations

PACKED_ROWS = 32  # the rows oneDNN lays a packed weight out for (any number of rows works)


def fits(model) -> bool:
    """Whether `LlamaStep` computes this model's step."""
    import torch

    from transformers import LlamaForCausalLM

    if not isinstance(model, LlamaForCausalLM) or model.training:
        return False
    config = model.config
    if any(type(m) is not torch.nn.Linear for layer in model.model.layers for m in
           (layer.self_attn.q_proj, layer.mlp.gate_proj)):  # adapters, quantised layers
        return False
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    return (not getattr(config, "attention_bias", False) and not getattr(config, "mlp_bias", False)
            and getattr(config, "hidden_act", "silu") == "silu"
            and rope.get("rope_type", "default") == "default"
            and getattr(config, "_attn_implementation", "sdpa") == "sdpa"
            and all(p.device.type == "cpu" and p.dtype in (torch.float32, torch.bfloat16)
                    for p in model.parameters()))


class LlamaStep:
    """`step(cache, ids, positions, mask)` -> the next token's logits. Built once per model:
    it fuses the projection weights and points the model's own q, k, v, gate and up
    weights at slices of them, so the fused copies cost no memory. A cache is a pair of
    lists (keys, values), one (rows, key heads, length, head size) tensor per layer,
    taken from the model's own forward over the prompts (`from_dynamic`)."""

    def __init__(self, model):
        import torch

        config = model.config
        inner = model.model
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.groups = self.heads // self.kv_heads
        self.scaling = self.head_dim ** -0.5
        self.embed = inner.embed_tokens.weight
        self.final_norm = (inner.norm.weight, inner.norm.variance_epsilon)
        self.head = model.lm_head.weight
        self.dtype = self.embed.dtype
        self.layers = []
        with torch.no_grad():
            for layer in inner.layers[:config.num_hidden_layers]:
                attn, mlp = layer.self_attn, layer.mlp
                qkv = _fused(attn.q_proj, attn.k_proj, attn.v_proj)
                gate_up = _fused(mlp.gate_proj, mlp.up_proj)
                self.layers.append((layer.input_layernorm.weight, layer.input_layernorm.variance_epsilon, qkv,
                                    attn.o_proj.weight, layer.post_attention_layernorm.weight,
                                    layer.post_attention_layernorm.variance_epsilon, gate_up, mlp.down_proj.weight))
        linears = [w for _, _, qkv, wo, _, _, gu, wd in self.layers for w in (qkv, wo, gu, wd)] + [self.head]
        self.linear, pack = _linear_for(self.dtype, sum(w.numel() * w.element_size() for w in linears))
        self.weights = [(n1, e1, pack(qkv), pack(wo), n2, e2, pack(gu), pack(wd))
                        for n1, e1, qkv, wo, n2, e2, gu, wd in self.layers]
        self.head_weight = pack(self.head)
        self.split = (self.heads * self.head_dim, self.kv_heads * self.head_dim, self.kv_heads * self.head_dim)
        self.inner_size = config.intermediate_size
        rotary = inner.rotary_emb
        self.inv_freq = rotary.inv_freq.to(dtype=torch.float)
        self.rotary_scaling = rotary.attention_scaling

    @staticmethod
    def from_dynamic(cache) -> Buffers:
        """The keys and values of a `DynamicCache` the model's forward filled."""
        return Buffers([layer.keys for layer in cache.layers], [layer.values for layer in cache.layers])

    def step(self, cache: Buffers, ids, positions, mask):
        """Logits (rows, vocabulary) of the token after `ids` (rows), at `positions`
        (rows, 1), under the attention `mask` (rows, length + 1) of 1 and 0; the new keys
        and values are added to `cache`."""
        import torch
        import torch.nn.functional as F

        rows = ids.shape[0]
        freqs = positions[..., None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = (emb.cos() * self.rotary_scaling).to(self.dtype).unsqueeze(1)
        sin = (emb.sin() * self.rotary_scaling).to(self.dtype).unsqueeze(1)
        padding = ~mask.bool()[:, None, None, :]  # (rows, 1, 1, length): the query heads of a key head share it
        linear = self.linear
        hidden = F.embedding(ids[:, None], self.embed)
        for i, (norm1, eps1, wqkv, wo, norm2, eps2, wgu, wd) in enumerate(self.weights):
            x = _rms(hidden, norm1, eps1)
            q, k, v = linear(x, wqkv).split(self.split, dim=-1)
            q = q.view(rows, 1, self.heads, self.head_dim).transpose(1, 2)
            k = k.view(rows, 1, self.kv_heads, self.head_dim).transpose(1, 2)
            q = (q * cos) + (_rotate_half(q) * sin)
            k = (k * cos) + (_rotate_half(k) * sin)
            keys_t, values = cache.add(i, k, v.reshape(rows, self.kv_heads, 1, self.head_dim))
            q = q.reshape(rows, self.kv_heads, self.groups, self.head_dim)
            scores = torch.matmul(q, keys_t).float() * self.scaling
            weights = torch.softmax(scores.masked_fill(padding, float("-inf")), dim=-1).to(self.dtype)
            out = torch.matmul(weights, values).reshape(rows, 1, -1)
            hidden = hidden + linear(out, wo)
            x = _rms(hidden, norm2, eps2)
            gate, up = linear(x, wgu).split(self.inner_size, dim=-1)
            hidden = hidden + linear(F.silu(gate) * up, wd)
        cache.advance()
        hidden = _rms(hidden, *self.final_norm)
        return linear(hidden[:, -1, :], self.head_weight)


class Buffers:
    """The keys and values of the rows decoding together, per layer, in buffers with room
    to grow: a step writes one position where appending by `cat` copied the whole cache
    (at 48 rows of 300 positions the cache is as large as SmolLM2's weights, and its
    copy cost 25 ms a step). Keys are held transposed, (rows, key heads, head size,
    capacity), so that the scores are a matmul on a slice; values as (rows, key heads,
    capacity, head size)."""

    GROW = 64

    def __init__(self, keys: list, values: list):
        import torch

        self.length = keys[0].shape[2]
        self.keys_t, self.values = [], []
        for k, v in zip(keys, values):
            kt = k.new_zeros((k.shape[0], k.shape[1], k.shape[3], self.length + self.GROW))
            kt[..., :self.length] = k.transpose(-1, -2)
            vb = v.new_zeros((v.shape[0], v.shape[1], self.length + self.GROW, v.shape[3]))
            vb[:, :, :self.length] = v
            self.keys_t.append(kt)
            self.values.append(vb)
        self._torch = torch

    def add(self, layer: int, k, v):
        """Write layer `layer`'s new key and value (rows, key heads, 1, head size) at the
        next position (`advance` moves on, once every layer has written); the keys
        (transposed) and values up to it."""
        at = self.length
        if at == self.values[layer].shape[2]:
            F = self._torch.nn.functional
            self.keys_t[layer] = F.pad(self.keys_t[layer], (0, self.GROW))
            self.values[layer] = F.pad(self.values[layer], (0, 0, 0, self.GROW))
        self.keys_t[layer][..., at] = k[:, :, 0]
        self.values[layer][:, :, at] = v[:, :, 0]
        return self.keys_t[layer][..., :at + 1], self.values[layer][:, :, :at + 1]

    def advance(self) -> None:
        self.length += 1

    def select(self, index, unused: int) -> None:
        """Keep the rows of `index`, without their first `unused` positions."""
        self.keys_t = [k[index][..., unused:] for k in self.keys_t]
        self.values = [v[index][:, :, unused:] for v in self.values]
        self.length -= unused

    def join(self, other: Buffers) -> None:
        """These rows, then `other`'s; the shorter side padded on the left."""
        torch = self._torch
        F = torch.nn.functional
        length = max(self.length, other.length)
        room = length + self.GROW

        def fit_k(k, used):
            return F.pad(k[..., :used], (length - used, room - length))

        def fit_v(v, used):
            return F.pad(v[:, :, :used], (0, 0, length - used, room - length))

        self.keys_t = [torch.cat([fit_k(a, self.length), fit_k(b, other.length)])
                       for a, b in zip(self.keys_t, other.keys_t)]
        self.values = [torch.cat([fit_v(a, self.length), fit_v(b, other.length)])
                       for a, b in zip(self.values, other.values)]
        self.length = length


def _fused(*linears):
    """One weight holding the linears' weights one after the other; each linear's weight
    becomes its slice (the same numbers, no second copy in memory)."""
    import torch

    fused = torch.cat([m.weight.data for m in linears])
    start = 0
    for m in linears:
        rows = m.weight.shape[0]
        m.weight.data = fused[start:start + rows]
        start += rows
    return fused


def _linear_for(dtype, weight_bytes: int = 0):
    """(linear, pack): the step's matmul and what it makes of a weight once. In bf16,
    oneDNN's matmul on a weight packed once into its blocked layout (the `mkldnn` ops
    inductor uses): F.linear on a CPU repacks the weight at every call, so the step's
    small-batch matmuls ran at a third of the machine's bf16 peak (0.26 TFLOP/s at 32
    rows) and run at 0.5-0.7 packed. The products are F.linear's to the bit (the same
    kernel; checked on a probe here, else F.linear is kept). fp32 stays on F.linear: its
    packed kernel is another one, with other roundings. The packed copies take
    `weight_bytes` more memory; where that is over a quarter of the memory the machine
    has free, F.linear is kept too (slower, not short of memory)."""
    import torch
    import torch.nn.functional as F

    plain = (F.linear, lambda w: w)
    if dtype != torch.bfloat16 or not torch.backends.mkldnn.is_available():
        return plain
    free = available_memory()
    if free is not None and weight_bytes > free // 4:
        return plain
    try:
        op, reorder = torch.ops.mkldnn._linear_pointwise, torch.ops.mkldnn._reorder_linear_weight
        probe = torch.randn(48, 40, generator=torch.Generator().manual_seed(0)).to(dtype)
        if not torch.equal(op(probe[:7], reorder(probe, PACKED_ROWS), None, "none", [], ""), F.linear(probe[:7], probe)):
            return plain
    except (AttributeError, RuntimeError, TypeError):  # a build without these ops, or with others
        return plain
    return (lambda x, w: op(x, w, None, "none", [], "")), (lambda w: reorder(w, PACKED_ROWS))


def available_memory() -> int | None:
    """Bytes of memory the machine has free for new allocations (Linux's MemAvailable),
    or None where it does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _rms(hidden, weight, eps: float):
    """The model's RMS norm (in fp32, then its dtype, then the weight): the same numbers
    as its three steps, in one kernel."""
    import torch
    import torch.nn.functional as F

    return weight * F.rms_norm(hidden.to(torch.float32), (hidden.shape[-1],), None, eps).to(hidden.dtype)


def _rotate_half(x):
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)
