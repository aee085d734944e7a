"""JSON Schema of a model config file, for editors (yaml-language-server and the like)."""

from __future__ import annotations

from typing import Any

from smpipe_gen.config.model import ModelConfig, PipelineConfig


def config_schema() -> dict[str, Any]:
    models = ModelConfig.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    pipeline = PipelineConfig.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = {**models.pop("$defs", {}), **pipeline.pop("$defs", {})}
    defs["ModelConfig"], defs["PipelineConfig"] = models, pipeline
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "smpipe-gen model config",
        "type": "object",
        "required": ["conf"],
        "additionalProperties": False,
        "properties": {"conf": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "models": {"type": "object", "additionalProperties": {"$ref": "#/$defs/ModelConfig"}},
                "sagemakerPipeline": {"$ref": "#/$defs/PipelineConfig"},
            },
        }},
        "$defs": defs,
    }
