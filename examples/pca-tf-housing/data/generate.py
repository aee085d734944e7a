"""Write data/housing.csv: 500 synthetic districts, deterministic (fixed seed), so the example
needs no download. Twelve correlated features driven by three latent factors (wealth, density,
location), which is why a few PCA components carry most of the signal; price in $100k."""

from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 500


def generate(rows: int = ROWS, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    wealth, density, coast = rng.normal(size=(3, rows))

    def noisy(scale: float) -> np.ndarray:
        return rng.normal(scale=scale, size=rows)

    features = {
        "median_income": 3.5 + 1.4 * wealth + noisy(0.4),
        "avg_rooms": 5.2 + 0.8 * wealth - 0.5 * density + noisy(0.3),
        "avg_bedrooms": 1.1 + 0.15 * wealth - 0.1 * density + noisy(0.05),
        "house_age": 28 - 6 * density + noisy(6),
        "population": 1400 + 600 * density + noisy(250),
        "avg_occupancy": 2.9 + 0.5 * density + noisy(0.3),
        "dist_to_coast_km": 40 - 25 * coast + noisy(8),
        "dist_to_center_km": 15 - 8 * density + noisy(3),
        "crime_rate": 3.0 - 0.9 * wealth + 0.6 * density + noisy(0.5),
        "school_score": 6.5 + 1.2 * wealth + noisy(0.6),
        "latitude": 36 + 1.5 * coast + noisy(0.8),
        "longitude": -120 - 1.2 * coast + noisy(0.8),
    }
    price = 2.2 + 0.9 * wealth + 0.35 * density + 0.5 * coast + 0.2 * wealth * coast + noisy(0.25)
    frame = pd.DataFrame({"price": np.clip(price, 0.3, None), **features}).round(4)
    return frame


if __name__ == "__main__":
    generate().to_csv(Path(__file__).with_name("housing.csv"), index=False)
