"""How a config step reads what an earlier step produced (``chain_input_source_step``): the
outputs each source offers and the input or channel names the consumer gives them, as the
original framework names them (dspf-compat.md) or short. Functions of the generator ``g``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smpipe_gen.config.model import ProcessingSection, StepClass
from smpipe_gen.config.resolve import ResolvedStep
from smpipe_gen.render.literals import Code, Raw
from smpipe_gen.steps.config_classes import config_class

if TYPE_CHECKING:
    from smpipe_gen.render.codegen import Generator


def processing_outputs(g: Generator, step: ResolvedStep) -> list[str]:
    section: ProcessingSection = step.section
    if step.cls is StepClass.Metrics:
        return [g.report_output]
    if section.outputs is not None:
        return section.outputs
    return list(section.channel_map()) or ["train"]


def chained_inputs(g: Generator, step: ResolvedStep) -> list[tuple[str, str, Code]]:
    """(input or channel name, directory under the processing input root, S3 URI) for each
    chained output. Original names (dspf-compat.md): Training channels ``<src>-<ch>``,
    Processing inputs ``<src>-input-<ch>``, Metrics inputs ``<src>-input`` at
    ``<src>-<evaluate channel>``. Short names: the channel, "model" for a trained model,
    "predictions" for a transform's output, plus the trained model for Metrics steps."""
    sources = step.step.chain_input_source_step
    if not g.original_names:
        inputs = [(name, name, uri) for source in sources for name, uri in source_outputs(g, source)]
        if step.cls is StepClass.Metrics and step.trained_step and step.trained_step not in sources:
            inputs.append(("model", "model", g.model_data(step)))
        return inputs
    if step.cls is StepClass.Metrics:
        channel = single_channel(step.section)
        return [(f"{source}-input", f"{source}-{channel}", source_output(g, source, channel))
                for source in sources]
    inputs = []
    for source in sources:
        for channel, uri in source_outputs(g, source, chain_channels(g, step, source)):
            name = f"{source}-{channel}" if config_class(step.cls).trains else f"{source}-input-{channel}"
            inputs.append((name, name, uri))
    return inputs


def single_channel(section) -> str:
    """The one channel a Metrics or Transform section reads a chained source through."""
    return next(iter(section.channel_map()), "train")


def chain_channels(g: Generator, step: ResolvedStep, source_name: str) -> list[str]:
    """The channels the original chains from a source: a Processing step's outputs; for a
    trained model or a transform's output, the consuming model's train/transform channel
    names (default ["train"]), each carrying the same S3 URI."""
    source = g.resolved.steps[source_name]
    outputs = config_class(source.cls).outputs
    if outputs == "processing":
        return processing_outputs(g, source)
    conf = g.resolved.model(step)
    section = conf.transform if outputs == "predictions" else conf.train
    return list(section.channel_map()) if section and section.channels else ["train"]


def source_output(g: Generator, source_name: str, channel: str) -> Code:
    """The S3 URI of one chained source's output ``channel`` (a Processing source without
    that output gives its first)."""
    outputs = dict(source_outputs(g, source_name, [channel]))
    return outputs.get(channel) or next(iter(dict(source_outputs(g, source_name)).values()))


def source_outputs(g: Generator, source_name: str, channels: list[str] | None = None) -> list[tuple[str, Code]]:
    """(name, S3 URI) of what one chained source step produces; ``channels`` names them
    (a model or a transform's output has one URI whatever the name)."""
    source = g.resolved.steps[source_name]
    outputs = config_class(source.cls).outputs
    if outputs == "processing":
        produced = processing_outputs(g, source)
        return [(channel, g.output_uri(source, channel)) for channel in channels or produced
                if channel in produced]
    if outputs == "model":
        return [(channel, g.trained_model_uri(source)) for channel in channels or ["model"]]
    if outputs == "predictions":
        uri = Raw(f"{g.step_vars[source_name]}.properties.TransformOutput.S3OutputPath")
        return [(channel, uri) for channel in channels or ["predictions"]]
    return []
