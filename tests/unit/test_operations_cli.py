"""`terrarium operations`: a table, one service's list, --json for scripts, --write for the README, and
exit 1 with a message for a service Terrarium does not speak."""

from __future__ import annotations

import json

from runtime import cli, operations_table


def test_json_lists_every_service_with_counts(capsys):
    assert cli.main(["operations", "--json"]) == 0
    rows = {r["Service"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"ec2", "iam", "lambda", "logs", "s3", "sts"}
    assert "RunInstances" in rows["ec2"]["Operations"] and rows["ec2"]["Total"] > rows["ec2"]["Implemented"]


def test_one_service_prints_a_count_line_then_its_operations(capsys):
    assert cli.main(["operations", "sts"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sts: ") and " of " in lines[0]
    assert "GetCallerIdentity" in lines[1:] and lines[1:] == sorted(lines[1:])


def test_summary_table_has_a_row_per_service(capsys):
    assert cli.main(["operations"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["Service", "Implemented", "Total", "Share"]
    assert [line.split()[0] for line in out[1:]] == ["ec2", "iam", "lambda", "logs", "s3", "sts"]


def test_unknown_service_exits_1_with_a_message(capsys):
    assert cli.main(["operations", "dynamodb"]) == 1
    assert "does not speak 'dynamodb'" in capsys.readouterr().err


def test_write_rewrites_the_marked_block_of_a_file(tmp_path, capsys):
    doc = tmp_path / "doc.md"
    doc.write_text(f"# x\n{operations_table.README_BEGIN}\nstale\n{operations_table.README_END}\ntail\n")
    assert cli.main(["operations", "sts", "--write", str(doc)]) == 0
    text = doc.read_text()
    assert "stale" not in text and "**sts** — " in text and text.endswith(f"{operations_table.README_END}\ntail\n")


def test_write_to_a_file_without_markers_exits_1(tmp_path, capsys):
    doc = tmp_path / "doc.md"
    doc.write_text("nothing marked\n")
    assert cli.main(["operations", "--write", str(doc)]) == 1
    assert doc.read_text() == "nothing marked\n" and "markers" in capsys.readouterr().err


def test_write_with_json_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["operations", "--json", "--write", str(tmp_path / "doc.md")]) == 2
    assert "--write" in capsys.readouterr().err
