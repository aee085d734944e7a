"""The local batch transform's record handling as tables: how an input file is split into
requests (SplitType, BatchStrategy, MaxPayloadInMB), how CSV filters select fields, and how
outputs are joined with their inputs (JoinSource, OutputFilter), as SageMaker batch transform
documents them. A whole transform job runs end to end in test_local_pipeline.py."""

from __future__ import annotations

import pytest

from smpipe_gen.local.jobs.inference_worker import _batches, _join, _select, module_name

LINES = "1,2\n\n3,4\n5,6\n"


def spec(**changes) -> dict:
    return {"split": "Line", "single_record": False, "max_payload": 6 * 1024 * 1024, "join": "None",
            "output_filter": None, **changes}


@pytest.mark.parametrize("changes, records, batches", [
    ({}, ["1,2", "3,4", "5,6"], [["1,2", "3,4", "5,6"]]),  # MultiRecord: blank lines are no records
    ({"single_record": True}, ["1,2", "3,4", "5,6"], [["1,2"], ["3,4"], ["5,6"]]),
    ({"max_payload": 8}, ["1,2", "3,4", "5,6"], [["1,2", "3,4"], ["5,6"]]),  # "1,2\n3,4\n" fits in 8 bytes
    ({"max_payload": 1}, ["1,2", "3,4", "5,6"], [["1,2"], ["3,4"], ["5,6"]]),  # a record alone always goes
    ({"split": "None"}, [LINES], [[LINES]]),  # the whole file is one request
])
def test_an_input_file_is_split_into_requests_as_batch_transform_does(changes, records, batches):
    assert _batches(LINES, spec(**changes)) == (records, batches)


@pytest.mark.parametrize("expression, selected", [
    (None, ["a", "b", "c", "d"]), ("$", ["a", "b", "c", "d"]), ("$[1]", ["b"]), ("$[0,2]", ["a", "c"]),
    ("$[1:]", ["b", "c", "d"]), ("$[:2]", ["a", "b"]), ("$[1:3]", ["b", "c"]), (" $[3] ", ["d"]),
])
def test_csv_filters_select_fields_with_the_jsonpath_subset(expression, selected):
    assert _select(["a", "b", "c", "d"], expression) == selected


@pytest.mark.parametrize("changes, csv, originals, outputs, joined", [
    ({}, True, ["1,2"], ["0.5"], ["0.5"]),
    ({"join": "Input"}, True, ["1,2", "3,4"], ["0.5", "0.7"], ["1,2,0.5", "3,4,0.7"]),
    ({"join": "Input", "output_filter": "$[0,2]"}, True, ["1,2"], ["0.5"], ["1,0.5"]),
    ({"output_filter": "$[1]"}, True, ["1,2"], ["0.5,0.9"], ["0.9"]),
    ({"join": "Input"}, False, ['{"x": 1}'], ["[0.5]"], ['{"x": 1, "SageMakerOutput": [0.5]}']),
])
def test_outputs_are_joined_with_their_inputs_and_filtered(changes, csv, originals, outputs, joined):
    assert _join(originals, outputs, spec(**changes), csv) == joined


@pytest.mark.parametrize("program, module", [
    ("inference.py", "inference"), ("inference", "inference"), ("serve.handler", "serve.handler"),
    ("pkg.py.py", "pkg.py"), ("", "inference"), (None, "inference")])
def test_the_program_is_imported_by_its_name_with_one_py_stripped(program, module):
    assert module_name(program) == module
