"""Write data/purchases.csv: 400 synthetic shop sessions, deterministic (fixed seed), so the
example needs no download. Purchase odds rise with pages viewed, time on site, returning
visitors and email traffic; device and country add weaker effects."""

from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 400


def generate(rows: int = ROWS, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    device = rng.choice(["desktop", "mobile", "tablet"], size=rows, p=[0.45, 0.45, 0.10])
    channel = rng.choice(["search", "social", "email", "direct"], size=rows, p=[0.4, 0.25, 0.15, 0.2])
    country = rng.choice(["DE", "FR", "UK", "US"], size=rows)
    returning = rng.random(rows) < 0.35
    age = rng.integers(18, 71, size=rows)
    pages = rng.poisson(6, size=rows) + 1
    minutes = np.round(rng.gamma(2.0, 3.0, size=rows), 2)
    cart_value = np.round(rng.lognormal(3.5, 0.6, size=rows), 2)
    logit = (-5.0 + 0.4 * pages + 0.2 * minutes + 1.5 * returning
             + np.select([channel == "email", channel == "social"], [1.5, -1.0], 0.0)
             + np.select([device == "desktop", device == "mobile"], [0.6, -0.4], 0.0)
             + 0.5 * (country == "US") - 0.02 * (age - 40) + 0.005 * cart_value)
    purchased = (rng.random(rows) < 1 / (1 + np.exp(-2.0 * logit))).astype(int)
    return pd.DataFrame({"purchased": purchased, "age": age, "pages_viewed": pages,
                         "minutes_on_site": minutes, "cart_value": cart_value,
                         "returning": returning.astype(int), "device": device,
                         "channel": channel, "country": country})


if __name__ == "__main__":
    generate().to_csv(Path(__file__).with_name("purchases.csv"), index=False)
