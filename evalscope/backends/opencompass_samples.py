"""Run by OpenCompass's python (`python opencompass_samples.py CONFIG OUT`): every dataset of an OpenCompass config
loaded as OpenCompass loads it, its test rows written as JSON lines {dataset, index, input, target}."""

from __future__ import annotations

import json
import sys
from typing import Any


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def main(config_path: str, out_path: str) -> int:
    from mmengine.config import Config
    from opencompass.utils import build_dataset_from_cfg, dataset_abbr_from_cfg

    config = Config.fromfile(config_path)
    with open(out_path, "w", encoding="utf-8") as out:
        for cfg in config["datasets"]:
            abbr = dataset_abbr_from_cfg(cfg)
            if cfg.get("abbr") != abbr:  # the run selects datasets by the abbr its config states
                raise SystemExit(f"OpenCompass dataset config without its own abbr ({abbr}): not supported")
            reader = cfg["reader_cfg"]
            columns = reader["input_columns"]
            columns = columns.split() if isinstance(columns, str) else list(columns)
            output = reader.get("output_column")
            test = build_dataset_from_cfg(cfg).test
            for index, row in enumerate(test):
                inputs = "\n".join(f"{c}: {_text(row[c])}" for c in columns if c in row) if len(columns) > 1 \
                    else _text(row.get(columns[0], ""))
                target = _text(row[output]) if output and output in row else ""
                # ASCII JSON: a U+2028 in a question would otherwise break the line for readers that split on it
                out.write(json.dumps({"dataset": abbr, "index": index, "input": inputs, "target": target}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
