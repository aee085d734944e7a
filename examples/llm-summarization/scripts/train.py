"""LoRA fine-tuning of a causal LM for dialogue summarization, with an evaluation-loss gate.

Channels: summarizer-Preprocess-train / -validation (token ids from preprocess.py),
summarizer-Preprocess-tokenizer, and SM_CHANNEL_BASE_MODEL (the base model snapshot, model_size=base).
model_size=tiny builds a small Llama-architecture model from a config instead (random weights,
CPU-sized, a few steps; its preset overrides max_steps and learning_rate): it exists so the gate
logic runs locally in seconds. LoRA adapters come from peft.

After training, the mean summary-token loss on the validation split is compared with
eval_loss_gate: above it, the job writes the reason to /opt/ml/output/failure (SageMaker shows it
as the step's failure reason) and exits 1, so the pipeline stops before registration. Otherwise
the merged model and tokenizer are saved to SM_MODEL_DIR.
"""

import argparse
import json
import math
import os
import sys

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "max_steps": 30, "learning_rate": 5e-3}


def load_split(channel_dir: str, name: str) -> list[dict]:
    with open(os.path.join(channel_dir, f"{name}.jsonl")) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def batches(examples: list[dict], size: int, pad_id: int):
    for start in range(0, len(examples), size):
        chunk = examples[start:start + size]
        width = max(len(e["input_ids"]) for e in chunk)
        ids = torch.full((len(chunk), width), pad_id)
        labels = torch.full((len(chunk), width), -100)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, example in enumerate(chunk):
            n = len(example["input_ids"])
            ids[row, :n], labels[row, :n], mask[row, :n] = (torch.tensor(example["input_ids"]),
                                                            torch.tensor(example["labels"]), 1)
        yield {"input_ids": ids, "labels": labels, "attention_mask": mask}


def base_model(args: argparse.Namespace, tokenizer) -> torch.nn.Module:
    if args.model_size == "tiny":
        config = LlamaConfig(vocab_size=len(tokenizer), num_key_value_heads=TINY["num_attention_heads"],
                             max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
                             **{k: TINY[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                                     "num_attention_heads")})
        return LlamaForCausalLM(config)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    return AutoModelForCausalLM.from_pretrained(args.base_model, torch_dtype=dtype)


@torch.no_grad()
def evaluate(model, examples: list[dict], args: argparse.Namespace, pad_id: int, device) -> float:
    model.eval()
    total, tokens = 0.0, 0
    for batch in batches(examples, args.batch_size, pad_id):
        batch = {k: v.to(device) for k, v in batch.items()}
        count = int((batch["labels"][:, 1:] != -100).sum())
        total += float(model(**batch).loss) * count
        tokens += count
    return total / max(tokens, 1)


def fail(message: str) -> None:
    """SageMaker's failure contract: the reason in /opt/ml/output/failure, a non-zero exit."""
    output_dir = os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output")
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "failure"), "w") as handle:
        handle.write(message)
    print(message, file=sys.stderr)
    sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_size", choices=["base", "tiny"], default="base")
    parser.add_argument("--eval_loss_gate", type=float, required=True)
    parser.add_argument("--max_steps", type=int, default=300)
    parser.add_argument("--learning_rate", type=float, default=2e-4)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--lora_r", type=int, default=16)
    parser.add_argument("--lora_alpha", type=int, default=32)
    parser.add_argument("--lora_target_modules", default="q_proj,v_proj")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default="/opt/ml/input/data/summarizer-Preprocess-train")
    parser.add_argument("--validation", default="/opt/ml/input/data/summarizer-Preprocess-validation")
    parser.add_argument("--tokenizer", default="/opt/ml/input/data/summarizer-Preprocess-tokenizer")
    parser.add_argument("--base_model", default=os.environ.get("SM_CHANNEL_BASE_MODEL"))
    args = parser.parse_args()
    if args.model_size == "tiny":
        args.max_steps, args.learning_rate = TINY["max_steps"], TINY["learning_rate"]
        print(f"tiny variant: {TINY}")

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    train, validation = load_split(args.train, "train"), load_split(args.validation, "validation")
    lora = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=0.05, task_type="CAUSAL_LM",
                      target_modules=args.lora_target_modules.split(","))
    model = get_peft_model(base_model(args, tokenizer), lora).to(device)
    model.print_trainable_parameters()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.learning_rate)

    step = 0
    while step < args.max_steps:
        model.train()
        order = torch.randperm(len(train)).tolist()
        for batch in batches([train[i] for i in order], args.batch_size, tokenizer.pad_token_id):
            loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            if step % 10 == 0 or step == args.max_steps:
                print(f"step {step} train_loss={loss.item():.4f}")
            if step == args.max_steps:
                break

    eval_loss = evaluate(model, validation, args, tokenizer.pad_token_id, device)
    print(f"eval_loss={eval_loss:.4f} eval_loss_gate={args.eval_loss_gate}")
    if not eval_loss <= args.eval_loss_gate:  # also catches a NaN loss
        fail(f"eval_loss {eval_loss:.4f} is above eval_loss_gate {args.eval_loss_gate}: "
             "model not saved, the pipeline stops before registration")

    os.makedirs(args.model_dir, exist_ok=True)
    model.merge_and_unload().save_pretrained(args.model_dir)
    tokenizer.save_pretrained(args.model_dir)
    with open(os.path.join(args.model_dir, "eval_metrics.json"), "w") as handle:
        json.dump({"eval_loss": eval_loss, "eval_perplexity": math.exp(min(eval_loss, 50.0))}, handle, indent=2)


if __name__ == "__main__":
    main()
