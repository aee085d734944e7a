"""``smpipe-gen plan``: what a change to the rendered definition does, for a reviewer.

Structured like Terraform's plan: sources.py reads the two definitions (through
smpipe_gen.definition), diff.py and cache.py compute the machine plan (model.py: a versioned
JSON format), rules.py holds the rules as tables, and render.py formats only the machine plan
as text, markdown or JSON. No SageMaker SDK anywhere.
"""

from smpipe_gen.plan.diff import compare, settings_changes
from smpipe_gen.plan.model import FORMAT_VERSION, Plan, to_json
from smpipe_gen.plan.render import Format, format_plans, render
from smpipe_gen.plan.sources import against_definition, against_deployed, against_ref, head_label, history_reader

__all__ = ["FORMAT_VERSION", "Format", "Plan", "against_definition", "against_deployed", "against_ref", "compare",
           "format_plans", "head_label", "history_reader", "render", "settings_changes", "to_json"]
