"""Checks of the encoded data and the collated batches: lengths, label mask, overlap,
and one prompt for training and inference (D1-D3)."""

from __future__ import annotations

from visempar.preflight.report import Check, fail, ok, warn


def check_lengths(prepared) -> Check:
    report = prepared.train.lengths
    n, excluded = len(report.lengths), len(report.excluded)
    details = report.to_dict()
    tokens = details["tokens"]
    reason = (f"{n} examples, tokens mean {tokens['mean']}, p90 {tokens['p90']}, max {tokens['max']} "
              f"vs max_length {report.max_length}")
    if excluded:
        share = excluded / n
        return (fail if share > 0.05 else warn)(
            f"{excluded} of {n} examples ({share:.0%}) longer than max_length {report.max_length} are "
            f"excluded from training (first: {report.excluded[0]})",
            f"raise max_length to at least {tokens['max']}", details)
    return ok(reason, details)


def check_label_mask(prepared, trainer) -> Check:
    """The collated batch the trainer sees: prompt masked, completion and EOS supervised."""
    tok = prepared.stack.tokenizer
    eos = tok.eos_token_id
    batch = next(iter(trainer.get_train_dataloader()))
    problems = []
    for row in range(batch["input_ids"].shape[0]):
        ids, labels = batch["input_ids"][row].tolist(), batch["labels"][row].tolist()
        seg, att = batch["segment"][row].tolist(), batch["attention_mask"][row].tolist()
        real = [i for i, a in enumerate(att) if a]
        prompt = [i for i in real if seg[i] == 0]
        completion = [i for i in real if seg[i] > 0]
        example = int(batch["index"][row])
        if any(labels[i] != -100 for i in prompt):
            problems.append(f"example {example}: prompt tokens are supervised")
        if not completion or any(labels[i] != ids[i] for i in completion):
            problems.append(f"example {example}: completion tokens are masked")
        if completion and (ids[completion[-1]] != eos or labels[completion[-1]] != eos):
            problems.append(f"example {example}: EOS is not the last supervised token")
        if all(label == -100 for label in labels):
            problems.append(f"example {example}: fully masked")
    first_row = batch["input_ids"][0].tolist()
    mask_row = batch["labels"][0].tolist()
    shown = "".join(f"[{tok.decode([t])}]" if m != -100 else tok.decode([t])
                    for t, m in zip(first_row, mask_row) if t != tok.pad_token_id or m != -100)
    details = {"decoded_example": shown, "legend": "[supervised] unsupervised"}
    if problems:
        return fail("; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""),
                    "labels must be -100 on the prompt and equal the ids on the completion and its EOS; "
                    "do not let pad == eos mask EOS", details)
    return ok(f"prompt masked, completion and EOS supervised in {batch['input_ids'].shape[0]} "
              "collated examples", details)


def check_overlap(prepared) -> Check:
    from visempar.data.corpus import sentence_key

    train = {sentence_key(e.sentence) for e in prepared.train.examples if e.sentence}
    shared = [e.sentence for e in prepared.eval.examples if e.sentence and sentence_key(e.sentence) in train]
    if shared:
        return warn(f"{len(shared)} eval sentences also occur in the training data (e.g. {shared[0]!r})",
                    "split with `visempar data split --test ...` to keep them apart", {"shared": shared[:20]})
    return ok(f"no sentence shared between {len(train)} training and "
              f"{len(prepared.eval.examples)} eval sentences")


def _same_turn(trained: str, rendered: str) -> bool:
    """Whether the template's conversation holds the trained text, up to the newline
    visempar adds after a prompt that does not end in one."""
    return rendered.startswith(trained) or rendered.replace("\n", "").startswith(trained.replace("\n", ""))


def check_prompt_consistency(prepared) -> Check:
    """The ids inference builds for a training sentence equal the trained prompt ids (D3)."""
    from visempar.data.encode import prompt_ids

    tok, builder = prepared.stack.tokenizer, prepared.builder
    for row, example in list(zip(prepared.train.rows, prepared.train.examples))[:8]:
        trained = [t for t, s in zip(row["input_ids"], row["segment"]) if s == 0]
        inferred = prompt_ids(tok, builder, example.sentence or "")
        if trained != inferred:
            cut = next((i for i, (a, b) in enumerate(zip(trained, inferred)) if a != b),
                       min(len(trained), len(inferred)))
            return fail(f"{example.location}: the inference prompt differs from the training prompt "
                        f"at token {cut}: training {tok.decode(trained[cut:cut + 8])!r} vs inference "
                        f"{tok.decode(inferred[cut:cut + 8])!r}",
                        "build prompts with visempar.data.prompts.PromptBuilder in both places")
    if not builder.prompt("x").endswith("\n"):
        return fail("the prompt does not end on a newline (token boundary)", "end prompts with \\n")
    example = prepared.train.examples[0]
    completion = builder.completion(example.graph).strip() if builder.templated else ""
    trained = builder.prompt(example.sentence or "") + completion
    rendered = builder.conversation(example.sentence or "", completion) if builder.templated else None
    if rendered is not None and not _same_turn(trained, rendered):
        cut = next((i for i, (a, b) in enumerate(zip(trained, rendered)) if a != b), min(len(trained), len(rendered)))
        return fail(f"the chat template renders the assistant's turn differently from the prompt visempar "
                    f"trains and parses with, at character {cut}: prompt and completion "
                    f"{trained[cut:cut + 30]!r} vs the template's conversation {rendered[cut:cut + 30]!r}",
                    "for a template with a thinking block (Qwen3) set enable_thinking: false, so that "
                    "the prompt holds the empty block the model knows; or use prompt_style: short")
    return ok("training and inference prompts are token-identical and end on a newline",
              {"prompt": builder.prompt(prepared.train.examples[0].sentence or "")})
