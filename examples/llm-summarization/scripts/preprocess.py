"""Tokenize the dialogue-summary pairs for causal-LM fine-tuning and split train/validation.

Each example becomes "Summarize: <dialogue>\nSummary: <summary><eos>" with labels -100 on the
prompt, so the loss (and the evaluation gate) measures the summary only.

--model-size base: the tokenizer of the base model snapshot at /opt/ml/processing/input/base_model.
--model-size tiny: a word-level tokenizer trained here on the corpus itself (no hub download),
for CPU runs. Outputs: train/train.jsonl, validation/validation.jsonl and tokenizer/ (the tokenizer
the training step loads).
"""

import argparse
import json
import os
import random

from transformers import AutoTokenizer, PreTrainedTokenizerFast


def corpus_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """A lower-cased word-level tokenizer whose vocabulary is every word of the corpus."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[EOS]"]))
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]",
                                   eos_token="[EOS]")


def encode(tokenizer, dialogue: str, summary: str, max_length: int) -> dict:
    prompt = tokenizer(f"Summarize: {dialogue}\nSummary:", add_special_tokens=False)["input_ids"]
    target = tokenizer(f" {summary}", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    prompt = prompt[: max(0, max_length - len(target))]
    return {"input_ids": (prompt + target)[:max_length], "labels": ([-100] * len(prompt) + target)[:max_length]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-size", choices=["base", "tiny"], default="base")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    args, _ = parser.parse_known_args()  # run as `python -m preprocess preprocess.py ...`

    raw_dir = os.path.join(args.input_dir, "raw")
    records = []
    for name in sorted(f for f in os.listdir(raw_dir) if f.endswith(".jsonl")):
        with open(os.path.join(raw_dir, name)) as handle:
            records += [json.loads(line) for line in handle if line.strip()]
    random.Random(args.seed).shuffle(records)

    if args.model_size == "tiny":
        tokenizer = corpus_tokenizer([f"Summarize: {r['dialogue']}\nSummary: {r['summary']}" for r in records])
    else:
        tokenizer = AutoTokenizer.from_pretrained(os.path.join(args.input_dir, "base_model"))
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    tokenizer.save_pretrained(os.path.join(args.output_dir, "tokenizer"))

    split = len(records) - max(1, int(len(records) * args.validation_fraction))
    for name, part in (("train", records[:split]), ("validation", records[split:])):
        os.makedirs(os.path.join(args.output_dir, name), exist_ok=True)
        with open(os.path.join(args.output_dir, name, f"{name}.jsonl"), "w") as handle:
            for record in part:
                handle.write(json.dumps(encode(tokenizer, record["dialogue"], record["summary"], args.max_length)) + "\n")
    print(f"model_size={args.model_size} vocab={len(tokenizer)} train={split} validation={len(records) - split}")


if __name__ == "__main__":
    main()
