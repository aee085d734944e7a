"""Splits raw.csv; hard-codes the /opt/ml paths like many real processing scripts do."""
import os

rows = open("/opt/ml/processing/input/raw/raw.csv").read().splitlines()
os.makedirs("/opt/ml/processing/output/train", exist_ok=True)
os.makedirs("/opt/ml/processing/output/test", exist_ok=True)
with open("/opt/ml/processing/output/train/train.csv", "w") as f:
    f.write("\n".join(rows[:90]) + "\n")
with open("/opt/ml/processing/output/test/test.csv", "w") as f:
    f.write("\n".join(rows[90:]) + "\n")
with open("/opt/ml/processing/output/test/x.csv", "w") as f:
    f.write("\n".join(r.split(",", 1)[1] for r in rows[90:]) + "\n")
print("preprocessed", len(rows), "rows")
