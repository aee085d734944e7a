"""Write data/dialogues.jsonl: 60 synthetic two-person dialogues with one-line summaries
(DialogSum style), deterministic (fixed seed), so the example needs no download."""

import json
import random
from pathlib import Path

NAMES = ["Amy", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
TIMES = ["9 am", "11 am", "2 pm", "4 pm"]
PLACES = ["the cafe", "the library", "the office", "the station"]
ITEMS = ["laptop", "umbrella", "report", "charger"]
DISHES = ["pizza", "sushi", "curry", "salad"]


def meeting(a, b, rng):
    day, old, time, place = rng.choice(DAYS), rng.choice(DAYS), rng.choice(TIMES), rng.choice(PLACES)
    return (f"{a}: Can we move our meeting from {old} to {day}? {b}: Sure, {day} works. "
            f"{a}: Great, let us meet at {place} at {time}. {b}: See you there.",
            f"{a} and {b} move their meeting to {day} at {time} at {place}.")


def lost_item(a, b, rng):
    item, place = rng.choice(ITEMS), rng.choice(PLACES)
    return (f"{a}: Have you seen my {item}? {b}: I think you left it at {place}. "
            f"{a}: Oh no, I will go back and get it. {b}: Hurry, it closes soon.",
            f"{a} left the {item} at {place} and will go back for it.")


def dinner(a, b, rng):
    dish, day = rng.choice(DISHES), rng.choice(DAYS)
    return (f"{a}: Do you want to have dinner on {day}? {b}: Yes, I would love some {dish}. "
            f"{a}: Perfect, I will book a table. {b}: Thanks, see you {day}.",
            f"{a} and {b} will have {dish} for dinner on {day}; {a} books a table.")


def generate(rows: int = 60, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    templates = [meeting, lost_item, dinner]
    records = []
    for index in range(rows):
        a, b = rng.sample(NAMES, 2)
        dialogue, summary = templates[index % len(templates)](a, b, rng)
        records.append({"id": f"dlg-{index:03d}", "dialogue": dialogue, "summary": summary})
    return records


if __name__ == "__main__":
    with open(Path(__file__).with_name("dialogues.jsonl"), "w") as handle:
        for record in generate():
            handle.write(json.dumps(record) + "\n")
